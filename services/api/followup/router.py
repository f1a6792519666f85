"""Follow-up of everyone, not only open cases (docs/follow-up.md): responsible cadres,
scheduled follow-up visits, the overdue follow-up list, quarterly income collection. Thin:
parse, look up in scope, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.api import tags
from services.api.deps import Needs, Session, path_object
from services.api.errors_doc import responses
from services.api.followup.listing import (
    list_cadre_households_directly,
    list_income_flags_directly,
    list_missing_income_directly,
    list_overdue_directly,
)
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, IdQ, Limit, RegionQ
from services.api.responses import JSON
from services.api.routing import GuardlineRoute, fast_path
from services.core.accounts.models import User
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.followup import service
from services.core.followup.rules import IncomeFlag, previous_quarter
from services.core.followup.schemas import (
    AssignmentIn,
    AssignmentOut,
    CadreHouseholdOut,
    FollowUpVisitIn,
    FollowUpVisitOut,
    IncomeFlagOut,
    MissingIncomeOut,
    OverdueFollowUpOut,
)
from services.core.households.service import get_active_household, get_household
from services.core.monitoring.context import load_policy_context
from services.core.timeutil import current_quarter, today
from services.core.types import Day

router = APIRouter(prefix="/api/v1", tags=[tags.FOLLOW_UP], route_class=GuardlineRoute)

Assigner = Annotated[Caller, Needs(Permission.cases_assign)]
Assistant = Annotated[Caller, Needs(Permission.cases_assist)]
MonitoringReader = Annotated[Caller, Needs(Permission.monitoring_read)]
RegistryReader = Annotated[Caller, Needs(Permission.registry_read)]
HouseholdId = Id
Year = Annotated[int | None, Query(ge=2000, le=2100)]
Quarter = Annotated[int | None, Query(ge=1, le=4)]
# A cadre named in the path: a user within the caller's regions (404 otherwise, like a missing one).
path_object("cadre_user_id", User, visible=service.cadre_visible)

_ASSIGNMENT_FIELDS = tuple(AssignmentOut.model_fields)
_VISIT_FIELDS = tuple(FollowUpVisitOut.model_fields)


def _assignment(row) -> dict:
    return {f: getattr(row, f) for f in _ASSIGNMENT_FIELDS}


def _visit(row) -> dict:
    return {f: getattr(row, f) for f in _VISIT_FIELDS}


@router.post(
    "/households/{household_id}/cadre-assignments",
    status_code=201,
    response_model=AssignmentOut,
    operation_id="assignHouseholdCadre",
    responses=responses(403, 404, 409),
    summary="Assign or reassign the household's responsible cadre 明确或调整帮扶责任人",
    description="The cadre (帮扶责任人) is responsible for the household from `from_on` on; the current assignment, "
    "if any, ends that day (its `to_on`), so the history has no gap. 409 when the cadre is the current one. "
    "Send an `Idempotency-Key`.",
)
async def assign_cadre(household_id: HouseholdId, body: AssignmentIn, session: Session, caller: Assigner):
    household = await get_active_household(session, household_id)
    row = await service.assign(session, household, body, caller.user_id)
    return JSON(
        _assignment(row),
        status_code=201,
        headers={"Location": f"/api/v1/households/{household.id}/cadre-assignments"},
    )


@router.get(
    "/households/{household_id}/cadre-assignments",
    response_model=Page[AssignmentOut],
    operation_id="listHouseholdCadres",
    dependencies=[Needs(Permission.monitoring_read)],
    responses=responses(403, 404),
    summary="The household's responsible cadres, with history 帮扶责任人及变更记录",
)
async def list_assignments(
    request: Request, household_id: HouseholdId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """Who has been responsible for the household and when, oldest first; the current one has no `to_on`. Needs
    monitoring:read. 帮扶责任人变更记录。"""
    await get_household(session, household_id)
    found = await service.assignments_of(session, household_id, cursor=cursor, limit=page_limit(request, limit))
    return JSON(found.body(_assignment))


@router.get(
    "/follow-up/cadres/{cadre_user_id}/households",
    response_model=Page[CadreHouseholdOut],
    operation_id="listCadreHouseholds",
    responses=responses(403, 404),
    summary="The households a cadre is responsible for 帮扶责任人联系的农户",
)
@fast_path(list_cadre_households_directly)  # the same answers (tests/api/test_followup_list_direct.py)
async def list_cadre_households(
    request: Request,
    cadre_user_id: Id,
    session: Session,
    caller: MonitoringReader,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The households the cadre is responsible for now (in your regions), by household id. The cadre must be a
    user within your regions (404 otherwise). Needs monitoring:read. 帮扶责任人当前联系的农户。"""
    await service.get_cadre(session, caller.region_prefix, cadre_user_id)
    found = await service.households_of(session, cadre_user_id, cursor=cursor, limit=page_limit(request, limit))
    return JSON(found.body())


