"""The rules behind the reports, as plain functions: the uncovered-households rule, who
may set a province's line or change a policy override, statistics levels."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.core.households.enums import Category
from services.core.income.rolling import RollingIncome, quarter_index
from services.core.monitoring.lines import covers_province, provinces_seen_by
from services.core.monitoring.reports import default_level
from services.core.monitoring.uncovered import external_ref, is_uncovered, uncovered_households, upto_of
from services.core.policy.overrides import may_change
from services.core.regions.rules import Level

LINE = Decimal("6000.00")


def _year(per_capita: str, quarters=4, last=(2025, 4)) -> RollingIncome:
    """Twelve months ending ``last`` with ``quarters`` of them recorded, one member."""
    end = quarter_index(*last)
    return RollingIncome(quarters, end - 3, end, Decimal(per_capita), 1, Decimal(per_capita))


@pytest.mark.parametrize(
    "category,income,line,open_case,expected",
    [
        (Category.lifted_out, _year("5999.99"), LINE, False, True),
        (Category.lifted_out, _year("6000.00"), LINE, False, False),  # at the line is not below it
        (Category.lifted_out, _year("100"), LINE, True, False),  # an open case: monitored already
        (Category.monitored, _year("100"), LINE, False, False),
        (Category.ordinary, _year("100"), LINE, False, False),  # not formerly poor: another rule's business
        (Category.lifted_out, None, LINE, False, False),  # no income recorded at all
        (Category.lifted_out, _year("100", last=(2024, 4)), LINE, False, False),  # none in 2025: not the rule's
        (Category.lifted_out, _year("100"), None, False, None),  # no line for the year: cannot be judged
        (Category.lifted_out, _year("100", quarters=1, last=(2025, 1)), LINE, False, None),  # Q1 only: unknown
        (Category.lifted_out, _year("100", quarters=3, last=(2025, 3)), LINE, False, None),  # Q1–Q3 only
        (Category.lifted_out, _year("100", quarters=3), LINE, False, None),  # a gap
        (Category.lifted_out, _year("100", last=(2025, 1)), LINE, False, True),  # 2024Q2–2025Q1: across the year
    ],
)
def test_uncovered_rule(category, income, line, open_case, expected):
    assert is_uncovered(category, income, 2025, line, open_case) is expected


def test_the_year_reaches_its_end_or_today():
    assert upto_of(2025, date(2026, 12, 3)) == quarter_index(2025, 4)
    assert upto_of(2026, date(2026, 5, 3)) == quarter_index(2026, 2)
    assert upto_of(2027, date(2026, 5, 3)) == quarter_index(2026, 2)


def test_the_rules_reference_names_year_and_household():
    assert external_ref(2025, 42) == "income_below_line:2025:42"


def test_the_rule_as_sql_is_limited_to_the_region():
    upto = quarter_index(2025, 4)
    sql = str(uncovered_households(2025, upto, "529901").compile(compile_kwargs={"literal_binds": True}))
    assert "households.region_code >= '529901'" in sql and "households.region_code < '529901:'" in sql
    assert f"JOIN LATERAL income_rolling(households.id, {upto})" in sql and "income_lines.year = 2025" in sql
    assert f"rolling.last_q >= {quarter_index(2025, 1)}" in sql
    assert "NOT (EXISTS" in sql
    assert "region_code >=" not in str(uncovered_households(2025, upto).compile())
    judged = str(uncovered_households(2025, upto, complete=True).compile(compile_kwargs={"literal_binds": True}))
    assert "rolling.quarters < 4" not in judged and "rolling.quarters = 4 AND" in judged


@pytest.mark.parametrize(
    "prefix,province,covers",
    [
        ("", "52", True),
        ("52", "52", True),
        ("5", "52", True),
        ("52", "11", False),
        ("5299", "52", False),
        ("529901", "52", False),
    ],
)
def test_who_may_set_a_provinces_line(prefix, province, covers):
    assert covers_province(prefix, province) is covers


def test_provinces_seen_by():
    assert provinces_seen_by("529901001") == "52" and provinces_seen_by("") is None


@pytest.mark.parametrize(
    "caller,row,allowed",
    [
        ("529901", "529901", True),
        ("529901", "529901001", True),
        ("529901", "52", False),
        ("529901", "", False),
        ("", "", True),
        ("529901", "529902", False),
    ],
)
def test_who_may_change_an_override(caller, row, allowed):
    assert may_change(caller, row) is allowed


@pytest.mark.parametrize(
    "region,level",
    [
        ("", Level.county),
        ("52", Level.county),
        ("5299", Level.county),
        ("529901", Level.township),
        ("529901001", Level.village),
        ("529901001001", Level.village),
    ],
)
def test_statistics_default_one_level_down(region, level):
    assert default_level(region) == level
