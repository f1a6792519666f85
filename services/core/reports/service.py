"""Township monthly and quarterly reports (乡镇月报、季报; seed 001 五: 每月20日前报送;
seed 000: 每月22日前报镇乡村振兴办). docs/reports.md says what each figure counts.

A report is computed from stored days in one statement (``queries``), so a past period
computed later gives the same figures; the sync worker also stores each township's report
once its due day has passed (``generate_due``), and a stored report is served as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.base import table_of
from services.core.errors import Unprocessable
from services.core.followup.rules import income_deadline, previous_quarter, quarter_end
from services.core.income.rolling import quarter_index
from services.core.monitoring.context import PolicyContext, load_policy_context
from services.core.paging import KeyPage, keyset_page
from services.core.regions.models import Region
from services.core.reports import queries
from services.core.reports.enums import ReportKind
from services.core.reports.models import GeneratedReport
from services.core.repository import by_id
from services.core.scope import region_params, scoped_text, under
from services.core.timeutil import CHINA
from services.core.workdays import month_end


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of a report: its key, its Chinese header and what it counts."""

    key: str
    header: str
    description: str


MONTHLY_FIGURES: tuple[Figure, ...] = (
    Figure("households_monitored", "监测户数", "Households with an identified case not ended at the cut-off 监测户数"),
    Figure(
        "persons_monitored",
        "监测人数",
        "Members, at the cut-off, of the households monitored (household membership history) 监测人数",
    ),
    Figure("identified", "当月新识别", "Cases identified in the month (identification day) 当月新识别监测对象"),
    Figure("eliminated", "当月风险消除", "Cases whose risk was eliminated in the month (elimination day) 当月风险消除"),
    Figure("open_cases", "在办案件数", "Cases opened and not ended at the cut-off 在办监测对象"),
    Figure(
        "overdue_cases",
        "超期案件数",
        "Cases open at the cut-off whose current deadline lay before it (frozen by the stored report) 超期案件数",
    ),
    Figure(
        "case_visits", "当月帮扶走访次数", "Visits to monitored households recorded for days in the month 帮扶走访次数"
    ),
    Figure(
        "visits_missed",
        "未按要求走访户数",
        "Cases that missed the month's required visits (recorded by the daily check after the month) 未按要求走访",
    ),
    Figure(
        "followup_visits", "当月跟踪回访次数", "Follow-up visits (脱贫户、风险消除户) made in the month 跟踪回访次数"
    ),
    Figure(
        "campaign_households",
        "当月排查入户数",
        "Households visited by screening campaign teams in the month (0 when no campaign ran) 大排查入户数",
    ),
    Figure("clearing_opened", "清零台账新增", "Clearing-ledger items found in the month 当月发现问题"),
    Figure("clearing_cleared", "清零台账销号", "Clearing-ledger items cleared in the month 当月清零"),
    Figure(
        "clearing_overdue", "清零台账超期", "Clearing-ledger items open past their deadline at the cut-off 超期未清零"
    ),
    Figure("rectifications_open", "未销号整改问题", "Problems not closed at the cut-off 未销号整改问题"),
    Figure(
        "rectifications_overdue",
        "超期整改问题",
        "Problems not closed and past their deadline at the cut-off 超期整改问题",
    ),
)

QUARTERLY_FIGURES: tuple[Figure, ...] = (
    Figure("income_households", "应录入收入户数", "Active formerly poor and monitored households 脱贫户和监测户数"),
    Figure("income_entered", "已录入季度收入户数", "Of these, those with the quarter's income entered 已录入"),
    Figure("income_missing", "未录入季度收入户数", "Of these, those without the quarter's income 未录入"),
    Figure(
        "income_below_watch",
        "收入低于关注线户数",
        "Of these, those whose complete rolling year to the quarter is under the policy's watch line per capita "
        "人均纯收入低于关注线",
    ),
    Figure("identified", "本季度新识别", "Cases identified in the quarter 本季度新识别"),
    Figure("eliminated", "本季度风险消除", "Cases whose risk was eliminated in the quarter 本季度风险消除"),
    Figure("ended_otherwise", "本季度其他结案", "Cases ended in the quarter otherwise (rejected, terminated) 其他结案"),
    Figure("open_cases", "季末在办案件数", "Cases opened and not ended at the cut-off 季末在办"),
)

FIGURES = {ReportKind.monthly: MONTHLY_FIGURES, ReportKind.quarterly: QUARTERLY_FIGURES}

MONTH = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(20[0-9]{2})-Q([1-4])$")


# ---------------------------------------------------------------- pure rules


def month_period(month: str, as_of: date | None, today: date) -> tuple[date, date]:
    """The month's first day and the cut-off: its last day, or ``as_of`` / today when earlier.
    A month not begun is refused (422 ``month_not_begun``)."""
    found = MONTH.match(month)
    if found is None:
        raise Unprocessable("report_period_malformed", field="month", period=month)
    first = date(int(found[1]), int(found[2]), 1)
    cut = min(month_end(first), as_of or today, today)
    if cut < first:
        raise Unprocessable("month_not_begun", field="as_of" if as_of else "month", month=month)
    return first, cut


