"""Read-path benchmark: our API against a bare Starlette + asyncpg app doing the same work,
side by side, and the targets of issue 19 in one table.

    .venv/bin/python -m benchmarks [--persons N] [--seconds S] [--warmup W] [--clients 16,64]
                                   [--repeat 3] [--concurrency C] [--only SCENARIO] [--targets]

With the demo county loaded (``--persons``, default 1,000,000) it measures, under 16 and 64
concurrent keep-alive clients (``--clients``), reads of our API (uvicorn, uvloop, httptools,
one worker) and the same reads from ``benchmarks/bare_app.py``, which runs the byte-identical
SQL on the same database and does the same work with the rows for the scenario's role
(decrypting health details for county staff and writing each such read's audit event as
ours does, nothing of either for the masked roles):

* household, household-masked: ``GET /api/v1/households/{id}``
* lookup, lookup-masked:        ``POST /api/v1/persons/lookup`` (same JSON body)
* households-list:              ``GET /api/v1/households?limit=50`` at every depth of the list

The runs of the two apps are interleaved (ours, bare, bare, ours, …) and repeated
(``--repeat``, 3); every figure is the median of the runs with its spread (min–max), and
ours/bare is taken per repetition (``benchmarks/stats.py``).

The monitoring scenarios run against our API only, as county staff of the loaded county,
with 8 concurrent clients unless ``--concurrency`` is given (issue 4: p50 < 200 ms; issue
19: the statistics' p99 < 100 ms); ``fund-indicators`` asks the province's indicator set
over HTTP as a province-level account, one request at a time (issue 19: p95 < 150 ms):

* overdue:         ``GET /api/v1/monitoring-cases/overdue?within_days=7`` (first page)
* statistics:      ``GET /api/v1/monitoring/statistics?region=529901&level=township``
* fund-indicators: ``GET /api/v1/fund-indicators?year=2026&region=52``

``--targets`` measures what issue 19 asks (the list, the one-household reads, the
statistics, the fund indicators, the sync staging against a server-side COPY, the demo
load) and prints one table of the targets with PASS/FAIL. The figures are written to
``benchmarks/results/latest.json`` (and ``targets.json``).
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

from benchmarks import stats
from benchmarks.harness import ROOT, Server, plain_dsn, postmaster_pid, run_load, stop_process

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
TARGETS = ROOT / "benchmarks" / "results" / "targets.json"
BENCH_DB = "guardline_bench"
PREFIX = "529901"  # the demo county; the caller's region scope
SAMPLE = 20_000
SEED = 2026
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
DEFAULT_CLIENTS = (16, 64)  # issue 19: every comparison with the bare app at 16 and at 64 clients
DEFAULT_REPEAT = 3  # issue 19: at least three interleaved repetitions, medians and spread
LIST_LIMIT = 50
LIST_CURSORS = 400  # cursors sampled at every depth of the county's list
FUNDS_YEAR = 2026  # benchmarks/funds.py generates this year
FUNDS_CLIENTS = 1  # the province's indicator set: the latency of one request at a time
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
    # them nor writes a sensitive-read event to the audit trail, and the bare app runs the
    # statement compiled for that role and returns PostgreSQL's document as it is (no
    # decryption either): the same work on both sides.
    "household-masked": {
        "title": "GET one household, as an auditor (no health details)",
        "ours": {"kind": "get", "path": "/api/v1/households/{}"},
        "bare": {"kind": "get", "path": "/masked/households/{}"},
        "values": "household_ids",
        "role": "auditor",
    },
    "lookup-masked": {
        "title": "look up by ID number, as a department system (no health details)",
        "ours": {"kind": "post", "path": "/api/v1/persons/lookup", "body_field": "id_number"},
        "bare": {"kind": "post", "path": "/masked/persons/lookup", "body_field": "id_number"},
        "values": "id_numbers",
        "role": "department_system",
    },
    # The household list of the county, 50 a page, at every depth: each request is the
    # first page or the page after a cursor sampled over the whole list (issue 19).
    "households-list": {
        "title": f"GET the county's household list, {LIST_LIMIT} a page, pages at every depth",
        "ours": {"kind": "get", "path": f"/api/v1/households?limit={LIST_LIMIT}{{}}"},
        "bare": {"kind": "get", "path": f"/households?limit={LIST_LIMIT}{{}}"},
        "values": "list_cursors",
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
    # The compliance indicators of the whole province over HTTP, as a province-level user
    # (issue 19: p95 < 150 ms); needs the funds data of benchmarks/funds.py.
    "fund-indicators": {
        "title": "the province's fund indicators over HTTP, as province staff",
        "ours": {"kind": "get", "path": "/api/v1/fund-indicators?year={}&region=52"},
        "values": "funds_year",
        "concurrency": FUNDS_CLIENTS,
        "token": "province",
        "target_p50_ms": TARGET_P50_MS,
    },
}
# Not part of a run without --only (it needs the funds data, generated by --only funds).
OPT_IN = {"fund-indicators"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000, help="persons in the demo county (1,000,000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each run (3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"concurrent keep-alive clients, one figure for every scenario (instead of --clients for the "
        f"comparisons with the bare app, {MONITORING_CONCURRENCY} for the monitoring scenarios)",
    )
    parser.add_argument(
        "--clients",
        default=",".join(map(str, DEFAULT_CLIENTS)),
        help="client counts of the comparisons with the bare app, comma-separated (16,64)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help=f"interleaved repetitions of every run; medians and spread over them ({DEFAULT_REPEAT}, at least 3)",
    )
    parser.add_argument(
        "--targets",
        action="store_true",
        help="measure every target of issue 19 and print one table of them with PASS/FAIL "
        "(also benchmarks/results/targets.json)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="recreate and load the bench database even when it holds enough persons (times the demo load)",
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
    try:
        args.clients = tuple(int(c) for c in args.clients.split(","))
    except ValueError:
        parser.error("--clients takes numbers separated by commas, e.g. 16,64")
    if not args.clients or min(args.clients) < 1:
        parser.error("need --clients >= 1")
    if args.concurrency is not None:
        args.clients = (args.concurrency,)
    if args.repeat < 1:
        parser.error("need --repeat >= 1 (3 or more for a median with a spread)")
    if args.persons < 100 or args.seconds <= 0 or args.warmup < 0 or (args.concurrency or 1) < 1:
        parser.error("need --persons >= 100, --seconds > 0, --warmup >= 0, --concurrency >= 1")
    return args


# ---- database ---------------------------------------------------------------------------


def prepare_database(settings, persons: int, reload: bool = False) -> tuple[str, float | None]:
    """Start (or join) the embedded server, and make sure the bench database holds at least
    ``persons`` persons; when it holds fewer (or with ``reload``) it is recreated, migrated
    and loaded. Returns the URL and the seconds the demo load took (None without a load)."""
    from services.core.db import embedded_url
    from services.core.migrate import upgrade

    url = embedded_url(settings.data_dir, BENCH_DB)
    upgrade(url)
    have, cases = asyncio.run(_count_persons(url))
    if have >= persons and cases >= have // 40 and not reload:
        print(f"database {BENCH_DB}: {have:,} persons and {cases:,} monitoring cases already loaded")
        return url, None
    print(
        f"database {BENCH_DB}: {have:,} persons ({cases:,} monitoring cases), {persons:,} wanted: recreating "
        f"and loading (about a minute or two for 1,000,000) ...",
        flush=True,
    )
    asyncio.run(_recreate(url))
    upgrade(url)
    started = time.perf_counter()
    summary = asyncio.run(_load(url, settings, persons))
    load_s = time.perf_counter() - started
    print(f"loaded in {load_s:.1f} s: {summary}", flush=True)
    return url, load_s


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


async def bench_users(url: str, roles: list[str], prefix: str = PREFIX, suffix: str = "county") -> dict[str, int]:
    """Ids of the accounts ``<role>.<suffix>`` over the region ``prefix`` (the bench county
    by default; made if missing)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "SELECT r || $3, r, '-', r, $2, true, 1 FROM unnest($1::text[]) AS r "
            "ON CONFLICT (username) DO UPDATE SET role = excluded.role, region_prefix = excluded.region_prefix, "
            "active = true RETURNING id, role",
            roles,
            prefix,
            f".{suffix}",
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
    return {
        "household_ids": household_ids,
        "id_numbers": id_numbers,
        "list_cursors": list_cursors(household_ids, LIST_CURSORS, rng),
        "fixed": [None],
        "funds_year": [FUNDS_YEAR],
        **facts,
    }


