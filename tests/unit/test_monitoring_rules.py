"""The policy's rules as plain functions: working days around Spring Festival, deadlines,
the notice's shortest end, policy overrides by region and year, the elimination guard and
the state machine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.core.households.enums import LabourCapacity
from services.core.income.rolling import quarter_index
from services.core.monitoring.deadlines import breaches, case_deadlines, clue_deadlines, notice_min_end, visit_due
from services.core.monitoring.elimination import EliminationFacts, income_windows, unmet_conditions
from services.core.monitoring.enums import FINAL, CaseStatus, ClueStatus, DeadlineKind, Decision
from services.core.monitoring.machine import STEPS, allowed, step_for
from services.core.policy.monitoring import MonitoringPolicy, resolve
from services.core.policy.overrides import PolicyOverride, check_values
from services.core.workdays import DayUnit, WorkCalendar, add_months, month_end

CAL = WorkCalendar()
POLICY = MonitoringPolicy()


def policy_for(_year):
    return POLICY


# --------------------------------------------------------------- working days


@pytest.mark.parametrize(
    "start, days, due",
    [
        # Spring Festival 2026: 15–23 February off; Saturday 14 and Saturday 28 February worked.
        (date(2026, 2, 10), 10, date(2026, 3, 2)),
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # the adjusted Saturday is a working day
        (date(2026, 2, 14), 1, date(2026, 2, 24)),  # nine days off in between
        (date(2026, 2, 23), 5, date(2026, 2, 28)),  # … and the other adjusted Saturday
        # Spring Festival 2025: 28 January – 4 February off; 26 January (Sunday) and 8 February worked.
        (date(2025, 1, 20), 10, date(2025, 2, 8)),
        # National Day 2025: 1–8 October off; 28 September and 11 October worked.
        (date(2025, 9, 30), 1, date(2025, 10, 9)),
    ],
)
def test_working_days_follow_the_official_calendar(start, days, due):
    assert CAL.add(start, days, DayUnit.working) == (due, False)


def test_calendar_days_ignore_holidays():
    assert CAL.add(date(2026, 2, 10), 15, DayUnit.calendar) == (date(2026, 2, 25), False)


def test_a_year_without_a_published_schedule_is_provisional():
    # chinese-calendar knows no year after 2026 (the 2027 schedule is not published yet).
    due, provisional = CAL.add(date(2026, 12, 28), 10, DayUnit.working)
    assert provisional and due == date(2027, 1, 11)  # weekdays only: Mon–Fri
    entered = WorkCalendar({date(2027, 1, 1): False}, frozenset({2027}))
    assert entered.add(date(2026, 12, 28), 10, DayUnit.working) == (date(2027, 1, 12), False)


def test_months():
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert month_end(date(2024, 2, 3)) == date(2024, 2, 29)
    assert month_end(date(2025, 12, 3)) == date(2025, 12, 31)


# --------------------------------------------------------------- deadlines


def _case(**kw):
    base = {
        "status": CaseStatus.verification,
        "first_clue_on": date(2026, 2, 2),
        "identified_on": None,
        "cadre_user_id": None,
        "plan_on": None,
    }
    base.update(kw)
    return SimpleNamespace(**base)


def test_identification_deadline_runs_from_the_first_clue():
    [d] = case_deadlines(_case(), [], policy_for, CAL)
    assert (d.kind, d.due) == (DeadlineKind.identification, date(2026, 2, 17))  # 15 calendar days


def test_assistance_deadlines_after_identification():
    case = _case(status=CaseStatus.assisting, identified_on=date(2026, 2, 10))
    got = {d.kind: d.due for d in case_deadlines(case, [], policy_for, CAL)}
    assert got == {
        DeadlineKind.cadre_assignment: date(2026, 3, 2),
        DeadlineKind.plan: date(2026, 3, 2),
        DeadlineKind.monthly_visit: date(2026, 3, 31),
    }
    case.cadre_user_id, case.plan_on = 7, date(2026, 2, 20)
    got = case_deadlines(case, [date(2026, 3, 5), date(2026, 4, 30)], policy_for, CAL)
    assert [(d.kind, d.due) for d in got] == [(DeadlineKind.monthly_visit, date(2026, 5, 31))]


def test_monthly_visit_finds_the_first_month_without_one():
    assert visit_due(date(2026, 1, 20), [date(2026, 2, 3), date(2026, 4, 1)], 1) == date(2026, 3, 31)
    assert visit_due(date(2026, 1, 20), [date(2026, 2, 3)], 2) == date(2026, 2, 28)
    # a visit in the month of identification does not count for the next
    assert visit_due(date(2026, 1, 5), [date(2026, 1, 25)], 1) == date(2026, 2, 28)


def test_a_month_recorded_as_missed_is_passed_over():
    # March missed and recorded: the deadline moves to April, then (April visited) to May.
    assert visit_due(date(2026, 1, 20), [date(2026, 2, 3)], 1, {date(2026, 3, 1)}) == date(2026, 4, 30)
    assert visit_due(date(2026, 1, 20), [date(2026, 2, 3), date(2026, 4, 1)], 1, {date(2026, 3, 1)}) == date(
        2026, 5, 31
    )


def test_final_cases_have_no_deadlines():
    for status in FINAL:
        assert case_deadlines(_case(status=status, identified_on=date(2026, 1, 1)), [], policy_for, CAL) == []


def test_clue_deadlines():
    got = clue_deadlines(ClueStatus.open, date(2026, 2, 12), date(2026, 2, 13), policy_for, CAL)
    assert [(d.kind, d.due) for d in got] == [
        (DeadlineKind.clue_acceptance, date(2026, 2, 15)),
        (DeadlineKind.identification, date(2026, 2, 27)),
    ]
    working = MonitoringPolicy(self_declaration_acceptance_unit="working")
    got = clue_deadlines(ClueStatus.open, date(2026, 2, 12), date(2026, 2, 13), lambda y: working, CAL)
    assert got[0].due == date(2026, 2, 24)  # Sat 14 Feb is worked, then nine days off
    assert clue_deadlines(ClueStatus.dismissed, date(2026, 2, 12), None, policy_for, CAL) == []


def test_breaches_only_for_deadlines_met_late():
    before = case_deadlines(_case(status=CaseStatus.assisting, identified_on=date(2026, 2, 10)), [], policy_for, CAL)
    after = case_deadlines(
        _case(status=CaseStatus.assisting, identified_on=date(2026, 2, 10), plan_on=date(2026, 3, 3)),
        [],
        policy_for,
        CAL,
    )
    assert breaches(before, after, date(2026, 3, 2)) == []
    assert breaches(before, after, date(2026, 3, 3)) == [{"kind": "plan", "due": "2026-03-02", "met_on": "2026-03-03"}]


def test_notice_shortest_end():
    assert notice_min_end(date(2026, 2, 12), POLICY, CAL) == (date(2026, 2, 16), False)
    working = MonitoringPolicy(notice_unit="working")
    # 12, 13, 14 (adjusted Saturday), then 24, 25
    assert notice_min_end(date(2026, 2, 12), working, CAL) == (date(2026, 2, 25), False)
    # posted on a holiday: counted from the next working day
    assert notice_min_end(date(2026, 2, 16), working, CAL) == (date(2026, 2, 28), False)


# --------------------------------------------------------------- policy


def test_overrides_by_region_and_year():
    rows = [
        PolicyOverride(region_prefix="", year=2021, values={"plan_days": 12}),
        PolicyOverride(region_prefix="52", year=2024, values={"notice_min_days": 7}),
        PolicyOverride(region_prefix="529901", year=2023, values={"plan_days": 8}),
        PolicyOverride(region_prefix="", year=2026, values={"plan_days": 15, "visits_per_month": 2}),
    ]
    p = resolve(rows, "529901001001", 2025)
    assert (p.plan_days, p.notice_min_days, p.visits_per_month) == (8, 7, 1)
    p = resolve(rows, "529901001001", 2026)
    assert (p.plan_days, p.visits_per_month) == (8, 2)  # the county's own rule stays
    assert resolve(rows, "529902001001", 2026).plan_days == 15
    assert resolve(rows, "529901001001", 2022).plan_days == 12
    assert resolve(rows, "110101001001", 2020) == MonitoringPolicy()


def test_override_values_are_validated():
    assert check_values({"plan_days": 12, "plan_unit": "calendar"}, MonitoringPolicy) == {
        "plan_days": 12,
        "plan_unit": "calendar",
    }
    with pytest.raises(ValueError):
        check_values({"plan_days": 0}, MonitoringPolicy)
    with pytest.raises(ValueError):
        check_values({"no_such_rule": 1}, MonitoringPolicy)


# --------------------------------------------------------------- elimination guard


def _year(year, net="6000.00", members=2, quarters=(1, 2, 3, 4)):
    """Quarters of ``year`` (year, quarter, net income, members)."""
    return [(year, q, Decimal(net), members) for q in quarters]


# Decided on 10 August 2026: the windows judged end with 2026Q2 (2025Q3–2026Q2) and 2026Q1
# (2025Q2–2026Q1). 6000 a quarter for two: 12000 a person a year, line 8000.
INCOME = _year(2025) + _year(2026, quarters=(1, 2))


def _facts(**kw):
    base = {
        "decided_on": date(2026, 8, 10),
        "identified_on": date(2026, 1, 20),
        "measures_carried_out": 1,
        "income_records": INCOME,
        "lines": {2026: Decimal("8000")},
        "province_code": "52",
        "guarantees": {"education": "secure", "medical": "secure", "housing": "not_applicable", "water": "secure"},
        "labour": [LabourCapacity.ordinary, LabourCapacity.none],
    }
    base.update(kw)
    return EliminationFacts(**base)


def _unmet(facts, policy=POLICY):
    return [(e.field, e.code) for e in unmet_conditions(facts, policy)]


def test_guard_passes_when_every_condition_holds():
    assert unmet_conditions(_facts(), POLICY) == []


def test_guard_lists_every_unmet_condition():
    facts = _facts(
        decided_on=date(2026, 7, 10),
        measures_carried_out=0,
        income_records=_year(2026, "1000", quarters=(2,)),
        guarantees={"education": "at_risk"},
        labour=[LabourCapacity.lost, LabourCapacity.none],
    )
    assert _unmet(facts) == [
        ("identified_on", "elimination_too_early"),
        ("measures", "elimination_measures_missing"),
        ("income[2026Q2]", "elimination_income_incomplete"),
        ("income[2026Q1]", "elimination_income_incomplete"),
        ("guarantees", "elimination_guarantees_insecure"),
        ("members", "elimination_no_labour"),
    ]


def test_guard_conditions_are_settings():
    lenient = MonitoringPolicy(
        elimination_min_months=0,
        elimination_min_measures_carried_out=0,
        elimination_income_quarters=0,
        elimination_requires_guarantees=False,
        elimination_requires_labour=False,
    )
    facts = _facts(
        identified_on=date(2026, 8, 1), measures_carried_out=0, income_records=[], guarantees=None, labour=[], lines={}
    )
    assert unmet_conditions(facts, lenient) == []
    # without the year's line nothing can be judged: said once
    assert _unmet(_facts(lines={2025: Decimal("1")})) == [("income", "elimination_no_income_line")]
    # exactly six months is enough
    assert unmet_conditions(_facts(decided_on=date(2026, 7, 20)), POLICY) == []
    # four quarters of stability: windows ending 2026Q2, Q1, 2025Q4, Q3 (2024Q4 onwards needed)
    strict = MonitoringPolicy(elimination_income_quarters=4)
    assert _unmet(_facts(), strict) == [("income[2025Q3]", "elimination_income_incomplete")]
    assert _unmet(_facts(income_records=_year(2024) + INCOME), strict) == []


def test_income_q1_only_is_incomplete_not_below():
    """Only 2026Q1 recorded, decided in July: no year of income, so unknown — never "below"."""
    facts = _facts(income_records=_year(2026, "100", quarters=(1,)))
    errors = unmet_conditions(facts, POLICY)
    assert [(e.field, e.code, e.params["quarters"]) for e in errors] == [
        ("income[2026Q2]", "elimination_income_incomplete", 1),
        ("income[2026Q1]", "elimination_income_incomplete", 1),
    ]
    assert errors[1].params["window"] == "2025Q2–2026Q1"


def test_income_q1_to_q3_alone_is_incomplete():
    """Decided in October 2026 with only 2026Q1–Q3: the windows lack 2025's quarters."""
    facts = _facts(decided_on=date(2026, 10, 8), income_records=_year(2026, "9000", quarters=(1, 2, 3)))
    assert [(e.field, e.params["quarters"]) for e in unmet_conditions(facts, POLICY)] == [
        ("income[2026Q3]", 3),
        ("income[2026Q2]", 2),
    ]
    # With 2025 recorded the same quarters make complete windows.
    assert (
        unmet_conditions(
            _facts(decided_on=date(2026, 10, 8), income_records=_year(2025) + _year(2026, quarters=(1, 2, 3))), POLICY
        )
        == []
    )


