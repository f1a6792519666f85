"""China time. Deadlines and "today" are always Asia/Shanghai, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def clock() -> datetime:
    """The current moment in China: the one place ``now`` and ``today`` read the time from.
    They are imported by name all over the code, so a test that must play fixed days moves
    this instead (``today_is`` in tests/conftest.py)."""
    return datetime.now(CHINA)


def now() -> datetime:
    return clock()


def today() -> date:
    return clock().date()


def current_quarter(on: date | None = None) -> tuple[int, int]:
    d = on or today()
    return d.year, (d.month - 1) // 3 + 1
