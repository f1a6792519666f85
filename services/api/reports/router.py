"""Township monthly and quarterly reports (乡镇月报、季报) and the stored ones. Thin: parse,
check the region, call ``services.core.reports.service``; XLSX through the exports' writer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, create_model
from sqlalchemy import select

from services.api import tags
from services.api.auditing import record_sensitive_read
from services.api.deps import Needs, Session, path_object
from services.api.errors_doc import responses
from services.api.exports.stream import ExportFormat, ledger_response
from services.api.ledgers.router import AsOf, Month, _within
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.exports.writer import XLSX_MEDIA_TYPE, Column, Ledger, field
from services.core.regions.models import Region
from services.core.reports import service
from services.core.reports.enums import ReportFormat, ReportKind
from services.core.reports.models import GeneratedReport
from services.core.timeutil import today

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
TAGS: tags.Tags = [tags.REPORTS]
LIST = [Needs(Permission.ledgers_read), Depends(bulk_read)]
ReportReader = Annotated[Caller, Needs(Permission.ledgers_read)]
path_object("report_id", GeneratedReport)

REPORT_ACTION = "report.read"

Quarter = Annotated[
    str | None,
    Query(
        pattern=r"^20[0-9]{2}-Q[1-4]$",
        description="The quarter, YYYY-Qn (default: this quarter) 季度",
        examples=["2026-Q3"],
    ),
]
FormatQ = Annotated[
    ReportFormat,
    Query(alias="format", description="json (default) or xlsx (Chinese headers, one row per township) 报表格式"),
]
KindQ = Annotated[ReportKind | None, Query(description="Only monthly or only quarterly reports 报表类型")]
PeriodQ = Annotated[
    str | None,
    Query(
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2]|Q[1-4])$",
        description="Only this period: YYYY-MM or YYYY-Qn 报表期间",
    ),
]


def _row_model(name: str, figures: tuple[service.Figure, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "township": (str, Field(description="The township's code 乡镇代码")),
        "name": (str | None, Field(description="The township's name 乡镇名称")),
    }
    for f in figures:
        fields[f.key] = (int, Field(description=f.description))
    fields["generated_at"] = (
        datetime | None,
        Field(description="When the stored report was generated; null: computed now from the data 生成时间"),
    )
    return create_model(name, **fields)


def _total_model(name: str, figures: tuple[service.Figure, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {f.key: (int, Field(description=f.description)) for f in figures}
    return create_model(name, **fields)


MonthlyRow = _row_model("MonthlyReportRow", service.MONTHLY_FIGURES)
QuarterlyRow = _row_model("QuarterlyReportRow", service.QUARTERLY_FIGURES)
MonthlyTotal = _total_model("MonthlyReportTotal", service.MONTHLY_FIGURES)
QuarterlyTotal = _total_model("QuarterlyReportTotal", service.QUARTERLY_FIGURES)


class TownshipMonthlyReport(BaseModel):
    month: str = Field(description="The month, YYYY-MM 月份")
    region: str = Field(description="The region prefix the report covers 统计范围")
    cut_off: date = Field(description="Counted as the data stood at the end of this day 统计截止日")
    townships: list[MonthlyRow] = Field(description="One row per township, by code 各乡镇")  # type: ignore[valid-type]
    total: MonthlyTotal = Field(description="The townships added up 合计")  # type: ignore[valid-type]


class TownshipQuarterlyReport(BaseModel):
    quarter: str = Field(description="The quarter, YYYY-Qn 季度")
    region: str = Field(description="The region prefix the report covers 统计范围")
    cut_off: date = Field(description="Counted as the data stood at the end of this day 统计截止日")
    townships: list[QuarterlyRow] = Field(description="One row per township, by code 各乡镇")  # type: ignore[valid-type]
    total: QuarterlyTotal = Field(description="The townships added up 合计")  # type: ignore[valid-type]


class StoredReportOut(BaseModel):
    id: int = Field(description="The stored report's id 报表标识")
    kind: ReportKind = Field(description="Monthly or quarterly 报表类型")
    region_code: str = Field(description="The township's code 乡镇代码")
    period: str = Field(description="YYYY-MM or YYYY-Qn 报表期间")
    cut_off: date = Field(description="Counted as the data stood at the end of this day 统计截止日")
    generated_at: datetime = Field(description="When the sync worker generated it 生成时间")
    figures: dict[str, int] = Field(description="The figures as generated (docs/reports.md) 报表数据")
    download: str = Field(description="The report as XLSX (Chinese headers) 下载地址")


TITLES = {ReportKind.monthly: "防返贫动态监测乡镇月报", ReportKind.quarterly: "防返贫动态监测乡镇季报"}


def _ledger(kind: ReportKind) -> Ledger:
    columns = [Column("乡镇代码", field("township")), Column("乡镇名称", field("name"))]
    columns += [Column(f.header, field(f.key)) for f in service.FIGURES[kind]]
    columns.append(Column("生成时间", lambda row: row.get("generated_at") and row["generated_at"].isoformat()))
    return Ledger("township-report", TITLES[kind], tuple(columns))


async def _audit(request: Request, caller: Caller, kind: ReportKind, filters: dict[str, Any], rows: int) -> None:
    """A JSON report read: who read which report (the XLSX is audited by the exports' stream)."""
    await record_sensitive_read(
        request, caller, REPORT_ACTION, "township_report", kind.value, format="json", filters=filters, rows=rows
    )


async def _answer(
    request: Request,
    session: Any,
    caller: Caller,
    kind: ReportKind,
    period: str,
    prefix: str,
    cut: date,
    rows: list[dict[str, Any]],
    fmt: ReportFormat,
    filters: dict[str, Any],
):
    filters = {k: (str(v) if isinstance(v, date) else v) for k, v in filters.items() if v is not None}
    if fmt == ReportFormat.xlsx:
        figures = service.FIGURES[kind]
        total: dict[str, Any] = {"township": prefix.ljust(12, "0") if prefix else "", "name": "合计"}
        total["generated_at"] = None
        total.update(service.total(rows, figures))
        everything = [*rows, total]

        async def page(_source, _cursor, _limit):
            return everything, None

        ledger = _ledger(kind)
        names = (f"township-report_{period}.xlsx", f"{ledger.title}_{period}.xlsx")
        return await ledger_response(request, session, caller, ledger, ExportFormat.xlsx, filters, page, names=names)
    await _audit(request, caller, kind, filters, len(rows))
    key = "month" if kind == ReportKind.monthly else "quarter"
    return JSON(
        {
            key: period,
            "region": prefix,
            "cut_off": cut,
            "townships": rows,
            "total": service.total(rows, service.FIGURES[kind]),
        }
    )


REPORT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON by default; with `format=xlsx` the report as an XLSX workbook with Chinese headers and "
        "a `Content-Disposition` with the Chinese file name. 报表。",
        "content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/reports/monthly",
    response_model=TownshipMonthlyReport,
    operation_id="getTownshipMonthlyReport",
    tags=TAGS,
    dependencies=LIST,
    responses={**responses(403, 404), **REPORT_ANSWERS},
    summary="Township monthly report 乡镇月报",
)
async def monthly_report(
    request: Request,
    session: Session,
    caller: ReportReader,
    month: Month = None,
    region: RegionQ = None,
    as_of: AsOf = None,
    fmt: FormatQ = ReportFormat.json,
):
    """One row per township under `region` (default: your regions; township staff: their township) with the
    figures a township reports monthly (每月20日前报送): households and persons monitored, cases identified and
    eliminated in the month, open and overdue cases, visits, follow-up visits, campaign visits, the clearing and
    rectification ledgers (docs/reports.md says what each counts). A past month gives the same figures whenever it
    is asked: counted from stored days, and served as stored for each township whose report the sync worker stored.
    422 for a month not begun. Every answer is in the audit trail. Needs ledgers:read. 乡镇月报。"""
    prefix = await _within(session, caller, region)
    month = month or today().isoformat()[:7]
    cut, rows = await service.monthly(session, prefix, month, as_of, today())
    filters = {"month": month, "region": region, "as_of": as_of}
    return await _answer(request, session, caller, ReportKind.monthly, month, prefix, cut, rows, fmt, filters)


