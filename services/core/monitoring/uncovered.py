"""Rules that find households the monitoring should hold and does not (应纳未纳).

Plain functions: a predicate for one household, and the same rule as a SQL statement for a
whole region, which the API and the department sync worker (issue 5) both execute in their
own session. Nothing here does I/O.

**Uncovered households** (the county in seed 003 was criticised for exactly these): a
formerly poor household (脱贫户, category ``lifted_out``) whose per-capita net income over a
year (人均纯收入) is below the monitoring line of (Y, its province) (监测标准,
``income_lines``) and that is not monitored: neither 监测户 nor with an open case.

"A year" is the rolling twelve months (``services.core.income.rolling``) up to the end of
year Y — or up to today's quarter while Y is still running — ending in Y: never a part year.
A household whose twelve months are incomplete (a quarter missing, or only this year's
first quarters recorded) cannot be judged on income: the list marks it
(``income_complete`` false, with the quarters recorded) and no clue is raised for it.
A household with no quarter recorded in Y is not the rule's (nothing to judge for Y).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Integer, Numeric, and_, column, exists, func, or_, select, true
from sqlalchemy.sql import Select

from services.core.households.enums import Category, HouseholdStatus
from services.core.households.models import Household
from services.core.income.rolling import WINDOW, RollingIncome, quarter_index, quarter_of
from services.core.monitoring.enums import FINAL, ClueStatus
from services.core.monitoring.models import IncomeLine, MonitoringCase, RiskClue
from services.core.scope import under

RULE_SOURCE = "rule:income_below_line"  # ``ClueReport.source`` of the clues the rule raises


def external_ref(year: int, household_id: int) -> str:
    """The clue's (风险线索) reference: one per household and income year, so reruns create
    nothing."""
    return f"income_below_line:{year}:{household_id}"


def upto_of(year: int, on: date) -> int:
    """The last quarter (index) year ``year``'s income may reach, as of the day ``on``: its
    fourth quarter, or ``on``'s quarter while the year runs (收入按季度采集)."""
    return min(quarter_index(year, 4), quarter_of(on))


def is_uncovered(
    category: Category, income: RollingIncome | None, year: int, line: Decimal | None, has_open_case: bool
) -> bool | None:
    """The rule for one household, ``income`` being its rolling twelve months up to
    ``upto_of(year, …)``: True or False, or None when it cannot be judged on income
    (an incomplete year, no line). No quarter recorded in ``year``: not the rule's (False).

    Uncovered (应纳未纳): a lifted-out household (脱贫户) whose per-capita net income
    (人均纯收入) is below the monitoring line (监测标准) and that is not monitored (no open case,
    not 监测户)."""
    if category != Category.lifted_out or has_open_case:
        return False
    if income is None or income.last < quarter_index(year, 1):
        return False
    return income.below(line)


def open_case_exists():
    """An open (not final) monitoring case (监测对象, 未结案) of the household in the outer query."""
    return exists().where(
        MonitoringCase.household_id == Household.id, MonitoringCase.status.not_in([s.value for s in FINAL])
    )


def rolling_income(upto):
    """``income_rolling(households.id, upto)`` as a lateral table (one row, or none when
    nothing is recorded by ``upto``): the rolling year's per-capita net income (人均纯收入)."""
    return (
        func.income_rolling(Household.id, upto)
        .table_valued(
            column("quarters", Integer),
            column("first_q", Integer),
            column("last_q", Integer),
            column("net_income", Numeric),
            column("member_count", Integer),
            column("per_capita_net", Numeric),
        )
        .lateral("rolling")
    )


def uncovered_households(year: int, upto: int, region: str | None = None, complete: bool | None = None) -> Select:
    """The rule over every household under ``region`` (all when None): id, household_no,
    head_name, region_code, per_capita_net, line, quarters, first_q, last_q,
    income_complete, open_clue_id (the oldest open clue that already names the household,
    or None), ordered by id. ``upto``: ``upto_of(year, today)``. ``complete``: True only
    the households judged below the line, False only those that cannot be judged (an
    incomplete year), None both. Callers add keyset bounds and limits (``Household.id > …``).
    The households below the line and not monitored (应纳未纳): lifted-out (脱贫户) with
    per-capita net income (人均纯收入) under the monitoring line (监测标准)."""
    open_clue = (
        select(func.min(RiskClue.id))
        .where(RiskClue.household_id == Household.id, RiskClue.status == ClueStatus.open)
        .scalar_subquery()
    )
    income = rolling_income(upto)
    judged_below = and_(income.c.quarters == WINDOW, income.c.per_capita_net < IncomeLine.amount)
    incomplete = income.c.quarters < WINDOW
    stmt = (
        select(
            Household.id,
            Household.household_no,
            Household.head_name,
            Household.region_code,
            income.c.per_capita_net,
            IncomeLine.amount.label("line"),
            income.c.quarters,
            income.c.first_q,
            income.c.last_q,
            (income.c.quarters == WINDOW).label("income_complete"),
            open_clue.label("open_clue_id"),
        )
        .select_from(Household)
        .join(income, true())
        .join(
            IncomeLine, and_(IncomeLine.year == year, IncomeLine.province_code == func.left(Household.region_code, 2))
        )
        .where(
            Household.category == Category.lifted_out,
            Household.status == HouseholdStatus.active,
            income.c.last_q >= quarter_index(year, 1),
            judged_below if complete else incomplete if complete is False else or_(judged_below, incomplete),
            ~open_case_exists(),
        )
        .order_by(Household.id)
    )
    if region:
        stmt = stmt.where(under(Household.region_code, region))
    return stmt
