"""Reading a year's official schedule from CSV: every bad line is found, with its number."""

from __future__ import annotations

from datetime import date

from services.core.monitoring.schedule import ScheduleDay, ordinary, parse_schedule

GOOD = """date,workday,name
# 2027 (as the State Council might publish it)
2027-01-01,false,元旦
2027-02-06,休,春节
2027-02-07,TRUE,春节调休

2027-10-01,0,国庆节
2027-10-09,1
"""


def test_a_good_file():
    days, bad = parse_schedule(2027, GOOD.splitlines())
    assert bad == []
    assert days == [
        ScheduleDay(date(2027, 1, 1), False, "元旦"),
        ScheduleDay(date(2027, 2, 6), False, "春节"),
        ScheduleDay(date(2027, 2, 7), True, "春节调休"),
        ScheduleDay(date(2027, 10, 1), False, "国庆节"),
        ScheduleDay(date(2027, 10, 9), True, None),
    ]


def test_every_bad_line_is_reported_with_its_number():
    text = "\n".join(
        [
            "2027-01-01,false,元旦",  # 1 fine
            "2027-13-01,false,x",  # 2 not a date
            "2026-12-31,false,x",  # 3 another year
            "2027-02-06,maybe,春节",  # 4 workday unknown
            "2027-02-07",  # 5 too few fields
            "2027-02-08,true,a,b",  # 6 too many
            "2027-01-01,true,again",  # 7 duplicate of line 1
            "2027-03-01,false," + "长" * 51,  # 8 name too long
        ]
    )
    _days, bad = parse_schedule(2027, text.splitlines())
    assert [(b.line, b.reason.split(" ")[0]) for b in bad] == [
        (2, "not"),
        (3, "2026-12-31"),
        (4, "workday"),
        (5, "expected"),
        (6, "expected"),
        (7, "2027-01-01"),
        (8, "name"),
    ]
    assert "line 1" in bad[5].reason


def test_an_empty_file_is_refused():
    days, bad = parse_schedule(2027, ["date,workday,name", "# nothing yet"])
    assert days == [] and len(bad) == 1 and bad[0].reason == "the file lists no day"


def test_ordinary_days():
    assert ordinary(date(2027, 1, 4), True) and ordinary(date(2027, 1, 2), False)
    assert not ordinary(date(2027, 1, 1), False) and not ordinary(date(2027, 2, 7), True)
