"""Events benchmark (issue 20): what the transactional outbox costs the API's writes.

    .venv/bin/python -m benchmarks.events [--clients 8] [--seconds 10] [--warmup 2] [--repeat 3]

In a database of its own (``guardline_bench_events`` on the embedded server, recreated on
every run: the demo regions and a county staff account), our API under uvicorn takes new
households — a head and a spouse, fresh ID numbers in every request — from ``--clients``
keep-alive connections. Each repetition runs the load twice, one after the other: with the
event triggers on (what the application gets), and with them switched off (``ALTER TABLE …
DISABLE TRIGGER`` of every event trigger): the same requests and otherwise the same SQL.
Printed: households written per second each way, median and spread over the repetitions,
their ratio (issue 20: the outbox costs < 10 % of the write throughput, a ratio ≥ 0.9), and
the events written per second with the triggers on. Figures in
``benchmarks/results/events.json``.

Then the change feed (issue 20: a village of 300 households after 10,000 changes elsewhere
in the county answers in < 100 ms): 300 households are written into one village, a phone of
the village takes its first sync's token, 10,000 households elsewhere in the county change
(one event each) and 5 of the village's do; then ``GET /api/v1/changes?family=households``
with that token, as the village's staff, ``--feed-runs`` times one after the other: p50, p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from datetime import date
from pathlib import Path

from benchmarks import fresh_database
from benchmarks.harness import Server, plain_dsn, run_load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "events.json"
BENCH_DB = "guardline_bench_events"
COUNTY = "529901"
TARGET_RATIO = 0.9  # issue 20: the outbox costs < 10 % of write throughput
BODIES_PER_RUN = 40_000  # more than a run can write: every request's ID numbers are new


def id_numbers(start: int, count: int) -> list[str]:
    """``count`` valid ID numbers of the demo county, distinct for distinct ``start``s."""
    from services.core.idnumber import check_character

    out = []
    for n in range(start, start + count):
        born = date(1960 + n % 40, 1 + n // 40 % 12, 1 + n // 480 % 28)
        first17 = f"{COUNTY}{born:%Y%m%d}{n // 13_440 % 1000:03d}"
        out.append(first17 + check_character(first17))
    return out


def bodies(run: int, villages: list[str]) -> list[str]:
    numbers = id_numbers(run * 2 * BODIES_PER_RUN, 2 * BODIES_PER_RUN)
    out = []
    for i in range(BODIES_PER_RUN):
        members = [
            {"id_number": numbers[2 * i], "name": "测试户主", "relation": "head", "labour_capacity": "ordinary"},
            {"id_number": numbers[2 * i + 1], "name": "测试配偶", "relation": "spouse", "labour_capacity": "ordinary"},
        ]
        body = {"region_code": villages[i % len(villages)], "category": "ordinary", "members": members}
        out.append(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
    return out


async def _prepare(url: str, settings) -> tuple[list[str], int]:
    import asyncpg

    from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv
    from services.core.scope import UNRESTRICTED, bind_scope

    await fresh_database(plain_dsn(url), BENCH_DB)
    await asyncio.to_thread(_upgrade, url)
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.core.db import create_engine

    engine = create_engine(url, settings, "bench")
    try:
        async with AsyncSession(engine) as session:
            bind_scope(session, UNRESTRICTED)
            await import_regions_csv(session, DEMO_REGIONS_CSV)
            await session.commit()
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        villages = [r[0] for r in await conn.fetch("SELECT code FROM regions WHERE level = 5 ORDER BY code")]
        user = await conn.fetchval(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "VALUES ('county_staff.county', 'county_staff', '-', 'county_staff', $1, true, 1) RETURNING id",
            COUNTY,
        )
    finally:
        await conn.close()
    return villages, user


def _upgrade(url: str) -> None:
    from services.core.migrate import upgrade

    upgrade(url)


async def _switch(url: str, on: bool) -> None:
    import asyncpg

    from services.core.events.triggers import EVENT_TABLES, trigger_names

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        for table in EVENT_TABLES:
            for name in trigger_names(table):
                await conn.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")
    finally:
        await conn.close()


async def _count(url: str, sql: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


FEED_TARGET_MS = 100.0  # issue 20
FEED_HOUSEHOLDS = 300
FEED_ELSEWHERE = 10_000


async def _feed(url: str, settings, port: int, villages: list[str], runs: int) -> dict:
    """The change feed's figures (see the module)."""
    import time

    import asyncpg
    import httpx

    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token

    village, others = villages[0], villages[1:]
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        insert = (
            "INSERT INTO households (household_no, region_code, category, flags, status, member_count, version) "
            "SELECT $1 || n, $2, 'ordinary', '{}', 'active', 0, 1 FROM generate_series(1, $3) AS n"
        )
        await conn.execute(insert, f"FEED{village}-", village, FEED_HOUSEHOLDS)
        per_village = -(-FEED_ELSEWHERE // len(others))
        for other in others:
            await conn.execute(insert, f"FEED{other}-", other, per_village)
        user = await conn.fetchval(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "VALUES ('village_staff.feed', 'village_staff', '-', 'village_staff', $1, true, 1) RETURNING id",
            village,
        )
    finally:
        await conn.close()
    token = issue_token(settings, Caller(user, "village_staff.feed", Role.village_staff, village))[0]
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}/api/v1/changes"
    async with httpx.AsyncClient(timeout=30) as client:
        since, more = None, True
        while more:  # the phone's first sync
            first: dict[str, str | int] = {"family": "households", "limit": 200, **({"since": since} if since else {})}
            page = (await client.get(base, params=first, headers=headers)).raise_for_status().json()
            since, more = page["next"], page["more"]
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            await conn.execute(
                "UPDATE households SET version = version + 1 WHERE household_no LIKE 'FEED%' AND region_code <> $1 "
                "AND id IN (SELECT id FROM households WHERE household_no LIKE 'FEED%' AND region_code <> $1 "
                "ORDER BY id LIMIT $2)",
                village,
                FEED_ELSEWHERE,
            )
            await conn.execute(
                "UPDATE households SET version = version + 1 WHERE id IN (SELECT id FROM households "
                "WHERE region_code = $1 AND household_no LIKE 'FEED%' ORDER BY id LIMIT 5)",
                village,
            )
            await conn.execute("ANALYZE events")
        finally:
            await conn.close()
        params = {"family": "households", "since": since, "limit": 200}
        times, items = [], 0
        for _ in range(runs + 3):
            started = time.perf_counter()
            page = (await client.get(base, params=params, headers=headers)).raise_for_status().json()
            times.append((time.perf_counter() - started) * 1000)
            items = len(page["items"])
        times = sorted(times[3:])
    return {
        "village_households": FEED_HOUSEHOLDS,
        "elsewhere": FEED_ELSEWHERE,
        "changed": 5,
        "items": items,
        "p50_ms": times[len(times) // 2],
        "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.events", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--feed-runs", type=int, default=50)
    args = parser.parse_args(argv)
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (medians and spread)")

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token
    from services.core.db import embedded_url
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    url = embedded_url(settings.data_dir, BENCH_DB)
    villages, user = asyncio.run(_prepare(url, Settings(env="development", database_url=url)))
    token = issue_token(settings, Caller(user, "county_staff.county", Role.county_staff, COUNTY))[0]
    env = {**os.environ, "GUARDLINE_ENV": "development", "GUARDLINE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    figures: dict[str, list[dict]] = {"on": [], "off": []}
    run = 0
    children: list = []
    with tempfile.TemporaryDirectory(prefix="guardline-bench-events-") as tmp:
        workdir = Path(tmp)
        server = Server("ours", ["--factory", "services.api.app:create_app"], env, workdir)
        try:
            server.wait_healthy()
            for repetition in range(args.repeat):
                for mode in ("on", "off") if repetition % 2 == 0 else ("off", "on"):
                    asyncio.run(_switch(url, mode == "on"))
                    before = asyncio.run(_count(url, "SELECT coalesce(max(id), 0) FROM events"))
                    run += 1
                    print(f"events {mode}, run {repetition + 1}/{args.repeat} …", flush=True)
                    result = run_load(
                        {
                            "scenario": f"households-{mode}",
                            "app": "ours",
                            "port": server.port,
                            "token": token,
                            "kind": "post",
                            "path": "/api/v1/households",
                            "bodies": bodies(run, villages),
                            "concurrency": args.clients,
                            "warmup": args.warmup,
                            "seconds": args.seconds,
                        },
                        workdir,
                        children,
                    )
                    events = asyncio.run(_count(url, f"SELECT count(*) FROM events WHERE id > {before}"))
                    result["events"] = events
                    result["written_per_s"] = result["ok"] / result["seconds"]  # 201s only
                    print(
                        f"  {result['written_per_s']:.0f} households/s, p50 {result['p50_ms']:.1f} ms, "
                        f"p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, events written {events:,}",
                        flush=True,
                    )
                    figures[mode].append(result)
            asyncio.run(_switch(url, True))
            feed = asyncio.run(_feed(url, settings, server.port, villages, args.feed_runs))
        finally:
            asyncio.run(_switch(url, True))
            server.stop()
    on = [r["written_per_s"] for r in figures["on"]]
    off = [r["written_per_s"] for r in figures["off"]]
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    # Events per second over the whole run with the triggers on (warm-up included: the
    # events table counts them all).
    event_rates = [r["events"] / (args.warmup + args.seconds) for r in figures["on"]]

    def spread(values: list[float], spec: str = ".0f") -> str:
        return f"{statistics.median(values):{spec}} ({min(values):{spec}}–{max(values):{spec}})"

    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"\n{args.clients} clients, {args.repeat} interleaved repetitions of {args.seconds:g} s; median (min–max)")
    print(f"households/s with events:    {spread(on)}")
    print(f"households/s without events: {spread(off)}")
    print(f"with/without: {spread(ratios, '.3f')}   target ≥ {TARGET_RATIO}: {verdict}")
    print(f"events written per second (triggers on): {spread(event_rates)}")
    feed_verdict = "PASS" if feed["p95_ms"] < FEED_TARGET_MS else "FAIL"
    print(
        f"change feed, a village of {feed['village_households']} households after {feed['elsewhere']:,} changes "
        f"elsewhere and {feed['changed']} in it: p50 {feed['p50_ms']:.1f} ms, p95 {feed['p95_ms']:.1f} ms "
        f"({feed['items']} items)   target p95 < {FEED_TARGET_MS:g} ms: {feed_verdict}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "clients": args.clients,
                "seconds": args.seconds,
                "runs": figures,
                "ratio": ratio,
                "verdict": verdict,
                "feed": {**feed, "verdict": feed_verdict},
            },
            indent=2,
        )
    )
    return 0 if verdict == feed_verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
