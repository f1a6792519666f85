"""The township reports' pure rules: periods, and when the schedule finds a report due."""

from __future__ import annotations

from datetime import date

import pytest

from services.core.errors import Unprocessable
from services.core.monitoring.context import PolicyContext
from services.core.policy.overrides import PolicyOverride
from services.core.reports.service import month_period, monthly_due, quarter_period, quarterly_due
from services.core.workdays import WorkCalendar

T1 = "529901001000"


def _ctx(*overrides: PolicyOverride) -> PolicyContext:
    return PolicyContext(WorkCalendar(), list(overrides))


def test_periods_cut_at_today_and_refuse_what_has_not_begun():
    assert month_period("2026-10", None, date(2026, 12, 6)) == (date(2026, 10, 1), date(2026, 10, 31))
    assert month_period("2026-12", None, date(2026, 12, 6)) == (date(2026, 12, 1), date(2026, 12, 6))
    assert month_period("2026-10", date(2026, 10, 15), date(2026, 12, 6))[1] == date(2026, 10, 15)
    with pytest.raises(Unprocessable) as raised:
        month_period("2027-01", None, date(2026, 12, 6))
    assert raised.value.code == "month_not_begun"
    assert quarter_period("2026-Q3", None, date(2026, 12, 6)) == (date(2026, 7, 1), date(2026, 9, 30), 2026, 3)
    with pytest.raises(Unprocessable) as raised:
        quarter_period("2026-Q5", None, date(2026, 12, 6))
    assert raised.value.code == "report_period_malformed"


def test_the_month_falls_due_on_the_policy_day():
    assert monthly_due(_ctx(), T1, date(2026, 11, 19)) is None
    assert monthly_due(_ctx(), T1, date(2026, 11, 20)) == date(2026, 10, 1)
    assert monthly_due(_ctx(), T1, date(2027, 1, 25)) == date(2026, 12, 1)
    # A county whose villages report by the 22nd (seed 000) sets its own day.
    own = _ctx(PolicyOverride(region_prefix="529901", year=2026, values={"monthly_report_day": 22}))
    assert monthly_due(own, T1, date(2026, 11, 21)) is None
    assert monthly_due(own, T1, date(2026, 11, 22)) == date(2026, 10, 1)


def test_the_quarter_falls_due_after_its_income_deadline_across_national_day():
    # 10 working days after 30 September 2026: 1–7 October are the holiday, Saturday
    # 10 October a working day, so the deadline is 20 October; due from the 21st.
    assert quarterly_due(_ctx(), T1, date(2026, 10, 20)) is None
    assert quarterly_due(_ctx(), T1, date(2026, 10, 21)) == (2026, 3)
    assert quarterly_due(_ctx(), T1, date(2027, 1, 25)) == (2026, 4)
