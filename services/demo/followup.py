"""The demo county's follow-up (docs/follow-up.md): a responsible cadre (帮扶责任人) for every
formerly poor, monitored or eliminated household, a few reassignments in the history, and
the scheduled follow-up visits (定期走访) of the last twelve months — most made on time, some
missed, so the overdue list shows something true — and the latest quarter whose entry deadline
has passed is not yet entered for a few formerly poor and monitored households (their yearly
totals recomputed with core's ``income.rules.year_totals``), so the missing-income list has
something to show. The registry's income already lets the income flags show households under
the watch line or whose income fell (the generator's growth is below 1 for some).

Deterministic for a seed and a day (a hash of the household id, not a random stream).
Written after the registry, by plain SQL over it: a few statements, cheap at any size. The
months and due days are the policy's defaults read from core (``rules.visit_due``), on the
official calendar."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.core.events.triggers import trigger_names
from services.core.followup.rules import income_deadline, previous_quarter, visit_due
from services.core.income.rules import Figures, year_totals
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import WorkCalendar, add_months
from services.demo.setaside import put_back, set_aside

TABLES = ("household_cadres", "followup_visits")
MISSED_PER_MILLE = 120  # scheduled visits not made (shown on the overdue list)
REASSIGNED_PER_MILLE = 60  # households whose cadre changed once (a history of two rows)
NOT_ENTERED_PER_MILLE = 40  # formerly poor and monitored households whose latest due quarter is not entered

# One cadre per household: the open case's cadre when it has one, else one of the village's
# demo cadres, chosen by the household id. Those reassigned had another cadre before.
ASSIGN_SQL = """
WITH cadres AS (
    SELECT region_prefix AS village, array_agg(id ORDER BY id) AS ids
    FROM users WHERE role = 'assistance_cadre' AND username LIKE 'cadre.%' AND active
    GROUP BY region_prefix
), followed AS (
    SELECT h.id, h.region_code,
           (SELECT c.cadre_user_id FROM monitoring_cases c
             WHERE c.household_id = h.id AND c.cadre_user_id IS NOT NULL ORDER BY c.id DESC LIMIT 1) AS case_cadre
    FROM households h
    WHERE h.status = 'active' AND h.region_code LIKE $1
      AND (h.category IN ('lifted_out', 'monitored')
           OR EXISTS (SELECT 1 FROM monitoring_cases c WHERE c.household_id = h.id AND c.status = 'eliminated'))
)
INSERT INTO household_cadres (household_id, region_code, cadre_user_id, from_on, to_on, note)
SELECT f.id, f.region_code, coalesce(f.case_cadre, c.ids[1 + f.id % cardinality(c.ids)]),
       $2::date - (f.id % 400)::int, NULL, '包户联系'
FROM followed f JOIN cadres c ON c.village = f.region_code
"""
HISTORY_SQL = """
WITH cadres AS (
    SELECT region_prefix AS village, array_agg(id ORDER BY id) AS ids
    FROM users WHERE role = 'assistance_cadre' AND username LIKE 'cadre.%' AND active
    GROUP BY region_prefix
), earlier AS (
    SELECT a.household_id, a.region_code, a.cadre_user_id, a.from_on,
           c.ids[1 + (a.household_id + 1) % cardinality(c.ids)] AS cadre
    FROM household_cadres a JOIN cadres c ON c.village = a.region_code
    WHERE a.to_on IS NULL AND (a.household_id * 7919) % 1000 < $1
)
INSERT INTO household_cadres (household_id, region_code, cadre_user_id, from_on, to_on, note)
SELECT household_id, region_code, cadre, from_on - 365, from_on, '干部调整前'
FROM earlier WHERE cadre <> cadre_user_id
"""
# The visits of the scheduled months (first day, due day, the start of the months in which an
# elimination still counts, and a salt per month), by the current cadre, for the households
# followed then (formerly poor, or eliminated since that start), except the missed ones. One
# pass over the households and their cadres for all the months.
VISITS_SQL = """
WITH followed AS MATERIALIZED (
    SELECT h.id, h.region_code, h.category, a.cadre_user_id
    FROM households h
    JOIN household_cadres a ON a.household_id = h.id AND a.to_on IS NULL
    WHERE h.status = 'active' AND h.region_code LIKE $1 AND h.category <> 'monitored'
)
INSERT INTO followup_visits (id, household_id, region_code, cadre_user_id, visited_on, mode, findings, attachments)
SELECT gen_random_uuid(), f.id, f.region_code, f.cadre_user_id,
       least(m.first + (f.id % 25)::int, m.due), 'in_person', '入户走访，宣传政策，了解家庭收支和“三保障”情况', '[]'
FROM unnest($2::date[], $3::date[], $4::date[], $5::bigint[]) AS m(first, due, since, salt)
CROSS JOIN followed f
WHERE (f.id * 2654435761 + m.salt) % 1000 >= $6
  AND (f.category = 'lifted_out'
       OR EXISTS (SELECT 1 FROM monitoring_cases c WHERE c.household_id = f.id AND c.status = 'eliminated'
                  AND c.eliminated_on BETWEEN m.since AND m.due))
