"""Field work's rules as plain functions (docs/field-work.md)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from services.core.fieldwork.enums import OfficerLevel
from services.core.policy.monitoring import MonitoringPolicy
from services.core.regions.rules import Level

OFFICER_LEVELS = {
    Level.county: OfficerLevel.county,
    Level.township: OfficerLevel.township,
    Level.village: OfficerLevel.village,
}


def month_start(text: str) -> date:
    """The first day of a ``YYYY-MM`` month."""
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_text(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def last_month(day: date) -> date:
    """The first day of the month before ``day``'s (the last complete month)."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def required_days(policy: MonitoringPolicy, first: date) -> int:
    """Days a village-based team member must spend in the village in the month of ``first``:
    the policy's share of the month's calendar days, rounded up (每月三分之二以上时间 [004 §6]:
    20 of 30 days, 21 of 31, 19 of 28)."""
    numerator, denominator = (int(part) for part in policy.resident_share_of_month.split("/"))
    days = calendar.monthrange(first.year, first.month)[1]
    return -(-days * numerator // denominator)


def officers_required(policy: MonitoringPolicy, level: Level) -> int | None:
    """Information officers a region of ``level`` needs (区级2名、镇街2名、村社1名 [004 §17]); None
    above the county."""
    officer_level = OFFICER_LEVELS.get(level)
    return None if officer_level is None else policy.officers_required.get(officer_level, 0)


def serving(active_from: date, active_until: date | None, first: date, last: date) -> bool:
    """A member serves some day of [first, last]."""
    return active_from <= last and (active_until is None or active_until >= first)


def mask_phone(phone: str | None) -> str | None:
    """``138****5678``: the first three and last four digits."""
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) > 7 else "****"


def narrowest(*prefixes: str) -> str | None:
    """The longest of nested region prefixes, or None when two of them are disjoint."""
    longest = max(prefixes, key=len)
    return longest if all(longest.startswith(p) for p in prefixes) else None


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0