def list_cursors(household_ids: list[int], count: int, rng: random.Random) -> list[str]:
    """Query suffixes of the list scenario: the first page and pages after cursors at every
    depth of the list (the cursor of a page is the id of the last household of the page
    before; any household's id is one). One request in twenty asks for the first page."""
    from services.core.paging import encode_cursor

    ids = sorted(household_ids)
    picks = [ids[rng.randrange(len(ids))] for _ in range(count)]
    out = [f"&cursor={encode_cursor([i])}" for i in picks]
    for at in range(0, len(out), 20):
        out[at] = ""
    return out


def china_today():
    from services.core.timeutil import today

    return today()


# ---- the SQL, exactly as the ORM runs it --------------------------------------------------


def role_reads(role: str) -> tuple[bool, bool]:
    """(health details shown, birth dates shown) for a role, as our API decides them."""
    from services.core.accounts.roles import PERMISSIONS, Permission, Role
    from services.core.households.sensitive import sees_birth_date

    permissions = PERMISSIONS[Role(role)]
    return Permission.registry_health in permissions, sees_birth_date(permissions)


def reads() -> dict:
    """name -> (ScopedRead, its parameter's name): the reads the bare app runs, each as our
    API runs it for the role of its scenario (``household``/``lookup``: county staff;
    ``household_masked``: an auditor; ``lookup_masked``: a department system)."""
    import services.core.models  # noqa: F401 - every mapper configured
    from services.core.households.service import _HOUSEHOLD_READS, _PERSON_LOOKUPS

    out = {}
    for name, role in (
        ("household", "county_staff"),
        ("lookup", "county_staff"),
        ("household_masked", SCENARIOS["household-masked"]["role"]),
        ("lookup_masked", SCENARIOS["lookup-masked"]["role"]),
    ):
        health, born = role_reads(role)
        if name.startswith("household"):
            out[name] = (_HOUSEHOLD_READS[health, born], "household_id", health)
        else:
            out[name] = (_PERSON_LOOKUPS[born], "id_hash", health)
        if health != (not name.endswith("masked")):
            raise SystemExit(f"the role of {name} {'sees' if health else 'does not see'} health details")
    return out


