"""Ledgers out (台账导出): ``GET /api/v1/<list>/export?format=xlsx|csv`` for each list a
township keeps on paper. Each export takes the filters of its list, answers the list's
404 and 403, shows what the list shows to the same caller (masking and health alike: the
rows are the list's bodies), and is audited (``stream.ledger_response``).

Registered before the domain routers: ``/households/export`` must not be taken for
``/households/{household_id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.api import tags
from services.api.deps import Needs, Session
from services.api.errors_doc import responses
from services.api.exports import ledgers
from services.api.exports.stream import ExportFormat, ledger_response
from services.api.fieldwork.router import visit_body
from services.api.funds.projects import disbursement_body, project_body
from services.api.ledgers.router import entry_body, rect_body
from services.api.monitoring.bodies import case_body, shows_health
from services.api.monitoring.listing import check_list_filters
from services.api.params import Amount, Id, IdQ, IdQuery, PlainText, RegionPrefix, RegionQ
from services.api.ratelimit import bulk_read
from services.api.routing import GuardlineRoute
from services.api.sync.findings import RuleQ, check_finding_filters, finding_bodies
from services.api.sync.router import SourceQ
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Unprocessable
from services.core.exports.writer import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from services.core.fieldwork import campaigns as campaign_service
from services.core.followup import service as followup_service
from services.core.funds import projects as project_service
from services.core.funds import service as money
from services.core.funds.enums import ProjectCategory, ProjectStatus
from services.core.guarantees.models import Item
from services.core.households import service as household_service
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.ledgers import clearing as clearing_service
from services.core.ledgers import rectification as rectification_service
from services.core.ledgers.enums import EntryStatus, ProblemSource, RectificationStatus
from services.core.monitoring import cases as case_service
from services.core.monitoring import queries as case_queries
from services.core.monitoring.context import load_policy_context
from services.core.monitoring.enums import CaseStatus, CaseType, RiskType
from services.core.monitoring.schemas import MeasureOut, VisitOut
from services.core.sync import service as sync_service
from services.core.sync.enums import FindingStatus, Severity
from services.core.timeutil import CHINA, today
from services.core.types import Day, Moment

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

Format = Annotated[
    ExportFormat,
    Query(alias="format", description="File format 导出格式: xlsx (default) or csv (UTF-8 with BOM)"),
]
RegistryReader = Annotated[Caller, Needs(Permission.registry_read)]
MonitoringReader = Annotated[Caller, Needs(Permission.monitoring_read)]
FindingsReader = Annotated[Caller, Needs(Permission.findings_read)]
FundsReader = Annotated[Caller, Needs(Permission.funds_read)]
LedgerReader = Annotated[Caller, Needs(Permission.ledgers_read)]
CampaignReader = Annotated[Caller, Needs(Permission.campaigns_read)]
Overdue = Annotated[
    bool | None, Query(description="true: only those open past their deadline; false: only the others 是否超期")
]
CaseQ = Annotated[int | None, IdQuery("Only this monitoring case's 监测对象（案件）标识")]
ProjectQ = Annotated[int | None, IdQuery("Only this project's 项目标识")]

_FILE = {"type": "string", "format": "binary"}
EXPORTED = {
    200: {
        "description": "The ledger as a file (streamed): Chinese headers, `Content-Disposition` with the "
        "Chinese file name (RFC 6266 `filename*`). 台账文件。",
        "content": {XLSX_MEDIA_TYPE: {"schema": _FILE}, CSV_MEDIA_TYPE: {"schema": _FILE}},
    }
}
EXPORT_DOC = (
    " The whole list (every page) as one file, streamed as it is read; the same filters, the same 404 and "
    "403 and the same masking as the list. `format=xlsx` (default) or `csv` (UTF-8 with BOM). Cells that a "
    "spreadsheet would read as a formula (starting with = + - @) are written with a leading apostrophe. "
    "Every export is in the audit trail (`ledger.export`: filters, format, rows)."
)


def _doc(text: str) -> str:
    return text + EXPORT_DOC


FILE_ANSWER: dict[str, Any] = {"response_class": Response, "responses": {**responses(403, 404), **EXPORTED}}


@router.get(
    "/households/export",
    operation_id="exportHouseholds",
    tags=[tags.HOUSEHOLDS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Households as a ledger (XLSX/CSV) 农户台账导出",
    description=_doc(
        "The households of `listHouseholds`, every page. Health flags only with registry:health. Needs registry:read."
    ),
)
async def export_households(
    request: Request,
    session: Session,
    caller: RegistryReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    category: Annotated[Category | None, Query(description="户类型")] = None,
    flags: Annotated[
        list[Flag] | None,
        Query(
            description="All of these flags 标识（全部满足）; disabled and serious_illness only with registry:health"
        ),
    ] = None,
    income_below: Annotated[
        Amount, Query(description="Per-capita net income below (yuan); needs income_year 人均纯收入低于")
    ] = None,
    income_year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Year of income_below (both or neither)")
    ] = None,
    name: Annotated[str | None, PlainText(1, 50, "A member's name starts with 姓名")] = None,
    status: Annotated[HouseholdStatus | None, Query()] = HouseholdStatus.active,
):
    if (income_below is None) != (income_year is None):
        raise Unprocessable("income_below_needs_year", field="income_year" if income_year is None else "income_below")
    health = Permission.registry_health in caller.permissions

    async def page(source, cursor, limit):
        found = await household_service.list_households(
            source,
            region=region,
            category=category,
            flags=flags,
            income_below=income_below,
            income_year=income_year,
            name=name,
            status=status,
            cursor=cursor,
            limit=limit,
            health=health,
        )
        return found.items, found.next_cursor

    filters = {
        "region": region,
        "category": category,
        "flags": flags,
        "income_below": income_below,
        "income_year": income_year,
        "name": name,
        "status": status,
    }
    return await ledger_response(request, session, caller, ledgers.HOUSEHOLDS, fmt, filters, page, health=health)


@router.get(
    "/monitoring-cases/export",
    operation_id="exportMonitoringCases",
    tags=[tags.MONITORING_CASES],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Monitoring cases as a ledger (XLSX/CSV) 监测对象台账导出",
    description=_doc(
        "The cases of `listMonitoringCases`, every page, newest first. Health risk types only for roles that see "
        "health details. Needs monitoring:read."
    ),
)
async def export_cases(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionPrefix = None,
    status: CaseStatus | None = None,
    case_type: CaseType | None = None,
    risk_type: RiskType | None = None,
    household_id: IdQ = None,
    cadre_user_id: IdQ = None,
):
    await check_list_filters(session, caller, region, risk_type, household_id)

    async def page(source, cursor, limit):
        rows, next_cursor = await case_queries.list_cases(
            source,
            region=region,
            status=status,
            case_type=case_type,
            risk_type=risk_type,
            household_id=household_id,
            cadre_user_id=cadre_user_id,
            cursor=cursor,
            limit=limit,
        )
        return [case_body(c, caller) for c in rows], next_cursor

    filters = {
        "region": region,
        "status": status,
        "case_type": case_type,
        "risk_type": risk_type,
        "household_id": household_id,
        "cadre_user_id": cadre_user_id,
    }
    return await ledger_response(
        request, session, caller, ledgers.CASES, fmt, filters, page, health=shows_health(caller)
    )


async def _check_case(session, case_id: int | None) -> None:
    if case_id is not None:
        await case_service.get_case(session, case_id)


def _case_pages(fetch, schema, region: str | None, case_id: int | None):
    """The pages of a case-level list (measures, visits) under ``region`` or of one case, as
    rows of its response schema's fields."""

    async def page(source, cursor, limit):
        rows, next_cursor = await fetch(source, region=region, case_id=case_id, cursor=cursor, limit=limit)
        return [{f: getattr(row, f) for f in schema.model_fields} for row in rows], next_cursor

    return page


