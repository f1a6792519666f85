"""Entering a year's official holiday schedule (法定节假日安排, published by the State Council
each November or December) for a year the ``chinese-calendar`` package does not know yet,
and showing what the calendar holds for a year (``guardline calendar set|show``).

The file is CSV, ``date,workday,name`` (a header line is optional; ``#`` starts a comment):
``2027-02-06,false,春节`` for a holiday, ``2027-02-14,true,春节调休`` for an adjusted working
day on a weekend. Ordinary days need not be listed. Every line is checked before anything
is written: one bad line and nothing changes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import delete, extract, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.monitoring.models import CalendarDay, CalendarYear

_TRUE = {"true", "1", "yes", "y", "workday", "班", "上班", "是"}
_FALSE = {"false", "0", "no", "n", "holiday", "休", "休息", "否"}
NAME_MAX = 50


class YearStatus(StrEnum):
    official = "official"  # the chinese-calendar package carries the published schedule
    entered = "entered"  # an operator entered the published schedule (``calendar set``)
    provisional = "provisional"  # unknown: Monday to Friday assumed, deadlines marked provisional


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    workday: bool
    name: str | None


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str


def _workday(value: str) -> bool | None:
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_schedule(year: int, lines: Iterable[str]) -> tuple[list[ScheduleDay], list[BadLine]]:
    """The days of the file and every line that is wrong (with its number and why)."""
    days: list[ScheduleDay] = []
    bad: list[BadLine] = []
    seen: dict[date, int] = {}
    for number, fields in enumerate(csv.reader(lines), start=1):
        text = ",".join(fields)
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if number == 1 and fields[0].strip().lower() == "date":
            continue  # the header
        if len(fields) not in (2, 3):
            bad.append(BadLine(number, text, "expected date,workday,name"))
            continue
        try:
            day = date.fromisoformat(fields[0].strip())
        except ValueError:
            bad.append(BadLine(number, text, f"not a date (YYYY-MM-DD): {fields[0].strip()!r}"))
            continue
        if day.year != year:
            bad.append(BadLine(number, text, f"{day} is not in {year}"))
            continue
        workday = _workday(fields[1])
        if workday is None:
            bad.append(BadLine(number, text, f"workday must be true or false, not {fields[1].strip()!r}"))
            continue
        name = fields[2].strip() if len(fields) == 3 and fields[2].strip() else None
        if name is not None and len(name) > NAME_MAX:
            bad.append(BadLine(number, text, f"name longer than {NAME_MAX} characters"))
            continue
        if day in seen:
            bad.append(BadLine(number, text, f"{day} is already given on line {seen[day]}"))
            continue
        seen[day] = number
        days.append(ScheduleDay(day, workday, name))
    if not days and not bad:
        bad.append(BadLine(0, "", "the file lists no day"))
    return days, bad


def ordinary(day: date, workday: bool) -> bool:
    """Monday to Friday worked, weekends off: nothing to tell."""
    return workday == (day.weekday() < 5)


def official_status(year: int) -> bool:
    """Whether the chinese-calendar package knows ``year``."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


async def enter_schedule(session: AsyncSession, year: int, days: list[ScheduleDay], source: str) -> None:
    """Replace the year's entered days and record the year as entered (flushes only)."""
    await session.execute(delete(CalendarDay).where(extract("year", CalendarDay.day) == year))
    if days:
        await session.execute(insert(CalendarDay), [{"day": d.day, "workday": d.workday, "name": d.name} for d in days])
    await session.execute(
        insert(CalendarYear)
        .values(year=year, source=source)
        .on_conflict_do_update(index_elements=[CalendarYear.year], set_={"source": source, "entered_at": func.now()})
    )
    await session.flush()


async def year_schedule(session: AsyncSession, year: int) -> tuple[YearStatus, list[ScheduleDay]]:
    """Whether ``year`` is official, entered or provisional, and its non-ordinary days
    (holidays on weekdays, working days on weekends) as the calendar will use them."""
    entered = (await session.execute(select(CalendarYear.year).where(CalendarYear.year == year))).first()
    rows = (
        (
            await session.execute(
                select(CalendarDay).where(extract("year", CalendarDay.day) == year).order_by(CalendarDay.day)
            )
        )
        .scalars()
        .all()
    )
    stored = {r.day: ScheduleDay(r.day, r.workday, r.name) for r in rows}
    if entered is not None:
        status = YearStatus.entered
        days = list(stored.values())
    elif official_status(year):
        import chinese_calendar

        status = YearStatus.official
        days = []
        day = date(year, 1, 1)
        while day.year == year:
            if day in stored:
                days.append(stored[day])
            else:
                workday = chinese_calendar.is_workday(day)
                _, name = chinese_calendar.get_holiday_detail(day)
                days.append(ScheduleDay(day, workday, name))
            day += timedelta(days=1)
    else:
        status = YearStatus.provisional
        days = list(stored.values())
    return status, [d for d in days if not ordinary(d.day, d.workday)]