def compiled_statements() -> dict:
    """SQL text and positional parameters of the reads, as our API runs them
    (``ScopedRead.compile`` with the region prefix of the scope), for the bare app."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    out = {}
    for name, (read, _param, _health) in reads().items():
        sql, args, slots = read.compile(PREFIX, dialect())
        ((slot, _name, processor),) = slots
        if processor is not None:
            raise TypeError(f"the {name} statement's parameter needs a conversion the bare app does not make")
        for value in args:
            if not (value is None or isinstance(value, (str, int))):
                raise TypeError(f"unexpected literal parameter {value!r} in the {name} statement")
        out[name] = {"sql": sql, "params": args, "slot": slot}
    return out


def recording_database(url: str, settings, name: str) -> tuple[Any, list[tuple[str, tuple]]]:
    """A ``Database`` whose every statement (text and parameters) is appended to the list
    returned with it: those the engine sends (the ORM), and those run on the read pool (the
    compiled direct reads, ``scope.ScopedRead``), which no engine event sees."""
    from sqlalchemy import event

    from services.core.db import Database, create_engine

    engine = create_engine(url, settings, name)
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, tuple(parameters)))

    db = Database(engine)
    for method in ("fetch_row", "fetch_rows"):
        run = getattr(db, method)

        async def recorded(sql, args, *rest, _run=run, **options):
            seen.append((sql, tuple(args)))
            return await _run(sql, args, *rest, **options)

        setattr(db, method, recorded)
    return db, seen


async def orm_executions(url: str, settings, household_id: int, id_hash: bytes) -> dict:
    """What the ORM sends when it runs the same statements through a scoped session
    (statement text and parameters), to check that the compiled SQL is the ORM's."""
    from services.core.scope import bind_scope

    db, seen = recording_database(url, settings, "bench-verify")
    out = {}
    values = {"household_id": household_id, "id_hash": id_hash}
    try:
        for name, (read, param, _health) in reads().items():
            async with db.session(readonly=True) as session:
                bind_scope(session, PREFIX)
                await session.execute(read.statement, {param: values[param]})
            out[name] = seen[-1]
    finally:
        await db.dispose()
    return out


