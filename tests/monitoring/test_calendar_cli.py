"""``guardline calendar set|show`` as an operator runs them: a year the chinese-calendar
package does not know (2027 here) entered from the State Council's schedule, on a database
where the rows are really committed (a scratch database, dropped afterwards)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.households.models import Household
from services.core.monitoring.models import MonitoringPolicyRow, RiskClue
from services.core.regions.models import Region
from services.core.regions.rules import level_of, parent_of
from services.core.scope import UNRESTRICTED, bind_scope
from tests.cli import committed_engine, needs_embedded_server, run_guardline

SCRATCH = "guardline_calendar_cli"
VILLAGE = "529901001001"

pytestmark = needs_embedded_server

# A schedule for 2027 as the State Council might publish it (the real one is not known here).
SCHEDULE_2027 = """date,workday,name
2027-01-01,false,元旦
2027-02-06,true,春节调休
2027-02-08,false,春节
2027-02-09,false,春节
2027-02-10,false,春节
2027-02-11,false,春节
2027-02-12,false,春节
2027-02-20,true,春节调休
"""


@pytest.fixture
async def committed(engine, settings):
    async with committed_engine(engine, settings, SCRATCH) as eng:
        yield eng


def guardline(settings, *args: str, **env: str):
    return run_guardline(settings, SCRATCH, *args, **env)


async def _seed_open_clue(eng) -> int:
    """A county whose identification deadline counts working days, and an open clue of
    1 February 2027 whose deadline was computed over the provisional calendar."""
    async with AsyncSession(eng, expire_on_commit=False) as session:
        bind_scope(session, UNRESTRICTED)
        for code in ("520000000000", "529900000000", "529901000000", "529901001000", VILLAGE):
            session.add(Region(code=code, name=code, level=int(level_of(code)), parent_code=parent_of(code)))
            await session.flush()
        household = Household(household_no="H-1", region_code=VILLAGE, category="lifted_out", member_count=1)
        session.add_all(
            [
                household,
                MonitoringPolicyRow(region_prefix="529901", year=2027, values={"identification_unit": "working"}),
            ]
        )
        await session.flush()
        clue = RiskClue(
            household_id=household.id,
            region_code=VILLAGE,
            risk_types=["illness"],
            channels=["visit"],
            status="open",
            first_reported_on=date(2027, 2, 1),
            report_count=1,
            deadline_breaches=[],
            next_deadline=date(2027, 2, 22),
            next_deadline_kind="identification",
            deadline_provisional=True,
        )
        session.add(clue)
        await session.commit()
        return clue.id


async def test_enter_and_show_a_year(committed, settings, tmp_path):
    clue_id = await _seed_open_clue(committed)
    before = await asyncio.to_thread(guardline, settings, "calendar", "show", "2027")
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("2027: provisional")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        SCHEDULE_2027 + "2027-02-30,false,春节\n2028-01-01,false,元旦\n2027-03-01,perhaps\n", encoding="utf-8"
    )
    refused = await asyncio.to_thread(guardline, settings, "calendar", "set", "2027", str(bad))
    assert refused.returncode == 1
    assert "3 bad line(s); nothing was written" in refused.stderr
    assert "line 10:" in refused.stderr and "line 11:" in refused.stderr and "line 12:" in refused.stderr
    async with committed.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM calendar_days"))).scalar_one() == 0
        assert (await conn.execute(text("SELECT count(*) FROM calendar_years"))).scalar_one() == 0

    good = tmp_path / "2027.csv"
    good.write_text(SCHEDULE_2027, encoding="utf-8")
    entered = await asyncio.to_thread(guardline, settings, "calendar", "set", "2027", str(good))
    assert entered.returncode == 0, entered.stderr
    assert "2027: 8 days entered (6 days off, 2 working days)" in entered.stdout
    assert "1 stored deadlines recomputed" in entered.stdout
    async with AsyncSession(committed) as session:
        bind_scope(session, UNRESTRICTED)
        clue = (await session.execute(select(RiskClue).where(RiskClue.id == clue_id))).scalar_one()
        # 15 working days from Monday 1 February: the week of Spring Festival off, Saturdays
        # 6 and 20 February worked.
        assert (clue.next_deadline, clue.deadline_provisional) == (date(2027, 2, 25), False)

    shown = await asyncio.to_thread(guardline, settings, "calendar", "show", "2027")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("2027: entered")
    assert "  2027-02-06 Sat  working day  春节调休" in lines
    assert "  2027-02-08 Mon  day off      春节" in lines
    assert len(lines) == 1 + 8  # every entered day is a non-ordinary one

    # Entering the year again replaces it.
    shorter = tmp_path / "2027b.csv"
    shorter.write_text("2027-01-01,false,元旦\n", encoding="utf-8")
    again = await asyncio.to_thread(guardline, settings, "calendar", "set", "2027", str(shorter))
    assert again.returncode == 0, again.stderr
    async with committed.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM calendar_days"))).scalar_one() == 1


async def test_show_an_official_year(committed, settings):
    shown = await asyncio.to_thread(guardline, settings, "calendar", "show", "2026")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("2026: official")
    assert "  2026-02-14 Sat  working day  Spring Festival" in lines
    assert "  2026-02-17 Tue  day off      Spring Festival" in lines
    assert "  2026-01-01 Thu  day off      New Year's Day" in lines


async def test_bad_arguments(committed, settings, tmp_path):
    missing = await asyncio.to_thread(guardline, settings, "calendar", "set", "2027", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    odd = await asyncio.to_thread(guardline, settings, "calendar", "set", "1899", str(tmp_path / "none.csv"))
    assert odd.returncode == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("date,workday,name\n", encoding="utf-8")
    nothing = await asyncio.to_thread(guardline, settings, "calendar", "set", "2027", str(empty))
    assert nothing.returncode == 1 and "the file lists no day" in nothing.stderr
