"""Project assets, their income and its distribution, and the fund findings. Thin: parse,
look up in scope, check If-Match, call ``services.core.funds.assets`` / ``findings``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, IdQ, Limit, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import NotFound
from services.core.funds import assets as service
from services.core.funds import findings
from services.core.funds.asset_schemas import (
    AssetIn,
    AssetOut,
    AssetUpdate,
    DisposalIn,
    FundFindingOut,
    IncomeIn,
    IncomeOut,
    ScanIn,
    ScanOut,
)
from services.core.funds.enums import AssetClass, AssetStatus, FundFindingRule, FundFindingStatus
from services.core.funds.models import Asset, AssetIncome, FundFinding, IncomeShare
from services.core.policy.funds import policy_for
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import today

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
ASSETS: tags.Tags = [tags.ASSETS]
FINDINGS: tags.Tags = [tags.FUND_FINDINGS]

READ = [Needs(Permission.funds_read)]
LIST = [Needs(Permission.funds_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
AssetsWriter = Annotated[Caller, Needs(Permission.assets_write)]
# project_id: declared by services/api/funds/projects.py
path_object("asset_id", Asset)
path_object("fund_finding_id", FundFinding)

IF_MATCH = "Needs `If-Match` with the asset's ETag (428 without it, 412 when stale)."


# ---------------------------------------------------------------- assets


def asset_body(a: Asset) -> dict[str, Any]:
    return {f: getattr(a, f) for f in AssetOut.model_fields}


def _asset_response(a: Asset, status: int = 200) -> JSON:
    headers = {"ETag": etag("asset", a.id, a.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/assets/{a.id}"
    return JSON(asset_body(a), status_code=status, headers=headers)


@router.post(
    "/projects/{project_id}/assets",
    status_code=201,
    response_model=AssetOut,
    operation_id="registerAsset",
    tags=ASSETS,
    responses=responses(403, 404, 409),
    summary="Register an asset the project formed 登记项目资产",
    description="Only from a project that is accepted (验收) or handed over (409 `project_not_accepted`). "
    "A household-class asset names its household; the others may not. The asset's village "
    "lies within the project's region (the project's region by default); the handover is not "
    "before the acceptance nor in the future. Send an `Idempotency-Key`.",
)
async def register_asset(project_id: Id, body: AssetIn, session: Session, caller: AssetsWriter):
    project = await service.get_project(session, project_id)
    return _asset_response(await service.register(session, project, body, caller.user_id), 201)


@router.get(
    "/assets",
    response_model=Page[AssetOut],
    operation_id="listAssets",
    tags=ASSETS,
    dependencies=LIST,
    responses=responses(404),
    summary="Assets, newest first 项目资产列表",
)
async def list_assets(
    request: Request,
    session: Session,
    region: RegionQ = None,
    project_id: IdQ = None,
    asset_class: AssetClass | None = None,
    status: AssetStatus | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Assets formed by projects (扶贫项目资产) in your regions, newest first, filtered by region, project, class
    (operating, public-welfare, household) or status. Needs funds:read. 项目资产列表。"""
    if project_id is not None:
        await service.get_project(session, project_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_assets(
        session,
        region=region,
        project_id=project_id,
        asset_class=asset_class,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": [asset_body(a) for a in rows], "next_cursor": next_cursor})


@router.get(
    "/assets/{asset_id}",
    response_model=AssetOut,
    operation_id="getAsset",
    tags=ASSETS,
    dependencies=READ,
    responses=responses(404),
    summary="One asset 资产详情",
)
async def get_asset(asset_id: Id, session: Session):
    """One project asset: class, value, owner, custodian, status, disposal and the day of its last income, with its
    ETag. Needs funds:read. 资产详情。"""
    return _asset_response(await service.get_asset(session, asset_id))


@router.put(
    "/assets/{asset_id}",
    response_model=AssetOut,
    operation_id="updateAsset",
    tags=ASSETS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Owner, custodian, status 更新资产管护信息",
    description="Status in_use, idle or damaged; disposal is its own step. A disposed asset changes no "
    "more (409). " + IF_MATCH,
)
async def update_asset(request: Request, asset_id: Id, body: AssetUpdate, session: Session, caller: AssetsWriter):
    asset = await service.get_asset(session, asset_id, for_update=True)
    check_if_match(request, etag("asset", asset.id, asset.version))
    return _asset_response(await service.update(session, asset, body))


@router.post(
    "/assets/{asset_id}/disposal",
    response_model=AssetOut,
    operation_id="disposeAsset",
    tags=ASSETS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Dispose of an asset 资产处置",
    description="Method, reason and approval (批准文号) are required; not before the handover nor in the "
    "future. " + IF_MATCH,
)
async def dispose_asset(request: Request, asset_id: Id, body: DisposalIn, session: Session, caller: AssetsWriter):
    asset = await service.get_asset(session, asset_id, for_update=True)
    check_if_match(request, etag("asset", asset.id, asset.version))
    return _asset_response(await service.dispose(session, asset, body))


# ---------------------------------------------------------------- income


def income_body(income: AssetIncome, shares: list[IncomeShare]) -> dict[str, Any]:
    body = {f: getattr(income, f) for f in IncomeOut.model_fields if f not in ("priority_share", "shares")}
    body["priority_share"] = service.priority_share(income.distributed, income.priority_distributed)
    body["shares"] = [{f: getattr(s, f) for f in ("household_id", "region_code", "category", "amount")} for s in shares]
    return body


@router.post(
    "/assets/{asset_id}/incomes",
    status_code=201,
    response_model=IncomeOut,
    operation_id="recordAssetIncome",
    tags=ASSETS,
    responses=responses(403, 404, 409),
    summary="Record income and its distribution 登记资产收益及分配",
    description="Operating and public-welfare assets earn income; a disposed asset does not (409). Shares "
    "name each household once, together at most the amount (422 `shares_exceed_income`); each "
    "keeps the household's category of the day. Send an `Idempotency-Key`.",
)
async def record_income(asset_id: Id, body: IncomeIn, session: Session, caller: AssetsWriter):
    asset = await service.get_asset(session, asset_id, for_update=True)
    income, shares = await service.record_income(session, asset, body, caller.user_id)
    return JSON(
        income_body(income, shares), status_code=201, headers={"Location": f"/api/v1/assets/{asset.id}/incomes"}
    )


@router.get(
    "/assets/{asset_id}/incomes",
    response_model=Page[IncomeOut],
    operation_id="listAssetIncomes",
    tags=ASSETS,
    dependencies=READ,
    responses=responses(404),
    summary="The asset's income and its distribution, newest first 资产收益分配记录",
)
async def list_incomes(request: Request, asset_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None):
    """The asset's income records, newest first, each with its distribution to households and the share that went
    to lifted-out and monitored households (priority distribution). Needs funds:read. 资产收益分配记录。"""
    asset = await service.get_asset(session, asset_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_incomes(session, asset.id, cursor=cursor, limit=limit)
    return JSON({"items": [income_body(i, s) for i, s in rows], "next_cursor": next_cursor})


# ---------------------------------------------------------------- fund findings


def finding_body(f: FundFinding) -> dict[str, Any]:
    return {k: getattr(f, k) for k in FundFindingOut.model_fields}


@router.get(
    "/fund-findings",
    response_model=Page[FundFindingOut],
    operation_id="listFundFindings",
    tags=FINDINGS,
    dependencies=LIST,
    responses=responses(404),
    summary="Fund and asset findings, newest first 监管发现列表",
)
async def list_fund_findings(
    request: Request,
    session: Session,
    rule_id: FundFindingRule | None = None,
    status: FundFindingStatus | None = None,
    region: RegionQ = None,
    project_id: IdQ = None,
    asset_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Findings of the fund and asset checks (资金资产监管发现), newest first: negative-list spending, operating assets
    without income, public assets without a custodian, household assets whose household left the registry.
    Filtered by rule, status, region, project or asset. Needs funds:read. 监管发现列表。"""
    if project_id is not None:
        await service.get_project(session, project_id)
    if asset_id is not None:
        await service.get_asset(session, asset_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await findings.list_findings(
        session,
        rule_id=rule_id,
        status=status,
        region=region,
        project_id=project_id,
        asset_id=asset_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": [finding_body(f) for f in rows], "next_cursor": next_cursor})


@router.get(
    "/fund-findings/{fund_finding_id}",
    response_model=FundFindingOut,
    operation_id="getFundFinding",
    tags=FINDINGS,
    dependencies=READ,
    responses=responses(404),
    summary="One finding 监管发现详情",
)
async def get_fund_finding(fund_finding_id: Id, session: Session):
    """One fund or asset finding with the figures that raised it. Needs funds:read. 监管发现详情。"""
    finding = await findings.get_finding(session, fund_finding_id)
    return JSON(finding_body(finding), headers={"ETag": etag("fund_finding", finding.id, finding.version)})


@router.post(
    "/fund-findings/scan",
    response_model=ScanOut,
    operation_id="scanFundFindings",
    tags=FINDINGS,
    responses=responses(403, 404),
    summary="Check the assets now 资产监管核查",
    description="Raises, refreshes and resolves under `region` (default: your regions) as of `as_of` "
    "(default today): operating assets in use without income for the county policy's "
    "`asset_idle_months`, public-welfare assets without a custodian, household assets whose "
    "household is no longer in the registry. Returns per rule how many are open (`found`), "
    "were opened by this scan (`new`) and were resolved.",
)
async def scan_fund_findings(body: ScanIn, session: Session, caller: AssetsWriter):
    region = body.region if body.region is not None else caller.region_prefix
    if body.region is not None:
        await check_prefix_visible(session, region)
        if not region.startswith(caller.region_prefix):  # the scan's SQL is bounded by the prefix alone
            raise NotFound("region_not_found", field="region", region=region.ljust(12, "0"))
    as_of = body.as_of or today()
    counts = await findings.scan_assets(session, region, as_of, policy_for)
    return JSON({"region": region, "as_of": as_of, "rules": counts})
