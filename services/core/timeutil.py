"""China time. Deadlines and "today" are always Asia/Shanghai, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(CHINA)


def today() -> date:
    return now().date()


def current_quarter(on: date | None = None) -> tuple[int, int]:
    d = on or today()
    return d.year, (d.month - 1) // 3 + 1
