"""China's clock, and the seam the tests move it by (``today_is``, tests/conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.core import idnumber, timeutil
from services.core.idnumber import InvalidIdNumber, check_character, normalise
from services.core.income.service import current_quarter  # imported there by name
from services.core.timeutil import CHINA, now, today


def _born_on(day: date) -> str:
    first17 = f"529901{day:%Y%m%d}001"
    return first17 + check_character(first17)


def test_the_clock_is_chinas():
    assert now().tzinfo is CHINA and today() == now().date()


def test_today_is_moves_every_reader_of_the_clock(today_is):
    machine = timeutil.clock()
    today_is(date(2026, 7, 1))
    assert today() == now().date() == date(2026, 7, 1) and now().tzinfo is CHINA
    assert current_quarter() == (2026, 3)
    # Only the day moves: the time of day runs on as the machine's.
    assert timedelta(0) <= (now() - machine) % timedelta(days=1) < timedelta(minutes=5)
    # The ID numbers' check of a birth date after today, whose day is kept for a minute.
    assert normalise(_born_on(date(2026, 7, 1))).birth_date == date(2026, 7, 1)
    with pytest.raises(InvalidIdNumber):
        normalise(_born_on(date(2026, 7, 2)))
    today_is(date(2025, 12, 31))  # moved again, from the moved day
    assert today() == date(2025, 12, 31) and idnumber._today() == date(2025, 12, 31)
    with pytest.raises(InvalidIdNumber):
        normalise(_born_on(date(2026, 7, 1)))