@router.get(
    "/reports/quarterly",
    response_model=TownshipQuarterlyReport,
    operation_id="getTownshipQuarterlyReport",
    tags=TAGS,
    dependencies=LIST,
    responses={**responses(403, 404), **REPORT_ANSWERS},
    summary="Township quarterly report 乡镇季报",
)
async def quarterly_report(
    request: Request,
    session: Session,
    caller: ReportReader,
    quarter: Quarter = None,
    region: RegionQ = None,
    as_of: AsOf = None,
    fmt: FormatQ = ReportFormat.json,
):
    """One row per township under `region` (default: your regions): the quarter's income collection (formerly
    poor and monitored households, with and without the quarter's income, under the watch line) and the quarter's
    case movements. 422 for a quarter not begun. Every answer is in the audit trail. Needs ledgers:read. 乡镇季报。"""
    prefix = await _within(session, caller, region)
    now = today()
    quarter = quarter or f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    cut, rows = await service.quarterly(session, prefix, quarter, as_of, now)
    filters = {"quarter": quarter, "region": region, "as_of": as_of}
    return await _answer(request, session, caller, ReportKind.quarterly, quarter, prefix, cut, rows, fmt, filters)


def _stored_body(r: GeneratedReport) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "region_code": r.region_code,
        "period": r.period,
        "cut_off": r.cut_off,
        "generated_at": r.generated_at,
        "figures": r.figures,
        "download": f"/api/v1/reports/{r.id}?format=xlsx",
    }


