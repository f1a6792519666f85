"""Before and after a change of the API, side by side: the monitoring case list (or another
list, or one household) served by two checkouts of our app on the same bench database,
interleaved and repeated (``benchmarks/README.md``: the method).

``python -m benchmarks.direct_lists --before /tmp/old-checkout`` runs the code of
``--before`` (a plain copy of an earlier commit, e.g. ``git archive <commit> | tar -x -C
DIR``) as ``before`` and this checkout as ``after``, each under uvicorn as the main
benchmark runs ours, and measures ``GET /api/v1/monitoring-cases?limit=50`` at pages of every
depth (one request in twenty the first page) as county staff, at 16 clients by default
(``--list clues``: the risk clues so; ``--list overdue``: the first page of the work list;
``--list overdue-pages``: its first 40 pages, following ``next_cursor``, one request in twenty the first;
``--list household``: ``GET /api/v1/households/{id}`` of random households of the county;
``--list followup-overdue``: the late follow-up visits, ``GET /api/v1/follow-up/overdue``;
``--list income-missing``: the households missing the latest due quarter's income,
``GET /api/v1/follow-up/income-missing``; ``--list unvisited``: the households the county's
screening campaign has not visited, ``GET /api/v1/campaigns/{id}/unvisited``;
``--list income-flags``: the households whose income is low or fell, ``GET
/api/v1/follow-up/income-flags``; ``--list cadre-households``: the households of random assistance cadres of the county, ``GET
/api/v1/follow-up/cadres/{id}/households``).
``--gzip`` asks for gzip (``Accept-Encoding: gzip``), as mobile apps' HTTP clients do.
It prints each app's throughput, latency and CPU per request (the app's and the database's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
from pathlib import Path

from benchmarks import stats
from benchmarks.__main__ import (
    BENCH_DB,
    BULK_READS_PER_MINUTE,
    PREFIX,
    SEED,
    bench_users,
    fmt,
    per_request_us,
    prepare_database,
    sample,
)
from benchmarks.harness import Server, plain_dsn, postmaster_pid, run_load

PATHS = {
    "cases": "/api/v1/monitoring-cases?limit=50{}",
    "clues": "/api/v1/risk-clues?limit=50{}",
    "overdue": "/api/v1/monitoring-cases/overdue?within_days=7{}",  # the first page, as the main benchmark asks it
    "overdue-pages": "/api/v1/monitoring-cases/overdue?within_days=7{}",
    "household": "/api/v1/households/{}",
    "followup-overdue": "/api/v1/follow-up/overdue?limit=50{}",
    "income-missing": "/api/v1/follow-up/income-missing?limit=50{}",
    "unvisited": "/api/v1/campaigns/{campaign}/unvisited?limit=50{}",
    "income-flags": "/api/v1/follow-up/income-flags?limit=50{}",
    "cadre-households": "/api/v1/follow-up/cadres/{}/households?limit=50",
}
TABLES = {
    "cases": "monitoring_cases",
    "clues": "risk_clues",
    "followup-overdue": "households",
    "income-missing": "households",
    "unvisited": "households",
    "income-flags": "households",
}


async def _campaign(url: str) -> int:
    """The demo county's screening campaign (the demo load makes one)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        found = await conn.fetchval("SELECT min(id) FROM field_campaigns WHERE region_prefix LIKE $1", PREFIX + "%")
    finally:
        await conn.close()
    if found is None:
        raise SystemExit("the bench database has no campaign of the county: reload it (python -m benchmarks --reload)")
    return found


