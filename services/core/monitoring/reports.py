"""Statistics by region level (监测统计) and public notice lists (公示名单).

**Statistics** are one SQL statement over the running counts per village that a trigger
keeps in the same transaction as every change of a case (``services.core.monitoring.counts``;
a county of 50,000 cases has a few thousand count rows), folded into one row per area with
``FILTER`` aggregates and a ``ROLLUP`` for the total. What depends on the day — overdue
cases and clues — is counted live from the deadline indexes; open clues are grouped the
same way. PostgreSQL builds the JSON of each row, so Python touches neither cases nor rows.

Definitions (the field descriptions in the API say the same):

* ``cases.by_status``: every case under the area, by its current status (final ones too).
* ``cases.by_case_type`` and ``cases.by_risk_type``: the *open* cases (not eliminated,
  rejected or terminated); a case counts once under each risk type it carries.
* ``identified`` / ``eliminated``: cases whose identification / elimination day lies in
  ``year``; ``avg_days_to_identification``: over the cases identified in ``year``, the
  mean of days from the first clue to identification (one decimal).
* ``overdue``: open cases and open clues whose ``next_deadline`` is before ``as_of``.

**Notice lists** (docs/domain.md: a public notice never shows ID numbers, phone numbers, bank
accounts or health): household number, head's name, member count, case type
and the notice's days — nothing else, in particular no risk types (two of them, illness and
disability, tell health).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, Text, and_, bindparam, cast, func, literal, literal_column, null, or_, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from services.core.households.models import Household
from services.core.monitoring.enums import FINAL, CaseStatus, CaseType, ClueStatus, NoticeKind, RiskType
from services.core.monitoring.models import MonitoringCase, MonitoringCaseCount, RiskClue
from services.core.regions.models import Region
from services.core.regions.rules import PREFIX_LENGTH, Level
from services.core.scope import limit_to, scope_of, under

# Levels a statistics table can be broken down by.
STAT_LEVELS = {"county": Level.county, "township": Level.township, "village": Level.village}
_FINAL = sorted(s.value for s in FINAL)


def _open(status):
    """Not final (written out as comparisons: the statement's SQL is kept, see below)."""
    return and_(*(status != value for value in _FINAL))


def default_level(region: str) -> Level:
    """One level below ``region`` (a county for a province or city), a village for a village."""
    for level in (Level.county, Level.township, Level.village):
        if PREFIX_LENGTH[level] > len(region):
            return level
    return Level.village


def _obj(pairs: list[tuple[str, Any]]):
    args: list[Any] = []
    for key, value in pairs:
        args.extend((literal(key), value))
    return func.json_build_object(*args)


def statistics_statement(region: str, level: Level):
    """One row: ``items`` (a JSON array, one object per region at ``level`` under
    ``region``, by code) and ``total`` (a JSON object for the whole of ``region``).
    Parameters: ``year`` and ``as_of`` (today)."""
    # The width is written into the SQL (not a parameter) so that GROUP BY and the select
    # list name the very same expression.
    width: ColumnClause[Any] = literal_column(str(PREFIX_LENGTH[level]))
    year, as_of = bindparam("year", type_=Integer), bindparam("as_of", type_=Date)
    k = MonitoringCaseCount
    area = func.left(k.region_code, width)

    def counted(dimension: str, value: str | None = None, this_year: bool = False, column=None):
        conditions = [k.dimension == dimension]
        if value is not None:
            conditions.append(k.value == value)
        if this_year:
            conditions.append(k.year == year)
        return func.coalesce(func.sum(column if column is not None else k.n).filter(and_(*conditions)), 0)

    cases_json = _obj(
        [
            ("total", counted("status")),
            ("by_status", _obj([(s.value, counted("status", s.value)) for s in CaseStatus])),
            ("by_case_type", _obj([(t.value, counted("open_type", t.value)) for t in CaseType])),
            ("by_risk_type", _obj([(r.value, counted("open_risk", r.value)) for r in RiskType])),
        ]
    )
    identified_n = counted("identified", this_year=True)
    counts_per_area = (
        select(
            area.label("area"),
            cases_json.label("cases"),
            identified_n.label("identified"),
            counted("eliminated", this_year=True).label("eliminated"),
            func.round(counted("identified", this_year=True, column=k.days) / func.nullif(identified_n, 0), 1).label(
                "avg_days"
            ),
        )
        .where(under(k.region_code, region))
        .group_by(func.rollup(area))
        .subquery("counts")
    )
    # What depends on the day is counted live, from the deadline index.
    c = MonitoringCase
    late = (
        select(func.left(c.region_code, width).label("area"), func.count().label("overdue"))
        .where(c.next_deadline < as_of, _open(c.status), under(c.region_code, region))
        .group_by(func.rollup(func.left(c.region_code, width)))
        .subquery("late")
    )
    per_area = (
        select(
            counts_per_area.c.area,
            counts_per_area.c.cases,
            counts_per_area.c.identified,
            counts_per_area.c.eliminated,
            counts_per_area.c.avg_days,
            func.coalesce(late.c.overdue, 0).label("overdue"),
        )
        .select_from(counts_per_area.outerjoin(late, late.c.area.is_not_distinct_from(counts_per_area.c.area)))
        .cte("per_area")
    )
    r = RiskClue
    clues = (
        select(
            func.left(r.region_code, width).label("area"),
            func.count().label("open"),
            func.count().filter(r.next_deadline < as_of).label("overdue"),
        )
        .where(r.status == ClueStatus.open, under(r.region_code, region))
        .group_by(func.rollup(func.left(r.region_code, width)))
        .cte("clues")
    )
    empty_cases = cast(literal(_empty_cases_json()), JSON)

    def row(code, name, a, q):
        return _obj(
            [
                ("region_code", code),
                ("name", name),
                ("cases", func.coalesce(a.c.cases, empty_cases)),
                ("open_clues", func.coalesce(q.c.open, 0)),
                ("identified", func.coalesce(a.c.identified, 0)),
                ("eliminated", func.coalesce(a.c.eliminated, 0)),
                ("avg_days_to_identification", a.c.avg_days),
                ("overdue", _obj([("cases", func.coalesce(a.c.overdue, 0)), ("clues", func.coalesce(q.c.overdue, 0))])),
            ]
        )

    area_key = func.left(Region.code, width)
    areas = (
        select(Region.code, Region.name, area_key.label("area"))
        .where(Region.level == int(level), under(Region.code, region))
        .subquery("areas")
    )
    a_rows, q_rows = per_area.alias("a"), clues.alias("q")
    items = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(row(areas.c.code, areas.c.name, a_rows, q_rows), areas.c.code)),
                cast(literal("[]"), JSON),
            )
        )
        .select_from(
            areas.outerjoin(a_rows, a_rows.c.area == areas.c.area).outerjoin(q_rows, q_rows.c.area == areas.c.area)
        )
        .scalar_subquery()
    )
    a_total, q_total = per_area.alias("at"), clues.alias("qt")
    region_code = region.ljust(12, "0") if region else None
    name = select(Region.name).where(Region.code == region_code).scalar_subquery() if region_code else null()
    total_row = (
        select(row(literal(region_code) if region_code else null(), name, a_total, q_total))
        .select_from(a_total.outerjoin(q_total, q_total.c.area.is_(None)))
        .where(a_total.c.area.is_(None))
        .scalar_subquery()
    )
    # As text: the API hands PostgreSQL's JSON on as it is.
    return select(cast(items, Text).label("items"), cast(total_row, Text).label("total"))


