"""Rules that find households the monitoring should hold and does not (应纳未纳).

Plain functions: a predicate for one household, and the same rule as a SQL statement for a
whole region, which the API and the department sync worker (issue 5) both execute in their
own session. Nothing here does I/O.

**Uncovered households** (the county in seed 003 was criticised for exactly these): a
formerly poor household (脱贫户, category ``lifted_out``) whose per-capita net income of year
Y (人均纯收入, ``income_years``) is below the monitoring line of (Y, its province)
(监测标准, ``income_lines``) and that is not monitored: neither 监测户 nor with an open case.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, exists, func, select
from sqlalchemy.sql import Select

from services.core.households.enums import Category, HouseholdStatus
from services.core.households.models import Household
from services.core.income.models import IncomeYear
from services.core.monitoring.enums import FINAL, ClueStatus
from services.core.monitoring.models import IncomeLine, MonitoringCase, RiskClue
from services.core.scope import under

RULE_SOURCE = "rule:income_below_line"  # ``ClueReport.source`` of the clues the rule raises


def province_of(region_code: str) -> str:
    """The province (2 digits) of a region code or prefix of at least two digits."""
    return region_code[:2]


def external_ref(year: int, household_id: int) -> str:
    """The clue's reference: one per household and income year, so reruns create nothing."""
    return f"income_below_line:{year}:{household_id}"


def is_uncovered(category: Category, per_capita_net: Decimal | None, line: Decimal | None,
                 has_open_case: bool) -> bool:
    """The rule for one household (a household without income or without a line for the
    year is not judged by it)."""
    if per_capita_net is None or line is None:
        return False
    return category == Category.lifted_out and per_capita_net < line and not has_open_case


def open_case_exists():
    """An open (not final) monitoring case of the household in the outer query."""
    return exists().where(MonitoringCase.household_id == Household.id,
                          MonitoringCase.status.not_in([s.value for s in FINAL]))


def uncovered_households(year: int, region: str | None = None) -> Select:
    """The rule over every household under ``region`` (all when None): id, household_no,
    head_name, region_code, per_capita_net, line, open_clue_id (the oldest open clue that
    already names the household, or None), ordered by id. Callers add keyset bounds and
    limits (``Household.id > …``)."""
    open_clue = (
        select(func.min(RiskClue.id))
        .where(RiskClue.household_id == Household.id, RiskClue.status == ClueStatus.open)
        .scalar_subquery()
    )
    stmt = (
        select(Household.id, Household.household_no, Household.head_name, Household.region_code,
               IncomeYear.per_capita_net, IncomeLine.amount.label("line"), open_clue.label("open_clue_id"))
        .join(IncomeYear, and_(IncomeYear.household_id == Household.id, IncomeYear.year == year))
        .join(IncomeLine, and_(IncomeLine.year == year,
                               IncomeLine.province_code == func.left(Household.region_code, 2)))
        .where(Household.category == Category.lifted_out, Household.status == HouseholdStatus.active,
               IncomeYear.per_capita_net < IncomeLine.amount, ~open_case_exists())
        .order_by(Household.id)
    )
    if region:
        stmt = stmt.where(under(Household.region_code, region))
    return stmt