def test_income_gap_is_incomplete():
    """2025Q4 never collected: both windows (2025Q3–2026Q2, 2025Q2–2026Q1) span the gap."""
    facts = _facts(income_records=_year(2025, quarters=(1, 2, 3)) + _year(2026, quarters=(1, 2)))
    assert _unmet(facts) == [
        ("income[2026Q2]", "elimination_income_incomplete"),
        ("income[2026Q1]", "elimination_income_incomplete"),
    ]
    # The last quarter missing: the window ending with it is incomplete, even though the
    # four quarters before make a year.
    facts = _facts(income_records=_year(2025) + _year(2026, quarters=(1,)))
    assert _unmet(facts) == [("income[2026Q2]", "elimination_income_incomplete")]


def test_income_across_the_year_boundary_against_the_decisions_line():
    """Decided in January 2026: the windows are 2025 (Q1–Q4) and 2024Q4–2025Q3, both judged
    against the 2026 line (the year of the decision)."""
    records = _year(2024, "4000", quarters=(4,)) + _year(2025, "4000")  # 4000 × 4 / 2 = 8000 a person
    facts = _facts(
        decided_on=date(2026, 1, 25),
        identified_on=date(2025, 6, 1),
        income_records=records,
        lines={2025: Decimal("7000"), 2026: Decimal("8000")},
    )
    assert unmet_conditions(facts, POLICY) == []
    errors = unmet_conditions(
        _facts(
            decided_on=date(2026, 1, 25),
            identified_on=date(2025, 6, 1),
            income_records=records,
            lines={2026: Decimal("8000.01")},
        ),
        POLICY,
    )
    assert [(e.field, e.code) for e in errors] == [
        ("income[2025Q4]", "elimination_income_below_line"),
        ("income[2025Q3]", "elimination_income_below_line"),
    ]
    assert errors[0].params == {"window": "2025Q1–2025Q4", "per_capita_net": "8000.00", "line": "8000.01", "year": 2026}
    assert errors[1].params["window"] == "2024Q4–2025Q3"


