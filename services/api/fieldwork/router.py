"""Field work: the roster (信息员、网格员、驻村工作队员), regions short of officers, village-based
teams' attendance, and screening campaigns (大走访、大排查) with their teams, visits, progress
and the households not yet visited. Thin: parse, look up in scope, check If-Match, call the
service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.fieldwork.listing import list_unvisited_directly
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute, fast_path
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.fieldwork import campaigns as campaign_service
from services.core.fieldwork import rules
from services.core.fieldwork import service as roster_service
from services.core.fieldwork.enums import RosterRole
from services.core.fieldwork.models import Campaign, CampaignTeam, CampaignVisit, ResidentAttendance, RosterMember
from services.core.fieldwork.schemas import (
    MONTH_PATTERN,
    AttendanceIn,
    AttendanceOut,
    AttendanceShortfallOut,
    AttendanceUpdate,
    CampaignIn,
    CampaignOut,
    CampaignUpdate,
    CampaignVisitIn,
    CampaignVisitOut,
    OfficerShortfallOut,
    ProgressOut,
    RosterMemberIn,
    RosterMemberOut,
    RosterMemberUpdate,
    TeamIn,
    TeamOut,
    UnvisitedOut,
    VisitClueIn,
    VisitClueOut,
    VisitUpdate,
)
from services.core.monitoring.schemas import Reporter
from services.core.timeutil import today
from services.core.types import Day

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
ROSTER: tags.Tags = [tags.FIELD_ROSTER]
CAMPAIGNS: tags.Tags = [tags.CAMPAIGNS]
READ = [Needs(Permission.campaigns_read)]
LIST = [Needs(Permission.campaigns_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
Reader = Annotated[Caller, Needs(Permission.campaigns_read)]
Organiser = Annotated[Caller, Needs(Permission.campaigns_write)]
Visitor = Annotated[Caller, Needs(Permission.campaigns_visit)]
ClueRaiser = Annotated[Caller, Needs(Permission.campaigns_visit, Permission.clues_report)]

path_object("roster_member_id", RosterMember)
path_object("campaign_id", Campaign, visible=campaign_service.visible_to)
path_object("campaign_visit_id", CampaignVisit)
path_object("attendance_id", ResidentAttendance)

OnDay = Annotated[Day | None, Query(description="The day the members serve on (default today, China time) 在岗日期")]
MonthQ = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN,
        description="The month, `YYYY-MM` (default: the last complete month, China time) 月份",
        examples=["2026-11"],
    ),
]


# ---- roster -------------------------------------------------------------------------------------


def _member(m: RosterMember, caller: Caller) -> dict[str, Any]:
    body = {f: getattr(m, f) for f in RosterMemberOut.model_fields}
    if Permission.registry_unmask.value not in caller.permissions:
        body["phone"] = rules.mask_phone(m.phone)
    return body


def _member_response(m: RosterMember, caller: Caller, status: int = 200) -> JSON:
    headers = {"ETag": etag("roster_member", m.id, m.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/field-roster/{m.id}"
    return JSON(_member(m, caller), status_code=status, headers=headers)


@router.post(
    "/field-roster",
    status_code=201,
    response_model=RosterMemberOut,
    operation_id="createRosterMember",
    tags=ROSTER,
    responses=responses(403, 404),
    summary="Add a person to the field roster 登记信息员、网格员、驻村工作队员",
    description="An information officer (防止返贫监测信息员), grid worker (网格员), village-based team member "
    "(驻村工作队员) or other, the county, township or village they cover and their period of service; "
    "optionally linked to a user account of your regions. Needs campaigns:write. " + IDEMPOTENCY_DOC,
)
async def create_member(body: RosterMemberIn, session: Session, caller: Organiser):
    return _member_response(await roster_service.create_member(session, body, caller.user_id), caller, 201)


@router.get(
    "/field-roster",
    response_model=Page[RosterMemberOut],
    operation_id="listRosterMembers",
    tags=ROSTER,
    dependencies=LIST,
    responses=responses(404),
    summary="The field roster, by id 信息员名册",
)
async def list_members(
    request: Request,
    session: Session,
    caller: Reader,
    region: RegionQ = None,
    role: Annotated[RosterRole | None, Query(description="Only members of this role 人员类别")] = None,
    active_on: Annotated[Day | None, Query(description="Only members serving on this day 在岗日期")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Roster members covering regions under `region` (default: yours), by id; phones masked unless you may see ID
    numbers. Needs campaigns:read. 信息员名册。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await roster_service.list_members(
        session, region=region, role=role, active_on=active_on, cursor=cursor, limit=limit
    )
    return JSON({"items": [_member(m, caller) for m in rows], "next_cursor": next_cursor})


@router.get(
    "/field-roster/shortfalls",
    response_model=Page[OfficerShortfallOut],
    operation_id="listOfficerShortfalls",
    tags=ROSTER,
    dependencies=LIST,
    responses=responses(404),
    summary="Regions short of information officers 信息员配备不足的区域",
)
async def officer_shortfalls(
    request: Request,
    session: Session,
    caller: Reader,
    region: RegionQ = None,
    on: OnDay = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Counties, townships and villages under `region` (default: yours) with fewer information officers serving on
    the day than the monitoring policy in force there requires (`officers_required`, seed: county 2, township 2,
    village 1; roles counted: `officer_roles_counted`), by region code. Needs campaigns:read. 信息员配备不足。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await roster_service.officer_shortfalls(
        session, region or caller.region_prefix, on or today(), cursor, limit
    )
    return JSON({"items": rows, "next_cursor": next_cursor})


@router.get(
    "/field-roster/{roster_member_id}",
    response_model=RosterMemberOut,
    operation_id="getRosterMember",
    tags=ROSTER,
    responses=responses(404),
    summary="One roster member 名册人员详情",
)
async def get_member(roster_member_id: Id, session: Session, caller: Reader):
    """One roster member with its ETag. Needs campaigns:read. 名册人员详情。"""
    return _member_response(await roster_service.get_member(session, roster_member_id), caller)


@router.patch(
    "/field-roster/{roster_member_id}",
    response_model=RosterMemberOut,
    operation_id="updateRosterMember",
    tags=ROSTER,
    responses=responses(403, 404, 412, 428),
    summary="Change a roster member 修改名册人员",
    description="Only the fields sent change (e.g. `active_until` when someone leaves). Needs campaigns:write and "
    "`If-Match` with the member's ETag.",
)
async def update_member(
    request: Request, roster_member_id: Id, body: RosterMemberUpdate, session: Session, caller: Organiser
):
    member = await roster_service.get_member(session, roster_member_id, for_update=True)
    check_if_match(request, etag("roster_member", member.id, member.version))
    return _member_response(await roster_service.update_member(session, member, body), caller)


@router.post(
    "/field-roster/{roster_member_id}/attendance",
    status_code=201,
    response_model=AttendanceOut,
    operation_id="recordAttendance",
    tags=ROSTER,
    responses=responses(403, 404, 409),
    summary="A village-based team member's days in the village 登记驻村天数",
    description="The days a village-based team member (驻村工作队员) spent in the village in a month (from sign-ins "
    "and spot checks), with the days the policy requires (`resident_share_of_month` of the month's days, seed: "
    "two thirds). One record per member and month (409 for a second). Needs campaigns:write. " + IDEMPOTENCY_DOC,
)
async def record_attendance(roster_member_id: Id, body: AttendanceIn, session: Session, caller: Organiser):
    member = await roster_service.get_member(session, roster_member_id)
    row, required = await roster_service.record_attendance(session, member, body, caller.user_id)
    return _attendance_response(row, required, 201)


def _attendance_response(row: ResidentAttendance, required: int, status: int = 200) -> JSON:
    out = {f: getattr(row, f) for f in AttendanceOut.model_fields if f not in ("month", "required")}
    headers = {"ETag": etag("resident_attendance", row.id, row.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/resident-attendance/{row.id}"
    body = {**out, "month": rules.month_text(row.month), "required": required}
    return JSON(body, status_code=status, headers=headers)


@router.get(
    "/resident-attendance/shortfalls",
    response_model=Page[AttendanceShortfallOut],
    operation_id="listAttendanceShortfalls",
    tags=ROSTER,
    dependencies=LIST,
    responses=responses(404),
    summary="Village-based team members below the month's days 驻村时间不足的队员",
)
async def attendance_shortfalls(
    request: Request,
    session: Session,
    caller: Reader,
    month: MonthQ = None,
    region: RegionQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Village-based team members serving in the month under `region` (default: yours) whose recorded days in the
    village are below the policy's share of the month (每月三分之二以上时间, seed 2/3, rounded up: 20 of 30 days),
    or who recorded none, by member id. Needs campaigns:read. 驻村时间不足。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await roster_service.attendance_shortfalls(
        session, region or caller.region_prefix, month or rules.month_text(rules.last_month(today())), cursor, limit
    )
    return JSON({"items": rows, "next_cursor": next_cursor})


@router.get(
    "/resident-attendance/{attendance_id}",
    response_model=AttendanceOut,
    operation_id="getAttendance",
    tags=ROSTER,
    dependencies=READ,
    responses=responses(404),
    summary="One month's days in the village 驻村记录详情",
)
async def get_attendance(attendance_id: Id, session: Session):
    """A village-based team member's record of a month, with the days the policy requires and its ETag. Needs
    campaigns:read. 驻村记录详情。"""
    row = await roster_service.get_attendance(session, attendance_id)
    return _attendance_response(row, await roster_service.required_days(session, row))


@router.patch(
    "/resident-attendance/{attendance_id}",
    response_model=AttendanceOut,
    operation_id="updateAttendance",
    tags=ROSTER,
    responses=responses(403, 404, 412, 428),
    summary="Correct a month's days in the village 更正驻村天数",
    description="Only the fields sent change: the days (at most the month's, 422 otherwise) or the note; the month "
    "is the record's (a wrong month is a new record). Needs campaigns:write and `If-Match` with the record's ETag.",
)
async def update_attendance(
    request: Request, attendance_id: Id, body: AttendanceUpdate, session: Session, caller: Organiser
):
    row = await roster_service.get_attendance(session, attendance_id, for_update=True)
    check_if_match(request, etag("resident_attendance", row.id, row.version))
    row = await roster_service.correct_attendance(session, row, body)
    return _attendance_response(row, await roster_service.required_days(session, row))


# ---- campaigns ----------------------------------------------------------------------------------


def _campaign(c: Campaign) -> dict[str, Any]:
    body = {f: getattr(c, f) for f in CampaignOut.model_fields if f != "status"}
    body["status"] = campaign_service.status_of(c)
    return body


def _campaign_response(c: Campaign, status: int = 200) -> JSON:
    headers = {"ETag": etag("campaign", c.id, c.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/campaigns/{c.id}"
    return JSON(_campaign(c), status_code=status, headers=headers)


def visit_body(v: CampaignVisit) -> dict[str, Any]:
    return {f: getattr(v, f) for f in CampaignVisitOut.model_fields}


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignOut,
    operation_id="createCampaign",
    tags=CAMPAIGNS,
    responses=responses(403, 404),
    summary="Open a screening campaign 发起大走访大排查",
    description="A county, township or village campaign (大走访、大排查, seed 004 §18) over a period, with what each "
    "visit checks. Its region must lie within yours (a wider one: 403). Needs campaigns:write. " + IDEMPOTENCY_DOC,
)
async def create_campaign(body: CampaignIn, session: Session, caller: Organiser):
    return _campaign_response(await campaign_service.create(session, body, caller.user_id), 201)


@router.get(
    "/campaigns",
    response_model=Page[CampaignOut],
    operation_id="listCampaigns",
    tags=CAMPAIGNS,
    dependencies=LIST,
    responses=responses(404),
    summary="Screening campaigns, newest first 排查行动列表",
)
async def list_campaigns(
    request: Request, session: Session, region: RegionQ = None, limit: Limit = None, cursor: Cursor = None
):
    """Campaigns in your regions and those of the wider regions you lie in (a county's campaign is a village's
    work too), newest first; `region` keeps those within it or containing it. Needs campaigns:read. 排查行动。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await campaign_service.list_campaigns(session, region=region, cursor=cursor, limit=limit)
    return JSON({"items": [_campaign(c) for c in rows], "next_cursor": next_cursor})


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    operation_id="getCampaign",
    tags=CAMPAIGNS,
    dependencies=READ,
    responses=responses(404),
    summary="One screening campaign 排查行动详情",
)
async def get_campaign(campaign_id: Id, session: Session):
    """One campaign with its ETag. Needs campaigns:read. 排查行动详情。"""
    return _campaign_response(await campaign_service.get(session, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    operation_id="updateCampaign",
    tags=CAMPAIGNS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Change a campaign 修改排查行动",
    description="Only the fields sent change. A period that would leave recorded visits outside it is refused "
    "(409). Only callers whose regions contain the campaign's (403 otherwise). Needs campaigns:write and "
    "`If-Match` with the campaign's ETag.",
)
async def update_campaign(request: Request, campaign_id: Id, body: CampaignUpdate, session: Session, caller: Organiser):
    campaign = await campaign_service.get(session, campaign_id, for_update=True)
    campaign_service.check_change(caller.region_prefix, campaign)
    check_if_match(request, etag("campaign", campaign.id, campaign.version))
    return _campaign_response(await campaign_service.update(session, campaign, body))


@router.post(
    "/campaigns/{campaign_id}/teams",
    status_code=201,
    response_model=TeamOut,
    operation_id="assignCampaignTeam",
    tags=CAMPAIGNS,
    responses=responses(403, 404),
    summary="Assign a team a village 分组包村",
    description="Roster members (the policy's `campaign_team_size`, seed: two — 两人一组进村入户) serving during "
    "the campaign, for a village of its region. Only callers whose regions contain the campaign's. Needs "
    "campaigns:write. " + IDEMPOTENCY_DOC,
)
async def assign_team(campaign_id: Id, body: TeamIn, session: Session, caller: Organiser):
    campaign = await campaign_service.get(session, campaign_id)
    campaign_service.check_change(caller.region_prefix, campaign)
    team = await campaign_service.assign_team(session, campaign, body, caller.user_id)
    return JSON(_team(team), status_code=201)


def _team(t: CampaignTeam) -> dict[str, Any]:
    return {
        "id": t.id,
        "campaign_id": t.campaign_id,
        "village": t.region_code,
        "member_ids": t.member_ids,
        "created_at": t.created_at,
    }


@router.get(
    "/campaigns/{campaign_id}/teams",
    response_model=Page[TeamOut],
    operation_id="listCampaignTeams",
    tags=CAMPAIGNS,
    dependencies=LIST,
    responses=responses(404),
    summary="The campaign's teams 排查小组",
)
async def list_teams(request: Request, campaign_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None):
    """The campaign's teams in your regions, by id: the village and the members. Needs campaigns:read. 排查小组。"""
    campaign = await campaign_service.get(session, campaign_id)
    rows, next_cursor = await campaign_service.teams(session, campaign, cursor, page_limit(request, limit))
    return JSON({"items": [_team(t) for t in rows], "next_cursor": next_cursor})


@router.post(
    "/campaigns/{campaign_id}/visits",
    status_code=201,
    response_model=CampaignVisitOut,
    operation_id="recordCampaignVisit",
    tags=CAMPAIGNS,
    responses=responses(403, 404, 409),
    summary="Record a household visited 录入入户排查",
    description="Who (you, and the team if given), when (`visited_at`; its China date must fall in the campaign's "
    "period, 422 otherwise), what was checked (among the campaign's checks), which checks found a problem, photo "
    "references and findings. A household outside the campaign's region is 422, outside yours 404; one record "
    "per household and campaign (409 for a second). Needs campaigns:visit. " + IDEMPOTENCY_DOC,
)
async def record_visit(campaign_id: Id, body: CampaignVisitIn, session: Session, caller: Visitor):
    campaign = await campaign_service.get(session, campaign_id)
    visit = await campaign_service.record_visit(session, campaign, body, caller.user_id)
    return _visit_response(visit, 201)


def _visit_response(visit: CampaignVisit, status: int = 200) -> JSON:
    headers = {"ETag": etag("campaign_visit", visit.id, visit.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/campaign-visits/{visit.id}"
    return JSON(visit_body(visit), status_code=status, headers=headers)


@router.get(
    "/campaigns/{campaign_id}/visits",
    response_model=Page[CampaignVisitOut],
    operation_id="listCampaignVisits",
    tags=CAMPAIGNS,
    dependencies=LIST,
    responses=responses(404),
    summary="The campaign's visit records 排查走访台账",
)
async def list_visits(
    request: Request,
    campaign_id: Id,
    session: Session,
    region: RegionQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The households visited in the campaign, in its region within yours (and within `region`), by household id:
    who, when, what was checked and found, the clue raised. Needs campaigns:read. 排查走访台账。"""
    campaign = await campaign_service.get(session, campaign_id)
    rows, next_cursor = await campaign_service.visits(session, campaign, region, cursor, page_limit(request, limit))
    return JSON({"items": [visit_body(v) for v in rows], "next_cursor": next_cursor})


@router.get(
    "/campaign-visits/{campaign_visit_id}",
    response_model=CampaignVisitOut,
    operation_id="getCampaignVisit",
    tags=CAMPAIGNS,
    dependencies=READ,
    responses=responses(404),
    summary="One campaign visit 走访记录详情",
)
async def get_visit(campaign_visit_id: Id, session: Session):
    """One household's visit record of a campaign, with the risk clue raised from it. Needs campaigns:read.
    走访记录详情。"""
    return _visit_response(await campaign_service.get_visit(session, campaign_visit_id))


@router.patch(
    "/campaign-visits/{campaign_visit_id}",
    response_model=CampaignVisitOut,
    operation_id="updateCampaignVisit",
    tags=CAMPAIGNS,
    responses=responses(403, 404, 412, 428),
    summary="Correct a campaign visit 更正入户排查记录",
    description="Only the fields sent change, under the rules of a new record: `visited_at`'s China date in the "
    "campaign's period, checks among the campaign's, problems among the checks, the team of the household's "
    "village (422 naming the field otherwise). The household and a clue already raised stay (a wrong household is "
    "a new record). Needs campaigns:visit and `If-Match` with the record's ETag.",
)
async def update_visit(request: Request, campaign_visit_id: Id, body: VisitUpdate, session: Session, caller: Visitor):
    visit = await campaign_service.get_visit(session, campaign_visit_id, for_update=True)
    check_if_match(request, etag("campaign_visit", visit.id, visit.version))
    campaign = await campaign_service.get(session, visit.campaign_id)
    return _visit_response(await campaign_service.correct_visit(session, campaign, visit, body))


@router.post(
    "/campaign-visits/{campaign_visit_id}/clue",
    status_code=201,
    response_model=VisitClueOut,
    operation_id="raiseClueFromVisit",
    tags=CAMPAIGNS,
    responses=responses(403, 404, 409),
    summary="Turn a visit's finding into a risk clue 排查发现转风险线索",
    description="Reports the finding through the risk-clue intake (channel `visit` 干部走访排查, the visit's "
    "photos as attachments), so it is verified, reviewed and decided like any clue; an open clue of the "
    "household sharing a risk type takes it (`outcome: merged`). Once per visit (409 for a second). Needs "
    "campaigns:visit and clues:report. " + IDEMPOTENCY_DOC,
)
async def raise_clue(request: Request, campaign_visit_id: Id, body: VisitClueIn, session: Session, caller: ClueRaiser):
    visit = await campaign_service.get_visit(session, campaign_visit_id, for_update=True)
    outcome = await campaign_service.raise_clue(
        session, visit, body, Reporter(caller.user_id, caller.client_id), request.app.state.settings.id_hash_key
    )
    return JSON({**visit_body(visit), "outcome": outcome}, status_code=201)


@router.get(
    "/campaigns/{campaign_id}/progress",
    response_model=ProgressOut,
    operation_id="getCampaignProgress",
    tags=CAMPAIGNS,
    dependencies=LIST,
    responses=responses(404),
    summary="Progress per village 分村走访进度",
)
async def campaign_progress(campaign_id: Id, session: Session, region: RegionQ = None):
    """For each village of the campaign's region within yours (and within `region`): the active households, those
    visited and the share in percent; and the totals. Needs campaigns:read. 分村走访进度。"""
    campaign = await campaign_service.get(session, campaign_id)
    return JSON(await campaign_service.progress(session, campaign, region))


@router.get(
    "/campaigns/{campaign_id}/unvisited",
    response_model=Page[UnvisitedOut],
    operation_id="listUnvisitedHouseholds",
    tags=CAMPAIGNS,
    dependencies=LIST,
    responses=responses(404),
    summary="Households not yet visited 未走访农户",
)
@fast_path(list_unvisited_directly)  # the plain queries; the same answers (tests/api/test_fieldwork_list_direct.py)
async def unvisited(
    request: Request,
    campaign_id: Id,
    session: Session,
    region: RegionQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Active households of the campaign's region within yours (and within `region`) without a visit record, by id
    (逐户逐人: every household, not only the formerly poor). Needs campaigns:read. 未走访农户。"""
    campaign = await campaign_service.get(session, campaign_id)
    found = await campaign_service.unvisited(
        session, campaign.id, campaign.region_prefix, region, cursor, page_limit(request, limit)
    )
    return JSON(found.body())