def _empty_cases_json() -> str:
    import json

    return json.dumps(
        {
            "total": 0,
            "by_status": {s.value: 0 for s in CaseStatus},
            "by_case_type": {t.value: 0 for t in CaseType},
            "by_risk_type": {r.value: 0 for r in RiskType},
        }
    )


# The statement is large: building it, computing its cache key and compiling it cost about
# as much as PostgreSQL's work, so its SQL is kept, with the scope filter of the caller's
# session (``limit_to``, as the ORM adds it) and every value written in. Written in, not
# passed as parameters: with parameters PostgreSQL switches to a generic plan after a few
# runs, which cannot know that the region covers the whole table and sorts 50,000 rows on
# disk instead of hashing them (twice as slow). The values are the region (digits, checked
# before), the level, dates and the enums' codes: nothing a client wrote.
_SQL: dict[tuple[str, Level, str, int, date], str] = {}
_MAX_SQL = 512


async def statistics(session: AsyncSession, region: str, level: Level, year: int, as_of: date) -> tuple[str, str]:
    """(items, total) as JSON text: one statement, one round trip."""
    prefix = scope_of(session)
    connection = await session.connection()
    key = (region, level, prefix, year, as_of)
    sql = _SQL.get(key)
    if sql is None:
        statement = statistics_statement(region, level).params(year=year, as_of=as_of)
        sql = str(
            limit_to(statement, prefix).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        )
        if len(_SQL) >= _MAX_SQL:
            _SQL.clear()
        _SQL[key] = sql
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # an open pooled connection has its asyncpg connection
    try:
        found = await driver.fetchrow(sql)
    except Exception as exc:
        if driver.is_closed():  # the pool must not hand out a dead connection again
            await connection.invalidate(exc)
        raise
    return found[0], found[1]


# ---- public notice lists ------------------------------------------------------------------

# The status a case has while its notice is up, and the statuses that follow it (a notice
# whose period still covers today stays on the list after the result has been recorded).
NOTICE_STATUS = {
    NoticeKind.identification: CaseStatus.identification_notice,
    NoticeKind.elimination: CaseStatus.elimination_notice,
}
AFTER_NOTICE = {
    NoticeKind.identification: (CaseStatus.township_review, CaseStatus.county_approval, CaseStatus.assisting),
    NoticeKind.elimination: (
        CaseStatus.elimination_township_review,
        CaseStatus.elimination_approval,
        CaseStatus.eliminated,
    ),
}
# What a notice shows. Nothing that identifies a person beyond the head's name, nothing about
# health: no ID numbers, phones, bank accounts, risk types.
NOTICE_COLUMNS = ("household_no", "head_name", "member_count", "case_type", "notice_start", "notice_end")


async def notice_list(session: AsyncSession, village: str, kind: NoticeKind, as_of: date) -> list[dict[str, Any]]:
    c = MonitoringCase
    covers_today = and_(c.notice_start <= as_of, c.notice_end >= as_of, c.status.in_(AFTER_NOTICE[kind]))
    stmt = (
        select(
            Household.household_no,
            Household.head_name,
            Household.member_count,
            c.case_type,
            c.notice_start,
            c.notice_end,
        )
        .join(Household, Household.id == c.household_id)
        .where(c.region_code == village, or_(c.status == NOTICE_STATUS[kind], covers_today))
        .order_by(c.notice_start, Household.household_no)
    )
    return [dict(zip(NOTICE_COLUMNS, r, strict=True)) for r in (await session.execute(stmt)).all()]
