"""Read-path benchmark: our API against a bare Starlette + asyncpg endpoint, side by side,
and the monitoring work lists against their latency target.

    .venv/bin/python -m benchmarks [--persons N] [--seconds S] [--warmup W]
                                   [--concurrency C] [--only SCENARIO]

With the demo county loaded (``--persons``, default 1,000,000) it measures, under C
concurrent keep-alive clients, two reads of our API (uvicorn, uvloop, httptools, one
worker) and the same reads from ``benchmarks/bare_app.py``, which runs the byte-identical
SQL on the same database, one right after the other:

* household: ``GET /api/v1/households/{id}``  vs  ``GET /households/{id}``
* lookup:    ``POST /api/v1/persons/lookup``  vs  ``POST /persons/lookup`` (same JSON body)

and prints requests/s, p50/p99 latency and errors, the throughput ratio ours/bare and
PASS/FAIL against the targets (ratio >= 0.5, our p99 < 50 ms).

The monitoring scenarios run against our API only, as county staff of the loaded county
(about persons / 20 monitoring cases), with 8 concurrent clients unless ``--concurrency``
is given, and pass when p50 < 200 ms without errors (issue 4):

* overdue:    ``GET /api/v1/monitoring-cases/overdue?within_days=7`` (first page)
* statistics: ``GET /api/v1/monitoring/statistics?region=529901&level=township``

The figures are also written to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, Server, plain_dsn, postmaster_pid, run_load, stop_process

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
BENCH_DB = "guardline_bench"
PREFIX = "529901"  # the demo county; the caller's region scope
SAMPLE = 20_000
SEED = 2026
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
DEFAULT_CONCURRENCY = 32
MONITORING_CONCURRENCY = 8  # issue 4: "under 8 concurrent clients"
TARGET_P50_MS = 200.0  # issue 4: the overdue list and the statistics of a county, p50
BULK_READS_PER_MINUTE = 100_000_000

# name -> title, the request of each app (``ours``, ``bare``: the load generator's settings), the
# values it takes, and optionally the role, concurrency and latency target
SCENARIOS: dict[str, dict[str, Any]] = {
    "household": {
        "title": "GET one household",
        "ours": {"kind": "get", "path": "/api/v1/households/{}"},
        "bare": {"kind": "get", "path": "/households/{}"},
        "values": "household_ids",
    },
    "lookup": {
        "title": "look up a person by ID number",
        "ours": {"kind": "post", "path": "/api/v1/persons/lookup", "body_field": "id_number"},
        "bare": {"kind": "post", "path": "/persons/lookup", "body_field": "id_number"},
        "values": "id_numbers",
    },
    # The same reads by roles that do not see health details: ours then neither decrypts
    # them nor writes a sensitive-read event to the audit trail (the bare app still
    # decrypts), so the difference to the rows above is the price of those two.
    "household-masked": {
        "title": "GET one household, as an auditor (no health details)",
        "ours": {"kind": "get", "path": "/api/v1/households/{}"},
        "bare": {"kind": "get", "path": "/households/{}"},
        "values": "household_ids",
        "role": "auditor",
    },
    "lookup-masked": {
        "title": "look up by ID number, as a department system (no health details)",
        "ours": {"kind": "post", "path": "/api/v1/persons/lookup", "body_field": "id_number"},
        "bare": {"kind": "post", "path": "/persons/lookup", "body_field": "id_number"},
        "values": "id_numbers",
        "role": "department_system",
    },
    # The monitoring work lists of the county (issue 4): ours only, against a latency target.
    "overdue": {
        "title": "the county's overdue list (late or due within 7 days), first page",
        "ours": {"kind": "get", "path": "/api/v1/monitoring-cases/overdue?within_days=7"},
        "values": "fixed",
        "concurrency": MONITORING_CONCURRENCY,
        "target_p50_ms": TARGET_P50_MS,
    },
    "statistics": {
        "title": "the county's monitoring statistics by township",
        "ours": {"kind": "get", "path": f"/api/v1/monitoring/statistics?region={PREFIX}&level=township"},
        "values": "fixed",
        "concurrency": MONITORING_CONCURRENCY,
        "target_p50_ms": TARGET_P50_MS,
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000, help="persons in the demo county (1,000,000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each run (3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"concurrent keep-alive clients ({DEFAULT_CONCURRENCY}; the monitoring scenarios: "
        f"{MONITORING_CONCURRENCY})",
    )
    parser.add_argument(
        "--only",
        choices=sorted([*SCENARIOS, "sync", "funds", "clues", "labelled"]),
        help="run one scenario (sync: the department sync pipeline, issue 5; funds: the "
        "compliance indicators on province-sized data, issue 6; clues: the sync worker "
        "raising risk clues in bulk)",
    )
    parser.add_argument(
        "--funds-scale",
        type=float,
        default=None,
        help="funds data as a share of 20,000 projects, 200,000 disbursements, 50,000 assets "
        "(1; or GUARDLINE_BENCH_FUNDS_SCALE), e.g. 0.05 for a smoke run",
    )
    parser.add_argument("--funds-runs", type=int, default=20, help="timed runs per funds scenario (20)")
    parser.add_argument("--clues", type=int, default=20_000, help="findings to raise risk clues for (20,000)")
    parser.add_argument("--clue-runs", type=int, default=3, help="timed runs of the clue intake (3)")
    parser.add_argument(
        "--clue-baseline",
        type=int,
        default=2000,
        help="findings raised the former way, one clues.report each, for comparison (2,000; 0: none)",
    )
    parser.add_argument(
        "--labelled-households",
        type=int,
        default=5000,
        help="background households of the labelled county (--only labelled: recall and precision "
        "of the reconciliation rules, quarantine accuracy; tests/sync/labelled.py) (5000)",
    )
    args = parser.parse_args(argv)
    if args.clues < 10 or args.clue_runs < 1 or args.clue_baseline < 0:
        parser.error("need --clues >= 10, --clue-runs >= 1, --clue-baseline >= 0")
    if args.funds_runs < 1:
        parser.error("need --funds-runs >= 1")
    if args.persons < 100 or args.seconds <= 0 or args.warmup < 0 or (args.concurrency or 1) < 1:
        parser.error("need --persons >= 100, --seconds > 0, --warmup >= 0, --concurrency >= 1")
    return args


# ---- database ---------------------------------------------------------------------------


def prepare_database(settings, persons: int) -> str:
    """Start (or join) the embedded server, and make sure the bench database holds at least
    ``persons`` persons; when it holds fewer it is recreated, migrated and loaded."""
    from services.core.db import embedded_url
    from services.core.migrate import upgrade

    url = embedded_url(settings.data_dir, BENCH_DB)
    upgrade(url)
    have, cases = asyncio.run(_count_persons(url))
    if have >= persons and cases >= have // 40:
        print(f"database {BENCH_DB}: {have:,} persons and {cases:,} monitoring cases already loaded")
        return url
    print(
        f"database {BENCH_DB}: {have:,} persons ({cases:,} monitoring cases), {persons:,} wanted: recreating "
        f"and loading (about a minute or two for 1,000,000) ...",
        flush=True,
    )
    asyncio.run(_recreate(url))
    upgrade(url)
    started = time.perf_counter()
    summary = asyncio.run(_load(url, settings, persons))
    print(f"loaded in {time.perf_counter() - started:.1f} s: {summary}", flush=True)
    return url


async def _count_persons(url: str) -> tuple[int, int]:
    """Persons and monitoring cases in the bench database (a county loaded before the demo
    had monitoring data has no cases, and is loaded again)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM persons"),
            await conn.fetchval("SELECT count(*) FROM monitoring_cases"),
        )
    finally:
        await conn.close()


