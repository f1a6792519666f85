"""Audit-trail write benchmark: single-row autocommit inserts into the chained ``audit_log``.

    .venv/bin/python -m benchmarks.audit_insert [--connections 8] [--seconds 10] [--warmup 2]

Every chained insert takes one advisory lock that is held until its transaction has
committed, so the inserts of all connections queue on it, each for the length of one
commit. This measures, with C concurrent connections each inserting one row per
transaction (as ``record_now`` does), inserts per second and latency for:

* chained          — ``audit_log`` with its triggers (what the application gets);
* plain            — the same columns and indexes in a table without triggers (the floor);
* chained, async   — ``audit_log`` with ``synchronous_commit = off`` for those sessions: the
                     commit does not wait for the WAL flush, so the lock is released sooner
                     (a database crash may lose the last few hundred milliseconds of events,
                     as one unbroken tail).

It uses its own database ``guardline_bench_audit`` on the embedded server (recreated on
every run), checks the chain with ``verify`` at the end and prints how fast that was.
The figures are written to ``benchmarks/results/audit_insert.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from benchmarks import fresh_database

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "audit_insert.json"
BENCH_DB = "guardline_bench_audit"

COLUMNS = (
    "actor, actor_name, role, action, object_type, object_id, region_code, result, status, request_id, ip, "
    "before, after"
)
INSERT = f"INSERT INTO {{table}} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
PLAIN_TABLE = """
CREATE TABLE audit_plain (LIKE audit_log INCLUDING DEFAULTS INCLUDING INDEXES);
ALTER TABLE audit_plain ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
ALTER TABLE audit_plain ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_insert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per scenario (2)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("need --connections >= 1, --seconds > 0, --warmup >= 0")
    return args


def _args(worker: int, n: int) -> tuple:
    return (
        f"user:{worker}",
        f"bench-{worker}",
        "county_staff",
        "person.unmask",
        "person",
        str(n),
        "529901001001",
        "success",
        200,
        f"bench-{worker}-{n}",
        "10.0.0.1",
        json.dumps({"phone": "13800000000"}),
        json.dumps({"phone": "13900000000"}),
    )


async def _create_plain(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(PLAIN_TABLE)
    finally:
        await conn.close()


async def run_scenario(
    url: str, table: str, connections: int, seconds: float, warmup: float, synchronous_commit: str = "on"
) -> dict:
    import asyncpg

    conns = [
        await asyncpg.connect(
            url, server_settings={"application_name": "guardline-bench-audit", "synchronous_commit": synchronous_commit}
        )
        for _ in range(connections)
    ]
    sql = INSERT.format(table=table)
    latencies: list[float] = []
    state = {"measuring": False, "stop": False, "count": 0}

    async def worker(w: int, conn) -> None:
        statement = await conn.prepare(sql)
        n = 0
        while not state["stop"]:
            started = time.perf_counter()
            await statement.fetch(*_args(w, n))  # autocommit: one transaction per row
            if state["measuring"]:
                latencies.append(time.perf_counter() - started)
                state["count"] += 1
            n += 1

    tasks = [asyncio.create_task(worker(w, c)) for w, c in enumerate(conns)]
    try:
        await asyncio.sleep(warmup)
        state["measuring"] = True
        began = time.perf_counter()
        await asyncio.sleep(seconds)
        state["measuring"] = False
        elapsed = time.perf_counter() - began
        state["stop"] = True
        await asyncio.gather(*tasks)
    finally:
        for c in conns:
            await c.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "scenario": table if synchronous_commit == "on" else f"{table}, synchronous_commit=off",
        "inserts_per_s": state["count"] / elapsed,
        "p50_ms": statistics.median(ms) if ms else None,
        "p99_ms": ms[int(len(ms) * 0.99) - 1] if ms else None,
        "max_ms": ms[-1] if ms else None,
    }


async def _verify(url: str, settings) -> dict:
    from services.core.audit.chain import verify_database
    from services.core.db import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1), settings, "bench")
    try:
        started = time.perf_counter()
        report = await verify_database(engine)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "ok": report.ok,
        "rows": report.rows_checked,
        "seconds": elapsed,
        "rows_per_s": report.rows_checked / elapsed if elapsed else None,
    }


def main(argv=None) -> int:
    from services.core.db import embedded_url
    from services.core.migrate import upgrade
    from services.core.settings import Settings

    args = parse_args(argv)
    settings = Settings(env="test")
    # Create (or join) the server; the database itself is recreated below.
    url = embedded_url(settings.data_dir, "postgres").replace("/postgres?", f"/{BENCH_DB}?", 1)
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    asyncio.run(fresh_database(plain, BENCH_DB))
    upgrade(url)
    asyncio.run(_create_plain(plain))
    rows = []
    for table, sync in (("audit_log", "on"), ("audit_plain", "on"), ("audit_log", "off")):
        print(
            f"running {table} (synchronous_commit={sync}), {args.connections} connections, {args.seconds:g} s ...",
            flush=True,
        )
        rows.append(asyncio.run(run_scenario(plain, table, args.connections, args.seconds, args.warmup, sync)))
    check = asyncio.run(_verify(plain, settings))

    print(f"\n{'scenario':<40} {'inserts/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in rows:
        print(
            f"{r['scenario']:<40} {r['inserts_per_s']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['max_ms']:>8.1f}"
        )
    print(
        f"\nverify: {'intact' if check['ok'] else 'BROKEN'}, {check['rows']:,} rows in {check['seconds']:.1f} s "
        f"({check['rows_per_s']:,.0f} rows/s)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"connections": args.connections, "seconds": args.seconds, "scenarios": rows, "verify": check}, indent=2
        )
        + "\n"
    )
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
