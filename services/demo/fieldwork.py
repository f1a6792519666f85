"""The demo county's field work: the roster (two information officers for the county and
each township, one per village, a grid worker per village, village-based teams in every
fourth village), last month's attendance of those teams, and a county screening campaign
(大走访、大排查) running today, with a team of two per village and about half of the
households visited — so that the shortfall lists, the progress per village and the
households not yet visited have something true to show.

Deterministic for a seed and a day; written after the registry (visits name its households).
A few regions are left short of officers on purpose, and some team members below the month's
days, so the lists are not empty."""

from __future__ import annotations

import random
from datetime import date, timedelta

import asyncpg

from services.core.fieldwork.enums import Check, RosterRole
from services.core.fieldwork.rules import last_month, month_end
from services.demo.setaside import put_back, set_aside

TABLES = ("field_campaign_visits", "field_campaign_teams", "field_campaigns", "resident_attendance", "field_roster")
_GIVEN = "国华建明军平志伟强勇福荣顺德永兴春光正红兰梅玲燕萍琴凤芳娟敏静艳"
_SURNAMES = "王李张刘陈杨黄赵吴周罗潘石龙田韦"
_FINDINGS = {
    Check.housing: "房屋墙体开裂，需住建部门鉴定",
    Check.water: "旱季水量不足",
    Check.medical: "家庭成员未参加基本医疗保险",
    Check.income: "家中主要劳动力外出务工中断，收入明显下降",
    Check.education: "义务教育阶段子女近期未到校",
}


VISIT_COLUMNS = (
    "id",
    "campaign_id",
    "household_id",
    "region_code",
    "team_id",
    "visited_at",
    "visited_on",
    "checks",
    "problems",
    "photos",
    "findings",
    "version",
)


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(1 + (rng.random() < 0.7)))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


async def load_fieldwork(conn: asyncpg.Connection, county: str, today: date, seed: int = 2026) -> dict[str, int]:
    """Replace the field work tables with the demo county's roster, attendance and campaign."""
    rng = random.Random(f"{seed}/fieldwork")
    regions = await conn.fetch(
        "SELECT code, level FROM regions WHERE code LIKE $1 AND level >= 3 ORDER BY code", f"{county}%"
    )
    households: dict[str, list[int]] = {}
    for row in await conn.fetch(
        "SELECT id, region_code FROM households WHERE status = 'active' AND region_code LIKE $1 ORDER BY id",
        f"{county}%",
    ):
        households.setdefault(row["region_code"], []).append(row["id"])
    start_of_service = date(today.year - 1, 1, 1)
    roster: list[tuple] = []  # (id, region_code, name, phone, role, active_from)
    officers: dict[str, list[int]] = {}
    grid: dict[str, int] = {}
    residents: list[tuple[int, str]] = []

    def add(code: str, role: RosterRole) -> int:
        member_id = len(roster) + 1
        roster.append((member_id, code, _name(rng), _phone(rng), role.value, start_of_service, 1))
        return member_id

    villages = [r["code"] for r in regions if r["level"] == 5]
    for n, region in enumerate(regions):
        code, level = region["code"], region["level"]
        # Every seventh region is one officer short (the shortfall list has something to show).
        wanted = (2 if level < 5 else 1) - (n % 7 == 3)
        officers[code] = [add(code, RosterRole.information_officer) for _ in range(wanted)]
        if level == 5:
            grid[code] = add(code, RosterRole.grid_worker)
            if n % 4 == 0:
                residents += [(add(code, RosterRole.resident_team), code) for _ in range(2)]

    month = last_month(today)
    days_in_month = month_end(month).day
    attendance = [
        (k + 1, member_id, code, month, rng.randint(days_in_month // 2, days_in_month - 3), 1)
        for k, (member_id, code) in enumerate(residents)
    ]

    starts_on = today - timedelta(days=20)
    campaign = (
        1,
        county,
        f"{today.year}年大走访大排查",
        starts_on,
        today + timedelta(days=40),
        [c.value for c in Check],
        1,
    )
    teams: list[tuple] = []
    # The visits as COPY text (their values hold no tab, newline, backslash or array
    # delimiter): asyncpg's binary encoding of three arrays a row took longer than making them.
    visits: list[str] = []
    checks = "{" + ",".join(c.value for c in Check) + "}"  # every visit made every check
    for k, code in enumerate(villages):
        members = sorted({*officers[code][:1], grid[code]})
        team_id = None
        if len(members) == 2:  # 两人一组
            team_id = len(teams) + 1
            teams.append((team_id, 1, code, members))
        team = r"\N" if team_id is None else str(team_id)
        share = (0.9, 0.6, 0.3, 0.0)[k % 4]  # villages at different stages of the campaign
        for household_id in households.get(code, []):
            if rng.random() >= share:
                continue
            day = starts_on + timedelta(days=rng.randrange((today - starts_on).days))
            hour = 8 + rng.randrange(10)
            minute = rng.randrange(60)
            problems = [c for c in _FINDINGS if rng.random() < 0.01]
            if problems:
                found = "{" + ",".join(c.value for c in problems) + "}"
                photos = f"{{demo/visits/{household_id}-1.jpg}}"
                findings = "；".join(_FINDINGS[c] for c in problems)
            else:
                found = photos = "{}"
                findings = r"\N"
            visits.append(
                f"{len(visits) + 1}\t1\t{household_id}\t{code}\t{team}\t{day} {hour:02d}:{minute:02d}:00+08\t"  # China time
                f"{day}\t{checks}\t{found}\t{photos}\t{findings}\t1\n"
            )

    async with conn.transaction():
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
        # The visits' foreign keys checked, and their indexes built, once over the table.
        aside = await set_aside(conn, TABLES)
        await conn.copy_records_to_table(
            "field_roster",
            records=roster,
            columns=("id", "region_code", "name", "phone", "role", "active_from", "version"),
        )
        await conn.copy_records_to_table(
            "resident_attendance",
            records=attendance,
            columns=("id", "member_id", "region_code", "month", "days", "version"),
        )
        await conn.copy_records_to_table(
            "field_campaigns",
            records=[campaign],
            columns=("id", "region_prefix", "name", "starts_on", "ends_on", "checks", "version"),
        )
        await conn.copy_records_to_table(
            "field_campaign_teams", records=teams, columns=("id", "campaign_id", "region_code", "member_ids")
        )
        await conn.copy_to_table(
            "field_campaign_visits",
            source=memoryview("".join(visits).encode()),  # type: ignore[arg-type]  # any buffer (see demo.loader)
            columns=VISIT_COLUMNS,
            format="text",
        )
        await put_back(conn, aside)
        for table in TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
    await conn.execute(f"ANALYZE {', '.join(TABLES)}")
    return {
        "field_roster": len(roster),
        "resident_attendance": len(attendance),
        "field_campaigns": 1,
        "field_campaign_teams": len(teams),
        "field_campaign_visits": len(visits),
    }