@router.get(
    "/reports",
    response_model=Page[StoredReportOut],
    operation_id="listStoredReports",
    tags=TAGS,
    dependencies=LIST,
    responses=responses(404),
    summary="Reports the schedule generated, newest first 已生成报表",
)
async def list_reports(
    request: Request,
    session: Session,
    region: RegionQ = None,
    kind: KindQ = None,
    period: PeriodQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The township reports the sync worker stored once each was due (the month's on the policy's
    `monthly_report_day`, the quarter's after its income entry deadline) in your regions, newest first, each
    with its download link. Needs ledgers:read. 已生成报表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_stored(
        session, region=region, kind=kind, period=period, cursor=cursor, limit=limit
    )
    return JSON({"items": [_stored_body(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/reports/{report_id}",
    response_model=StoredReportOut,
    operation_id="getStoredReport",
    tags=TAGS,
    dependencies=LIST,
    responses={**responses(404), **REPORT_ANSWERS},
    summary="One stored report, as stored 已生成报表详情",
)
async def get_report(
    request: Request, report_id: Id, session: Session, caller: ReportReader, fmt: FormatQ = ReportFormat.json
):
    """The report as the sync worker stored it (figures as generated, never recomputed); `format=xlsx` for the
    workbook with Chinese headers. Every answer is in the audit trail. Needs ledgers:read. 已生成报表详情。"""
    r = await service.get_stored(session, report_id)
    if fmt == ReportFormat.json:
        await _audit(request, caller, r.kind, {"report_id": r.id}, 1)
        return JSON(_stored_body(r))
    name = await session.scalar(select(Region.name).where(Region.code == r.region_code))
    row = {"township": r.region_code, "name": name, **r.figures, "generated_at": r.generated_at}
    return await _answer(
        request, session, caller, r.kind, r.period, r.region_code, r.cut_off, [row], fmt, {"report_id": r.id}
    )
