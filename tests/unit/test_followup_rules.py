"""The follow-up rules on China's official calendar: scheduled visits due by their month's
last working day, the quarterly income entry deadline, zones of a region, income flags."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.core.followup.rules import (
    IncomeFlag,
    income_deadline,
    income_flags,
    latest_period,
    visit_due,
)
from services.core.followup.service import zones
from services.core.income.rolling import quarter_index, rolling
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import DayUnit, WorkCalendar

CAL = WorkCalendar()
DEFAULT = MonitoringPolicy()


def test_the_seeds_months_are_the_default_policy():
    assert DEFAULT.followup_visit_months == [3, 8, 11]
    assert DEFAULT.income_watch_per_capita == Decimal("10000.00")


def test_visit_due_on_the_months_last_working_day():
    assert visit_due(2026, 3, CAL) == (date(2026, 3, 31), False)  # a Tuesday
    assert visit_due(2025, 8, CAL) == (date(2025, 8, 29), False)  # 30, 31 August are a weekend
    # Saturday 28 February 2026 is worked (Spring Festival adjustment): the visit is due that day.
    assert visit_due(2026, 2, CAL) == (date(2026, 2, 28), False)
    # Saturday 29 December 2018 was worked (New Year adjustment).
    assert visit_due(2018, 12, CAL) == (date(2018, 12, 29), False)
    # 29 and 30 September 2023 were the Mid-Autumn / National Day holiday: due Thursday the 28th.
    assert visit_due(2023, 9, CAL) == (date(2023, 9, 28), False)


def test_a_year_without_a_known_schedule_is_provisional():
    due, provisional = visit_due(2099, 11, CAL)
    assert due == date(2099, 11, 30) and provisional


def test_latest_period_looks_back_across_the_year():
    period = latest_period(lambda year: DEFAULT, date(2026, 2, 10), CAL)
    assert period is not None and (period.month, period.due) == (date(2025, 11, 1), date(2025, 11, 28))
    period = latest_period(lambda year: DEFAULT, date(2026, 4, 1), CAL)
    assert period is not None and period.due == date(2026, 3, 31)
    # On the due day itself the visit is not late yet.
    period = latest_period(lambda year: DEFAULT, date(2026, 3, 31), CAL)
    assert period is not None and period.month == date(2025, 11, 1)
    assert period.eliminated_since == date(2024, 11, 1)  # 12 months before the visit's month


def test_income_deadline_across_national_day_and_an_adjusted_saturday():
    # 2025: 1–8 October off, Saturday 11 October worked. Ten working days after 30 September:
    # 9, 10, 11 (Sat), 13, 14, 15, 16, 17, 20, 21.
    assert income_deadline(2025, 3, DEFAULT, CAL) == (date(2025, 10, 21), False)
    # 2023: 29 September – 6 October off, Saturday 7 and Sunday 8 October worked.
    assert income_deadline(2023, 3, DEFAULT, CAL) == (date(2023, 10, 18), False)


def test_income_deadline_across_spring_festival():
    # Q4 2024 with 20 working days: Sunday 26 January 2025 worked, 28 January – 4 February off.
    policy = MonitoringPolicy(income_entry_days=20)
    assert income_deadline(2024, 4, policy, CAL) == (date(2025, 2, 5), False)
    calendar_days = MonitoringPolicy(income_entry_days=20, income_entry_unit=DayUnit.calendar)
    assert income_deadline(2024, 4, calendar_days, CAL) == (date(2025, 1, 20), False)


def test_zones_split_a_region_by_its_own_overrides():
    found = zones("529901", ["", "52", "529901001", "529901001002", "529902"])
    assert [(z.prefix, z.excluded) for z in found] == [
        ("529901", ("529901001", "529901001002")),
        ("529901001", ("529901001002",)),
        ("529901001002", ()),
    ]
    assert [z.prefix for z in zones("529901001001", ["529901"])] == ["529901001001"]


def _year(net: str, first: int, members: int = 2):
    return [(*divmod(first + i, 4), Decimal(net), members) for i in range(4)]


def _rolling(records, year, quarter):
    fixed = [(y, q + 1, n, m) for y, q, n, m in records]
    return rolling(fixed, quarter_index(year, quarter))


def test_income_flags():
    watch = Decimal("10000")
    low = _year("4000", quarter_index(2025, 1))  # 16,000 / 2 = 8,000 per capita
    high_before = _year("12000", quarter_index(2024, 1))  # 24,000 per capita
    high_now = _year("11000", quarter_index(2025, 1))  # 22,000 per capita
    assert income_flags(_rolling(low, 2025, 4), None, watch) == [IncomeFlag.below_watch_line]
    assert income_flags(_rolling(high_before + high_now, 2025, 4), _rolling(high_before, 2024, 4), watch) == [
        IncomeFlag.fell
    ]
    # An incomplete year is unknown, never low.
    assert income_flags(_rolling(low[:3], 2025, 3), None, watch) == []
    assert income_flags(None, None, watch) == []
