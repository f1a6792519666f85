"""Funds, allocations, disbursements (and their import), the compliance indicators and the
funds policy's settings. Thin: parse, look up in scope, check If-Match, call
``services.core.funds``, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, OwnRegionQ, RegionQ
from services.api.policies import PolicyRoutes
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.funds import indicators, service
from services.core.funds.enums import FundKind, FundLevel
from services.core.funds.models import Fund, FundPolicyRow
from services.core.funds.schemas import (
    AllocationIn,
    AllocationOut,
    DisbursementImport,
    FundIn,
    FundOut,
    FundUpdate,
    ImportResult,
    IndicatorSet,
)
from services.core.i18n import message, wants_chinese
from services.core.policy import funds as funds_policy
from services.core.policy import overrides
from services.core.policy.funds import FundsPolicy
from services.core.policy.schemas import PolicyRowIn, PolicyRowOut, PolicyRowUpdate
from services.core.timeutil import today
from services.core.types import Day

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
FUNDS: tags.Tags = [tags.FUNDS]
INDICATORS: tags.Tags = [tags.COMPLIANCE_INDICATORS]
POLICY: tags.Tags = [tags.FUNDS_POLICY]

READ = [Needs(Permission.funds_read)]
LIST = [Needs(Permission.funds_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
FundsReader = Annotated[Caller, Needs(Permission.funds_read)]
FundsWriter = Annotated[Caller, Needs(Permission.funds_write)]
PolicyWriter = Annotated[Caller, Needs(Permission.policy_write)]
TABLE = funds_policy.TABLE

path_object("fund_id", Fund)
path_object("fund_policy_id", FundPolicyRow, visible=lambda prefix: overrides.visible_to(prefix, TABLE))


async def _fund_response(session, fund: Fund, status: int = 200) -> JSON:
    allocated, disbursed = (await service.fund_figures(session, [fund.id]))[fund.id]
    headers = {"ETag": etag("fund", fund.id, fund.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/funds/{fund.id}"
    return JSON(_fund_body(fund, allocated, disbursed), status_code=status, headers=headers)


def _fund_body(fund: Fund, allocated, disbursed) -> dict[str, Any]:
    body = {f: getattr(fund, f) for f in FundOut.model_fields if f not in ("allocated", "available", "disbursed")}
    return {**body, "allocated": allocated, "available": fund.amount - allocated, "disbursed": disbursed}


@router.post(
    "/funds",
    status_code=201,
    response_model=FundOut,
    operation_id="createFund",
    tags=FUNDS,
    responses=responses(403, 404),
    summary="Record a fund received 登记资金指标",
    description="A fund of a level and kind a county receives for a year. " + IDEMPOTENCY_DOC,
)
async def create_fund(body: FundIn, session: Session, caller: FundsWriter):
    return await _fund_response(session, await service.create_fund(session, body, caller.user_id), 201)


@router.get(
    "/funds",
    response_model=Page[FundOut],
    operation_id="listFunds",
    tags=FUNDS,
    dependencies=LIST,
    responses=responses(404),
    summary="Funds, by id 资金列表",
)
async def list_funds(
    request: Request,
    session: Session,
    region: RegionQ = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    level: FundLevel | None = None,
    kind: FundKind | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Funds (资金) in your regions, each belonging to the county that received it, by id, filtered by region,
    year, level or kind; each with what is allocated to projects, what is left and what is paid. Needs funds:read.
    资金列表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_funds(
        session, region=region, year=year, level=level, kind=kind, cursor=cursor, limit=limit
    )
    figures = await service.fund_figures(session, [f.id for f in rows])
    return JSON({"items": [_fund_body(f, *figures[f.id]) for f in rows], "next_cursor": next_cursor})


@router.get(
    "/funds/{fund_id}",
    response_model=FundOut,
    operation_id="getFund",
    tags=FUNDS,
    dependencies=READ,
    responses=responses(404),
    summary="One fund with what is allocated and paid 资金详情",
)
async def get_fund(fund_id: Id, session: Session):
    """One fund with what is allocated to projects, what is left to allocate and what is paid, and its ETag. Needs
    funds:read. 资金详情。"""
    return await _fund_response(session, await service.get_fund(session, fund_id))


@router.put(
    "/funds/{fund_id}",
    response_model=FundOut,
    operation_id="updateFund",
    tags=FUNDS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Correct a fund (needs If-Match) 修改资金指标",
    description="The amount never goes below what is already allocated (409 with the figures).",
)
async def update_fund(request: Request, fund_id: Id, body: FundUpdate, session: Session, caller: FundsWriter):
    fund = await service.get_fund(session, fund_id, for_update=True)
    check_if_match(request, etag("fund", fund.id, fund.version))
    return await _fund_response(session, await service.update_fund(session, fund, body))


def _allocation_body(a) -> dict[str, Any]:
    return {f: getattr(a, f) for f in AllocationOut.model_fields}


@router.post(
    "/funds/{fund_id}/allocations",
    status_code=201,
    response_model=AllocationOut,
    operation_id="allocateFund",
    tags=FUNDS,
    responses=responses(403, 404, 409),
    summary="Allocate money of a fund to a project 资金分配到项目",
    description="The project must be in the library (reviewed or later), of the fund's year and county. "
    "More than the fund has left is refused (409, `figures`). " + IDEMPOTENCY_DOC,
)
async def allocate(fund_id: Id, body: AllocationIn, session: Session, caller: FundsWriter):
    fund = await service.get_fund(session, fund_id, for_update=True)
    row = await service.allocate(session, fund, body, caller.user_id)
    return JSON(_allocation_body(row), status_code=201)


@router.get(
    "/funds/{fund_id}/allocations",
    response_model=Page[AllocationOut],
    operation_id="listFundAllocations",
    tags=FUNDS,
    dependencies=LIST,
    responses=responses(404),
    summary="A fund's allocations 资金分配明细",
)
async def fund_allocations(request: Request, fund_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None):
    """The fund's allocations to projects, by id. Needs funds:read. 资金分配明细。"""
    await service.get_fund(session, fund_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.allocations(session, fund_id=fund_id, cursor=cursor, limit=limit)
    return JSON({"items": [_allocation_body(a) for a in rows], "next_cursor": next_cursor})


@router.post(
    "/disbursements/import",
    response_model=ImportResult,
    operation_id="importDisbursements",
    tags=FUNDS,
    responses=responses(403),
    summary="Import payments from the finance system 导入资金支出",
    description="Rows are checked one by one: a row that cannot be taken is returned with its row number, "
    "field and reason and the others are kept. An item of the negative list is kept and "
    "raised as a finding (`GET /api/v1/fund-findings?rule_id=negative_list`). " + IDEMPOTENCY_DOC,
)
async def import_disbursements(request: Request, body: DisbursementImport, session: Session, caller: FundsWriter):
    zh = wants_chinese(request.headers.get("accept-language"))
    result = await service.import_disbursements(
        session, body.rows, caller.user_id, lambda code, params: message(code, zh, params)
    )
    return JSON(result)


# ---- indicators -------------------------------------------------------------------------------


@router.get(
    "/fund-indicators",
    response_model=IndicatorSet,
    operation_id="getFundIndicators",
    tags=INDICATORS,
    dependencies=READ,
    responses=responses(404),
    summary="Compliance indicators of a region and year 资金项目监管指标",
    description="For a region (`region`: your own by default; for a township or a village the shares are of "
    "the money allocated to its projects, there being no funds of its own) and `year`, as of `as_of` (default today; a report for 30 June can be run in July). Each "
    "indicator gives value, target, status (met, on_track, behind) and the projects that pull "
    "it down. Figures from the funds policy in force for the region and year.",
)
async def fund_indicators(
    session: Session,
    caller: FundsReader,
    region: OwnRegionQ = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    as_of: Day | None = None,
):
    region = region if region is not None else caller.region_prefix
    as_of = as_of or today()
    year = year or as_of.year
    return JSON(await indicators.compute(session, region, year, as_of))


# ---- the funds policy's settings ----------------------------------------------------------------


class EffectiveFundsPolicy(BaseModel):
    region: str = Field(description="The region code the policy is for 区划代码")
    year: int = Field(description="The year the policy is for 年度")
    policy: FundsPolicy = Field(
        description="The funds policy in force: defaults with every applicable override 生效的资金监管参数"
    )
    overrides: list[PolicyRowOut] = Field(
        description="The rows that applied, in order (wider region and older year first) 适用的参数记录"
    )


POLICY_ROUTES = PolicyRoutes(TABLE, "fund_policy", "/api/v1/fund-policies")


@router.get(
    "/fund-policies/effective",
    response_model=EffectiveFundsPolicy,
    operation_id="getEffectiveFundPolicy",
    dependencies=READ,
    tags=POLICY,
    responses=responses(404),
    summary="The funds policy in force for a region and year 生效的资金项目政策参数",
)
async def effective_policy(
    session: Session,
    caller: FundsReader,
    region: OwnRegionQ = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
):
    """The funds policy in force for a region (default: your own) and year (default: this year): industry shares,
    spending and start-rate milestones, labour-pay shares, the management-fee cap, the negative list and the
    asset checks, after the overrides of every prefix of the region up to that year; with those rows in order.
    Needs funds:read. 生效的资金项目政策参数。"""
    region = region if region is not None else caller.region_prefix
    year = year or today().year
    policy, rows = await overrides.effective(session, region, year, TABLE)
    return JSON({"region": region, "year": year, "policy": policy, "overrides": [POLICY_ROUTES.out(r) for r in rows]})


@router.get(
    "/fund-policies",
    response_model=Page[PolicyRowOut],
    operation_id="listFundPolicies",
    dependencies=READ,
    tags=POLICY,
    responses=responses(),
    summary="Funds policy overrides you work under or set 资金项目政策参数调整",
)
async def list_policies(
    request: Request,
    session: Session,
    caller: FundsReader,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Funds policy overrides within your regions and of the wider regions yours lie in, by id, optionally of one
    year. Needs funds:read. 资金项目政策参数调整列表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await overrides.list_rows(session, caller.region_prefix, year, cursor, limit, TABLE)
    return JSON({"items": [POLICY_ROUTES.out(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/fund-policies/{fund_policy_id}",
    response_model=PolicyRowOut,
    operation_id="getFundPolicy",
    dependencies=READ,
    tags=POLICY,
    responses=responses(404),
    summary="One funds policy override",
)
async def get_policy(fund_policy_id: Id, session: Session, caller: FundsReader):
    """One funds policy override: region prefix, first year and the figures it sets. Needs funds:read.
    资金项目政策参数调整详情。"""
    return POLICY_ROUTES.response(await overrides.get_row(session, caller.region_prefix, fund_policy_id, TABLE))


@router.post(
    "/fund-policies",
    status_code=201,
    response_model=PolicyRowOut,
    operation_id="createFundPolicy",
    tags=POLICY,
    responses=responses(403, 404, 409),
    summary="Override funds policy figures for a region from a year on 调整资金项目政策参数",
    description="`region_prefix` must lie within your regions; each value is checked (422 naming "
    "`values.<field>`). " + IDEMPOTENCY_DOC,
)
async def create_policy(body: PolicyRowIn, session: Session, caller: PolicyWriter):
    row = await overrides.create_row(
        session, caller.region_prefix, body.region_prefix, body.year, body.values, body.note, caller.user_id, TABLE
    )
    return POLICY_ROUTES.response(row, 201)


@router.put(
    "/fund-policies/{fund_policy_id}",
    response_model=PolicyRowOut,
    operation_id="updateFundPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Change a funds policy override (If-Match)",
)
async def update_policy(
    request: Request, fund_policy_id: Id, body: PolicyRowUpdate, session: Session, caller: PolicyWriter
):
    """Replaces a funds policy override's values and note; each value is checked. Only rows within your regions
    (403 for a wider region's). Needs policy:write and If-Match with the row's ETag. 修改资金项目政策参数调整。"""
    row = await POLICY_ROUTES.changeable(request, session, caller, fund_policy_id)
    return POLICY_ROUTES.response(
        await overrides.update_row(session, row, body.values, body.note, caller.user_id, TABLE)
    )


@router.delete(
    "/fund-policies/{fund_policy_id}",
    status_code=204,
    operation_id="deleteFundPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Remove a funds policy override (If-Match)",
)
async def delete_policy(request: Request, fund_policy_id: Id, session: Session, caller: PolicyWriter):
    """Removes a funds policy override; the wider regions' figures or the defaults apply again. Only rows within
    your regions. Needs policy:write and If-Match with the row's ETag. 删除资金项目政策参数调整。"""
    await overrides.delete_row(session, await POLICY_ROUTES.changeable(request, session, caller, fund_policy_id))
    return Response(status_code=204)