def verify_sql(statements: dict, orm: dict, household_id: int, id_hash: bytes) -> None:
    from services.core.scope import inline_fixed

    for name in statements:
        value = household_id if name.startswith("household") else id_hash
        ours = statements[name]
        params = list(ours["params"])
        params[ours["slot"]] = value
        sql, orm_params = orm[name]
        # The direct read writes its fixed values (region bounds, constants) into the text
        # (``scope.inline_fixed``): the ORM's statement, so written, must be the same.
        if value in orm_params:
            sql, orm_params, slots = inline_fixed(sql, list(orm_params), [(list(orm_params).index(value), "", None)])
            orm_params[slots[0][0]] = value
        if sql != ours["sql"] or list(orm_params) != params:
            raise SystemExit(
                f"the {name} SQL compiled for the bare app differs from what the ORM runs:\n"
                f"ORM:  {sql}\n      {orm_params}\nbare: {ours['sql']}\n      {params}"
            )
    print(
        "SQL check: the bare app runs the SQL the ORM compiles for these statements, byte for byte, with the same "
        "parameters (" + ", ".join(statements) + ")"
    )


async def list_statements(url: str, settings, token: str, after_id: int) -> dict:
    """The SQL our API sends for the household list (first page, and the page after a
    cursor), captured from the ORM and the read pool while our app answers ``GET /api/v1/households`` in
    process as county staff: whatever way the API builds the list, the bare app runs the
    statement it sent. The cursor's slot among the parameters is where the cursor's id is."""
    import httpx

    from services.api.app import create_app
    from services.core.paging import encode_cursor

    # The servers' own limit (``BULK_READS_PER_MINUTE``): the counts are kept in the database,
    # so a benchmark run just before (``direct_lists``) would otherwise leave this user limited.
    limits = settings.rate_limits.model_copy(update={"bulk_reads_per_minute": BULK_READS_PER_MINUTE})
    settings = settings.model_copy(update={"rate_limits": limits})
    db, seen = recording_database(url, settings, "bench-list")
    app = create_app(settings, database=db)
    auth = {"Authorization": f"Bearer {token}"}
    captured = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            for name, query in (("first", ""), ("after", f"&cursor={encode_cursor([after_id])}")):
                seen.clear()
                response = await client.get(f"/api/v1/households?limit={LIST_LIMIT}{query}", headers=auth)
                if response.status_code != 200:
                    raise SystemExit(f"GET /api/v1/households answered {response.status_code}: {response.text[:300]}")
                lists = [(sql, params) for sql, params in seen if "households" in sql and "LIMIT" in sql.upper()]
                if len(lists) != 1:
                    raise SystemExit(f"expected one list statement for the {name} page, captured {len(lists)}")
                captured[name] = lists[0]
    finally:
        await db.dispose()
    (first_sql, first_params), (after_sql, after_params) = captured["first"], captured["after"]
    slots = [i for i, value in enumerate(after_params) if value == after_id]
    if len(slots) != 1:
        raise SystemExit(f"cannot tell the cursor's parameter among {after_params!r}")
    limit = LIST_LIMIT
    for params in (first_params, after_params):
        for value in params:
            if not (value is None or isinstance(value, (str, int))):
                raise TypeError(f"unexpected parameter {value!r} in the list statement")
    print(f"list SQL: captured from our API ({len(first_sql)} and {len(after_sql)} characters)")
    return {
        "first_sql": first_sql,
        "first_params": list(first_params),
        "after_sql": after_sql,
        "after_params": list(after_params),
        "slot": slots[0],
        "limit": limit,
    }


# ---- checks and output --------------------------------------------------------------------


