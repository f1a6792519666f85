"""The first page of every list a county reads, and the pages after it, one request at a
time: where a read is slow.

    .venv/bin/python -m benchmarks.first_pages [--persons 1000000] [--requests 12] [--pages 20]
        [--only TEXT] [--before DIR]

On the bench database (the demo county, loaded as the main benchmark loads it), our API
under uvicorn is asked, as county staff and as an auditor of the county, for the first page
(50 rows) of each list below and a few single reads, ``--requests`` times one after the
other; then each list is paged through, following its ``next_cursor``, for up to ``--pages``
pages. Paging matters on its own: every page after the first has the same SQL text, and
after five runs PostgreSQL may plan it once for any cursor (a generic plan), which can be
far slower. It prints, slowest first, the status, the rows on the first page, the first
page's median and slowest latency (the first two requests left out), the pages walked and
their median and slowest: a list far above the others is one to look at with ``EXPLAIN
ANALYZE``. The ids in paths (a campaign, the cadre with most households, the household
with most follow-up visits) are read from the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from benchmarks.__main__ import BULK_READS_PER_MINUTE, PREFIX, bench_users, prepare_database
from benchmarks.harness import Server, plain_dsn

COUNTY_STAFF = [
    "/api/v1/households?limit=50",
    "/api/v1/monitoring-cases?limit=50",
    "/api/v1/risk-clues?limit=50",
    "/api/v1/monitoring-cases/overdue?within_days=7",
    "/api/v1/monitoring/statistics?region=529901&level=township",
    "/api/v1/monitoring/uncovered-households?limit=50",
    "/api/v1/monitoring/visit-breaches?limit=50",
    "/api/v1/campaigns?limit=50",
    "/api/v1/campaigns/{campaign}/unvisited?limit=50",
    "/api/v1/campaigns/{campaign}/visits?limit=50",
    "/api/v1/campaigns/{campaign}/teams?limit=50",
    "/api/v1/field-roster?limit=50",
    "/api/v1/field-roster/shortfalls?limit=50",
    "/api/v1/resident-attendance/shortfalls?limit=50",
    "/api/v1/follow-up/cadres/{cadre}/households?limit=50",
    "/api/v1/follow-up/overdue?limit=50",
    "/api/v1/follow-up/income-flags?limit=50",
    "/api/v1/follow-up/income-missing?limit=50",
    "/api/v1/findings?limit=50",
    "/api/v1/clearing-entries?limit=50",
    "/api/v1/rectifications?limit=50",
    "/api/v1/reports?limit=50",
    "/api/v1/funds?limit=50",
    "/api/v1/projects?limit=50",
    "/api/v1/assets?limit=50",
    "/api/v1/fund-findings?limit=50",
    "/api/v1/sync/runs?limit=50",
    "/api/v1/sync/quarantine?limit=50",
    "/api/v1/regions?limit=50",
    "/api/v1/income-lines?limit=50",
    "/api/v1/households/{household}",
    "/api/v1/households/{household}/income-records?limit=50",
    "/api/v1/households/{household}/follow-up-visits?limit=50",
    "/api/v1/households/{household}/cadre-assignments?limit=50",
]
AUDITOR = [
    "/api/v1/audit/events?limit=50",
    "/api/v1/audit/events?limit=50&result=failure",
    "/api/v1/audit/events?limit=50&result=denied",
    "/api/v1/audit/events?limit=50&action=household.read_health",
    "/api/v1/audit/events?limit=50&object_type=household&object_id={household}",
    "/api/v1/audit/events?limit=50&region=529901002",
]


async def _ids(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return {
            "campaign": await conn.fetchval("SELECT max(id) FROM field_campaigns") or 0,
            "cadre": await conn.fetchval(
                "SELECT cadre_user_id FROM household_cadres WHERE to_on IS NULL "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
            or 0,
            "household": await conn.fetchval(
                "SELECT household_id FROM followup_visits GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
            or 0,
        }
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--pages", type=int, default=20, help="pages to walk through each list (20)")
    parser.add_argument(
        "--only", metavar="TEXT", help="only the paths containing TEXT, and each page's time printed in turn"
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="a checkout of the code before a change: each list's pages asked of both apps in turn, side by side",
    )
    args = parser.parse_args()

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token
    from services.core.settings import Settings

    settings = Settings(env="development", database_url=None)
    url, _ = prepare_database(settings, args.persons)
    ids = asyncio.run(_ids(url))
    users = asyncio.run(bench_users(url, ["county_staff", "auditor"]))
    tokens = {
        role: issue_token(settings, Caller(users[role], f"{role}.county", Role(role), PREFIX))[0] for role in users
    }
    env = {
        **os.environ,
        "GUARDLINE_DATABASE_URL": url,
        "GUARDLINE_RATE_LIMITS__BULK_READS_PER_MINUTE": str(BULK_READS_PER_MINUTE),
    }
    if args.before is not None:
        return _compare(args, env, ids, tokens)
    rows = []
    with tempfile.TemporaryDirectory(prefix="guardline-pages-") as tmp:
        server = Server("ours", ["--factory", "services.api.app:create_app"], env, Path(tmp))
        try:
            server.wait_healthy()
            for role, headers, path in _paths(args, ids, tokens):
                took = []
                for _ in range(max(3, args.requests)):
                    started = time.perf_counter()
                    status, _, body = server.get(path, headers)
                    took.append((time.perf_counter() - started) * 1000)
                document = json.loads(body) if status == 200 else {}
                walked = _walk(server, path, headers, document.get("next_cursor"), args.pages)
                first = (statistics.median(took[2:]), max(took[2:]))
                rows.append((max(first[1], max(walked, default=0.0)), first, walked, status, document, role, path))
        finally:
            server.stop()
    print(
        f"{'first page: median':>18} {'max':>6} {'pages':>5} {'median':>6} {'max':>6} status {'rows':>4}  role          path"
    )
    for _, (median, slowest), walked, status, document, role, path in sorted(rows, key=lambda r: r[0], reverse=True):
        count = str(len(document["items"])) if "items" in document else "—"
        deeper = (
            f"{len(walked):>5} {statistics.median(walked):>6.1f} {max(walked):>6.1f}"
            if walked
            else f"{0:>5} {'':>6} {'':>6}"
        )
        print(f"{median:>18.1f} {slowest:>6.1f} {deeper} {status:>6} {count:>4}  {role:<13} {path}")
        if args.only and walked:
            print(f"{'':>18} pages after the first, ms: {' '.join(f'{ms:.1f}' for ms in walked)}")
    return 0


def _paths(args, ids: dict, tokens: dict):
    """(role, its headers, path) of every list asked for (``--only``: those containing it)."""
    for role, paths in (("county_staff", COUNTY_STAFF), ("auditor", AUDITOR)):
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        for template in paths:
            path = template.format(**ids)
            if not args.only or args.only in path:
                yield role, headers, path


def _compare(args, env: dict, ids: dict, tokens: dict) -> int:
    """``--before``: the code of ``args.before`` and this checkout, each under uvicorn, asked
    for the same pages in turn (before-after, then after-before, …), ``--requests`` rounds;
    each list's first page and the pages after it (up to ``--pages``, by ``next_cursor``),
    their median milliseconds for each app and after/before of the sums of those medians."""
    from benchmarks import stats

    with tempfile.TemporaryDirectory(prefix="guardline-pages-") as tmp:
        servers = {
            "before": Server("before", ["--factory", "services.api.app:create_app"], env, Path(tmp), cwd=args.before),
            "after": Server("after", ["--factory", "services.api.app:create_app"], env, Path(tmp)),
        }
        try:
            for server in servers.values():
                server.wait_healthy()
            print(
                f"{'first page: before':>18} {'after':>6} {'pages':>5} {'before':>6} {'after':>6} {'after/before':>12}  path"
            )
            for role, headers, path in _paths(args, ids, tokens):
                status, _, body = servers["after"].get(path, headers)
                cursor = json.loads(body).get("next_cursor") if status == 200 else None
                urls = [path]
                while cursor and len(urls) <= args.pages:
                    urls.append(f"{path}&cursor={quote(cursor)}")
                    status, _, body = servers["after"].get(urls[-1], headers)
                    cursor = json.loads(body).get("next_cursor") if status == 200 else None
                took: dict[str, list[list[float]]] = {name: [[] for _ in urls] for name in servers}
                for _, name in stats.interleaved(list(servers), max(3, args.requests)):
                    for i, url in enumerate(urls):
                        started = time.perf_counter()
                        servers[name].get(url, headers)
                        took[name][i].append((time.perf_counter() - started) * 1000)
                medians = {name: [statistics.median(t) for t in took[name]] for name in servers}
                deeper = (
                    f"{len(urls) - 1:>5} {statistics.median(medians['before'][1:]):>6.1f} "
                    f"{statistics.median(medians['after'][1:]):>6.1f}"
                    if len(urls) > 1
                    else f"{0:>5} {'':>6} {'':>6}"
                )
                ratio = sum(medians["after"]) / sum(medians["before"])
                print(
                    f"{medians['before'][0]:>18.1f} {medians['after'][0]:>6.1f} {deeper} {ratio:>12.2f}  "
                    f"{role[:7]} {path}",
                    flush=True,
                )
        finally:
            for server in servers.values():
                server.stop()
    return 0


def _walk(server: Server, path: str, headers: dict, cursor: str | None, pages: int) -> list[float]:
    """Milliseconds of each page after the first, following ``next_cursor`` for up to ``pages``."""
    took: list[float] = []
    while cursor and len(took) < pages:
        started = time.perf_counter()
        status, _, body = server.get(f"{path}&cursor={quote(cursor)}", headers)
        took.append((time.perf_counter() - started) * 1000)
        cursor = json.loads(body).get("next_cursor") if status == 200 else None
    return took


if __name__ == "__main__":
    raise SystemExit(main())
