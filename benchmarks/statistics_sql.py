"""A developer's check of the monitoring statistics statement (not the benchmark suite):
50,000 generated cases and 15,000 open clues in one county of 20 townships and 300
villages, the statement's plan (EXPLAIN ANALYZE) and its latency through
``services.core.monitoring.reports.statistics`` with 1 and 8 concurrent sessions.

    .venv/bin/python -m benchmarks.statistics_sql [--seed]

``--seed`` (re)creates the database ``guardline_statistics_check`` on the embedded server
of ``.guardline/``; without it the last one is reused. The cases are spread evenly over
statuses, case types and five risk combinations, which gives the grouping more distinct
groups than a real county would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text

from services.core.db import Database, create_engine, embedded_url
from services.core.migrate import upgrade
from services.core.monitoring import reports
from services.core.regions.rules import Level
from services.core.scope import bind_scope, limit_to
from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DB = "guardline_statistics_check"
COUNTY = "529901"
AS_OF = date(2026, 11, 24)

SEED = """
INSERT INTO regions (code, name, level, parent_code) VALUES
 ('520000000000', '贵州省', 1, NULL), ('529900000000', '青山市', 2, '520000000000'),
 ('529901000000', '清溪县', 3, '529900000000');
INSERT INTO regions (code, name, level, parent_code)
 SELECT '529901' || lpad(t::text, 3, '0') || '000', '乡镇' || t, 4, '529901000000' FROM generate_series(1, 20) t;
INSERT INTO regions (code, name, level, parent_code)
 SELECT '529901' || lpad(t::text, 3, '0') || lpad(v::text, 3, '0'), '村' || t || '-' || v, 5,
        '529901' || lpad(t::text, 3, '0') || '000'
 FROM generate_series(1, 20) t, generate_series(1, 15) v;
INSERT INTO households (household_no, region_code, category, status, member_count, version, flags)
 SELECT 'H' || i, '529901' || lpad((1 + i % 20)::text, 3, '0') || lpad((1 + (i / 20) % 15)::text, 3, '0'),
        CASE WHEN i % 3 = 0 THEN 'lifted_out' ELSE 'ordinary' END, 'active', 3, 1, '{}'
 FROM generate_series(1, 300000) i;
INSERT INTO monitoring_cases (household_id, region_code, case_type, risk_types, status, first_clue_on, opened_on,
   identified_on, eliminated_on, next_deadline, deadline_provisional, deadline_breaches, version)
 SELECT h.id, h.region_code,
   (ARRAY['unstable_lifted_out', 'marginal', 'sudden_hardship'])[1 + h.id % 3],
   (CASE h.id % 5 WHEN 0 THEN ARRAY['illness'] WHEN 1 THEN ARRAY['illness', 'schooling_costs']
     WHEN 2 THEN ARRAY['disaster'] WHEN 3 THEN ARRAY['unstable_employment', 'lack_of_labour']
     ELSE ARRAY['other'] END)::varchar[],
   (ARRAY['verification', 'village_review', 'identification_notice', 'township_review', 'county_approval',
          'assisting', 'assisting', 'assisting', 'assisting', 'eliminated', 'eliminated', 'rejected',
          'elimination_notice', 'terminated'])[1 + h.id % 14],
   date '2025-01-01' + (h.id % 600)::int, date '2025-01-01' + (h.id % 600)::int,
   CASE WHEN h.id % 14 BETWEEN 5 AND 12 THEN date '2025-01-10' + (h.id % 600)::int END,
   CASE WHEN h.id % 14 IN (9, 10) THEN date '2025-07-10' + (h.id % 500)::int END,
   CASE WHEN h.id % 14 NOT IN (9, 10, 11, 13) THEN date '2026-09-01' + (h.id % 120)::int END, false, '[]', 1
 FROM households h WHERE h.id <= 50000;
INSERT INTO risk_clues (household_id, region_code, risk_types, channels, status, first_reported_on, report_count,
   next_deadline, deadline_provisional, deadline_breaches, version)
 SELECT h.id, h.region_code, ARRAY['illness']::varchar[], ARRAY['visit']::varchar[],
   CASE WHEN h.id % 4 = 0 THEN 'dismissed' ELSE 'open' END, date '2026-10-01' + (h.id % 50)::int, 1,
   date '2026-10-15' + (h.id % 50)::int, false, '[]', 1
 FROM households h WHERE h.id BETWEEN 50001 AND 70000;
ANALYZE
"""


async def seed(settings: Settings) -> str:
    maintenance = embedded_url(settings.data_dir, "postgres")
    admin = create_engine(maintenance, settings, "bench")
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{DB}"'))
    await admin.dispose()
    url = maintenance.replace("/postgres?", f"/{DB}?")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, settings, "bench")
    started = time.perf_counter()
    async with engine.begin() as conn:
        for statement in SEED.split(";\n"):
            await conn.execute(text(statement))
    await engine.dispose()
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    return url


async def check(url: str, settings: Settings) -> None:
    engine = create_engine(url, settings, "bench")
    db = Database(engine)
    for level in (Level.township, Level.village):
        statement = reports.statistics_statement(COUNTY, level).params(
            start=date(2026, 1, 1), end=date(2026, 12, 31), as_of=AS_OF
        )
        sql = str(limit_to(statement, COUNTY).compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        async with engine.connect() as conn:
            for _ in range(3):
                plan = (await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql))).scalars().all()
        print(
            f"--- by {level.name}: "
            + " | ".join(
                line.strip() for line in plan if "Aggregate" in line or "Execution" in line or "Sort Method" in line
            )
        )

    async def one(level: Level) -> float:
        async with db.session(readonly=True) as session:
            bind_scope(session, COUNTY)
            started = time.perf_counter()
            await reports.statistics(session, COUNTY, level, 2026, AS_OF)
            return time.perf_counter() - started

    for level in (Level.township, Level.village):
        for _ in range(5):
            await one(level)
        for clients in (1, 8):
            latencies: list[float] = []

            async def client(latencies: list[float] = latencies, level: Level = level) -> None:
                for _ in range(15):
                    latencies.append(await one(level))

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            wall = time.perf_counter() - started
            latencies.sort()
            print(
                f"by {level.name}, {clients} concurrent: p50 {statistics.median(latencies) * 1000:.1f} ms, "
                f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f} ms, {len(latencies) / wall:.1f}/s"
            )
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="store_true", help="(re)create and fill the database first")
    args = parser.parse_args()
    settings = Settings(env="development", data_dir=ROOT / ".guardline", database_url=None)
    url = (
        asyncio.run(seed(settings))
        if args.seed
        else embedded_url(settings.data_dir, "postgres").replace("/postgres?", f"/{DB}?")
    )
    asyncio.run(check(url, settings))


if __name__ == "__main__":
    main()
