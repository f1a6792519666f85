"""The cross-check rules' thresholds (the sync policy) per region and year: overrides and
the policy in force. Same model as the funds and monitoring policies
(``services.core.policy.overrides``): rows of the caller's regions and of the wider
regions it lies in are visible; only rows within the caller's regions change. Reading needs
``sync:read``, changing ``sync:run`` (those who run a county's department syncs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.api import tags
from services.api.deps import Needs, Session, path_object
from services.api.errors_doc import responses
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, OwnRegionQ
from services.api.policies import PolicyRoutes
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Unprocessable
from services.core.policy import overrides
from services.core.policy import sync as sync_policy
from services.core.policy.schemas import PolicyRowIn, PolicyRowOut, PolicyRowUpdate
from services.core.policy.sync import SyncPolicy
from services.core.sync.models import SyncPolicyRow
from services.core.timeutil import today

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
POLICY: tags.Tags = [tags.SYNC_POLICY]

READ = [Needs(Permission.sync_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
SyncReader = Annotated[Caller, Needs(Permission.sync_read)]
SyncRunner = Annotated[Caller, Needs(Permission.sync_run)]
Year = Annotated[int | None, Query(ge=2000, le=2100)]
TABLE = sync_policy.TABLE

path_object("sync_policy_id", SyncPolicyRow, visible=lambda prefix: overrides.visible_to(prefix, TABLE))


class EffectiveSyncPolicy(BaseModel):
    region: str = Field(description="The region code the policy is for 区划代码")
    year: int = Field(description="The year the policy is for 年度")
    policy: SyncPolicy = Field(
        description="The sync policy in force: defaults with every applicable override 生效的比对参数"
    )
    overrides: list[PolicyRowOut] = Field(
        description="The rows that applied, in order (wider region and older year first) 适用的参数记录"
    )


ROUTES = PolicyRoutes(TABLE, "sync_policy", "/api/v1/sync-policies")


@router.get(
    "/sync-policies/effective",
    response_model=EffectiveSyncPolicy,
    operation_id="getEffectiveSyncPolicy",
    dependencies=READ,
    tags=POLICY,
    responses=responses(404),
    summary="The cross-check thresholds in force for a region and year 生效的部门比对规则参数",
    description="What a reconciliation of the region's county uses: the defaults, then the overrides of "
    "every prefix of `region` from a year up to `year` (wider region and older year first).",
)
async def effective_policy(session: Session, caller: SyncReader, region: OwnRegionQ = None, year: Year = None):
    region = region if region is not None else caller.region_prefix
    year = year or today().year
    policy, rows = await overrides.effective(session, region, year, TABLE)
    return JSON({"region": region, "year": year, "policy": policy, "overrides": [ROUTES.out(r) for r in rows]})


@router.get(
    "/sync-policies",
    response_model=Page[PolicyRowOut],
    operation_id="listSyncPolicies",
    dependencies=[*READ, Depends(bulk_read)],
    tags=POLICY,
    responses=responses(),
    summary="Cross-check threshold overrides you work under or set 部门比对规则参数调整",
)
async def list_policies(
    request: Request,
    session: Session,
    caller: SyncReader,
    year: Year = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Cross-check threshold overrides (sync policy: large medical costs, schooling ages, new 低保/特困 grants …)
    within your regions and of the wider regions yours lie in, by id, optionally of one year. Needs sync:read.
    部门比对规则参数调整列表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await overrides.list_rows(session, caller.region_prefix, year, cursor, limit, TABLE)
    return JSON({"items": [ROUTES.out(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/sync-policies/{sync_policy_id}",
    response_model=PolicyRowOut,
    operation_id="getSyncPolicy",
    dependencies=READ,
    tags=POLICY,
    responses=responses(404),
    summary="One cross-check threshold override",
)
async def get_policy(sync_policy_id: Id, session: Session, caller: SyncReader):
    """One cross-check threshold override: region prefix, first year and the thresholds it sets. Needs sync:read.
    部门比对规则参数调整详情。"""
    return ROUTES.response(await overrides.get_row(session, caller.region_prefix, sync_policy_id, TABLE))


@router.post(
    "/sync-policies",
    status_code=201,
    response_model=PolicyRowOut,
    operation_id="createSyncPolicy",
    tags=POLICY,
    responses=responses(403, 404, 409),
    summary="Override cross-check thresholds for a region from a year on 调整部门比对规则参数",
    description="`values`: fields of the sync policy (large-cost thresholds per household category, "
    "compulsory-schooling ages, what counts as a new 低保/特困 grant …), each checked (422 "
    "naming `values.<field>`). `region_prefix` must lie within your regions and name a "
    "county or a wider region (cross-checks run per county: 422 otherwise). Runs of the "
    "region's counties use it from their next reconciliation. " + IDEMPOTENCY_DOC,
)
async def create_policy(body: PolicyRowIn, session: Session, caller: SyncRunner):
    await overrides.check_region_prefix(session, caller.region_prefix, body.region_prefix)
    if len(body.region_prefix) > 6:  # reconciliation reads the county's policy: a village's would never apply
        raise Unprocessable("sync_policy_below_county", field="region_prefix")
    row = await overrides.create_row(
        session, caller.region_prefix, body.region_prefix, body.year, body.values, body.note, caller.user_id, TABLE
    )
    return ROUTES.response(row, 201)


@router.put(
    "/sync-policies/{sync_policy_id}",
    response_model=PolicyRowOut,
    operation_id="updateSyncPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Change a cross-check threshold override (If-Match)",
)
async def update_policy(
    request: Request, sync_policy_id: Id, body: PolicyRowUpdate, session: Session, caller: SyncRunner
):
    """Replaces an override's values and note; each value is checked. Only rows within your regions (403 for a
    wider region's). The region's counties use it from their next reconciliation. Needs sync:run and If-Match
    with the row's ETag. 修改部门比对规则参数调整。"""
    row = await ROUTES.changeable(request, session, caller, sync_policy_id)
    return ROUTES.response(await overrides.update_row(session, row, body.values, body.note, caller.user_id, TABLE))


@router.delete(
    "/sync-policies/{sync_policy_id}",
    status_code=204,
    operation_id="deleteSyncPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Remove a cross-check threshold override (If-Match)",
)
async def delete_policy(request: Request, sync_policy_id: Id, session: Session, caller: SyncRunner):
    """Removes a cross-check threshold override; the wider regions' thresholds or the defaults apply from the next
    reconciliation. Only rows within your regions. Needs sync:run and If-Match with the row's ETag.
    删除部门比对规则参数调整。"""
    await overrides.delete_row(session, await ROUTES.changeable(request, session, caller, sync_policy_id))
    return Response(status_code=204)