async def _recreate(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url).replace(f"/{BENCH_DB}?", "/postgres?", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


async def _load(url: str, settings, persons: int) -> dict:
    from services.demo.loader import load_demo

    return await load_demo(
        url, settings, persons=persons, seed=SEED, progress=lambda msg: print(f"  {msg}", flush=True)
    )


async def bench_users(url: str, roles: list[str]) -> dict[str, int]:
    """Ids of the accounts ``<role>.county`` over the bench county (made if missing)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "SELECT r || '.county', r, '-', r, $2, true, 1 FROM unnest($1::text[]) AS r "
            "ON CONFLICT (username) DO UPDATE SET role = excluded.role, region_prefix = excluded.region_prefix, "
            "active = true RETURNING id, role",
            roles,
            PREFIX,
        )
        return {r["role"]: r["id"] for r in rows}
    finally:
        await conn.close()


async def sample(url: str, settings) -> dict:
    """Random household ids and ID numbers of the county, and some facts about the data."""
    import asyncpg

    from services.core.crypto import keyring
    from services.core.households.sensitive import open_id_number

    ring = keyring(settings)

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(f"SELECT setseed({SEED / 10_000})")
        scope = "region_code >= $1 AND region_code < $1 || ':'"
        household_ids = [
            r[0]
            for r in await conn.fetch(
                f"SELECT id FROM households WHERE {scope} ORDER BY random() LIMIT {SAMPLE}", PREFIX
            )
        ]
        id_numbers = [
            open_id_number(ring, r[0])
            for r in await conn.fetch(
                f"SELECT id_number_enc FROM persons WHERE {scope} ORDER BY random() LIMIT {SAMPLE}", PREFIX
            )
        ]
        facts = {
            "persons": await conn.fetchval("SELECT count(*) FROM persons"),
            "households": await conn.fetchval("SELECT count(*) FROM households"),
            "cases": await conn.fetchval(f"SELECT count(*) FROM monitoring_cases WHERE {scope}", PREFIX),
            "open_cases": await conn.fetchval(
                f"SELECT count(*) FROM monitoring_cases WHERE {scope} AND closed_on IS NULL", PREFIX
            ),
            "due_within_7_days": await conn.fetchval(
                f"SELECT (SELECT count(*) FROM monitoring_cases WHERE {scope} AND next_deadline <= $2) + "
                f"(SELECT count(*) FROM risk_clues WHERE {scope} AND status = 'open' AND next_deadline <= $2)",
                PREFIX,
                china_today() + timedelta(days=7),
            ),
            "postgresql": await conn.fetchval("SHOW server_version"),
        }
    finally:
        await conn.close()
    if not household_ids or not id_numbers:
        raise SystemExit(f"no households or persons under region {PREFIX} in {BENCH_DB}")
    rng = random.Random(SEED)
    rng.shuffle(household_ids)
    rng.shuffle(id_numbers)
    return {"household_ids": household_ids, "id_numbers": id_numbers, "fixed": [None], **facts}


def china_today():
    from services.core.timeutil import today

    return today()


# ---- the SQL, exactly as the ORM runs it --------------------------------------------------


def compiled_statements() -> dict:
    """SQL text and positional parameters of both reads, as our API runs them
    (``ScopedRead.compile`` with the region prefix of the scope), for the bare app."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    import services.core.models  # noqa: F401 - every mapper configured
    from services.core.households.service import HOUSEHOLD_DETAIL, PERSON_LOOKUP

    out = {}
    for name, read in (("household", HOUSEHOLD_DETAIL), ("lookup", PERSON_LOOKUP)):
        sql, args, slots = read.compile(PREFIX, dialect())
        ((slot, _name, processor),) = slots
        if processor is not None:
            raise TypeError(f"the {name} statement's parameter needs a conversion the bare app does not make")
        for value in args:
            if not (value is None or isinstance(value, (str, int))):
                raise TypeError(f"unexpected literal parameter {value!r} in the {name} statement")
        out[name] = {"sql": sql, "params": args, "slot": slot}
    return out


async def orm_executions(url: str, settings, household_id: int, id_hash: bytes) -> dict:
    """What the ORM sends when it runs the same two statements through a scoped session
    (statement text and parameters), to check that the compiled SQL is the ORM's."""
    from sqlalchemy import event

    from services.core.db import Database, create_engine
    from services.core.households.service import HOUSEHOLD_DETAIL, PERSON_LOOKUP
    from services.core.scope import bind_scope

    engine = create_engine(url, settings, "bench-verify")
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, tuple(parameters)))

    db = Database(engine)
    out = {}
    try:
        for name, read, params in (
            ("household", HOUSEHOLD_DETAIL, {"household_id": household_id}),
            ("lookup", PERSON_LOOKUP, {"id_hash": id_hash}),
        ):
            async with db.session(readonly=True) as session:
                bind_scope(session, PREFIX)
                await session.execute(read.statement, params)
            out[name] = seen[-1]
    finally:
        await db.dispose()
    return out


