"""The ledgers' pure rules: deadlines on the official calendar, overdue, the report's
month and cut-off, two hands for a closure."""

from datetime import date

import pytest

from services.core.errors import Forbidden, Unprocessable
from services.core.ledgers import clearing, rectification
from services.core.ledgers.enums import EntryStatus, RectificationStatus
from services.core.monitoring.context import PolicyContext
from services.core.policy.overrides import PolicyOverride
from services.core.workdays import WorkCalendar


def _ctx(**values) -> PolicyContext:
    rows = [PolicyOverride(region_prefix="529901", year=2026, values=values)] if values else []
    return PolicyContext(WorkCalendar(), rows)


def test_clearing_deadline_skips_national_day_and_counts_the_adjusted_saturday():
    # 1–7 October 2026 are holidays, Saturday 10 October a working day.
    assert clearing.clearing_deadline(_ctx(), "529901001001", date(2026, 9, 30)) == (date(2026, 11, 3), False)
    assert clearing.clearing_deadline(_ctx(clearing_days=5), "529901001001", date(2026, 9, 30)) == (
        date(2026, 10, 13),
        False,
    )
    # Calendar days when the region says so; another county keeps the default.
    ctx = _ctx(clearing_days=30, clearing_unit="calendar")
    assert clearing.clearing_deadline(ctx, "529901001001", date(2026, 9, 30))[0] == date(2026, 10, 30)
    assert clearing.clearing_deadline(ctx, "529902001001", date(2026, 9, 30))[0] == date(2026, 11, 3)


def test_a_year_without_an_official_schedule_is_provisional():
    far = date(2099, 12, 20)
    assert clearing.clearing_deadline(_ctx(), "529901001001", far)[1] is True


def test_rectification_deadline_and_department():
    assert rectification.rectification_deadline(_ctx(), "529901001000", date(2026, 9, 28)) == (
        date(2026, 11, 13),
        False,
    )
    from services.core.guarantees.models import Item

    assert clearing.department_of(_ctx(), "529901001001", 2026, Item.housing) == "县住房和城乡建设局"
    ctx = _ctx(clearing_departments={"housing": "镇村建办"})
    assert clearing.department_of(ctx, "529901001001", 2026, Item.housing) == "镇村建办"


def test_overdue_is_after_the_deadline_day():
    day = date(2026, 11, 3)
    assert not clearing.is_overdue(EntryStatus.open, day, day)
    assert clearing.is_overdue(EntryStatus.open, day, date(2026, 11, 4))
    assert not clearing.is_overdue(EntryStatus.cleared, day, date(2026, 12, 1))
    assert rectification.is_overdue(RectificationStatus.closure_requested, day, date(2026, 11, 4))
    assert not rectification.is_overdue(RectificationStatus.closed, day, date(2026, 11, 4))


def test_month_bounds():
    today = date(2026, 12, 6)
    assert clearing.month_bounds("2026-09", None, today) == (date(2026, 9, 1), date(2026, 9, 30))
    assert clearing.month_bounds("2026-12", None, today) == (date(2026, 12, 1), today)
    assert clearing.month_bounds("2026-09", date(2026, 9, 15), today) == (date(2026, 9, 1), date(2026, 9, 15))
    with pytest.raises(Unprocessable):
        clearing.month_bounds("2027-01", None, today)
    with pytest.raises(Unprocessable):
        clearing.month_bounds("2026-09", date(2026, 8, 31), today)


def test_two_hands():
    rectification.check_not_own(1, 2)
    rectification.check_not_own(None, 2)  # requested by the system
    with pytest.raises(Forbidden):
        rectification.check_not_own(7, 7)