@router.post(
    "/households/{household_id}/follow-up-visits",
    status_code=201,
    response_model=FollowUpVisitOut,
    operation_id="addFollowUpVisit",
    responses=responses(403, 404, 409),
    summary="Record a scheduled follow-up visit 记录定期走访",
    description="A visit to a formerly poor household (脱贫户) or one whose risk was eliminated. A household with an "
    "open monitoring case is visited through its case (409 `followup_case_open`); an ordinary household never "
    "monitored is not followed (409 `followup_not_applicable`). Client-generated `id` as for case visits: the same "
    "visit sent again answers 200.",
)
async def add_visit(household_id: HouseholdId, body: FollowUpVisitIn, session: Session, caller: Assistant):
    household = await get_active_household(session, household_id)
    visit, created = await service.add_visit(session, household, body, caller.user_id)
    return JSON(
        _visit(visit),
        status_code=201 if created else 200,
        headers={"Location": f"/api/v1/households/{household.id}/follow-up-visits"} if created else None,
    )


@router.get(
    "/households/{household_id}/follow-up-visits",
    response_model=Page[FollowUpVisitOut],
    operation_id="listFollowUpVisits",
    dependencies=[Needs(Permission.monitoring_read)],
    responses=responses(403, 404),
    summary="The household's follow-up visits 定期走访记录",
)
async def list_visits(
    request: Request, household_id: HouseholdId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The household's scheduled follow-up visits by day (a case's visits are listed on the case). Needs
    monitoring:read. 定期走访记录。"""
    await get_household(session, household_id)
    found = await service.visits_of(session, household_id, cursor=cursor, limit=page_limit(request, limit))
    return JSON(found.body(_visit))


@router.get(
    "/follow-up/overdue",
    response_model=Page[OverdueFollowUpOut],
    operation_id="listOverdueFollowUps",
    responses=responses(403, 404),
    summary="Households whose scheduled follow-up visit is late 定期走访逾期农户",
)
@fast_path(list_overdue_directly)  # the plain queries; the same answers (tests/api/test_followup_list_direct.py)
async def list_overdue(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    region: RegionQ = None,
    as_of: Day | None = None,
    cadre_user_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Households on follow-up — formerly poor (脱贫户) without an open case, and households whose risk was eliminated
    within the policy's months — whose latest scheduled visit due before `as_of` (default today, China time) was not
    made: the policy's visit months (seed: March, August, November), each due by the month's last working day on
    China's official calendar. A visit counts when made in that month by the due day, as a follow-up visit or a
    case visit, in a counted mode. By household id. Needs monitoring:read. 定期走访逾期农户。"""
    ctx = await load_policy_context(session)
    prefix = service.list_prefix(caller.region_prefix, region)
    found = await service.overdue(
        session,
        ctx,
        prefix,
        as_of=as_of or today(),
        cadre_user_id=cadre_user_id,
        cursor=cursor,
        limit=page_limit(request, limit),
    )
    return JSON(found.body())


@router.get(
    "/follow-up/income-missing",
    response_model=Page[MissingIncomeOut],
    operation_id="listMissingIncome",
    responses=responses(403, 404),
    summary="Households missing a quarter's income after its deadline 季度收入未按时录入农户",
)
@fast_path(list_missing_income_directly)  # the plain queries; the same answers (tests/api/test_followup_list_direct.py)
async def list_missing_income(
    request: Request,
    session: Session,
    caller: RegistryReader,
    year: Year = None,
    quarter: Quarter = None,
    region: RegionQ = None,
    as_of: Day | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Formerly poor and monitored households (脱贫户、监测户) with no income recorded for the quarter, once the
    quarter's entry deadline (the policy's days after the quarter's last day, working days on China's official
    calendar by default) is before `as_of` (default today). Without `year` and `quarter`: the latest quarter whose
    deadline has passed (a quarter alone: its latest year so; a year alone: its latest quarter so). 422 `income_quarter_not_due` while the deadline has not passed. By household id. Needs registry:read. 季度收入未按时录入农户。"""
    ctx = await load_policy_context(session)
    prefix = service.list_prefix(caller.region_prefix, region)
    day = as_of or today()
    year, quarter = service.asked_quarter(ctx, prefix, year, quarter, day)
    found = await service.missing_income(
        session,
        ctx,
        prefix,
        year=year,
        quarter=quarter,
        as_of=day,
        cursor=cursor,
        limit=page_limit(request, limit),
    )
    return JSON(found.body())


@router.get(
    "/follow-up/income-flags",
    response_model=Page[IncomeFlagOut],
    operation_id="listIncomeFlags",
    responses=responses(403, 404),
    summary="Households whose income is low or fell 人均纯收入低于关注线或不增反降农户",
)
@fast_path(list_income_flags_directly)  # the plain queries; the same answers (tests/api/test_followup_list_direct.py)
async def list_income_flags(
    request: Request,
    session: Session,
    caller: RegistryReader,
    year: Year = None,
    quarter: Quarter = None,
    region: RegionQ = None,
    flag: IncomeFlag | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Formerly poor and monitored households whose per-capita net income over the complete rolling year ending with
    the quarter is under the policy's watch line (seed: 10,000 yuan, 人均纯收入1万元以下) or lower than over the
    rolling year ending with the same quarter a year earlier (收入不增反降). Without `year` and `quarter`: the last
    completed quarter. An incomplete year is never flagged. By household id. Needs registry:read. 收入关注农户。"""
    ctx = await load_policy_context(session)
    prefix = service.list_prefix(caller.region_prefix, region)
    year, quarter = service.complete_quarter(year, quarter, previous_quarter(*current_quarter()))
    found = await service.income_flags(
        session, ctx, prefix, year=year, quarter=quarter, flag=flag, cursor=cursor, limit=page_limit(request, limit)
    )
    return JSON(found.body())