def verify_sql(statements: dict, orm: dict, household_id: int, id_hash: bytes) -> None:
    for name, value in (("household", household_id), ("lookup", id_hash)):
        ours = statements[name]
        params = list(ours["params"])
        params[ours["slot"]] = value
        sql, orm_params = orm[name]
        if sql != ours["sql"] or list(orm_params) != params:
            raise SystemExit(
                f"the {name} SQL compiled for the bare app differs from what the ORM runs:\n"
                f"ORM:  {sql}\n      {orm_params}\nbare: {ours['sql']}\n      {params}"
            )
    print(
        "SQL check: both apps run the SQL the ORM compiles for these statements, byte for byte, with the same parameters"
    )


# ---- checks and output --------------------------------------------------------------------


def compare_responses(ours: Server, bare: Server, token: str, data: dict) -> list[str]:
    """The two apps must answer the same bodies and ETags (a few samples of each read)."""
    problems = []
    auth = {"Authorization": f"Bearer {token}"}
    for hid in data["household_ids"][:5]:
        a = ours.get(f"/api/v1/households/{hid}", auth)
        b = bare.get(f"/households/{hid}")
        if a[0] != 200 or (a[0], a[1].get("etag"), a[2]) != (b[0], b[1].get("etag"), b[2]):
            problems.append(f"household {hid}: ours {a[0]} {a[1].get('etag')}, bare {b[0]} {b[1].get('etag')}")
    for number in data["id_numbers"][:5]:
        body = json.dumps({"id_number": number}).encode()
        headers = {**auth, "Content-Type": "application/json"}
        a = ours.get("/api/v1/persons/lookup", headers, body)
        b = bare.get("/persons/lookup", {"Content-Type": "application/json"}, body)
        if a[0] != 200 or (a[0], a[1].get("etag"), a[2]) != (b[0], b[1].get("etag"), b[2]):
            problems.append(f"lookup {number[:6]}…: ours {a[0]} {a[1].get('etag')}, bare {b[0]} {b[1].get('etag')}")
    missing = (ours.get(f"/api/v1/households/{2**62}", auth)[0], bare.get(f"/households/{2**62}")[0])
    if missing != (404, 404):
        problems.append(f"missing household: ours {missing[0]}, bare {missing[1]}")
    return problems