@router.get(
    "/measures/export",
    operation_id="exportMeasures",
    tags=[tags.ASSISTANCE],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Assistance measures as a ledger (XLSX/CSV) 帮扶措施台账导出",
    description=_doc(
        "The assistance measures (一户一策) of every case in your regions (or under `region`, or of one case), "
        "by id: the rows of `listMeasures`. Needs monitoring:read."
    ),
)
async def export_measures(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    case_id: CaseQ = None,
):
    await _check_case(session, case_id)
    page = _case_pages(case_service.measures_in, MeasureOut, region, case_id)
    filters = {"region": region, "case_id": case_id}
    return await ledger_response(request, session, caller, ledgers.MEASURES, fmt, filters, page)


@router.get(
    "/visits/export",
    operation_id="exportVisits",
    tags=[tags.ASSISTANCE],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Visits as a ledger (XLSX/CSV) 走访台账导出",
    description=_doc(
        "The visits to every case's household in your regions (or under `region`, or of one case), by id: the "
        "rows of `listVisits`. Needs monitoring:read."
    ),
)
async def export_visits(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    case_id: CaseQ = None,
):
    await _check_case(session, case_id)
    page = _case_pages(case_service.visits_in, VisitOut, region, case_id)
    filters = {"region": region, "case_id": case_id}
    return await ledger_response(request, session, caller, ledgers.VISITS, fmt, filters, page)