def quarter_period(quarter: str, as_of: date | None, today: date) -> tuple[date, date, int, int]:
    """(first day, cut-off, year, quarter) of ``YYYY-Qn``, as ``month_period``."""
    found = QUARTER.match(quarter)
    if found is None:
        raise Unprocessable("report_period_malformed", field="quarter", period=quarter)
    year, q = int(found[1]), int(found[2])
    first = date(year, q * 3 - 2, 1)
    cut = min(quarter_end(year, q), as_of or today, today)
    if cut < first:
        raise Unprocessable("quarter_not_begun", field="as_of" if as_of else "quarter", quarter=quarter)
    return first, cut, year, q


def previous_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def monthly_due(ctx: PolicyContext, township: str, day: date) -> date | None:
    """The month whose report falls due for ``township`` by ``day`` (the previous month once
    the policy's ``monthly_report_day`` of this month is reached), or None before it."""
    if day.day < ctx.policy(township, day.year).monthly_report_day:
        return None
    return previous_month(day)


def quarterly_due(ctx: PolicyContext, township: str, day: date) -> tuple[int, int] | None:
    """The quarter whose report falls due for ``township`` by ``day``: the previous quarter
    once its income entry deadline (the region's policy) has passed, or None before it."""
    year, q = previous_quarter(day.year, (day.month - 1) // 3 + 1)
    deadline, _ = income_deadline(year, q, ctx.policy(township, year), ctx.calendar)
    return (year, q) if day > deadline else None


def total(rows: list[dict[str, Any]], figures: tuple[Figure, ...]) -> dict[str, int]:
    return {f.key: sum(int(r[f.key]) for r in rows) for f in figures}


# ---------------------------------------------------------------- computing


def _cut_end(cut: date) -> datetime:
    return datetime.combine(cut + timedelta(days=1), time(), CHINA)


async def compute_monthly(session: AsyncSession, prefix: str, first: date, cut: date) -> list[dict[str, Any]]:
    """One row per township under ``prefix`` (``township``, ``name`` and the figures)."""
    params = region_params(prefix, first=first, cut=cut, cut_end=_cut_end(cut))
    rows = (await session.execute(scoped_text(queries.MONTHLY), params)).mappings().all()
    return [dict(r) for r in rows]


async def townships(session: AsyncSession, prefix: str) -> list[str]:
    """The townships under ``prefix``; a village's own township for a village."""
    if len(prefix) > 9:
        return [prefix[:9] + "000"]
    found = await session.execute(select(Region.code).where(Region.level == 4, under(Region.code, prefix)))
    return list(found.scalars().all())


async def compute_quarterly(
    session: AsyncSession, ctx: PolicyContext, prefix: str, first: date, cut: date, year: int, quarter: int
) -> list[dict[str, Any]]:
    towns = await townships(session, prefix)
    watch = [ctx.policy(t, year).income_watch_per_capita for t in towns]
    params = region_params(
        prefix,
        first=first,
        cut=cut,
        year=year,
        quarter=quarter,
        upto=quarter_index(year, quarter),
        towns=list(towns),
        watch=watch,
    )
    rows = (await session.execute(scoped_text(queries.QUARTERLY), params)).mappings().all()
    return [dict(r) for r in rows]


async def stored_for(session: AsyncSession, kind: ReportKind, period: str, prefix: str) -> dict[str, GeneratedReport]:
    """The stored reports of ``period`` under ``prefix``, by township."""
    rows = await session.execute(
        select(GeneratedReport).where(
            GeneratedReport.kind == kind, GeneratedReport.period == period, under(GeneratedReport.region_code, prefix)
        )
    )
    return {r.region_code: r for r in rows.scalars()}


def _merge(computed: list[dict[str, Any]], stored: dict[str, GeneratedReport], figures) -> list[dict[str, Any]]:
    """Each township's stored figures where its report was stored, else as computed now."""
    rows = []
    for row in computed:
        found = stored.get(row["township"])
        if found is None:
            rows.append({**row, "generated_at": None})
        else:
            rows.append(
                {
                    "township": row["township"],
                    "name": row["name"],
                    **{f.key: found.figures.get(f.key, 0) for f in figures},
                    "generated_at": found.generated_at,
                }
            )
    return rows


async def monthly(
    session: AsyncSession, prefix: str, month: str, as_of: date | None, today: date
) -> tuple[date, list[dict[str, Any]]]:
    """The monthly report of ``month`` under ``prefix``: (cut-off, rows). A month that has
    ended, asked for as a whole, is served as stored for each township whose report was."""
    first, cut = month_period(month, as_of, today)
    rows = await compute_monthly(session, prefix, first, cut)
    if cut == month_end(first):
        rows = _merge(rows, await stored_for(session, ReportKind.monthly, month, prefix), MONTHLY_FIGURES)
    else:
        rows = [{**r, "generated_at": None} for r in rows]
    return cut, rows


async def quarterly(
    session: AsyncSession, prefix: str, quarter: str, as_of: date | None, today: date
) -> tuple[date, list[dict[str, Any]]]:
    first, cut, year, q = quarter_period(quarter, as_of, today)
    ctx = await load_policy_context(session)
    rows = await compute_quarterly(session, ctx, prefix, first, cut, year, q)
    if cut == quarter_end(year, q):
        rows = _merge(rows, await stored_for(session, ReportKind.quarterly, quarter, prefix), QUARTERLY_FIGURES)
    else:
        rows = [{**r, "generated_at": None} for r in rows]
    return cut, rows


# ---------------------------------------------------------------- the schedule


async def _store(
    session: AsyncSession,
    kind: ReportKind,
    period: str,
    first: date,
    cut: date,
    rows: list[dict[str, Any]],
    figures: tuple[Figure, ...],
) -> int:
    if not rows:
        return 0
    values = [
        {
            "region_code": r["township"],
            "kind": kind,
            "period": period,
            "period_start": first,
            "cut_off": cut,
            "figures": {f.key: int(r[f.key]) for f in figures},
        }
        for r in rows
    ]
    stmt = (
        insert(table_of(GeneratedReport))
        .values(values)
        .on_conflict_do_nothing(constraint="uq_generated_reports_period")
        .returning(table_of(GeneratedReport).c.id)
    )
    return len((await session.execute(stmt)).scalars().all())


async def generate_due(session: AsyncSession, prefix: str, day: date) -> dict[str, int]:
    """Store each township's report under ``prefix`` that has fallen due by ``day`` and is
    not stored yet: the previous month's on or after the policy's ``monthly_report_day``,
    the previous quarter's after its income entry deadline. Nothing is stored twice (one per
    township, kind and period). Returns how many of each were stored."""
    ctx = await load_policy_context(session)
    towns = await townships(session, prefix)
    months: dict[date, set[str]] = {}
    quarters: dict[tuple[int, int], set[str]] = {}
    for town in towns:
        month = monthly_due(ctx, town, day)
        if month is not None:
            months.setdefault(month, set()).add(town)
        quarter = quarterly_due(ctx, town, day)
        if quarter is not None:
            quarters.setdefault(quarter, set()).add(town)
    stored = {"monthly": 0, "quarterly": 0}
    for first, due in months.items():
        period = first.isoformat()[:7]
        have = await stored_for(session, ReportKind.monthly, period, prefix)
        due -= set(have)
        if not due:
            continue
        cut = month_end(first)
        rows = [r for r in await compute_monthly(session, prefix, first, cut) if r["township"] in due]
        stored["monthly"] += await _store(session, ReportKind.monthly, period, first, cut, rows, MONTHLY_FIGURES)
    for (year, q), due in quarters.items():
        period = f"{year}-Q{q}"
        have = await stored_for(session, ReportKind.quarterly, period, prefix)
        due -= set(have)
        if not due:
            continue
        first, cut = date(year, q * 3 - 2, 1), quarter_end(year, q)
        computed = await compute_quarterly(session, ctx, prefix, first, cut, year, q)
        rows = [r for r in computed if r["township"] in due]
        stored["quarterly"] += await _store(session, ReportKind.quarterly, period, first, cut, rows, QUARTERLY_FIGURES)
    return stored


async def generate(session: AsyncSession, prefix: str, kind: ReportKind, period: str, today: date) -> int:
    """Store the report of ``period`` (a past month or quarter) for every township under
    ``prefix`` that has none yet, whatever the due day (the demo county's history)."""
    if kind == ReportKind.monthly:
        first, cut = month_period(period, None, today)
        rows = await compute_monthly(session, prefix, first, cut)
    else:
        first, cut, year, q = quarter_period(period, None, today)
        rows = await compute_quarterly(session, await load_policy_context(session), prefix, first, cut, year, q)
    return await _store(session, kind, period, first, cut, rows, FIGURES[kind])


# ---------------------------------------------------------------- stored reports


async def list_stored(
    session: AsyncSession,
    *,
    region: str | None,
    kind: ReportKind | None,
    period: str | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[GeneratedReport]:
    stmt = select(GeneratedReport)
    if region is not None:
        stmt = stmt.where(under(GeneratedReport.region_code, region))
    if kind is not None:
        stmt = stmt.where(GeneratedReport.kind == kind)
    if period is not None:
        stmt = stmt.where(GeneratedReport.period == period)
    return await keyset_page(session, stmt, [(GeneratedReport.id, True)], cursor, limit)


async def get_stored(session: AsyncSession, report_id: int) -> GeneratedReport:
    return await by_id(session, GeneratedReport, report_id, "report_not_found", "report_id")
