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
from services.api.funds.projects import disbursement_body, project_body
from services.api.monitoring.bodies import case_body, shows_health
from services.api.monitoring.listing import check_list_filters
from services.api.params import Amount, IdQ, IdQuery, PlainText, RegionPrefix, RegionQ
from services.api.ratelimit import bulk_read
from services.api.routing import GuardlineRoute
from services.api.sync.findings import RuleQ, check_finding_filters, finding_bodies
from services.api.sync.router import SourceQ
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Unprocessable
from services.core.exports.writer import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from services.core.funds import projects as project_service
from services.core.funds import service as money
from services.core.funds.enums import ProjectCategory, ProjectStatus
from services.core.households import service as household_service
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.monitoring import cases as case_service
from services.core.monitoring import queries as case_queries
from services.core.monitoring.enums import CaseStatus, CaseType, RiskType
from services.core.monitoring.schemas import MeasureOut, VisitOut
from services.core.sync import service as sync_service
from services.core.sync.enums import FindingStatus, Severity
from services.core.timeutil import CHINA
from services.core.types import Moment

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

Format = Annotated[
    ExportFormat,
    Query(alias="format", description="File format 导出格式: xlsx (default) or csv (UTF-8 with BOM)"),
]
RegistryReader = Annotated[Caller, Needs(Permission.registry_read)]
MonitoringReader = Annotated[Caller, Needs(Permission.monitoring_read)]
FindingsReader = Annotated[Caller, Needs(Permission.findings_read)]
FundsReader = Annotated[Caller, Needs(Permission.funds_read)]
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

    async def page(source, cursor, limit):
        rows, next_cursor = await case_service.measures_in(
            source, region=region, case_id=case_id, cursor=cursor, limit=limit
        )
        return [{f: getattr(m, f) for f in MeasureOut.model_fields} for m in rows], next_cursor

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

    async def page(source, cursor, limit):
        rows, next_cursor = await case_service.visits_in(
            source, region=region, case_id=case_id, cursor=cursor, limit=limit
        )
        return [{f: getattr(v, f) for f in VisitOut.model_fields} for v in rows], next_cursor

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