def compare_responses(ours: Server, bare: Server, tokens: dict, data: dict) -> list[str]:
    """The two apps must answer the same bodies and ETags, scenario by scenario (a few
    samples of each read, as the scenario's role; list pages at several depths)."""
    from services.core.paging import encode_cursor

    problems = []

    def same(label: str, a, b) -> None:
        if a[0] != 200 or (a[0], a[1].get("etag"), a[2]) != (b[0], b[1].get("etag"), b[2]):
            problems.append(
                f"{label}: ours {a[0]} {a[1].get('etag')} {len(a[2])} bytes, bare {b[0]} {b[1].get('etag')} "
                f"{len(b[2])} bytes"
            )

    for scenario in ("household", "household-masked"):
        auth = {"Authorization": f"Bearer {tokens[SCENARIOS[scenario].get('role', 'county_staff')]}"}
        for hid in data["household_ids"][:5]:
            a = ours.get(SCENARIOS[scenario]["ours"]["path"].format(hid), auth)
            same(f"{scenario} {hid}", a, bare.get(SCENARIOS[scenario]["bare"]["path"].format(hid)))
    for scenario in ("lookup", "lookup-masked"):
        auth = {"Authorization": f"Bearer {tokens[SCENARIOS[scenario].get('role', 'county_staff')]}"}
        for number in data["id_numbers"][:5]:
            body = json.dumps({"id_number": number}).encode()
            headers = {**auth, "Content-Type": "application/json"}
            a = ours.get(SCENARIOS[scenario]["ours"]["path"], headers, body)
            b = bare.get(SCENARIOS[scenario]["bare"]["path"], {"Content-Type": "application/json"}, body)
            same(f"{scenario} {number[:6]}…", a, b)
    auth = {"Authorization": f"Bearer {tokens['county_staff']}"}
    # The first page, pages at sampled depths, and the page after the last household (empty).
    queries = [*data["list_cursors"][:8], data["list_cursors"][20]]
    queries.append(f"&cursor={encode_cursor([max(data['household_ids'])])}")
    for query in queries:
        a = ours.get(SCENARIOS["households-list"]["ours"]["path"].format(query), auth)
        same(f"list page {query or '(first)'}", a, bare.get(SCENARIOS["households-list"]["bare"]["path"].format(query)))
        if a[0] == 200 and not query and len(json.loads(a[2])["items"]) != LIST_LIMIT:
            problems.append("list: the first page is not full")
    missing = (ours.get(f"/api/v1/households/{2**62}", auth)[0], bare.get(f"/households/{2**62}")[0])
    if missing != (404, 404):
        problems.append(f"missing household: ours {missing[0]}, bare {missing[1]}")
    # One sensitive-read event for each health read above (five households, five look-ups).
    status, _headers, body = bare.get("/audit-written")
    written = json.loads(body)["written"] if status == 200 else None
    if written != 10:
        problems.append(f"the bare app wrote {written} audit events for its 10 reads of health details")
    return problems


AUDIT_COMPARED = (
    "actor, actor_name, client, role, action, object_type, object_id, region_code, result, status, ip, detail"
)


async def compare_audit_rows(url: str, data: dict) -> list[str]:
    """The response check's health reads left the same audit rows from both apps: for each
    household and person read, two rows alike in every column but the id, the hash chain,
    the moment and the request id."""
    import asyncpg

    households = {str(h) for h in data["household_ids"][:5]}
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        for _ in range(100):  # ours writes its events within audit.read_flush_ms
            rows = await conn.fetch(
                f"SELECT {AUDIT_COMPARED} FROM audit_log "
                "WHERE action IN ('household.read_health', 'person.read_health') ORDER BY id DESC LIMIT 20"
            )
            seen: dict[tuple, int] = {}
            for row in rows:
                seen[tuple(row)] = seen.get(tuple(row), 0) + 1
            read = {r["object_id"] for r in rows if r["object_type"] == "household"}
            if len(rows) == 20 and all(n == 2 for n in seen.values()) and read == households:
                return []
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return [f"the two apps' audit rows of the response check differ: {len(seen)} kinds of {len(rows)} rows"]


def audit_caller(user_id: int) -> dict:
    """The caller's fields of a sensitive-read event (``auditing.base_event``) of the county's
    staff, for the bare app's audit rows."""
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller

    caller = Caller(user_id, "county_staff.county", Role.county_staff, PREFIX)
    return {
        "actor": caller.principal,
        "actor_name": caller.username,
        "role": caller.role.value,
        "client": None,
        "region_code": caller.region_prefix or None,
    }


def check_monitoring(ours: Server, tokens: dict, data: dict, names: list[str]) -> list[str]:
    """The scenarios of our app alone must answer 200 with a non-empty body before they are
    timed (an endpoint that is missing or failing would otherwise be measured as fast errors)."""
    problems = []
    for name in names:
        scenario = SCENARIOS[name]
        token = tokens[scenario.get("token", scenario.get("role", "county_staff"))]
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        path = scenario["ours"]["path"].format(data[scenario["values"]][0])
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


