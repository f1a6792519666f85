"""The rules behind the reports, as plain functions: the uncovered-households rule, who
may set a province's line or change a policy override, statistics levels."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.core.households.enums import Category
from services.core.monitoring.lines import covers_province, provinces_seen_by
from services.core.monitoring.overrides import may_change
from services.core.monitoring.reports import default_level
from services.core.monitoring.rules import external_ref, is_uncovered, uncovered_households
from services.core.regions.rules import Level

LINE = Decimal("6000.00")


@pytest.mark.parametrize("category,income,line,open_case,expected", [
    (Category.lifted_out, Decimal("5999.99"), LINE, False, True),
    (Category.lifted_out, Decimal("6000.00"), LINE, False, False),  # at the line is not below it
    (Category.lifted_out, Decimal("100"), LINE, True, False),  # an open case: monitored already
    (Category.monitored, Decimal("100"), LINE, False, False),
    (Category.ordinary, Decimal("100"), LINE, False, False),  # not formerly poor: another rule's business
    (Category.lifted_out, None, LINE, False, False),  # no income recorded for the year
    (Category.lifted_out, Decimal("100"), None, False, False),  # no line for the year
])
def test_uncovered_rule(category, income, line, open_case, expected):
    assert is_uncovered(category, income, line, open_case) is expected


def test_the_rules_reference_names_year_and_household():
    assert external_ref(2025, 42) == "income_below_line:2025:42"


def test_the_rule_as_sql_is_limited_to_the_region():
    sql = str(uncovered_households(2025, "529901").compile(compile_kwargs={"literal_binds": True}))
    assert "households.region_code >= '529901'" in sql and "households.region_code < '529901:'" in sql
    assert "income_years.year = 2025" in sql and "income_lines.year = 2025" in sql
    assert "NOT (EXISTS" in sql
    assert "region_code >=" not in str(uncovered_households(2025).compile())


@pytest.mark.parametrize("prefix,province,covers", [
    ("", "52", True), ("52", "52", True), ("5", "52", True), ("52", "11", False), ("5299", "52", False),
    ("529901", "52", False),
])
def test_who_may_set_a_provinces_line(prefix, province, covers):
    assert covers_province(prefix, province) is covers


def test_provinces_seen_by():
    assert provinces_seen_by("529901001") == "52" and provinces_seen_by("") is None


@pytest.mark.parametrize("caller,row,allowed", [
    ("529901", "529901", True), ("529901", "529901001", True), ("529901", "52", False), ("529901", "", False),
    ("", "", True), ("529901", "529902", False),
])
def test_who_may_change_an_override(caller, row, allowed):
    assert may_change(caller, row) is allowed


@pytest.mark.parametrize("region,level", [
    ("", Level.county), ("52", Level.county), ("5299", Level.county), ("529901", Level.township),
    ("529901001", Level.village), ("529901001001", Level.village),
])
def test_statistics_default_one_level_down(region, level):
    assert default_level(region) == level