"""


def scheduled(today: date, cal: WorkCalendar, policy: MonitoringPolicy) -> list[tuple[date, date]]:
    """(first day, due day) of the scheduled visits of the twelve months before ``today``
    whose due day has passed, oldest first."""
    out = []
    for year in (today.year - 1, today.year):
        for month in policy.followup_visit_months:
            first = date(year, month, 1)
            due, _ = visit_due(year, month, cal)
            if add_months(today, -12) <= first and due < today:
                out.append((first, due))
    return out


NOT_ENTERED_SQL = """
DELETE FROM income_records r USING households h
WHERE r.household_id = h.id AND h.region_code LIKE $1 AND h.status = 'active'
  AND h.category IN ('lifted_out', 'monitored') AND r.year = $2 AND r.quarter = $3
  AND (h.id * 40503 + 17) % 1000 < $4
RETURNING r.household_id
"""
PARTS = ("wages", "business", "property", "transfers", "production_costs", "eligible_spending")


def last_due_quarter(today: date, cal: WorkCalendar, policy: MonitoringPolicy) -> tuple[int, int]:
    """The latest quarter whose income entry deadline is before ``today``."""
    year, quarter = previous_quarter(today.year, (today.month - 1) // 3 + 1)
    while income_deadline(year, quarter, policy, cal)[0] >= today:
        year, quarter = previous_quarter(year, quarter)
    return year, quarter


async def _not_entered(conn: asyncpg.Connection, like: str, year: int, quarter: int) -> int:
    """Delete the quarter's records of a few households and recompute their year's totals."""
    households = [
        r["household_id"] for r in await conn.fetch(NOT_ENTERED_SQL, like, year, quarter, NOT_ENTERED_PER_MILLE)
    ]
    if not households:
        return 0
    rows = await conn.fetch(
        f"SELECT household_id, quarter, member_count, net_income, {', '.join(PARTS)} FROM income_records "
        "WHERE household_id = ANY($1) AND year = $2",
        households,
        year,
    )
    left: dict[int, list] = {}
    for r in rows:
        left.setdefault(r["household_id"], []).append(
            (r["quarter"], Figures(*(r[p] for p in PARTS)), r["member_count"], r["net_income"])
        )
    gone = [h for h in households if h not in left]
    if gone:
        await conn.execute("DELETE FROM income_years WHERE household_id = ANY($1) AND year = $2", gone, year)
    updates = []
    for household, quarters in left.items():
        totals = year_totals(quarters)
        figures = totals.figures
        updates.append(
            (
                household,
                year,
                totals.quarters,
                *(getattr(figures, p) for p in PARTS),
                totals.member_count,
                totals.net_income,
                totals.per_capita_net,
            )
        )
    await conn.executemany(
        "UPDATE income_years SET quarters = $3, wages = $4, business = $5, property = $6, transfers = $7, "
        "production_costs = $8, eligible_spending = $9, member_count = $10, net_income = $11, per_capita_net = $12 "
        "WHERE household_id = $1 AND year = $2",
        updates,
    )
    return len(households)


async def load_followup(conn: asyncpg.Connection, county: str, today: date, seed: int = 2026) -> dict[str, int]:
    """Replace the assignments and follow-up visits of the demo county, and leave the latest
    due quarter's income not entered for a few households."""
    policy = MonitoringPolicy()
    like = f"{county}%"
    calendar = WorkCalendar()
    income_tables = ("income_records", "income_years")
    # The demo's gaps are history, not news: no event per row (services.core.events).
    switched = [(table, name) for table in income_tables for name in trigger_names(table)]
    async with conn.transaction():
        for table, name in switched:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        not_entered = await _not_entered(conn, like, *last_due_quarter(today, calendar, policy))
        for table, name in switched:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
        # Checked and indexed once over the whole tables, not row by row: the rows' two
        # foreign-key checks each cost more than writing them (the one-current-cadre index
        # stays, it is what the assignments' queries below look up).
        aside = await set_aside(conn, TABLES, keep={"uq_household_cadres_current"})
        await conn.execute(ASSIGN_SQL, like, today)
        await conn.execute(HISTORY_SQL, REASSIGNED_PER_MILLE)
        months = scheduled(today, calendar, policy)
        await conn.execute(
            VISITS_SQL,
            like,
            [first for first, _ in months],
            [due for _, due in months],
            [add_months(first, -policy.followup_after_elimination_months) for first, _ in months],
            [seed + first.toordinal() for first, _ in months],
            MISSED_PER_MILLE,
        )
        await put_back(conn, aside)
    counts = {"income_not_entered": not_entered}
    for table in TABLES:
        counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    # The income tables were analysed with the registry; the few quarters taken out above
    # (0.2 % of their rows) do not change their statistics.
    await conn.execute(f"ANALYZE {', '.join(TABLES)}")
    return counts
