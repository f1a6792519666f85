"""Ledgers-out benchmark (issue 21): an XLSX export of N households streamed from a real server.

    .venv/bin/python -m benchmarks.exports [--rows 20000] [--format xlsx|csv]

In a database of its own (``guardline_bench_exports`` on the embedded server, recreated on
every run: the demo regions, one county staff account and ``--rows`` households spread over
the county's villages, written with one INSERT … SELECT), the API runs under uvicorn in a
process of its own (``services.api.app:create_app``, as ``guardline serve`` runs it). A first,
small export (one village) warms the process up; then ``GET /api/v1/households/export`` of
the whole county is read to its end while a thread samples the server process's resident
memory (``/proc/<pid>/status`` VmRSS, every 20 ms).

Printed: rows, bytes, time to the first byte and to the last, rows a second, the server's
RSS before the export and its peak during it, and the growth. The issue asks for 100,000
rows in under 20 s with flat memory: run with ``--rows 100000`` (the default, 20,000, runs
in well under a minute). Flat means the growth does not follow the row count: the export
holds one batch of 1,000 rows and the compressor's window, so 20,000 and 100,000 rows grow
the process by about the same few megabytes. Figures in ``benchmarks/results/exports.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import fresh_database
from benchmarks.harness import Server, plain_dsn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "exports.json"
BENCH_DB = "guardline_bench_exports"
COUNTY = "529901"
TARGET_SECONDS = 20.0  # issue 21: 100,000 rows
SAMPLE_SECONDS = 0.02


def _upgrade(url: str) -> None:
    from services.core.migrate import upgrade

    upgrade(url)


async def _prepare(url: str, settings, rows: int) -> tuple[int, str]:
    """The database: regions, the county staff account (its id) and ``rows`` households; one village."""
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.core.db import create_engine
    from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv
    from services.core.scope import UNRESTRICTED, bind_scope

    await fresh_database(plain_dsn(url), BENCH_DB)
    await asyncio.to_thread(_upgrade, url)
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
        user = await conn.fetchval(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "VALUES ('county_staff.county', 'county_staff', '-', 'county_staff', $1, true, 1) RETURNING id",
            COUNTY,
        )
        villages = [
            r[0]
            for r in await conn.fetch(
                "SELECT code FROM regions WHERE level = 5 AND code LIKE $1 ORDER BY code", COUNTY + "%"
            )
        ]
        # Names with a leading '=' now and then: the formula escaping is part of the work.
        await conn.execute(
            """
            INSERT INTO households (household_no, region_code, category, flags, status, head_name, member_count,
                                    version)
            SELECT ($2::text[])[1 + n % array_length($2::text[], 1)] || lpad(n::text, 8, '0'),
                   ($2::text[])[1 + n % array_length($2::text[], 1)],
                   (ARRAY['lifted_out', 'monitored', 'ordinary'])[1 + n % 3],
                   CASE WHEN n % 7 = 0 THEN ARRAY['dibao'] ELSE '{}' END,
                   'active', CASE WHEN n % 97 = 0 THEN '=户主' || n ELSE '户主' || n END, 1 + n % 6, 1
            FROM generate_series(1, $1) AS n
            """,
            rows,
            villages,
        )
        await conn.execute("ANALYZE households")
    finally:
        await conn.close()
    return user, villages[0]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """The peak resident memory of process ``pid`` while it runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = _rss_kib(pid)
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(SAMPLE_SECONDS)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def _download(port: int, path: str, token: str) -> tuple[int, int, float, float, bytes]:
    """(status, bytes, seconds to the first byte, seconds to the last, the first 64 KiB)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        first = response.read(1)
        first_at = time.perf_counter() - started
        size = len(first)
        head = io.BytesIO(first)
        while chunk := response.read(1 << 16):
            size += len(chunk)
            if head.tell() < 1 << 16:
                head.write(chunk)
        return response.status, size, first_at, time.perf_counter() - started, head.getvalue()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="households to export (the issue: 100000)")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    os.environ["GUARDLINE_ENV"] = "development"
    os.environ.pop("GUARDLINE_DATABASE_URL", None)
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller, issue_token
    from services.core.db import embedded_url
    from services.core.settings import Settings

    base = Settings(env="development", database_url=None)
    url = embedded_url(base.data_dir, BENCH_DB)
    settings = Settings(env="development", database_url=url)
    print(f"writing {args.rows:,} households …", flush=True)
    user, village = asyncio.run(_prepare(url, settings, args.rows))
    token = issue_token(settings, Caller(user, "county_staff.county", Role.county_staff, COUNTY))[0]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GUARDLINE_DATABASE_URL": url}
    with tempfile.TemporaryDirectory(prefix="guardline-bench-exports-") as tmp:
        server = Server("api", ["--factory", "services.api.app:create_app"], env, Path(tmp))
        try:
            server.wait_healthy()
            status, *_ = _download(
                server.port, f"/api/v1/households/export?format={args.format}&region={village}", token
            )
            if status != 200:
                raise SystemExit(f"warm-up export answered {status}:\n{server.log_tail()}")
            time.sleep(0.5)
            before = _rss_kib(server.proc.pid)
            sampler = Sampler(server.proc.pid)
            sampler.start()
            status, size, first_at, seconds, head = _download(
                server.port, f"/api/v1/households/export?format={args.format}", token
            )
            peak = sampler.stop()
            if status != 200:
                raise SystemExit(f"export answered {status}: {head[:300]!r}\n{server.log_tail()}")
        finally:
            server.stop()
    growth_mib = (peak - before) / 1024
    met = seconds < TARGET_SECONDS * args.rows / 100_000 if args.rows < 100_000 else seconds < TARGET_SECONDS
    print(
        f"{args.format} export of {args.rows:,} households: {size / 1e6:,.1f} MB, first byte after "
        f"{first_at * 1000:,.0f} ms, last after {seconds:,.2f} s ({args.rows / seconds:,.0f} rows/s)\n"
        f"server RSS: {before / 1024:,.1f} MiB before, peak {peak / 1024:,.1f} MiB during: growth {growth_mib:,.1f} MiB\n"
        f"target: 100,000 rows in < {TARGET_SECONDS:.0f} s"
        + (
            f": {'met' if met else 'NOT met'}"
            if args.rows >= 100_000
            else f" (at this rate 100,000 rows take {100_000 / (args.rows / seconds):,.1f} s; run --rows 100000)"
        )
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "format": args.format,
                "bytes": size,
                "first_byte_s": first_at,
                "seconds": seconds,
                "rows_per_s": args.rows / seconds,
                "rss_before_kib": before,
                "rss_peak_kib": peak,
                "rss_growth_mib": growth_mib,
                "target_s_per_100k": TARGET_SECONDS,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
