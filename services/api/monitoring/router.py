"""Risk clues, monitoring cases and their steps, measures, visits, the overdue list. Thin:
parse, look up in scope, check If-Match, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.monitoring.bodies import case_body, clue_body
from services.api.monitoring.listing import (
    check_list_filters,
    list_cases_directly,
    list_clues_directly,
    list_overdue_directly,
)
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, IdQ, Limit, RegionPrefix, RegionQ
from services.api.problems import rendered_errors
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute, fast_path
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.i18n import wants_chinese
from services.core.monitoring import cases as case_service
from services.core.monitoring import queries, service
from services.core.monitoring.deadlines import Deadline
from services.core.monitoring.enums import (
    Action,
    CaseStatus,
    CaseType,
    Channel,
    ClueStatus,
    DeadlineKind,
    RiskType,
)
from services.core.monitoring.models import Measure, MonitoringCase, RiskClue
from services.core.monitoring.schemas import (
    CadreIn,
    CaseFromClue,
    CaseOut,
    ClueDismissal,
    ClueIn,
    ClueOut,
    CountyDecisionIn,
    EliminationCheckOut,
    MeasureIn,
    MeasureOut,
    MeasureUpdate,
    NoticeResultIn,
    OverdueItem,
    ProposalIn,
    Reporter,
    ReviewIn,
    TerminationIn,
    TransitionOut,
    VerificationIn,
    VillageReviewIn,
    VisitBreachOut,
    VisitIn,
    VisitOut,
)
from services.core.timeutil import today
from services.core.types import Day

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
CLUES: tags.Tags = [tags.RISK_CLUES]
CASES: tags.Tags = [tags.MONITORING_CASES]
ASSIST: tags.Tags = [tags.ASSISTANCE]

READ = [Needs(Permission.monitoring_read)]
LIST = [Needs(Permission.monitoring_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
CaseApprover = Annotated[Caller, Needs(Permission.cases_approve)]
CaseAssigner = Annotated[Caller, Needs(Permission.cases_assign)]
CaseAssistant = Annotated[Caller, Needs(Permission.cases_assist)]
CaseVerifier = Annotated[Caller, Needs(Permission.cases_verify)]
ClueHandler = Annotated[Caller, Needs(Permission.clues_handle)]
ClueReporter = Annotated[Caller, Needs(Permission.clues_report)]
MonitoringReader = Annotated[Caller, Needs(Permission.monitoring_read)]
TownshipReviewer = Annotated[Caller, Needs(Permission.cases_township_review)]
VillageReviewer = Annotated[Caller, Needs(Permission.cases_village_review)]
ClueId = Id
CaseId = Id
MeasureId = Annotated[uuid.UUID, PathParam(description="Measure id (a UUID)")]
path_object("clue_id", RiskClue)
path_object("case_id", MonitoringCase)
path_object("measure_id", Measure)

IF_MATCH = "Needs `If-Match` with the case's ETag: of two concurrent steps exactly one wins, the other gets 412."
ELIMINATION_GUARD = (
    "Risk elimination: the proposal and every approval are refused (409 "
    "`elimination_conditions_unmet`, every unmet condition listed, as `elimination-check` gives "
    "them) unless the policy's conditions hold on the step's day; a rejection is always allowed. "
)


def _actor(caller: Caller) -> Reporter:
    return Reporter(caller.user_id, caller.client_id)


# ---------------------------------------------------------------- clues


def _clue_response(clue: RiskClue, body: dict, status: int = 200) -> JSON:
    headers = {"ETag": etag("clue", clue.id, clue.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/risk-clues/{clue.id}"
    return JSON(body, status_code=status, headers=headers)


@router.post(
    "/risk-clues",
    status_code=201,
    response_model=ClueOut,
    operation_id="reportRiskClue",
    tags=CLUES,
    responses=responses(403, 404, 409),
    summary="Report a risk clue 上报风险线索",
    description="From any of the three channels; system clients (department screening, a self-declaration "
    "app) too. An open clue of the same household sharing a risk type takes the report "
    "(200, `outcome: merged`); a source reference already known changes nothing (200, "
    "`outcome: duplicate`). Send an `Idempotency-Key`.",
)
async def report_clue(request: Request, body: ClueIn, session: Session, caller: ClueReporter):
    clue, outcome = await service.report_clue(session, body, _actor(caller), request.app.state.settings.id_hash_key)
    return _clue_response(clue, clue_body(clue, caller, outcome=outcome), 201 if outcome == "created" else 200)


@router.get(
    "/risk-clues",
    response_model=Page[ClueOut],
    operation_id="listRiskClues",
    tags=CLUES,
    dependencies=LIST,
    responses=responses(403, 404),
    summary="Risk clues, newest first 风险线索列表",
)
@fast_path(list_clues_directly)  # the common queries; the same answers (tests/api/test_monitoring_list_direct.py)
async def list_clues(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    region: RegionPrefix = None,
    status: ClueStatus | None = None,
    channel: Channel | None = None,
    risk_type: RiskType | None = None,
    household_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Risk clues (风险线索) in your regions, newest first, filtered by region, status, channel, risk type or
    household. Risk types that tell health (illness, disability) are shown and filterable only for roles that
    see health details (filtering by them otherwise answers 403). Needs monitoring:read. 风险线索列表。"""
    await check_list_filters(session, caller, region, risk_type, household_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await queries.list_clues(
        session,
        region=region,
        status=status,
        channel=channel,
        risk_type=risk_type,
        household_id=household_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": [clue_body(c, caller) for c in rows], "next_cursor": next_cursor})


@router.get(
    "/risk-clues/{clue_id}",
    response_model=ClueOut,
    operation_id="getRiskClue",
    tags=CLUES,
    responses=responses(403, 404),
    summary="One clue with its reports 线索详情",
)
async def get_clue(clue_id: ClueId, session: Session, caller: MonitoringReader):
    """One risk clue with every report merged into it, its pending deadlines (e.g. the township's acceptance of a
    self-declaration) and the deadlines met late. Needs monitoring:read. 线索详情。"""
    clue = await service.get_clue(session, clue_id)
    deadlines = await service.clue_deadlines(session, clue)
    reports = await service.reports_of(session, clue.id)
    return _clue_response(clue, clue_body(clue, caller, deadlines, reports))


@router.post(
    "/risk-clues/{clue_id}/dismissal",
    response_model=ClueOut,
    operation_id="dismissRiskClue",
    tags=CLUES,
    responses=responses(403, 404, 409, 412, 428),
    summary="Dismiss a clue with a reason 排除线索",
    description="Needs `If-Match` with the clue's ETag.",
)
async def dismiss_clue(request: Request, clue_id: ClueId, body: ClueDismissal, session: Session, caller: ClueHandler):
    clue = await service.get_clue(session, clue_id, for_update=True)
    check_if_match(request, etag("clue", clue.id, clue.version))
    await service.dismiss_clue(session, clue, caller.user_id, body.reason)
    return _clue_response(clue, clue_body(clue, caller, []))


@router.post(
    "/risk-clues/{clue_id}/case",
    status_code=201,
    response_model=CaseOut,
    operation_id="openCaseFromClue",
    tags=CLUES,
    responses=responses(403, 404, 409, 412, 428),
    summary="Turn a clue into a monitoring case 线索转为监测对象",
    description="Opens a case at the verification visit (201). When the household already has an open "
    "case, the clue's risks join it instead (200); after an eliminated case a new one is "
    "opened, linked to it. Needs `If-Match` with the clue's ETag.",
)
async def open_case(request: Request, clue_id: ClueId, body: CaseFromClue, session: Session, caller: ClueHandler):
    clue = await service.get_clue(session, clue_id, for_update=True)
    check_if_match(request, etag("clue", clue.id, clue.version))
    case, created, deadlines = await service.open_from_clue(session, clue, body, _actor(caller))
    return _case_json(case, caller, deadlines, 201 if created else 200)


# ---------------------------------------------------------------- cases


async def _case_response(session, case: MonitoringCase, caller: Caller, status: int = 200) -> JSON:
    return _case_json(case, caller, await service.case_deadlines(session, case), status)


def _case_json(case: MonitoringCase, caller: Caller, deadlines: list[Deadline], status: int = 200) -> JSON:
    headers = {"ETag": etag("case", case.id, case.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/monitoring-cases/{case.id}"
    return JSON(case_body(case, caller, deadlines), status_code=status, headers=headers)


@router.get(
    "/monitoring-cases",
    response_model=Page[CaseOut],
    operation_id="listMonitoringCases",
    tags=CASES,
    dependencies=LIST,
    responses=responses(403, 404),
    summary="Monitoring cases, newest first 监测对象列表",
)
@fast_path(list_cases_directly)  # the common queries; the same answers (tests/api/test_monitoring_list_direct.py)
async def list_cases(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    region: RegionPrefix = None,
    status: CaseStatus | None = None,
    case_type: CaseType | None = None,
    risk_type: RiskType | None = None,
    household_id: IdQ = None,
    cadre_user_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Monitoring cases (监测对象) in your regions, newest first, filtered by region, status, case type, risk type,
    household or assistance cadre. Health risk types only for roles that see health details. Needs
    monitoring:read. 监测对象列表。"""
    await check_list_filters(session, caller, region, risk_type, household_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await queries.list_cases(
        session,
        region=region,
        status=status,
        case_type=case_type,
        risk_type=risk_type,
        household_id=household_id,
        cadre_user_id=cadre_user_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": [case_body(c, caller) for c in rows], "next_cursor": next_cursor})


@router.get(
    "/monitoring-cases/overdue",
    response_model=Page[OverdueItem],
    operation_id="listOverdue",
    tags=CASES,
    dependencies=LIST,
    responses=responses(403, 404),
    summary="Daily work list: deadlines past or due soon 逾期和临期事项",
    description="Cases and open clues whose nearest deadline has passed (`days_late` > 0) or falls within "
    "`within_days` of `as_of` (default today, China time), nearest first. Deadlines follow "
    "China's working-day calendar; `provisional` marks those computed over a year whose "
    "official holiday schedule is not known yet.",
)
@fast_path(list_overdue_directly)  # the common queries; the same answers (tests/api/test_monitoring_list_direct.py)
async def list_overdue(
    request: Request,
    session: Session,
    region: RegionQ = None,
    within_days: Annotated[int, Query(ge=0, le=366)] = 0,
    as_of: Day | None = None,
    kind: DeadlineKind | None = None,
    subject: Annotated[str | None, Query(pattern="^(case|clue)$")] = None,
    cadre_user_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    limit = page_limit(request, limit)
    found = await queries.overdue(
        session,
        as_of=as_of or today(),
        within_days=within_days,
        region=region,
        kind=kind,
        subject=subject,
        cadre_user_id=cadre_user_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON(found.body())


@router.get(
    "/monitoring-cases/{case_id}",
    response_model=CaseOut,
    operation_id="getMonitoringCase",
    tags=CASES,
    responses=responses(403, 404),
    summary="One case, its deadlines and what may be done next 监测对象详情",
)
async def get_case(case_id: CaseId, session: Session, caller: MonitoringReader):
    """One monitoring case: its step in identification, assistance or risk elimination, its dates, every pending
    deadline (identification within 15 days of the first clue, cadre and plan within 10 working days, monthly
    visits — per the policy in force), the deadlines missed, and the actions you may take next. Needs
    monitoring:read. 监测对象详情。"""
    case = await service.get_case(session, case_id)
    return await _case_response(session, case, caller)


@router.get(
    "/monitoring-cases/{case_id}/transitions",
    response_model=Page[TransitionOut],
    operation_id="listCaseTransitions",
    tags=CASES,
    dependencies=READ,
    responses=responses(403, 404),
    summary="The case's steps, oldest first 办理记录",
)
async def list_transitions(
    request: Request, case_id: CaseId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """Every step of the case, oldest first: action, status before and after, comment, attachments, the day it took
    place and who acted. Needs monitoring:read. 办理记录。"""
    case = await case_service.get_case(session, case_id)
    limit = page_limit(request, limit)
    found = await case_service.transitions_of(session, case.id, cursor=cursor, limit=limit)
    return JSON(found.body(lambda t: {f: getattr(t, f) for f in TransitionOut.model_fields}))


@router.get(
    "/monitoring-cases/{case_id}/elimination-check",
    response_model=EliminationCheckOut,
    operation_id="checkElimination",
    tags=CASES,
    dependencies=READ,
    responses=responses(403, 404),
    summary="Which risk-elimination conditions are unmet today 风险消除条件核查",
    description="The conditions every forward step of the elimination must meet — the proposal, the "
    "verification, the democratic review (before the notice), the notice's result, the township "
    "review and the county's approval — as of `on` (default today, China time): the same list a "
    "refused step answers with. Available at every status, so the village, the township and the "
    "county see the same list.",
)
async def elimination_check(request: Request, case_id: CaseId, session: Session, on: Day | None = None):
    case = await service.get_case(session, case_id)
    day = on or today()
    unmet = await service.check_elimination(session, case, day)
    zh = wants_chinese(request.headers.get("accept-language"))
    return JSON(
        {"case_id": case.id, "status": case.status, "on": day, "met": not unmet, "unmet": rendered_errors(unmet, zh)}
    )


async def _step(request: Request, session, case_id: int, action: Action, body, caller: Caller) -> JSON:
    subject = await service.case_for_step(session, case_id)
    check_if_match(request, etag("case", subject.case.id, subject.case.version))
    done = await service.take_step(session, subject, action, body, _actor(caller))
    return _case_json(done.case, caller, done.deadlines)


STEP_RESPONSES = responses(403, 404, 409, 412, 428)


@router.post(
    "/monitoring-cases/{case_id}/verification",
    response_model=CaseOut,
    operation_id="verifyCase",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="Household verification visit 入户核实",
    description="Identification: approve needs the household's signed consent (`consent_signed`). "
    "Elimination: approve = the risk is gone. " + ELIMINATION_GUARD + IF_MATCH,
)
async def verify_case(request: Request, case_id: CaseId, body: VerificationIn, session: Session, caller: CaseVerifier):
    return await _step(request, session, case_id, Action.verify, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/village-review",
    response_model=CaseOut,
    operation_id="villageReview",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="Village democratic review; approval starts the notice 民主评议",
    description="A notice runs at least the policy's days (5 by default); a shorter one is refused. "
    + ELIMINATION_GUARD
    + IF_MATCH,
)
async def village_review(
    request: Request, case_id: CaseId, body: VillageReviewIn, session: Session, caller: VillageReviewer
):
    return await _step(request, session, case_id, Action.village_review, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/notice-result",
    response_model=CaseOut,
    operation_id="noticeResult",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="End of the public notice 公示结果",
    description="approve (no objection upheld) only after the notice's last day; reject (an objection was "
    "upheld) at any time. " + ELIMINATION_GUARD + IF_MATCH,
)
async def notice_result(
    request: Request, case_id: CaseId, body: NoticeResultIn, session: Session, caller: VillageReviewer
):
    return await _step(request, session, case_id, Action.notice_result, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/township-review",
    response_model=CaseOut,
    operation_id="townshipReview",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="Township review 乡镇审核",
    description=ELIMINATION_GUARD + IF_MATCH,
)
async def township_review(
    request: Request, case_id: CaseId, body: ReviewIn, session: Session, caller: TownshipReviewer
):
    return await _step(request, session, case_id, Action.township_review, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/county-decision",
    response_model=CaseOut,
    operation_id="countyDecision",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="County approval 县级审批",
    description="Identification: the household becomes 监测户. Risk elimination: `way` is required; the "
    "household gets its previous category back. " + ELIMINATION_GUARD + IF_MATCH,
)
async def county_decision(
    request: Request, case_id: CaseId, body: CountyDecisionIn, session: Session, caller: CaseApprover
):
    return await _step(request, session, case_id, Action.county_decision, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/elimination-proposal",
    response_model=CaseOut,
    operation_id="proposeElimination",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="Propose risk elimination 提出风险消除",
    description=ELIMINATION_GUARD + IF_MATCH,
)
async def propose_elimination(
    request: Request, case_id: CaseId, body: ProposalIn, session: Session, caller: CaseAssistant
):
    return await _step(request, session, case_id, Action.propose_elimination, body, caller)


@router.post(
    "/monitoring-cases/{case_id}/termination",
    response_model=CaseOut,
    operation_id="terminateCase",
    tags=CASES,
    responses=STEP_RESPONSES,
    summary="End a case otherwise (household dissolved …) 终止",
    description=IF_MATCH,
)
async def terminate_case(
    request: Request, case_id: CaseId, body: TerminationIn, session: Session, caller: CaseApprover
):
    return await _step(request, session, case_id, Action.terminate, body, caller)


@router.put(
    "/monitoring-cases/{case_id}/cadre",
    response_model=CaseOut,
    operation_id="assignCadre",
    tags=ASSIST,
    responses=responses(403, 404, 409, 412, 428),
    summary="Name the assistance cadre 明确帮扶责任人",
    description=IF_MATCH,
)
async def assign_cadre(request: Request, case_id: CaseId, body: CadreIn, session: Session, caller: CaseAssigner):
    case = await service.get_case(session, case_id, for_update=True)
    check_if_match(request, etag("case", case.id, case.version))
    case, deadlines = await service.assign_cadre(session, case, body, _actor(caller))
    return _case_json(case, caller, deadlines)


# ---------------------------------------------------------------- measures and visits


def _measure_response(m: Measure, status: int = 200) -> JSON:
    headers = {"ETag": etag("measure", m.id, m.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/measures/{m.id}"
    return JSON({f: getattr(m, f) for f in MeasureOut.model_fields}, status_code=status, headers=headers)


@router.get(
    "/monitoring-cases/{case_id}/measures",
    response_model=Page[MeasureOut],
    operation_id="listMeasures",
    tags=ASSIST,
    dependencies=READ,
    responses=responses(403, 404),
    summary="The case's measures 帮扶措施",
)
async def list_measures(
    request: Request, case_id: CaseId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The case's assistance measures (一户一策), by start day: category, content, responsible unit, status and result.
    Needs monitoring:read. 帮扶措施。"""
    case = await case_service.get_case(session, case_id)
    limit = page_limit(request, limit)
    found = await case_service.measures_of(session, case.id, cursor=cursor, limit=limit)
    return JSON(found.body(lambda m: {f: getattr(m, f) for f in MeasureOut.model_fields}))


@router.post(
    "/monitoring-cases/{case_id}/measures",
    status_code=201,
    response_model=MeasureOut,
    operation_id="addMeasure",
    tags=ASSIST,
    responses=responses(403, 404, 409),
    summary="Add a measure (一户一策) 添加帮扶措施",
    description="Offline clients send their own `id` (UUID): the same measure uploaded again answers 200 "
    "and changes nothing; another measure under a used id is refused (409).",
)
async def add_measure(case_id: CaseId, body: MeasureIn, session: Session, caller: CaseAssistant):
    case = await service.get_case(session, case_id, for_update=True)
    measure, created = await service.add_measure(session, case, body, _actor(caller))
    return _measure_response(measure, 201 if created else 200)


@router.get(
    "/measures/{measure_id}",
    response_model=MeasureOut,
    operation_id="getMeasure",
    tags=ASSIST,
    dependencies=READ,
    responses=responses(403, 404),
    summary="One measure 帮扶措施详情",
)
async def get_measure(measure_id: MeasureId, session: Session):
    """One assistance measure with its ETag. Needs monitoring:read. 帮扶措施详情。"""
    return _measure_response(await service.get_measure(session, measure_id))


@router.put(
    "/measures/{measure_id}",
    response_model=MeasureOut,
    operation_id="updateMeasure",
    tags=ASSIST,
    responses=responses(403, 404, 409, 412, 428),
    summary="Update a measure's progress and result 更新措施",
    description="Needs `If-Match` with the measure's ETag. A completed or stopped measure keeps its status.",
)
async def update_measure(
    request: Request, measure_id: MeasureId, body: MeasureUpdate, session: Session, caller: CaseAssistant
):
    measure = await service.get_measure(session, measure_id, for_update=True)
    check_if_match(request, etag("measure", measure.id, measure.version))
    return _measure_response(await service.update_measure(session, measure, body))


@router.get(
    "/monitoring-cases/{case_id}/visits",
    response_model=Page[VisitOut],
    operation_id="listVisits",
    tags=ASSIST,
    dependencies=READ,
    responses=responses(403, 404),
    summary="The case's visits 走访记录",
)
async def list_visits(request: Request, case_id: CaseId, session: Session, limit: Limit = None, cursor: Cursor = None):
    """The case's visits by the assistance cadre, by visit day: mode, findings and attachments. Needs
    monitoring:read. 走访记录。"""
    case = await case_service.get_case(session, case_id)
    limit = page_limit(request, limit)
    found = await case_service.visits_of(session, case.id, cursor=cursor, limit=limit)
    return JSON(found.body(lambda v: {f: getattr(v, f) for f in VisitOut.model_fields}))


@router.get(
    "/monitoring-cases/{case_id}/visit-breaches",
    response_model=Page[VisitBreachOut],
    operation_id="listCaseVisitBreaches",
    tags=ASSIST,
    dependencies=READ,
    responses=responses(403, 404),
    summary="Months of assistance without their visits 未按月走访记录",
    description="Each month that ended without the policy's visits, recorded once (by the daily worker, or "
    "when a later visit is entered). Never corrected; the case's visit deadline has moved on.",
)
async def list_case_visit_breaches(
    request: Request, case_id: CaseId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    case = await case_service.get_case(session, case_id)
    limit = page_limit(request, limit)
    found = await case_service.visit_breaches_of(session, case.id, cursor=cursor, limit=limit)
    return JSON(found.body(lambda b: {f: getattr(b, f) for f in VisitBreachOut.model_fields}))


@router.post(
    "/monitoring-cases/{case_id}/visits",
    status_code=201,
    response_model=VisitOut,
    operation_id="addVisit",
    tags=ASSIST,
    responses=responses(403, 404, 409),
    summary="Record a visit 记录走访",
    description="Client-generated `id` as for measures. Visits in the policy's counted modes (in person by "
    "default) meet the monthly visit. Months before the visit's month that ended without their "
    "visits are recorded as breaches first (once; see `visit-breaches`), so the visit meets its "
    "own month's deadline and the case leaves the overdue list.",
)
async def add_visit(case_id: CaseId, body: VisitIn, session: Session, caller: CaseAssistant):
    case = await service.get_case(session, case_id, for_update=True)
    visit, created = await service.add_visit(session, case, body, _actor(caller))
    return JSON(
        {f: getattr(visit, f) for f in VisitOut.model_fields},
        status_code=201 if created else 200,
        headers={"Location": f"/api/v1/monitoring-cases/{case.id}/visits"} if created else None,
    )
