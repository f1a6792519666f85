"""Reports benchmark (issue 21): the township monthly report of a county (乡镇月报), and
the schedule's job that stores each township's report once.

    .venv/bin/python -m benchmarks.reports                    # 20,000 persons (about a minute)
    .venv/bin/python -m benchmarks.reports --persons 100000 --runs 30

The bench database ``guardline_bench`` (the main benchmark's, ``prepare_database``) holds the
demo county of ``--persons`` persons with its cases, visits and ledgers. Measured in a
session of its own bound to the county, as a request would be:

* ``compute_monthly`` of the county for the previous month and for this month, ``--runs``
  times after two warm-ups: p50, p95 and max in ms (target at 1,000,000 persons: < 1 s);
* ``compute_quarterly`` for the previous quarter (the income collection joins
  ``income_rolling`` per household, so it is the heavier of the two);
* ``generate_due`` as the sync worker runs it (rolled back: the bench database is shared).

Figures go to ``benchmarks/results/reports.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reports.json"
COUNTY = "529901"
WARMUPS = 2


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _timed(db, runs: int, work) -> tuple[dict, list]:
    from services.core.scope import bind_scope

    times: list[float] = []
    rows: list = []
    for i in range(WARMUPS + runs):
        async with db.session() as session:
            bind_scope(session, COUNTY)
            started = time.perf_counter()
            rows = await work(session)
            elapsed = time.perf_counter() - started
        if i >= WARMUPS:
            times.append(elapsed)
    return _ms(times), rows


async def _run(url: str, settings, runs: int) -> dict:
    from sqlalchemy import text

    from services.core.db import Database, create_engine
    from services.core.followup.rules import previous_quarter
    from services.core.monitoring.context import load_policy_context
    from services.core.reports import service
    from services.core.scope import UNRESTRICTED, bind_scope
    from services.core.timeutil import today

    day = today()
    db = Database(create_engine(url, settings, "bench"))
    try:
        async with db.session() as session:
            bind_scope(session, COUNTY)
            persons = (await session.execute(text("SELECT count(*) FROM persons"))).scalar_one()
            cases = (await session.execute(text("SELECT count(*) FROM monitoring_cases"))).scalar_one()
        figures: dict[str, dict] = {}
        for month in (service.previous_month(day).isoformat()[:7], day.isoformat()[:7]):
            first, cut = service.month_period(month, None, day)

            async def monthly(session, first=first, cut=cut):
                return await service.compute_monthly(session, COUNTY, first, cut)

            timing, rows = await _timed(db, runs, monthly)
            total = service.total(rows, service.MONTHLY_FIGURES)
            figures[f"monthly {month}"] = {**timing, "townships": len(rows), **total}
        year, q = previous_quarter(day.year, (day.month - 1) // 3 + 1)
        first, cut, year, q = service.quarter_period(f"{year}-Q{q}", None, day)

        async def quarterly(session):
            ctx = await load_policy_context(session)
            return await service.compute_quarterly(session, ctx, COUNTY, first, cut, year, q)

        timing, rows = await _timed(db, max(3, runs // 4), quarterly)
        figures[f"quarterly {year}-Q{q}"] = {
            **timing,
            "townships": len(rows),
            **service.total(rows, service.QUARTERLY_FIGURES),
        }
        async with db.session() as session:
            bind_scope(session, UNRESTRICTED)
            started = time.perf_counter()
            stored = await service.generate_due(session, UNRESTRICTED, day)
            schedule_ms = round((time.perf_counter() - started) * 1000, 1)
            await session.rollback()  # the bench database is shared
    finally:
        await db.dispose()
    return {"persons": persons, "cases": cases, "reports": figures, "schedule": {"stored": stored, "ms": schedule_ms}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000, help="persons in the demo county (20,000)")
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each monthly report (20)")
    parser.add_argument("--reload", action="store_true", help="recreate and load the bench database")
    args = parser.parse_args()

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from benchmarks.__main__ import prepare_database
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    url, _ = prepare_database(settings, args.persons, reload=args.reload)
    result = asyncio.run(_run(url, settings, args.runs))
    print(f"county {COUNTY}: {result['persons']:,} persons, {result['cases']:,} monitoring cases")
    for name, f in result["reports"].items():
        print(
            f"{name}: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms ({f['townships']} townships; "
            + ", ".join(f"{k} {v}" for k, v in f.items() if not k.endswith("_ms") and k != "townships")
            + ")"
        )
    print(
        f"schedule (generate_due, rolled back): stored {result['schedule']['stored']} in {result['schedule']['ms']} ms"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
