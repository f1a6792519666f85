"""Ledgers benchmark (issue 21): the monthly clearing report of a county, and the scan that
opens the county's clearing entries from what the system knows.

    .venv/bin/python -m benchmarks.ledgers                    # 20,000 persons (about a minute)
    .venv/bin/python -m benchmarks.ledgers --persons 100000 --runs 30

The bench database ``guardline_bench`` (the main benchmark's, ``prepare_database``) holds the
demo county of ``--persons`` persons; its ledgers are rebuilt from its guarantee status
(``services.demo.ledgers``: entries found over three months, some cleared), then the three
water of a further 2 % of households is put at risk so that the scan has work (put back
afterwards, with the demo ledgers: the bench database is shared).
Measured in a session of its own, as a request would be:

* ``open_from_known`` over the county (once: it opens what is not open, so a second run
  opens nothing — that is timed too);
* ``monthly_report`` of the county for this month and for the previous month, ``--runs``
  times after two warm-ups: p50, p95 and max in ms.

Figures go to ``benchmarks/results/ledgers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ledgers.json"
COUNTY = "529901"
WARMUPS = 2
EXTRA_AT_RISK_SHARE = 0.02  # households whose water is put at risk for the scan to find


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _run(url: str, settings, runs: int) -> dict:
    import asyncpg

    from benchmarks.harness import plain_dsn
    from services.core.db import Database, create_engine
    from services.core.ledgers import clearing
    from services.core.scope import bind_scope
    from services.core.timeutil import today
    from services.demo.ledgers import load_ledgers

    day = today()
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        loaded = await load_ledgers(conn, COUNTY, day)
        modulus = round(1 / EXTRA_AT_RISK_SHARE)
        # Put back at the end: the bench database is shared with the other benchmarks.
        changed = await conn.fetch(
            """WITH picked AS (SELECT household_id, water FROM household_guarantees
                               WHERE household_id % $1 = 0 AND water <> 'at_risk' FOR UPDATE)
               UPDATE household_guarantees g SET water = 'at_risk' FROM picked
               WHERE g.household_id = picked.household_id
               RETURNING picked.household_id, picked.water""",
            modulus,
        )
        households = await conn.fetchval("SELECT count(*) FROM households WHERE region_code LIKE $1", COUNTY + "%")
        persons = await conn.fetchval("SELECT count(*) FROM persons WHERE region_code LIKE $1", COUNTY + "%")
        await conn.execute("ANALYZE clearing_entries, household_guarantees")
    finally:
        await conn.close()

    db = Database(create_engine(url, settings, "bench"))
    try:

        async def scan() -> tuple[int, float]:
            async with db.session() as session, session.begin():
                bind_scope(session, COUNTY)
                started = time.perf_counter()
                opened = await clearing.open_from_known(session, COUNTY, day)
                return opened, time.perf_counter() - started

        first_opened, first_s = await scan()
        again_opened, again_s = await scan()

        this_month = day.isoformat()[:7]
        previous = date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1).isoformat()[:7]
        figures: dict[str, dict] = {}
        for month in (this_month, previous):
            first, cut = clearing.month_bounds(month, None, day)
            times: list[float] = []
            rows: list = []
            for i in range(WARMUPS + runs):
                async with db.session() as session:
                    bind_scope(session, COUNTY)
                    started = time.perf_counter()
                    rows = await clearing.monthly_report(session, "clearing_entries", COUNTY, first, cut)
                    elapsed = time.perf_counter() - started
                if i >= WARMUPS:
                    times.append(elapsed)
            total = clearing.total(rows)
            figures[month] = {
                **_ms(times),
                "townships": len(rows),
                "opened": total.opened,
                "cleared": total.cleared,
                "overdue": total.overdue,
                "open": total.open,
            }
        async with db.session() as session:
            bind_scope(session, COUNTY)
            from sqlalchemy import text

            entries = (await session.execute(text("SELECT count(*) FROM clearing_entries"))).scalar_one()
    finally:
        await db.dispose()
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            await conn.executemany(
                "UPDATE household_guarantees SET water = $2 WHERE household_id = $1",
                [(r["household_id"], r["water"]) for r in changed],
            )
            await load_ledgers(conn, COUNTY, day)  # the demo county's ledgers as loaded
        finally:
            await conn.close()
    return {
        "persons": persons,
        "households": households,
        "demo_entries": loaded["clearing_entries"],
        "households_put_at_risk": len(changed),
        "entries": entries,
        "scan": {"opened": first_opened, "ms": round(first_s * 1000, 1)},
        "scan_again": {"opened": again_opened, "ms": round(again_s * 1000, 1)},
        "report": figures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000, help="persons in the demo county (20,000)")
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each report (20)")
    parser.add_argument("--reload", action="store_true", help="recreate and load the bench database")
    args = parser.parse_args()

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from benchmarks.__main__ import prepare_database
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    url, _ = prepare_database(settings, args.persons, reload=args.reload)
    result = asyncio.run(_run(url, settings, args.runs))
    print(
        f"county {COUNTY}: {result['persons']:,} persons, {result['households']:,} households, "
        f"{result['entries']:,} clearing entries"
    )
    print(
        f"scan (open from the guarantees and findings): opened {result['scan']['opened']:,} in "
        f"{result['scan']['ms']} ms; again: opened {result['scan_again']['opened']} in {result['scan_again']['ms']} ms"
    )
    for month, f in result["report"].items():
        print(
            f"monthly report {month}: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms "
            f"({f['townships']} townships; opened {f['opened']}, cleared {f['cleared']}, overdue {f['overdue']}, "
            f"open {f['open']})"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