# The targets of each scenario: (what, figure, operator, bound, unit). A figure is
# ``ratio:<key>`` (ours/bare per repetition, then the median) or ``ours:<key>`` (the median
# of our runs). Issue 19 for the list, the household reads and the statistics' p99;
# issue 3 for the lookups, issue 4 for the monitoring p50, issue 19 for the funds' p95.
SCENARIO_TARGETS: dict[str, list[tuple[str, str, str, float, str]]] = {
    "household": [("ours/bare throughput", "ratio:rps", "at_least", 0.7, "×")],
    "household-masked": [("ours/bare throughput", "ratio:rps", "at_least", 0.8, "×")],
    "lookup": [("ours/bare throughput", "ratio:rps", "at_least", TARGET_RATIO, "×")],
    "lookup-masked": [("ours/bare throughput", "ratio:rps", "at_least", TARGET_RATIO, "×")],
    "households-list": [
        ("ours/bare throughput", "ratio:rps", "at_least", 0.6, "×"),
        ("ours/bare p99", "ratio:p99_ms", "at_most", 2.0, "×"),
    ],
    "overdue": [("p50", "ours:p50_ms", "below", TARGET_P50_MS, " ms")],
    "statistics": [
        ("p50", "ours:p50_ms", "below", TARGET_P50_MS, " ms"),
        ("p99", "ours:p99_ms", "below", 100.0, " ms"),
    ],
    "fund-indicators": [("p95", "ours:p95_ms", "below", 150.0, " ms")],
}
# What ``--targets`` measures over HTTP (plus the demo load and the sync staging).
TARGET_SCENARIOS = ("households-list", "household", "household-masked", "statistics", "fund-indicators")
TARGET_LOAD_S = 30.0  # issue 19: the demo load of 1,000,000 persons
TARGET_STAGING_SHARE = 0.5  # issue 19: staging ≥ 0.5 × a server-side COPY of the same rows


