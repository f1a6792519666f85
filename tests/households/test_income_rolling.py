"""The rolling twelve months of income: the Python form (``rolling``) and the SQL function
(``income_rolling``) on the same quarters, for the cases the rule turns on."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import text

from services.core.households.models import Household
from services.core.income.rolling import RollingIncome, quarter_index, rolling
from tests.factories import VILLAGE

ZERO = D("0")

CASES = {
    # name: quarters (year, quarter, net, members), upto (year, quarter), expected
    "q1_only": (
        [(2026, 1, D("900.00"), 3)],
        (2026, 4),
        RollingIncome(1, quarter_index(2025, 2), quarter_index(2026, 1), D("900.00"), 3, D("300.00")),
    ),
    "q1_to_q3_with_last_year": (
        [(2025, q, D("3000.00"), 4) for q in (1, 2, 3, 4)] + [(2026, q, D("1000.00"), 3) for q in (1, 2, 3)],
        (2026, 4),
        # 2025Q4 + 2026Q1–Q3 = 6000, shared by the 3 members of the latest quarter.
        RollingIncome(4, quarter_index(2025, 4), quarter_index(2026, 3), D("6000.00"), 3, D("2000.00")),
    ),
    "q1_to_q3_alone": (
        [(2026, q, D("1000.00"), 2) for q in (1, 2, 3)],
        (2026, 4),
        RollingIncome(3, quarter_index(2025, 4), quarter_index(2026, 3), D("3000.00"), 2, D("1500.00")),
    ),
    "gap": (
        [
            (2025, 2, D("2000.00"), 2),
            (2025, 3, D("2000.00"), 2),
            (2026, 1, D("2000.00"), 2),
            (2026, 2, D("2000.00"), 2),
        ],
        (2026, 4),
        # 2025Q3–2026Q2 lacks 2025Q4: three quarters, incomplete.
        RollingIncome(3, quarter_index(2025, 3), quarter_index(2026, 2), D("6000.00"), 2, D("3000.00")),
    ),
    "year_boundary": (
        [(2025, 1, D("5.00"), 1)] + [(2025, q, D("1000.01"), 3) for q in (2, 3, 4)] + [(2026, 1, D("1000.00"), 3)],
        (2026, 1),
        RollingIncome(4, quarter_index(2025, 2), quarter_index(2026, 1), D("4000.03"), 3, D("1333.34")),
    ),
    "later_quarters_ignored": (
        [(2025, q, D("100.00"), 1) for q in (1, 2, 3, 4)] + [(2026, 1, D("-50.00"), 1)],
        (2025, 4),
        RollingIncome(4, quarter_index(2025, 1), quarter_index(2025, 4), D("400.00"), 1, D("400.00")),
    ),
    "nothing_by_then": ([(2026, 2, D("100.00"), 1)], (2026, 1), None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_form(name):
    quarters, upto, expected = CASES[name]
    assert rolling(quarters, quarter_index(*upto)) == expected


def test_only_a_complete_year_is_judged():
    q1_only = CASES["q1_only"][2]
    assert q1_only is not None and not q1_only.complete and q1_only.below(D("8000")) is None
    year = CASES["q1_to_q3_with_last_year"][2]
    assert year is not None and year.complete and year.period == "2025Q4–2026Q3"
    assert year.below(D("2000.01")) is True and year.below(D("2000.00")) is False and year.below(None) is None
    assert CASES["gap"][2].below(D("99999")) is None


@pytest.mark.parametrize("name", sorted(CASES))
async def test_sql_function_agrees(session, name):
    quarters, upto, expected = CASES[name]
    household = Household(household_no=f"ROLL-{name}", region_code=VILLAGE, category="lifted_out", member_count=1)
    session.add(household)
    await session.flush()
    for year, quarter, net, members in quarters:
        await session.execute(
            text(
                "INSERT INTO income_records (household_id, region_code, year, quarter, wages, business, property, "
                "transfers, details, production_costs, eligible_spending, member_count, net_income, per_capita_net, "
                "version) VALUES (:h, :r, :y, :q, :net, 0, 0, 0, '{}', 0, 0, :m, :net, 0, 1)"
            ),
            {"h": household.id, "r": VILLAGE, "y": year, "q": quarter, "net": net, "m": members},
        )
    row = (
        await session.execute(
            text("SELECT * FROM income_rolling(:h, :upto)"), {"h": household.id, "upto": quarter_index(*upto)}
        )
    ).one_or_none()
    got = (
        None
        if row is None
        else RollingIncome(row.quarters, row.first_q, row.last_q, row.net_income, row.member_count, row.per_capita_net)
    )
    assert got == expected