@router.get(
    "/findings/export",
    operation_id="exportFindings",
    tags=[tags.FINDINGS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Findings of the department cross-checks as a ledger (XLSX/CSV) 比对发现问题台账导出",
    description=_doc(
        "The findings of `listFindings`, every page, newest first: ID numbers masked as in the list, findings "
        "that tell health only for roles that see health details (filtering by such a rule 403 for the "
        "others). Needs findings:read."
    ),
)
async def export_findings(
    request: Request,
    session: Session,
    caller: FindingsReader,
    fmt: Format = ExportFormat.xlsx,
    rule_id: RuleQ = None,
    severity: Severity | None = None,
    status: FindingStatus | None = None,
    source: SourceQ = None,
    region: RegionPrefix = None,
    household_id: IdQ = None,
    person_id: IdQ = None,
    seen_since: Moment | None = None,
):
    await check_finding_filters(session, caller, rule_id, region, household_id, person_id)
    if seen_since is not None and seen_since.tzinfo is None:
        seen_since = seen_since.replace(tzinfo=CHINA)
    sees_health = Permission.registry_health in caller.permissions

    async def page(db_source, cursor, limit):
        rows, next_cursor = await sync_service.list_findings(
            db_source,
            sees_health=sees_health,
            rule_id=rule_id,
            severity=severity,
            status=status,
            source=source,
            region=region,
            household_id=household_id,
            person_id=person_id,
            seen_since=seen_since,
            cursor=cursor,
            limit=limit,
        )
        return await finding_bodies(request, db_source, rows), next_cursor

    filters: dict[str, Any] = {
        "rule_id": rule_id,
        "severity": severity,
        "status": status,
        "source": source,
        "region": region,
        "household_id": household_id,
        "person_id": person_id,
        "seen_since": seen_since,
    }
    return await ledger_response(request, session, caller, ledgers.FINDINGS, fmt, filters, page, health=sees_health)


@router.get(
    "/projects/export",
    operation_id="exportProjects",
    tags=[tags.PROJECTS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="The project library as a ledger (XLSX/CSV) 项目库台账导出",
    description=_doc(
        "The projects of `listProjects`, every page, by id, with the funds allocated and paid. Needs funds:read."
    ),
)
async def export_projects(
    request: Request,
    session: Session,
    caller: FundsReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Project year 项目年度")] = None,
    category: ProjectCategory | None = None,
    status: ProjectStatus | None = None,
):
    async def page(source, cursor, limit):
        rows, next_cursor = await project_service.list_projects(
            source, region=region, year=year, category=category, status=status, cursor=cursor, limit=limit
        )
        figures = await project_service.money_of(source, [p.id for p in rows])
        return [project_body(p, *figures[p.id]) for p in rows], next_cursor

    filters = {"region": region, "year": year, "category": category, "status": status}
    return await ledger_response(request, session, caller, ledgers.PROJECTS, fmt, filters, page)


@router.get(
    "/payments/export",
    operation_id="exportPayments",
    tags=[tags.PROJECTS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Payments of the projects as a ledger (XLSX/CSV) 资金支出台账导出",
    description=_doc(
        "The payments (disbursements) of every project in your regions (or under `region`, or of one project), "
        "by id: the rows of `listProjectDisbursements`. Needs funds:read."
    ),
)
async def export_payments(
    request: Request,
    session: Session,
    caller: FundsReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    project_id: ProjectQ = None,
):
    if project_id is not None:
        await project_service.get(session, project_id)

    async def page(source, cursor, limit):
        rows, next_cursor = await money.disbursements_in(
            source, region=region, project_id=project_id, cursor=cursor, limit=limit
        )
        return [disbursement_body(d) for d in rows], next_cursor

    filters = {"region": region, "project_id": project_id}
    return await ledger_response(request, session, caller, ledgers.PAYMENTS, fmt, filters, page)


# ---- the clearing and rectification ledgers (services/api/ledgers) ---------------------------


@router.get(
    "/clearing-entries/export",
    operation_id="exportClearingEntries",
    tags=[tags.CLEARING],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="The clearing ledger (XLSX/CSV) 清零台账导出",
    description=_doc(
        "The entries of `listClearingEntries`, every page, newest first: items of the three guarantees and safe "
        "water found at risk, their deadlines, whether overdue (today, China time) and their clearing. Needs "
        "ledgers:read."
    ),
)
async def export_clearing_entries(
    request: Request,
    session: Session,
    caller: LedgerReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    kind: Item | None = None,
    status: EntryStatus | None = None,
    overdue: Overdue = None,
    household_id: IdQ = None,
):
    on = today()

    async def page(source, cursor, limit):
        rows, next_cursor = await clearing_service.list_entries(
            source,
            region=region,
            kind=kind,
            status=status,
            overdue=overdue,
            household_id=household_id,
            on=on,
            cursor=cursor,
            limit=limit,
        )
        return [entry_body(e, on) for e in rows], next_cursor

    filters = {"region": region, "kind": kind, "status": status, "overdue": overdue, "household_id": household_id}
    return await ledger_response(request, session, caller, ledgers.CLEARING, fmt, filters, page)


@router.get(
    "/rectifications/export",
    operation_id="exportRectifications",
    tags=[tags.RECTIFICATION],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="The rectification ledger (XLSX/CSV) 问题整改台账导出",
    description=_doc(
        "The problems of `listRectifications`, every page, newest first (without their steps, as in the list; "
        "`overdue=true` is the overdue list). Needs ledgers:read."
    ),
)
async def export_rectifications(
    request: Request,
    session: Session,
    caller: LedgerReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    source: ProblemSource | None = None,
    status: RectificationStatus | None = None,
    overdue: Overdue = None,
):
    on = today()

    async def page(db_source, cursor, limit):
        rows, next_cursor = await rectification_service.list_rows(
            db_source, region=region, source=source, status=status, overdue=overdue, on=on, cursor=cursor, limit=limit
        )
        return [rect_body(r, None, on) for r in rows], next_cursor

    filters = {"region": region, "source": source, "status": status, "overdue": overdue}
    return await ledger_response(request, session, caller, ledgers.RECTIFICATIONS, fmt, filters, page)


# ---- screening campaigns (services/api/fieldwork) ---------------------------------------------


@router.get(
    "/campaigns/{campaign_id}/visits/export",
    operation_id="exportCampaignVisits",
    tags=[tags.CAMPAIGNS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="The campaign's visits as a ledger (XLSX/CSV) 排查走访台账导出",
    description=_doc(
        "The visit records of `listCampaignVisits`, every page, by household id: the campaign's region within "
        "yours (and within `region`). Needs campaigns:read."
    ),
)
async def export_campaign_visits(
    request: Request,
    campaign_id: Id,
    session: Session,
    caller: CampaignReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
):
    campaign = await campaign_service.get(session, campaign_id)

    async def page(source, cursor, limit):
        rows, next_cursor = await campaign_service.visits(source, campaign, region, cursor, limit)
        return [visit_body(v) for v in rows], next_cursor

    filters = {"campaign_id": campaign_id, "region": region}
    return await ledger_response(request, session, caller, ledgers.CAMPAIGN_VISITS, fmt, filters, page)


@router.get(
    "/campaigns/{campaign_id}/unvisited/export",
    operation_id="exportUnvisitedHouseholds",
    tags=[tags.CAMPAIGNS],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Households not yet visited as a ledger (XLSX/CSV) 未走访农户台账导出",
    description=_doc(
        "The households of `listUnvisitedHouseholds`, every page, by id: active households of the campaign's "
        "region within yours (and within `region`) without a visit record. Needs campaigns:read."
    ),
)
async def export_unvisited(
    request: Request,
    campaign_id: Id,
    session: Session,
    caller: CampaignReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
):
    campaign = await campaign_service.get(session, campaign_id)

    async def page(source, cursor, limit):
        return await campaign_service.unvisited(source, campaign.id, campaign.region_prefix, region, cursor, limit)

    filters = {"campaign_id": campaign_id, "region": region}
    return await ledger_response(request, session, caller, ledgers.UNVISITED, fmt, filters, page)


# ---- follow-up (services/api/followup) --------------------------------------------------------


@router.get(
    "/follow-up/overdue/export",
    operation_id="exportOverdueFollowUps",
    tags=[tags.FOLLOW_UP],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Households whose follow-up visit is late, as a ledger (XLSX/CSV) 定期走访逾期台账导出",
    description=_doc(
        "The households of `listOverdueFollowUps`, every page, by household id: their scheduled follow-up visit "
        "due before `as_of` (default today, China time) was not made. Needs monitoring:read."
    ),
)
async def export_overdue_follow_ups(
    request: Request,
    session: Session,
    caller: MonitoringReader,
    fmt: Format = ExportFormat.xlsx,
    region: RegionQ = None,
    as_of: Day | None = None,
    cadre_user_id: IdQ = None,
):
    ctx = await load_policy_context(session)
    prefix = followup_service.list_prefix(caller.region_prefix, region)
    day = as_of or today()

    async def page(source, cursor, limit):
        found = await followup_service.overdue(
            source, ctx, prefix, as_of=day, cadre_user_id=cadre_user_id, cursor=cursor, limit=limit
        )
        return found.items, found.next_cursor

    filters = {"region": region, "as_of": as_of, "cadre_user_id": cadre_user_id}
    return await ledger_response(request, session, caller, ledgers.OVERDUE_FOLLOW_UPS, fmt, filters, page)


@router.get(
    "/follow-up/income-missing/export",
    operation_id="exportMissingIncome",
    tags=[tags.FOLLOW_UP],
    dependencies=[Depends(bulk_read)],
    **FILE_ANSWER,
    summary="Households missing a quarter's income, as a ledger (XLSX/CSV) 季度收入未录入台账导出",
    description=_doc(
        "The households of `listMissingIncome`, every page, by household id, with the quarter in each row. "
        "Without `year` and `quarter`: the latest quarter whose deadline has passed; 422 "
        "`income_quarter_not_due` while the deadline has not passed. Needs registry:read."
    ),
)
async def export_missing_income(
    request: Request,
    session: Session,
    caller: RegistryReader,
    fmt: Format = ExportFormat.xlsx,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="The quarter's year 年度")] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4, description="The quarter, 1 to 4 季度")] = None,
    region: RegionQ = None,
    as_of: Day | None = None,
):
    ctx = await load_policy_context(session)
    prefix = followup_service.list_prefix(caller.region_prefix, region)
    day = as_of or today()
    year, quarter = followup_service.asked_quarter(ctx, prefix, year, quarter, day)
    named = f"{year}年第{quarter}季度"

    async def page(source, cursor, limit):
        found = await followup_service.missing_income(
            source, ctx, prefix, year=year, quarter=quarter, as_of=day, cursor=cursor, limit=limit
        )
        return [{**row, "quarter": named} for row in found.items], found.next_cursor

    filters = {"year": year, "quarter": quarter, "region": region, "as_of": as_of}
    return await ledger_response(request, session, caller, ledgers.MISSING_INCOME, fmt, filters, page)