def check_monitoring(ours: Server, token: str, names: list[str]) -> list[str]:
    """The monitoring scenarios must answer 200 with a non-empty body before they are timed
    (an endpoint that is missing or failing would otherwise be measured as fast errors)."""
    problems = []
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    for name in names:
        path = SCENARIOS[name]["ours"]["path"]
        status, _headers, body = ours.get(path, auth)
        if status != 200:
            problems.append(f"{name}: GET {path} answered {status}: {body[:300]!r}")
            continue
        document = json.loads(body)
        items = document.get("items") if isinstance(document, dict) else None
        print(
            f"{name}: GET {path} → 200, {len(body):,} bytes"
            + (f", {len(items)} items" if isinstance(items, list) else "")
        )
    if problems:
        print("WARNING:\n  " + "\n  ".join(problems))
    return problems


def fmt(value, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def per_request_us(result: dict, key: str):
    cpu = result.get(key)
    return None if cpu is None or not result["requests"] else cpu / result["requests"] * 1e6


def print_table(rows: list[dict], meta: dict) -> None:
    print()
    print(
        f"Results — {meta['persons']:,} persons, {meta['households']:,} households, "
        f"{meta['cases']:,} monitoring cases ({meta['open_cases']:,} open), "
        f"{meta['seconds']:g} s per run after {meta['warmup']:g} s warm-up, "
        f"{meta['cpus']} CPUs, PostgreSQL {meta['postgresql']}"
    )
    header = (
        f"{'scenario':<10} {'app':<5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}"
        f" | {'app CPU':>7} {'db CPU':>6} {'new db':>6} {'CPUs':>5}"
    )
    units = (
        f"{'':<10} {'':<5} {'':>7} {'':>7} {'':>7} {'':>7} {'':>6}"
        f" | {'µs/req':>7} {'µs/req':>6} {'conn/s':>6} {'busy':>5}"
    )
    print(header)
    print(units)
    print("-" * len(header))
    for row in rows:
        for app in ("ours", "bare"):
            if app not in row:
                continue
            r = row[app]
            print(
                f"{row['scenario']:<10} {app:<5} {r['rps']:>7.0f} {fmt(r['p50_ms']):>7} {fmt(r['p99_ms']):>7} "
                f"{fmt(r['max_ms']):>7} {r['errors']:>6} | {fmt(per_request_us(r, 'server_cpu_s'), '.0f'):>7} "
                f"{fmt(per_request_us(r, 'db_cpu_s'), '.0f'):>6} {fmt(r.get('db_sessions_per_s'), '.0f'):>6} "
                f"{fmt(r.get('machine_busy_cpus'), '.2f'):>5}"
            )
        v = row["verdict"]
        if "bare" in row:
            print(
                f"{'':<10} {row['concurrency']} clients; ours/bare throughput {fmt(v['ratio'], '.2f')} "
                f"(target ≥ {TARGET_RATIO}) {'PASS' if v['ratio_ok'] else 'FAIL'}; ours p99 "
                f"{fmt(row['ours']['p99_ms'])} ms (target < {TARGET_P99_MS:g}) {'PASS' if v['p99_ok'] else 'FAIL'}; "
                f"errors: {'none' if v['no_errors'] else 'SOME'} → {'PASS' if v['pass'] else 'FAIL'}"
            )
        else:
            print(
                f"{'':<10} {row['concurrency']} clients; p50 {fmt(row['ours']['p50_ms'])} ms "
                f"(target < {v['target_p50_ms']:g}) {'PASS' if v['p50_ok'] else 'FAIL'}; "
                f"errors: {'none' if v['no_errors'] else 'SOME'} → {'PASS' if v['pass'] else 'FAIL'}"
            )
        print("-" * len(header))
    overall = all(row["verdict"]["pass"] for row in rows)
    print(f"overall: {'PASS' if overall else 'FAIL'}   (figures in {RESULTS.relative_to(ROOT)})")


def target_verdict(ours: dict, target_p50_ms: float) -> dict:
    """A scenario measured against a latency target (no bare app to compare with)."""
    p50_ok = ours["p50_ms"] is not None and ours["p50_ms"] < target_p50_ms
    no_errors = ours["errors"] == 0 and ours["requests"] > 0
    return {"target_p50_ms": target_p50_ms, "p50_ok": p50_ok, "no_errors": no_errors, "pass": p50_ok and no_errors}


def verdict(ours: dict, bare: dict) -> dict:
    ratio = ours["rps"] / bare["rps"] if bare["rps"] else None
    ratio_ok = ratio is not None and ratio >= TARGET_RATIO
    p99_ok = ours["p99_ms"] is not None and ours["p99_ms"] < TARGET_P99_MS
    no_errors = ours["errors"] == 0 and bare["errors"] == 0
    return {
        "ratio": ratio,
        "ratio_ok": ratio_ok,
        "p99_ok": p99_ok,
        "no_errors": no_errors,
        "pass": ratio_ok and p99_ok and no_errors,
    }


# ---- main ---------------------------------------------------------------------------------


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM/SIGHUP: stop the servers like on Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    os.chdir(ROOT)
    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)

    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token
    from services.core.db import session_settings
    from services.core.idnumber import keyed_hash
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    if args.only == "funds":
        # Regions and funds data of its own in the bench database: the persons of the demo
        # county are not needed (benchmarks/funds.py).
        from benchmarks import funds
        from services.core.db import embedded_url
        from services.core.migrate import upgrade

        url = embedded_url(settings.data_dir, BENCH_DB)
        upgrade(url)
        funds.run(url, Settings(env="development", database_url=url), args.funds_scale, args.funds_runs)
        return 0
    if args.only == "clues":
        # A county and households of its own, in a database of its own (benchmarks/clue_intake.py).
        from benchmarks import clue_intake
        from services.core.db import embedded_url
        from services.core.migrate import upgrade

        url = embedded_url(settings.data_dir, clue_intake.BENCH_DB)
        upgrade(url)
        clue_intake.run(
            url, Settings(env="development", database_url=url), args.clues, args.clue_runs, args.clue_baseline
        )
        return 0
    if args.only == "labelled":
        # A database of its own, on the test server (tests/sync/labelled.py).
        from tests.sync.labelled import main as labelled

        return labelled(["--households", str(args.labelled_households)])
    url = prepare_database(settings, args.persons)
    os.environ["GUARDLINE_DATABASE_URL"] = url
    settings = Settings(env="development", database_url=url)
    if args.only == "sync":
        from benchmarks import sync_pipeline

        sync_pipeline.run(url, settings, {**os.environ, "PYTHONUNBUFFERED": "1"})
        return 0

    data = asyncio.run(sample(url, settings))
    statements = compiled_statements()
    id_hash = keyed_hash(data["id_numbers"][0], settings.id_hash_key)
    orm = asyncio.run(orm_executions(url, settings, data["household_ids"][0], id_hash))
    verify_sql(statements, orm, data["household_ids"][0], id_hash)

    # The bare app's pool is as large as the pool our API runs these reads on.
    pool_size = settings.db_read_pool_size
    names = [args.only] if args.only else list(SCENARIOS)
    with_bare = any("bare" in SCENARIOS[name] for name in names)
    servers: list[Server] = []
    children: list[subprocess.Popen] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="guardline-bench-") as tmp:
        workdir = Path(tmp)
        bare_config = workdir / "bare.json"
        bare_config.write_text(
            json.dumps(
                {
                    "dsn": plain_dsn(url),
                    "id_hash_key": settings.data_protection.id_hash_key.get_secret_value(),
                    "encryption_keys": {
                        k: v.get_secret_value() for k, v in settings.data_protection.encryption_keys.items()
                    },
                    "active_key": settings.data_protection.active_key,
                    # Same pool size and session settings as the API's read pool.
                    "pool_min": pool_size,
                    "pool_max": pool_size,
                    "pool_reset": False,  # see bare_app._keep_session
                    "server_settings": session_settings("bench-bare"),
                    **statements,
                }
            )
        )
        env = {
            **os.environ,
            "GUARDLINE_ENV": "development",
            "GUARDLINE_DATABASE_URL": url,
            "GUARDLINE_BENCH_BARE_CONFIG": str(bare_config),
            "PYTHONUNBUFFERED": "1",
            # Lists are limited to 120 a minute per caller, and every client here is the
            # same county user: the limiter still counts each request, it just never refuses.
            "GUARDLINE_RATE_LIMITS__BULK_READS_PER_MINUTE": str(BULK_READS_PER_MINUTE),
        }
        try:
            ours = Server("ours", ["--factory", "services.api.app:create_app"], env, workdir)
            servers.append(ours)
            apps = {"ours": ours}
            if with_bare:
                apps["bare"] = bare = Server("bare", ["benchmarks.bare_app:app"], env, workdir)
                servers.append(bare)
            for server in apps.values():
                server.wait_healthy()
            # Users of the county: county staff see health details (each such read is audited).
            # A token must agree with an account: one per role, at the county (created if absent).
            ids = asyncio.run(bench_users(url, [role.value for role in Role]))
            tokens = {
                role.value: issue_token(settings, Caller(ids[role.value], f"{role.value}.county", role, PREFIX))[0]
                for role in Role
            }
            token = tokens["county_staff"]
            problems = []
            if with_bare:
                problems = compare_responses(ours, bare, token, data)
                if problems:
                    print("WARNING: the two apps answer differently:\n  " + "\n  ".join(problems))
                else:
                    print("response check: both apps answer identical bodies and ETags")
            problems += check_monitoring(ours, token, [n for n in names if "bare" not in SCENARIOS[n]])
            pg_pid = postmaster_pid(url)
            for name in names:
                scenario = SCENARIOS[name]
                concurrency = args.concurrency or scenario.get("concurrency", DEFAULT_CONCURRENCY)
                row: dict[str, Any] = {"scenario": name, "title": scenario["title"], "concurrency": concurrency}
                for app, server in apps.items():
                    if app not in scenario:
                        continue
                    print(
                        f"{name}: {app} … ({concurrency} clients, {args.warmup:g} s warm-up + {args.seconds:g} s)",
                        flush=True,
                    )
                    result = run_load(
                        {
                            "scenario": name,
                            "app": app,
                            "port": server.port,
                            "token": tokens[scenario.get("role", "county_staff")],
                            "values": data[scenario["values"]],
                            "concurrency": concurrency,
                            "warmup": args.warmup,
                            "seconds": args.seconds,
                            "server_pid": server.proc.pid,
                            "postmaster_pid": pg_pid,
                            "dsn": plain_dsn(url),
                            **scenario[app],
                        },
                        workdir,
                        children,
                    )
                    print(
                        f"  {result['rps']:.0f} req/s, p50 {fmt(result['p50_ms'])} ms, "
                        f"p99 {fmt(result['p99_ms'])} ms, errors {result['errors']}"
                        + (f" {result['statuses']} {result['failures']}" if result["errors"] else ""),
                        flush=True,
                    )
                    row[app] = result
                if "bare" in row:
                    row["verdict"] = verdict(row["ours"], row["bare"])
                else:
                    row["verdict"] = target_verdict(row["ours"], scenario["target_p50_ms"])
                rows.append(row)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the servers")
            return 130
        finally:
            for proc in children:
                stop_process(proc)
            for server in servers:
                server.stop()

    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "persons": data["persons"],
        "households": data["households"],
        "cases": data["cases"],
        "open_cases": data["open_cases"],
        "due_within_7_days": data["due_within_7_days"],
        "postgresql": data["postgresql"],
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sample": SAMPLE,
        "targets": {
            "throughput_ratio_min": TARGET_RATIO,
            "ours_p99_ms_max": TARGET_P99_MS,
            "monitoring_p50_ms_max": TARGET_P50_MS,
        },
        "response_check": problems or "identical",
    }
    print_table(rows, meta)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "scenarios": rows}, indent=2, ensure_ascii=False) + "\n")
    if args.only is None:
        from benchmarks import sync_pipeline

        sync_pipeline.run(url, settings, {**os.environ, "PYTHONUNBUFFERED": "1"})
    return 0  # a benchmark reports; FAIL is in the table and the JSON, not the exit code


if __name__ == "__main__":
    sys.exit(main())
