"""China's working-day calendar (法定节假日 and 调休 adjusted workdays).

The ``chinese-calendar`` package carries the State Council's published schedule up to the
last year it knows. A year it does not know yet (the schedule is published each November
or December) can be entered by an operator (``guardline calendar set``, table
``calendar_days``); until then, Monday to Friday count as working days and every deadline
computed over such a day is marked *provisional*, so nobody mistakes a guess for the law.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from services.core.labels import LabelledEnum


class DayUnit(LabelledEnum):
    """How a deadline counts days 天数计算方式."""

    calendar = "calendar", "自然日"
    working = "working", "工作日"


@lru_cache(maxsize=8192)
def _official(day: date) -> bool | None:
    """True/False from the published schedule, None for a year it does not cover. Cached:
    the package scans its whole holiday table on every call (≈ 20 µs), and deadlines ask
    for the same few hundred days again and again."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


@dataclass
class WorkCalendar:
    """Working days, with the operator's entries (``overrides``: day -> is workday) taking
    precedence over the package, and weekdays as the provisional rule beyond both."""

    overrides: dict[date, bool] = field(default_factory=dict)
    # Years for which the operator entered the whole schedule (no longer provisional).
    entered_years: frozenset[int] = frozenset()

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        official = _official(day) if day.year not in self.entered_years else None
        if official is not None:
            return official
        return day.weekday() < 5

    def is_provisional(self, day: date) -> bool:
        """Whether ``day`` lies in a year whose official schedule is not known here."""
        return day.year not in self.entered_years and _official(day) is None

    def add(self, start: date, days: int, unit: DayUnit) -> tuple[date, bool]:
        """The date ``days`` days after ``start`` (working days counted from the next day),
        and whether the result rests on a provisional calendar."""
        if unit == DayUnit.calendar:
            return start + timedelta(days=days), False
        day, counted, provisional = start, 0, False
        while counted < days:
            day += timedelta(days=1)
            provisional = provisional or self.is_provisional(day)
            if self.is_workday(day):
                counted += 1
        return day, provisional


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_end(day: date) -> date:
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)
