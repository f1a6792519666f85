"""Follow-up benchmark (issue 21): the overdue follow-up list and the missing-quarter income
list of the demo county, through the services a request calls, on a freshly loaded demo.

    .venv/bin/python -m benchmarks.followup                    # 20,000 persons (about a minute)
    .venv/bin/python -m benchmarks.followup --persons 200000 --runs 20

The database ``guardline_followup_bench`` on the embedded server of ``.guardline/`` is
created anew and loaded with ``services.demo.loader.load_demo`` (the demo county with its
cadres, income, cases, cadre assignments and scheduled follow-up visits); ``--keep`` reuses
the last load when it has as many persons.

Measured, each ``--runs`` times after two warm-ups, in a read-only session bound to the
county as a request's would be:

* ``overdue first page``: ``followup.service.overdue`` as of today, 50 households;
* ``overdue all pages``: every page of it, 200 at a time (what an export would read);
* ``missing first page`` and ``missing all pages``: ``followup.service.missing_income`` for
  this year's fourth quarter as of the day after its deadline — no household has it yet, so
  every formerly poor and monitored household of the county is listed: the worst case.

Printed: rows, p50, p95 and max in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from services.core.db import Database, create_engine, embedded_url
from services.core.followup import rules, service
from services.core.migrate import upgrade
from services.core.monitoring.context import load_policy_context
from services.core.scope import bind_scope
from services.core.settings import Settings
from services.core.timeutil import today

ROOT = Path(__file__).resolve().parents[1]
DB = "guardline_followup_bench"
WARMUPS = 2


async def prepare(settings: Settings, persons: int, keep: bool) -> tuple[str, str]:
    from services.demo.loader import demo_villages, load_demo

    maintenance = embedded_url(settings.data_dir, "postgres")
    url = maintenance.replace("/postgres?", f"/{DB}?")
    county = demo_villages()[0].code[:6]
    if keep:
        engine = create_engine(url, settings, "bench")
        try:
            async with engine.connect() as conn:
                loaded = (await conn.execute(text("SELECT count(*) FROM persons"))).scalar_one()
            if loaded == persons:
                print(f"reusing {DB}: {loaded:,} persons")
                return url, county
        except Exception:  # no such database or table: load it
            pass
        finally:
            await engine.dispose()
    admin = create_engine(maintenance, settings, "bench")
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{DB}"'))
    await admin.dispose()
    await asyncio.to_thread(upgrade, url)
    started = time.perf_counter()
    counts = await load_demo(url, settings, persons=persons, progress=None)
    print(
        f"loaded {persons:,} persons, {counts['households']:,} households, {counts['household_cadres']:,} cadre "
        f"assignments, {counts['followup_visits']:,} follow-up visits in {time.perf_counter() - started:.1f} s"
    )
    return url, county


async def measure(url: str, county: str, settings: Settings, runs: int) -> None:
    engine = create_engine(url, settings, "bench")
    db = Database(engine)
    as_of = today()
    year = as_of.year

    async def walk(kind: str, page_size: int, all_pages: bool) -> tuple[int, float]:
        async with db.session(readonly=True) as session:
            bind_scope(session, county)
            started = time.perf_counter()
            ctx = await load_policy_context(session)
            rows, cursor = 0, None
            deadline, _ = rules.income_deadline(year, 4, ctx.policy(county, year), ctx.calendar)
            while True:
                if kind == "overdue":
                    page = await service.overdue(
                        session, ctx, county, as_of=as_of, cadre_user_id=None, cursor=cursor, limit=page_size
                    )
                else:
                    page = await service.missing_income(
                        session,
                        ctx,
                        county,
                        year=year,
                        quarter=4,
                        as_of=deadline + timedelta(days=1),
                        cursor=cursor,
                        limit=page_size,
                    )
                rows += len(page.items)
                cursor = page.next_cursor
                if not all_pages or cursor is None:
                    return rows, time.perf_counter() - started

    print(f"{'list':<22}{'rows':>9}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for kind, label in (("overdue", "overdue"), ("missing", "missing")):
        for all_pages, size, name in ((False, 50, "first page"), (True, 200, "all pages")):
            for _ in range(WARMUPS):
                await walk(kind, size, all_pages)
            times, rows = [], 0
            for _ in range(runs):
                rows, took = await walk(kind, size, all_pages)
                times.append(took * 1000)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"{label + ' ' + name:<22}{rows:>9,}{statistics.median(times):>10.1f}{p95:>10.1f}{times[-1]:>10.1f}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000, help="persons in the demo county (20,000)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each list (10)")
    parser.add_argument("--keep", action="store_true", help="reuse the last load when it has as many persons")
    args = parser.parse_args()
    settings = Settings(env="development", data_dir=ROOT / ".guardline", database_url=None)
    url, county = asyncio.run(prepare(settings, args.persons, args.keep))
    asyncio.run(measure(url, county, settings, args.runs))


if __name__ == "__main__":
    main()