def test_stability_the_earlier_window_below():
    """The latest year is above the line, the one a quarter earlier is not: not yet stable."""
    records = (
        _year(2025, "2000", quarters=(2,))
        + _year(2025, quarters=(3, 4))
        + _year(2026, quarters=(1, 2))
        + _year(2025, "2000", quarters=(1,))
    )
    # window to 2026Q2: 2025Q3–2026Q2 = 24000 / 2 = 12000 ≥ 8000; window to 2026Q1: 2025Q2–2026Q1 =
    # 2000 + 18000 = 20000 / 2 = 10000 ≥ 8000 — both fine; lower the line to make the second fail.
    assert unmet_conditions(_facts(income_records=records), POLICY) == []
    assert _unmet(_facts(income_records=records, lines={2026: Decimal("11000")})) == [
        ("income[2026Q1]", "elimination_income_below_line")
    ]


def test_income_windows():
    assert income_windows(date(2026, 1, 5), 3) == [
        quarter_index(2025, 4),
        quarter_index(2025, 3),
        quarter_index(2025, 2),
    ]
    assert income_windows(date(2026, 3, 31), 0) == []


# --------------------------------------------------------------- state machine


def test_every_open_status_has_a_way_forward_and_final_ones_none():
    for status in CaseStatus:
        actions = [a["action"] for a in allowed(status)]
        assert (actions == []) == (status in FINAL), status
        if status not in FINAL:
            assert "terminate" in actions


def test_rejections_close_identification_and_return_elimination_to_assistance():
    assert step_for(CaseStatus.township_review, "township_review").outcomes[Decision.reject] == CaseStatus.rejected
    assert (
        step_for(CaseStatus.elimination_township_review, "township_review").outcomes[Decision.reject]
        == CaseStatus.assisting
    )
    assert step_for(CaseStatus.assisting, "county_decision") is None
    reachable = {CaseStatus.verification}
    for _ in range(len(CaseStatus)):
        for status in list(reachable):
            for step in STEPS.get(status, ()):
                reachable |= set(step.outcomes.values())
    assert reachable == set(CaseStatus) - {CaseStatus.terminated}