def fmt(value, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def per_request_us(result: dict, key: str):
    cpu = result.get(key)
    return None if cpu is None or not result["requests"] else cpu / result["requests"] * 1e6


def aggregate(name: str, clients: int, runs: dict[str, list[dict]]) -> dict:
    """The figures of one scenario at one client count from its interleaved runs: per app
    the median and spread of every figure, ours/bare per repetition, and the targets."""
    row: dict[str, Any] = {"scenario": name, "title": SCENARIOS[name]["title"], "concurrency": clients, "runs": runs}
    for app, results in runs.items():
        for result in results:
            result["server_cpu_us"] = per_request_us(result, "server_cpu_s")
            result["db_cpu_us"] = per_request_us(result, "db_cpu_s")
        row[app] = stats.summarise(
            results, ("rps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "server_cpu_us", "db_cpu_us")
        )
    if "bare" in runs:
        row["ratio"] = {
            key: stats.spread(stats.ratios([r[key] for r in runs["ours"]], [r[key] for r in runs["bare"]]))
            for key in ("rps", "p50_ms", "p99_ms")
        }
    row["targets"] = scenario_targets(row)
    return row


def scenario_targets(row: dict) -> list[dict]:
    """The target lines of a scenario's aggregated row (``SCENARIO_TARGETS``)."""
    out = []
    errors = sum(row[app]["errors"] for app in ("ours", "bare") if app in row)
    for what, figure, operator, bound, unit in SCENARIO_TARGETS.get(row["scenario"], []):
        kind, key = figure.split(":")
        figures = row["ratio"][key] if kind == "ratio" else row["ours"][key]
        spec = ".2f" if kind == "ratio" else ".1f"
        clients = row["concurrency"]
        label = f"{row['scenario']} {what}, {clients} client{'s' if clients != 1 else ''}"
        out.append(stats.target_row(label, figures, operator, bound, unit=unit, spec=spec, errors=errors))
    return out


def measure(
    name: str, clients: int, args, apps: dict, tokens: dict, data: dict, pg_pid, url: str, workdir, children
) -> dict:
    """One scenario at one client count: the apps' runs interleaved, ``args.repeat`` times."""
    scenario = SCENARIOS[name]
    names = [app for app in ("ours", "bare") if app in scenario]
    runs: dict[str, list[dict]] = {app: [] for app in names}
    for rep, app in stats.interleaved(names, args.repeat):
        print(
            f"{name}: {app} run {rep + 1}/{args.repeat} … ({clients} clients, {args.warmup:g} s warm-up + "
            f"{args.seconds:g} s)",
            flush=True,
        )
        server = apps[app]
        result = run_load(
            {
                "scenario": name,
                "app": app,
                "port": server.port,
                "token": tokens[scenario.get("token", scenario.get("role", "county_staff"))],
                "values": data[scenario["values"]],
                "concurrency": clients,
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
            f"  {result['rps']:.0f} req/s, p50 {fmt(result['p50_ms'])} ms, p95 {fmt(result['p95_ms'])} ms, "
            f"p99 {fmt(result['p99_ms'])} ms, errors {result['errors']}"
            + (f" {result['statuses']} {result['failures']}" if result["errors"] else ""),
            flush=True,
        )
        runs[app].append(result)
    return aggregate(name, clients, runs)


def print_table(rows: list[dict], meta: dict) -> None:
    print()
    print(
        f"Results — {meta['persons']:,} persons, {meta['households']:,} households, "
        f"{meta['cases']:,} monitoring cases ({meta['open_cases']:,} open), "
        f"{meta['repeat']} interleaved runs of {meta['seconds']:g} s after {meta['warmup']:g} s warm-up each, "
        f"{meta['cpus']} CPUs, PostgreSQL {meta['postgresql']}"
    )
    print("Figures: median (min–max) over the runs; ours/bare is taken per repetition, then its median.")
    header = (
        f"{'scenario':<16} {'clients':>7} {'app':<5} {'req/s':<20} {'p50 ms':<18} {'p99 ms':<20} {'errors':>6}"
        f" | {'app CPU':>7} {'db CPU':>6}"
    )
    print(header)
    print(f"{'':<16} {'':>7} {'':<5} {'':<20} {'':<18} {'':<20} {'':>6} | {'µs/req':>7} {'µs/req':>6}")
    print("-" * len(header))
    for row in rows:
        for app in ("ours", "bare"):
            if app not in row:
                continue
            r = row[app]
            print(
                f"{row['scenario']:<16} {row['concurrency']:>7} {app:<5} {stats.figure_text(r['rps'], '.0f'):<20} "
                f"{stats.figure_text(r['p50_ms'], '.1f'):<18} {stats.figure_text(r['p99_ms'], '.1f'):<20} "
                f"{r['errors']:>6} | {fmt(r['server_cpu_us']['median'], '.0f'):>7} {fmt(r['db_cpu_us']['median'], '.0f'):>6}"
            )
        if "ratio" in row:
            print(
                f"{'':<16} {'':>7} ours/bare: throughput {stats.figure_text(row['ratio']['rps'])}, "
                f"p50 {stats.figure_text(row['ratio']['p50_ms'])}, p99 {stats.figure_text(row['ratio']['p99_ms'])}"
            )
        for t in row["targets"]:
            print(f"{'':<16} {'':>7} target: {t['target']} {t['bound']}: {t['measured']} {t['verdict']}")
        print("-" * len(header))
    verdicts = [t["verdict"] for row in rows for t in row["targets"]]
    overall = "FAIL" if "FAIL" in verdicts else "PASS"
    print(f"overall: {overall}   (figures in {RESULTS.relative_to(ROOT)})")


def load_target(load_s: float | None, persons: int) -> dict:
    """The demo load against 30 s for 1,000,000 persons, scaled to the persons loaded."""
    bound = stats.scaled_target(TARGET_LOAD_S, persons)
    figures = stats.spread([load_s] if load_s is not None else [])
    note = "one load"
    if persons != 1_000_000:
        note += f"; {TARGET_LOAD_S:g} s for 1,000,000 persons scaled to {persons:,}"
    if load_s is None:
        note = "not measured: the database was loaded before (--reload times a load)"
    return stats.target_row(
        f"demo load of {persons:,} persons", figures, "below", bound, unit=" s", spec=".1f", note=note
    )


def staging_target(sync: dict | None) -> dict:
    if sync is None:
        return stats.target_row("sync staging / server-side COPY", {}, "at_least", TARGET_STAGING_SHARE, unit="×")
    s = sync["side_by_side"]
    return stats.target_row(
        "sync staging / server-side COPY",
        s["share"],
        "at_least",
        TARGET_STAGING_SHARE,
        unit="×",
        note=f"{s['records']:,} records, {s['prepare_processes']} preparing process(es); {s['copy_method']}",
    )


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
    url, load_s = prepare_database(settings, args.persons, args.reload)
    os.environ["GUARDLINE_DATABASE_URL"] = url
    settings = Settings(env="development", database_url=url)
    if args.only == "sync":
        from benchmarks import sync_pipeline

        sync_pipeline.run(url, settings, {**os.environ, "PYTHONUNBUFFERED": "1"}, repeat=args.repeat)
        return 0

    if args.targets:
        names = list(TARGET_SCENARIOS)
    elif args.only:
        names = [args.only]
    else:
        names = [name for name in SCENARIOS if name not in OPT_IN]
    if "fund-indicators" in names:
        # The funds data of the province (generated once; benchmarks/funds.py).
        from benchmarks import funds

        asyncio.run(funds.ensure_data(url, settings, funds.scale_of(args.funds_scale)))

    data = asyncio.run(sample(url, settings))
    statements = compiled_statements()
    id_hash = keyed_hash(data["id_numbers"][0], settings.id_hash_key)
    orm = asyncio.run(orm_executions(url, settings, data["household_ids"][0], id_hash))
    verify_sql(statements, orm, data["household_ids"][0], id_hash)

    # Users of the county: county staff see health details (each such read is audited).
    # A token must agree with an account: one per role, at the county (created if absent),
    # and county staff at the province for the province's figures.
    ids = asyncio.run(bench_users(url, [role.value for role in Role]))
    province = asyncio.run(bench_users(url, ["county_staff"], "52", "province"))["county_staff"]
    tokens = {
        role.value: issue_token(settings, Caller(ids[role.value], f"{role.value}.county", role, PREFIX))[0]
        for role in Role
    }
    tokens["province"] = issue_token(settings, Caller(province, "county_staff.province", Role.county_staff, "52"))[0]
    with_bare = any("bare" in SCENARIOS[name] for name in names)
    if with_bare:
        after_id = sorted(data["household_ids"])[len(data["household_ids"]) // 2]
        statements["households_list"] = asyncio.run(list_statements(url, settings, tokens["county_staff"], after_id))

    # The bare app's pool is as large as the pool our API runs these reads on.
    pool_size = settings.db_read_pool_size
    servers: list[Server] = []
    children: list[subprocess.Popen] = []
    rows = []
    problems: list[str] = []
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
                    # Its health reads are audited as ours are, as county staff of the county.
                    "audit": {"flush_ms": settings.audit.read_flush_ms, "caller": audit_caller(ids["county_staff"])},
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
            if with_bare:
                problems = compare_responses(ours, bare, tokens, data)
                problems += asyncio.run(compare_audit_rows(url, data))
                if problems:
                    print("WARNING: the two apps answer differently:\n  " + "\n  ".join(problems))
                else:
                    print("response check: both apps answer identical bodies and ETags, scenario by scenario")
            problems += check_monitoring(ours, tokens, data, [n for n in names if "bare" not in SCENARIOS[n]])
            pg_pid = postmaster_pid(url)
            for name in names:
                scenario = SCENARIOS[name]
                if args.concurrency:
                    counts: tuple[int, ...] = (args.concurrency,)
                elif "concurrency" in scenario:
                    counts = (scenario["concurrency"],)
                else:
                    counts = args.clients
                for clients in counts:
                    rows.append(measure(name, clients, args, apps, tokens, data, pg_pid, url, workdir, children))
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
        "clients": list(args.clients),
        "repeat": args.repeat,
        "order": "interleaved: ours, bare, then bare, ours, … (each repetition a pair, every other one reversed)",
        "seconds": args.seconds,
        "warmup": args.warmup,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sample": SAMPLE,
        "load_s": load_s,
        "targets": {name: [list(t) for t in SCENARIO_TARGETS.get(name, [])] for name in names},
        "response_check": problems or "identical",
        # What the bare app ran for the list (captured from our API's ORM).
        "list_sql": {k: v for k, v in statements.get("households_list", {}).items() if k.endswith("sql")},
    }
    print_table(rows, meta)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "scenarios": rows}, indent=2, ensure_ascii=False) + "\n")
    sync = None
    if args.only is None:
        from benchmarks import sync_pipeline

        sync = sync_pipeline.run(
            url, settings, {**os.environ, "PYTHONUNBUFFERED": "1"}, repeat=args.repeat, end_to_end=not args.targets
        )
    if args.targets:
        table = [t for row in rows for t in row["targets"]]
        table.append(staging_target(sync))
        table.append(load_target(load_s, data["persons"]))
        if problems:
            for t in table:
                t["note"] = (t["note"] + "; " if t["note"] else "") + "response check failed"
                if t["verdict"] == "PASS":
                    t["verdict"] = "FAIL"
        print()
        size = (
            ""
            if data["persons"] >= 1_000_000
            else f" — SMALL-SIZE RUN ({data['persons']:,} persons), not the 1,000,000 of the issue"
        )
        print(
            f"Targets of issue 19{size}: {args.repeat} interleaved runs of {args.seconds:g} s each; "
            "median (min–max) over the runs"
        )
        print(stats.targets_table(table))
        TARGETS.write_text(
            json.dumps({"meta": meta, "targets": table, "sync": sync}, indent=2, ensure_ascii=False, default=str) + "\n"
        )
        print(f"(figures in {TARGETS.relative_to(ROOT)})")
    return 0  # a benchmark reports; FAIL is in the table and the JSON, not the exit code


if __name__ == "__main__":
    sys.exit(main())
