"""Income lines, the uncovered-households rule, statistics, public notice lists and the
monitoring policy's settings. Thin: parse, check, call ``services.core.monitoring``, shape."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from services.api import tags
from services.api.auditing import record_changes_so_far
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, IdPath, IdQuery, Limit, PrefixCheck, PrefixQuery, VillageCode, Visible
from services.api.policies import PolicyRoutes
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import NotFound, PreconditionFailed, Unprocessable
from services.core.monitoring import lines, queries, reports
from services.core.monitoring.enums import NoticeKind
from services.core.monitoring.models import IncomeLine, MonitoringPolicyRow
from services.core.monitoring.report_schemas import (
    EffectivePolicy,
    IncomeLineIn,
    IncomeLineOut,
    NoticeList,
    Statistics,
    StatLevel,
    UncoveredCluesIn,
    UncoveredCluesOut,
    UncoveredHousehold,
)
from services.core.monitoring.schemas import VisitBreachOut
from services.core.policy import monitoring as monitoring_policy
from services.core.policy import overrides
from services.core.policy.monitoring import TABLE as MONITORING
from services.core.policy.schemas import PolicyRowIn, PolicyRowOut, PolicyRowUpdate
from services.core.regions.rules import PREFIX_LENGTH, Level
from services.core.regions.service import check_prefix_visible, get_region
from services.core.timeutil import today

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

REPORTS: tags.Tags = [tags.MONITORING_REPORTS]
POLICY: tags.Tags = [tags.MONITORING_POLICY]
READ = Needs(Permission.monitoring_read)
# The caller of a route, with the permission it needs (``deps.Needs``).
ClueReporter = Annotated[Caller, Needs(Permission.clues_report)]
MonitoringReader = Annotated[Caller, Needs(Permission.monitoring_read)]
PolicyWriter = Annotated[Caller, Needs(Permission.policy_write)]

YearPath = Annotated[int, PathParam(ge=2000, le=2100, description="Year 年度")]
ProvincePath = Annotated[str, PathParam(pattern=r"^\d{2}$", description="Province: two digits 省级区划代码")]
PolicyId = Annotated[int, IdPath("Policy override id")]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100)]
RegionQuery = Annotated[
    str | None,
    PrefixQuery("Region code prefix (2/4/6/9/12 digits) 区划前缀; default: all your regions"),
    PrefixCheck,
    Visible(),
]
path_object("policy_id", MonitoringPolicyRow, visible=lambda prefix: overrides.visible_to(prefix, MONITORING))


async def _region(session, caller: Caller, region: str | None, field: str = "region") -> str:
    """The region a report covers: one the caller can see (404 otherwise), or its own."""
    if region is None:
        return caller.region_prefix
    await check_prefix_visible(session, region, field=field)
    return region


# ---- income lines ------------------------------------------------------------------------

_LINE_FIELDS = tuple(IncomeLineOut.model_fields)


def _line_response(line: IncomeLine, status: int = 200) -> JSON:
    headers = {"ETag": etag("income-line", f"{line.year}-{line.province_code}", line.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/income-lines/{line.year}/{line.province_code}"
    return JSON({f: getattr(line, f) for f in _LINE_FIELDS}, status_code=status, headers=headers)


@router.get(
    "/income-lines",
    response_model=Page[IncomeLineOut],
    operation_id="listIncomeLines",
    dependencies=[READ],
    tags=POLICY,
    responses=responses(),
    summary="Monitoring income lines 监测标准",
    description="The lines of the provinces your regions lie in (every province for a nation-wide "
    "account), newest year first. Lines are public figures.",
)
async def list_income_lines(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    year: YearQuery = None,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$", description="Province, two digits")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    limit = page_limit(request, limit)
    found = await lines.list_lines(session, caller.region_prefix, year, province, cursor=cursor, limit=limit)
    return JSON(found.body(lambda line: {f: getattr(line, f) for f in _LINE_FIELDS}))


@router.get(
    "/income-lines/{year}/{province_code}",
    response_model=IncomeLineOut,
    operation_id="getIncomeLine",
    dependencies=[READ],
    tags=POLICY,
    responses=responses(404),
    summary="One income line 某年某省监测标准",
)
async def get_income_line(year: YearPath, province_code: ProvincePath, session: Session):
    """The monitoring income line (监测标准) of one year and province: the per-capita yearly income below which a
    household is at risk. Needs monitoring:read; 404 when none is set. 某年某省监测标准。"""
    line = await lines.get_line(session, year, province_code)
    if line is None:
        raise NotFound("income_line_not_found", field="year", year=year, province=province_code)
    return _line_response(line)


@router.put(
    "/income-lines/{year}/{province_code}",
    response_model=IncomeLineOut,
    operation_id="putIncomeLine",
    tags=POLICY,
    responses={**responses(403, 412, 428), 201: {"model": IncomeLineOut, "description": "The line was created"}},
    summary="Set a province's line for a year 设置监测标准",
    description="Only for an account whose regions cover the whole province. Creating answers 201; "
    "replacing an existing line needs `If-Match` with its ETag (428 without, 412 when stale); "
    "`If-Match` on a line that does not exist yet fails (412).",
)
async def put_income_line(
    request: Request,
    year: YearPath,
    province_code: ProvincePath,
    body: IncomeLineIn,
    session: Session,
    caller: PolicyWriter,
):
    lines.check_may_set(caller.region_prefix, province_code)
    current = await lines.get_line(session, year, province_code, for_update=True)
    if current is None:
        if request.headers.get("if-match") is not None:
            raise PreconditionFailed("precondition_failed", field="If-Match", current="none")
    else:
        check_if_match(request, etag("income-line", f"{year}-{province_code}", current.version))
    line = await lines.set_line(session, current, year, province_code, body.amount, body.note, caller.user_id)
    return _line_response(line, 201 if current is None else 200)


# ---- uncovered households (应纳未纳) --------------------------------------------------------


def _last_year() -> int:
    return today().year - 1


@router.get(
    "/monitoring/uncovered-households",
    response_model=Page[UncoveredHousehold],
    operation_id="listUncoveredHouseholds",
    dependencies=[Depends(bulk_read)],
    tags=REPORTS,
    responses=responses(404, 409, 429),
    summary="Formerly poor, below the line, not monitored 脱贫户收入低于监测标准且未纳入监测",
    description="Households of category lifted_out (脱贫户) that have no open monitoring case and whose "
    "per-capita net income over twelve months — the four quarters up to the end of `year` "
    "(default: last year), or up to today's quarter while `year` runs, ending in `year` — is "
    "below that year's line of their province (`income_complete` true). Households whose "
    "twelve months are incomplete (a quarter missing) cannot be judged and are listed with "
    "`income_complete` false (filter with `income_complete`); no clue is raised for them. "
    "409 naming `year` when a province has no line for it.",
)
async def list_uncovered_households(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    year: YearQuery = None,
    region: RegionQuery = None,
    income_complete: Annotated[
        bool | None,
        Query(
            description="true: only households judged below the line; false: only those whose twelve months are "
            "incomplete; absent: both"
        ),
    ] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    region = region if region is not None else caller.region_prefix
    year = year or _last_year()
    limit = page_limit(request, limit)
    await lines.require_lines(session, year, region)
    rows, next_cursor = await lines.uncovered_page(session, year, region, cursor, limit, income_complete)
    return JSON({"items": rows, "next_cursor": next_cursor})


@router.post(
    "/monitoring/uncovered-households/clues",
    response_model=UncoveredCluesOut,
    operation_id="raiseUncoveredClues",
    tags=REPORTS,
    responses=responses(404, 409),
    summary="Raise a risk clue for each such household 将应纳未纳农户转为风险线索",
    description="Each household the rule finds below the line over a complete twelve months gets a risk "
    "clue (never one whose twelve months are incomplete; channel department_screening, risk "
    "income_below_line, source `rule:income_below_line`). The clue's reference is the "
    "household and income year, so running again creates nothing new. " + IDEMPOTENCY_DOC,
)
async def raise_uncovered_clues(request: Request, body: UncoveredCluesIn, session: Session, caller: ClueReporter):
    from services.core.monitoring.schemas import Reporter

    region = await _region(session, caller, body.region)
    year = body.year or _last_year()
    await lines.require_lines(session, year, region)

    async def after_batch() -> None:
        await record_changes_so_far(request, session)

    counts = await lines.raise_uncovered_clues(
        session, year, region, Reporter(caller.user_id, caller.client_id), after_batch=after_batch
    )
    return JSON({"year": year, **counts})


# ---- visit breaches (未按月走访) ------------------------------------------------------------------


@router.get(
    "/monitoring/visit-breaches",
    response_model=Page[VisitBreachOut],
    operation_id="listVisitBreaches",
    dependencies=[Depends(bulk_read)],
    tags=REPORTS,
    responses=responses(403, 404, 429),
    summary="Months of assistance without their visits 未按月走访情况",
    description="Each month in which a monitored household under assistance did not get the policy's visits "
    "(`visits_per_month`, counted modes), recorded once per case and month when the month was "
    "found to have passed (by the daily worker, or when a later visit was entered). The case "
    "leaves the overdue list once its deadline moves on; this list keeps the breach. By id.",
)
async def list_visit_breaches(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="The year of the months 年度 (default: this year)")
    ] = None,
    month: Annotated[int | None, Query(ge=1, le=12, description="One month of the year 月份")] = None,
    region: RegionQuery = None,
    cadre_user_id: Annotated[int | None, IdQuery("The case's cadre then")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    region = region if region is not None else caller.region_prefix
    year = year if year is not None else today().year
    limit = page_limit(request, limit)
    rows, next_cursor = await queries.visit_breaches(
        session,
        region=region,
        year=year,
        month=month,
        cadre_user_id=cadre_user_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON(
        {"items": [{f: getattr(b, f) for f in VisitBreachOut.model_fields} for b in rows], "next_cursor": next_cursor}
    )


# ---- statistics and notices ------------------------------------------------------------------


@router.get(
    "/monitoring/statistics",
    response_model=Statistics,
    operation_id="getMonitoringStatistics",
    dependencies=[READ],
    tags=REPORTS,
    responses=responses(404),
    summary="Statistics by region level 分级监测统计",
    description="One row per region at `level` under `region` (default: your regions; level default: "
    "the level below) and a total row: cases by status, open cases by case type and by risk "
    "type, open clues, identified and eliminated in `year` (default: this year), mean days "
    "from the first clue to identification, and what is overdue today.",
)
async def monitoring_statistics(
    session: Session,
    caller: MonitoringReader,
    region: RegionQuery = None,
    level: Annotated[StatLevel | None, Query(description="county 县 | township 乡镇 | village 村")] = None,
    year: YearQuery = None,
):
    region = region if region is not None else caller.region_prefix
    as_of = today()
    year = year or as_of.year
    depth = reports.STAT_LEVELS[level] if level is not None else reports.default_level(region)
    if PREFIX_LENGTH[depth] < len(region):
        raise Unprocessable("statistics_level_above_region", field="level")
    items, total = await reports.statistics(session, region, depth, year, as_of)
    return JSON(
        {
            "region": region,
            "level": depth.name,
            "year": year,
            "as_of": as_of,
            "items": orjson.Fragment(items),
            "total": orjson.Fragment(total),
        }
    )


@router.get(
    "/monitoring/notices",
    response_model=NoticeList,
    operation_id="getNoticeList",
    dependencies=[READ],
    tags=REPORTS,
    responses=responses(404),
    summary="A village's public notice list 村级公示名单",
    description="The cases of the village now in public notice (identification or risk elimination), "
    "and those whose notice period still covers today: household number, head of household, "
    "members, case type and the notice's days. Never ID numbers, phone numbers, bank "
    "accounts, health conditions or risk types.",
)
async def notice_list(
    session: Session,
    village: VillageCode,
    kind: Annotated[
        NoticeKind, Query(description="identification 识别公示 | elimination 风险消除公示")
    ] = NoticeKind.identification,
):
    region = await get_region(session, village, field="village")
    if region.level != Level.village:
        raise Unprocessable("notice_needs_village", field="village")
    as_of = today()
    items = await reports.notice_list(session, village, kind, as_of)
    return JSON({"village": village, "village_name": region.name, "kind": kind, "as_of": as_of, "items": items})


# ---- the monitoring policy's settings ------------------------------------------------------------

POLICY_ROUTES = PolicyRoutes(MONITORING, "policy", "/api/v1/monitoring-policies")


@router.get(
    "/monitoring-policies/effective",
    response_model=EffectivePolicy,
    operation_id="getEffectivePolicy",
    dependencies=[READ],
    tags=POLICY,
    responses=responses(404),
    summary="The policy in force for a region and year 生效的监测政策参数",
)
async def effective_policy(
    session: Session, caller: MonitoringReader, region: RegionQuery = None, year: YearQuery = None
):
    """The monitoring policy in force for a region (default: your own) and year (default: this year): every figure
    — identification, notice and plan deadlines, monthly visits, the conditions of risk elimination — after
    applying the overrides of every prefix of the region from a year up to `year`, and those rows in order
    (wider region and older year first). Needs monitoring:read. 生效的监测政策参数。"""
    region = region if region is not None else caller.region_prefix
    year = year or today().year
    policy, rows = await overrides.effective(session, region, year, MONITORING)
    return JSON({"region": region, "year": year, "policy": policy, "overrides": [POLICY_ROUTES.out(r) for r in rows]})


@router.get(
    "/monitoring-policies",
    response_model=Page[PolicyRowOut],
    operation_id="listMonitoringPolicies",
    dependencies=[READ],
    tags=POLICY,
    responses=responses(),
    summary="Policy overrides you work under or set 监测政策参数调整",
    description="Rows within your regions and those of the wider regions yours lie in, by id.",
)
async def list_policies(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    year: YearQuery = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    limit = page_limit(request, limit)
    rows, next_cursor = await overrides.list_rows(session, caller.region_prefix, year, cursor, limit, MONITORING)
    return JSON({"items": [POLICY_ROUTES.out(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/monitoring-policies/{policy_id}",
    response_model=PolicyRowOut,
    operation_id="getMonitoringPolicy",
    dependencies=[READ],
    tags=POLICY,
    responses=responses(404),
    summary="One policy override 政策参数调整",
)
async def get_policy(policy_id: PolicyId, session: Session, caller: MonitoringReader):
    """One monitoring policy override: a region prefix, the year it is in force from and the figures it sets. Rows
    of your regions and of the wider regions yours lie in can be read. Needs monitoring:read. 政策参数调整详情。"""
    return POLICY_ROUTES.response(await overrides.get_row(session, caller.region_prefix, policy_id, MONITORING))


@router.post(
    "/monitoring-policies",
    status_code=201,
    response_model=PolicyRowOut,
    operation_id="createMonitoringPolicy",
    tags=POLICY,
    responses=responses(403, 404, 409),
    summary="Override policy figures for a region from a year on 调整政策参数",
    description="`region_prefix` must lie within your regions. Each value is checked (422 naming "
    "`values.<field>`). The stored deadlines of open cases and clues under the prefix are "
    "recomputed. " + IDEMPOTENCY_DOC,
)
async def create_policy(body: PolicyRowIn, session: Session, caller: PolicyWriter):
    row = await overrides.create_row(
        session, caller.region_prefix, body.region_prefix, body.year, body.values, body.note, caller.user_id, MONITORING
    )
    refreshed = await monitoring_policy.refresh_after_change(session, row.region_prefix)
    return POLICY_ROUTES.response(row, 201, refreshed)


@router.put(
    "/monitoring-policies/{policy_id}",
    response_model=PolicyRowOut,
    operation_id="updateMonitoringPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Change a policy override (needs If-Match) 修改政策参数调整",
)
async def update_policy(
    request: Request, policy_id: PolicyId, body: PolicyRowUpdate, session: Session, caller: PolicyWriter
):
    """Replaces an override's values and note; each value is checked. Only rows within your regions can be changed
    (403 for a wider region's). The stored deadlines of open cases and clues under the prefix are computed
    again. Needs policy:write and If-Match with the row's ETag. 修改政策参数调整。"""
    row = await POLICY_ROUTES.changeable(request, session, caller, policy_id)
    row = await overrides.update_row(session, row, body.values, body.note, caller.user_id, MONITORING)
    refreshed = await monitoring_policy.refresh_after_change(session, row.region_prefix)
    return POLICY_ROUTES.response(row, refreshed=refreshed)


@router.delete(
    "/monitoring-policies/{policy_id}",
    status_code=204,
    operation_id="deleteMonitoringPolicy",
    tags=POLICY,
    responses=responses(403, 404, 412, 428),
    summary="Remove a policy override (needs If-Match) 删除政策参数调整",
)
async def delete_policy(request: Request, policy_id: PolicyId, session: Session, caller: PolicyWriter):
    """Removes an override; the wider regions' figures or the defaults apply again and the stored deadlines of open
    cases and clues under the prefix are computed again. Only rows within your regions. Needs policy:write and
    If-Match with the row's ETag. 删除政策参数调整。"""
    row = await POLICY_ROUTES.changeable(request, session, caller, policy_id)
    prefix = row.region_prefix
    await overrides.delete_row(session, row)
    await monitoring_policy.refresh_after_change(session, prefix)
    return Response(status_code=204)
