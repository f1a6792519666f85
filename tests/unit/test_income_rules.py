from decimal import Decimal as D

import pytest

from services.core.income import rules
from services.core.income.rules import Figures


def figs(w="3000", b="1200.50", p="100", t="900", costs="400", eligible="250"):
    return Figures(D(w), D(b), D(p), D(t), D(costs), D(eligible))


def test_net_income_is_parts_less_production_costs():
    assert rules.net_income(figs(), deduct_eligible_spending=False) == D("4800.50")


def test_eligible_spending_deducted_only_when_the_province_counts_it():
    assert rules.net_income(figs(), deduct_eligible_spending=True) == D("4550.50")


def test_per_capita_rounds_half_up_to_fen():
    assert rules.per_capita(D("10000.00"), 3) == D("3333.33")
    assert rules.per_capita(D("0.05"), 2) == D("0.03")  # 0.025 → 0.03, not banker's 0.02
    with pytest.raises(ValueError):
        rules.per_capita(D("1"), 0)


def test_negative_net_income_is_possible_after_costs():
    assert rules.net_income(figs(w="0", b="0", p="0", t="0", costs="500"), deduct_eligible_spending=False) == D(
        "-500.00"
    )


def test_detail_items_checked_against_part():
    parts = {"wages": D("1000"), "business": D("0"), "property": D("0"), "transfers": D("500")}
    assert rules.detail_problems(parts, {"transfers": {"pensions": D("300"), "dibao": D("200")}}) == []
    problems = rules.detail_problems(parts, {"transfers": {"pensions": D("400"), "dibao": D("200")}})
    assert problems == [
        ("details.transfers", "income_details_exceed_part", {"part": "transfers", "total": "600.00", "amount": "500"})
    ]
    unknown = rules.detail_problems(parts, {"wages": {"bonus": D("1")}, "gifts": {}})
    assert [p[0] for p in unknown] == ["details.wages.bonus", "details.gifts"]


def test_year_totals_sum_quarters_and_use_latest_household_size():
    q1 = (1, figs(), 4, D("4800.50"))
    q2 = (2, figs(), 3, D("4800.50"))
    totals = rules.year_totals([q2, q1])
    assert totals.quarters == 2
    assert totals.net_income == D("9601.00")
    assert totals.member_count == 3
    assert totals.per_capita_net == D("3200.33")
    assert totals.figures.wages == D("6000")