async def _cadres(url: str, count: int) -> list[str]:
    """Random assistance cadres of the county with households now."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT cadre_user_id FROM household_cadres WHERE to_on IS NULL AND region_code LIKE $1",
            PREFIX + "%",
        )
    finally:
        await conn.close()
    rng = random.Random(SEED)
    return [str(rng.choice(rows)[0]) for _ in range(count)]


async def _cursors(url: str, table: str, count: int) -> list[str]:
    import asyncpg

    from services.core.paging import encode_cursor

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(f"SELECT id FROM {table} WHERE region_code LIKE $1", PREFIX + "%")
        ids = [row[0] for row in rows]
    finally:
        await conn.close()
    rng = random.Random(SEED)
    return ["" if i % 20 == 0 else "&cursor=" + encode_cursor([rng.choice(ids)]) for i in range(count)]


def _walked(server: Server, path: str, headers: dict, pages: int) -> list[str]:
    """Query suffixes of the list's pages after the first, by ``next_cursor`` (up to
    ``pages``), one in twenty the first page."""
    import json
    from urllib.parse import quote

    out: list[str] = []
    cursor = json.loads(server.get(path.format(""), headers)[2]).get("next_cursor")
    while cursor and len(out) < pages:
        out.append(f"&cursor={quote(cursor)}")
        cursor = json.loads(server.get(path.format(out[-1]), headers)[2]).get("next_cursor")
    return ["" if i % 20 == 0 else out[i % len(out)] for i in range(400)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code before the change")
    parser.add_argument("--list", choices=sorted(PATHS), default="cases")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="ask for gzip, as mobile apps do")
    args = parser.parse_args()

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token
    from services.core.db import embedded_url
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    url, _ = prepare_database(settings, args.persons)
    assert url == embedded_url(settings.data_dir, BENCH_DB)
    ids = asyncio.run(bench_users(url, ["county_staff"]))
    token = issue_token(settings, Caller(ids["county_staff"], "county_staff.county", Role.county_staff, PREFIX))[0]
    if args.list in TABLES:
        values = asyncio.run(_cursors(url, TABLES[args.list], 400))
    elif args.list == "cadre-households":
        values = asyncio.run(_cadres(url, 400))
    elif args.list == "household":
        values = [str(i) for i in asyncio.run(sample(url, settings))["household_ids"]]
    else:
        values = [""]
    env = {
        **os.environ,
        "GUARDLINE_DATABASE_URL": url,
        "GUARDLINE_RATE_LIMITS__BULK_READS_PER_MINUTE": str(BULK_READS_PER_MINUTE),
    }
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    children: list = []
    with tempfile.TemporaryDirectory(prefix="guardline-lists-") as tmp:
        workdir = Path(tmp)
        servers = {
            "before": Server("before", ["--factory", "services.api.app:create_app"], env, workdir, cwd=args.before),
            "after": Server("after", ["--factory", "services.api.app:create_app"], env, workdir),
        }
        try:
            for server in servers.values():
                server.wait_healthy()
            path = PATHS[args.list]
            if args.list == "unvisited":
                path = path.replace("{campaign}", str(asyncio.run(_campaign(url))))
            headers = {"Authorization": f"Bearer {token}"}
            if args.list == "overdue-pages":
                values = _walked(servers["after"], path, headers, 40)
            if args.gzip:
                headers["Accept-Encoding"] = "gzip"
            answers = {name: s.get(path.format(values[-1]), headers) for name, s in servers.items()}
            if answers["before"][0] != 200 or answers["before"][2] != answers["after"][2]:
                raise SystemExit(f"the two apps answer differently: {answers}")
            print(f"same answer from both ({len(answers['after'][2])} bytes)", flush=True)
            for rep, app in stats.interleaved(["before", "after"], args.repeat):
                result = run_load(
                    {
                        "scenario": args.list,
                        "app": app,
                        "port": servers[app].port,
                        "token": token,
                        "values": values,
                        "concurrency": args.clients,
                        "warmup": args.warmup,
                        "seconds": args.seconds,
                        "server_pid": servers[app].proc.pid,
                        "postmaster_pid": postmaster_pid(url),
                        "dsn": plain_dsn(url),
                        "kind": "get",
                        "path": path,
                        "accept_encoding": "gzip" if args.gzip else None,
                    },
                    workdir,
                    children,
                )
                runs[app].append(result)
                print(
                    f"{app} run {rep + 1}: {result['rps']:.0f} req/s, p50 {fmt(result['p50_ms'])} ms, "
                    f"p99 {fmt(result['p99_ms'])} ms, errors {result['errors']}, CPU a request: app "
                    f"{fmt(per_request_us(result, 'server_cpu_s'), '.0f')} µs, "
                    f"database {fmt(per_request_us(result, 'db_cpu_s'), '.0f')} µs",
                    flush=True,
                )
        finally:
            for server in servers.values():
                server.stop()
    for app, results in runs.items():
        rps = sorted(r["rps"] for r in results)
        p50 = sorted(r["p50_ms"] for r in results)
        cpu = sorted(per_request_us(r, "server_cpu_s") or 0.0 for r in results)
        print(
            f"{app}: {rps[len(rps) // 2]:.0f} req/s ({rps[0]:.0f}–{rps[-1]:.0f}), p50 {p50[len(p50) // 2]:.1f} ms, "
            f"app CPU {cpu[len(cpu) // 2]:.0f} µs a request ({cpu[0]:.0f}–{cpu[-1]:.0f})"
        )
    ratios = sorted(a["rps"] / b["rps"] for a, b in zip(runs["after"], runs["before"], strict=True))
    print(
        f"after/before throughput per repetition: median {ratios[len(ratios) // 2]:.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
