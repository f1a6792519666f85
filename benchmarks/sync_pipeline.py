"""Department sync benchmark (issue 5): a 1,000,000-record source end to end.

    .venv/bin/python -m benchmarks --only sync [--persons N]

With the demo county of ``--persons`` persons in the bench database, the medical-insurance
simulator serves it (one enrolment per person for the year, plus claims for about 5 %:
≈ 1.05 records per person). Then, in one run:

1. **End to end**: ``guardline sync run --source medical-insurance`` as its own process
   (pages of 5,000): simulator → normalised → staged → reconciled against the registry.
   Printed: records/s of the pull (fetch + stage), seconds of the reconciliation, the whole
   run, and the worker process's peak memory (its maximum resident set, from wait4).
2. **Staging against a raw COPY, side by side**: the same records, read once from the
   simulator into a file, are (a) COPYed raw with asyncpg into a plain table (key, type,
   ID number, name, payload as jsonb), and (b) staged as the worker stages them
   (normalise, hash, encrypt, COPY into the stage table, upsert, quarantine, cursor),
   page by page, both timed on the same pages.

Targets: staging ≥ 30 % of the COPY rate; reconciliation of 1,000,000 records < 60 s;
worker peak memory < 500 MB. The figures go to ``benchmarks/results/sync.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

from benchmarks.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sync.json"
SOURCE = "medical-insurance"
COUNTY = "529901"
PAGE = 5000
TARGET_STAGING_SHARE = 0.30
TARGET_RECONCILE_S = 60.0
TARGET_RSS_MB = 500.0
SYNC_TABLES = "sync_runs, sync_cursors, sync_source_states, dept_records, sync_quarantine, sync_findings"


async def reset(dsn: str) -> None:
    """A first run, as on a new installation: no staged records, findings or sync clues."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {SYNC_TABLES} RESTART IDENTITY CASCADE")
        await conn.execute("DELETE FROM clue_reports WHERE source LIKE 'sync:%'")
        await conn.execute(
            "DELETE FROM risk_clues c WHERE c.case_id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM clue_reports r WHERE r.clue_id = c.id)"
        )
        await conn.execute("VACUUM ANALYZE dept_records")
    finally:
        await conn.close()


def sources_file(workdir: Path, port: int) -> Path:
    from services.core.sync.config import builtin_sources_on

    path = workdir / "sources.toml"
    path.write_text(builtin_sources_on({SOURCE: port}), encoding="utf-8")
    return path


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def end_to_end(env: dict) -> dict:
    """The run as the worker does it, in its own process; returns the run and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "sync", "run", "--source", SOURCE, "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = b"", b""
    # Read both pipes while waiting (the progress line goes to stderr), then reap with wait4
    # for the child's resource usage.
    import threading

    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def drain(stream, key):
        for line in stream:
            chunks[key].append(line)

    tree_peak = [0.0]
    finished = threading.Event()

    def sample():  # the worker with its preparing processes, twice a second
        while not finished.wait(0.5):
            tree_peak[0] = max(tree_peak[0], _tree_rss_mb(proc.pid))

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, "out")),
        threading.Thread(target=drain, args=(proc.stderr, "err")),
        threading.Thread(target=sample, daemon=True),
    ]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    finished.set()
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    out, err = b"".join(chunks["out"]), b"".join(chunks["err"])
    if proc.returncode != 0:
        raise RuntimeError(f"sync run failed ({proc.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    run = json.loads(out.decode().strip().splitlines()[-1])
    # ru_maxrss: the largest single process (the worker or a preparing child); the tree's
    # sampled sum is what the machine had to give the worker as a whole.
    return {"run": run, "wall_s": elapsed, "peak_rss_mb": usage.ru_maxrss / 1024, "tree_peak_mb": tree_peak[0]}


def _seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


async def dump_pages(settings, source, path: Path) -> int:
    """The source's records, read once through the worker's client, one JSON page per line."""
    from services.worker.fetch import SourceClient

    client = SourceClient(source, settings.sync.model_copy(update={"page_size": PAGE}))
    total = 0
    position = None
    try:
        with path.open("wb") as f:
            while True:
                page = await client.page(position, COUNTY)
                f.write(orjson.dumps(page.items) + b"\n")
                total += len(page.items)
                if page.done:
                    return total
                position = page.position
    finally:
        await client.aclose()


def pages(path: Path):
    with path.open("rb") as f:
        for line in f:
            yield orjson.loads(line)


RAW_COLUMNS = ("key", "type", "id_no", "name", "payload")


async def raw_copy(dsn: str, path: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        await conn.execute("CREATE TABLE bench_raw_copy (key text, type text, id_no text, name text, payload jsonb)")
        began = time.perf_counter()  # reading the pages from the file counts, as for staging
        for items in pages(path):
            rows = [
                (r.get("key"), r.get("type"), str(r.get("id_no")), r.get("name"), orjson.dumps(r).decode())
                for r in items
            ]
            async with conn.transaction():
                await conn.copy_records_to_table("bench_raw_copy", records=rows, columns=RAW_COLUMNS)
        return time.perf_counter() - began
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        await conn.close()


async def staging(dsn: str, settings, source, path: Path, processes: int) -> tuple[float, dict]:
    """The worker's staging (``staging.pipeline``: pages prepared in ``processes`` other
    processes while the previous one is written) of the pages in ``path``."""
    from services.core.crypto import keyring
    from services.core.sync.normalise import Normaliser
    from services.worker.staging import PageIn, Preparer, Stager, pipeline, write_page

    name = "bench-staging"  # its own source name: every record is new, as on a first run
    stager = Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    totals = {"fetched": 0, "staged": 0, "quarantined": 0}
    try:
        run_id = await pool.fetchval(  # a run row for the counts; no worker takes it
            "INSERT INTO sync_runs (source, county, trigger, status, phase, not_before, attempts, pages, fetched, "
            "staged, unchanged, quarantined, retries) VALUES ($1, $2, 'manual', 'running', 'fetching', now(), 0, 0, 0, "
            "0, 0, 0, 0) RETURNING id",
            name,
            COUNTY,
        )

        async def read():
            for number, items in enumerate(pages(path)):
                yield PageIn(items, None, {"page": number}, False)

        async def write(page, prepared) -> None:
            async with pool.acquire() as conn, conn.transaction():
                counts = await write_page(
                    conn, prepared, source=name, county=COUNTY, run_id=run_id, position=page.position, complete=False
                )
            for key in totals:
                totals[key] += getattr(counts, key)

        preparer = Preparer(stager, source, settings, processes)
        # The preparing processes start before the clock does.
        await asyncio.gather(*(preparer.prepare(PageIn([])) for _ in range(preparer.depth)))
        began = time.perf_counter()
        try:
            await pipeline(read(), preparer, write)
        finally:
            preparer.close()
        return time.perf_counter() - began, totals
    finally:
        for table in ("dept_records", "sync_quarantine", "sync_cursors", "sync_runs"):
            await pool.execute(f"DELETE FROM {table} WHERE source = $1", name)
        await pool.close()


def run(url: str, settings, env_base: dict) -> dict:
    from services.core.db import asyncpg_dsn
    from services.core.sync.config import parse_sources
    from services.simulators import launch

    dsn = asyncpg_dsn(url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="guardline-sync-bench-") as tmp:
        workdir = Path(tmp)
        conf = sources_file(workdir, port)
        source = parse_sources(conf.read_text(encoding="utf-8")).get(SOURCE)
        env = {
            **env_base,
            "GUARDLINE_DATABASE_URL": url,
            "GUARDLINE_SYNC__SOURCES_FILE": str(conf),
            "GUARDLINE_SYNC__PAGE_SIZE": str(PAGE),
        }
        print(f"sync: starting the {SOURCE} simulator on port {port} …", flush=True)
        sim = launch.spawn(SOURCE, port, "--database-url", url, env=env)
        try:
            asyncio.run(reset(dsn))
            print("sync: end to end (guardline sync run, its own process) …", flush=True)
            e2e = end_to_end(env)
            r = e2e["run"]
            pull_s = _seconds(r["started_at"], r["reconcile_started_at"])
            reconcile_s = _seconds(r["reconcile_started_at"], r["clues_started_at"])
            clues_s = _seconds(r["clues_started_at"], r["finished_at"])
            print(
                f"  {r['fetched']:,} records: pull {pull_s:.1f} s ({r['fetched'] / pull_s:,.0f} records/s), "
                f"reconcile {reconcile_s:.1f} s, {r['clues']:,} risk clues {clues_s:.1f} s, whole run "
                f"{e2e['wall_s']:.1f} s, peak memory {e2e['peak_rss_mb']:.0f} MB (with its preparing process "
                f"{e2e['tree_peak_mb']:.0f} MB)",
                flush=True,
            )
            print("sync: staging against a raw COPY of the same records …", flush=True)
            dump = workdir / "pages.jsonl"
            asyncio.run(dump_pages(settings, source, dump))
        finally:
            launch.stop(sim)
        copy_s = asyncio.run(raw_copy(dsn, dump))
        # With one preparing process (the default) and with two, one after the other.
        staged_by = {n: asyncio.run(staging(dsn, settings, source, dump, n)) for n in (1, 2)}
        processes = min(staged_by, key=lambda n: staged_by[n][0])
        stage_s, staged = staged_by[processes]
    records = staged["fetched"]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": SOURCE,
        "page_size": PAGE,
        "records": r["fetched"],
        "staged": r["staged"],
        "quarantined": r["quarantined"],
        "matched": r["matched"],
        "unmatched": r["unmatched"],
        "findings_open": r["findings_open"],
        "clues": r["clues"],
        "pull_s": round(pull_s, 2),
        "pull_records_per_s": round(r["fetched"] / pull_s),
        "reconcile_s": round(reconcile_s, 2),
        "clues_s": round(clues_s, 2),
        "clues_per_s": round(r["clues"] / clues_s, 1) if clues_s else None,
        "run_wall_s": round(e2e["wall_s"], 2),
        "end_to_end_records_per_s": round(r["fetched"] / e2e["wall_s"]),
        "worker_peak_rss_mb": round(e2e["peak_rss_mb"], 1),
        "worker_tree_peak_mb": round(e2e["tree_peak_mb"], 1),
        "side_by_side": {
            "records": records,
            "prepare_processes": processes,
            "staging_records_per_s_by_processes": {n: round(records / t) for n, (t, _) in staged_by.items()},
            "copy_s": round(copy_s, 2),
            "copy_records_per_s": round(records / copy_s),
            "staging_s": round(stage_s, 2),
            "staging_records_per_s": round(records / stage_s),
            "staging_share_of_copy": round(copy_s / stage_s, 3),
        },
        "targets": {
            "staging_share_min": TARGET_STAGING_SHARE,
            "reconcile_s_max": TARGET_RECONCILE_S,
            "worker_rss_mb_max": TARGET_RSS_MB,
        },
    }
    result["verdict"] = {
        "staging_share": "PASS" if copy_s / stage_s >= TARGET_STAGING_SHARE else "FAIL",
        "reconcile": "PASS" if reconcile_s < TARGET_RECONCILE_S else "FAIL",
        "memory": "PASS" if max(e2e["peak_rss_mb"], e2e["tree_peak_mb"]) < TARGET_RSS_MB else "FAIL",
    }
    print_result(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def print_result(res: dict) -> None:
    s = res["side_by_side"]
    v = res["verdict"]
    print()
    print(
        f"department sync, {res['source']}: {res['records']:,} records against the registry "
        f"({res['matched']:,} matched, {res['unmatched']:,} unmatched, {res['quarantined']:,} quarantined, "
        f"{res['findings_open']:,} findings open, {res['clues']:,} clues)"
    )
    print("| measure | figure | target | verdict |")
    print("| --- | --- | --- | --- |")
    print(f"| pull (fetch + normalise + stage) | {res['pull_records_per_s']:,} records/s ({res['pull_s']} s) | | |")
    print(
        f"| reconciliation (match, rules, findings merged) | {res['reconcile_s']} s | < {TARGET_RECONCILE_S:.0f} s "
        f"| {v['reconcile']} |"
    )
    print(
        f"| risk clues through the monitoring intake | {res['clues']:,} in {res['clues_s']} s "
        f"({res['clues_per_s']}/s) | | |"
    )
    print(f"| whole run | {res['run_wall_s']} s ({res['end_to_end_records_per_s']:,} records/s) | | |")
    print(
        f"| worker peak memory (largest process / worker with its preparing process) | "
        f"{res['worker_peak_rss_mb']} MB / {res['worker_tree_peak_mb']} MB | < {TARGET_RSS_MB:.0f} MB | "
        f"{v['memory']} |"
    )
    print(f"| raw asyncpg COPY, same records | {s['copy_records_per_s']:,} records/s ({s['copy_s']} s) | | |")
    for n, rate in s["staging_records_per_s_by_processes"].items():
        print(f"| staging, same records, {n} preparing process{'es' if n > 1 else ''} | {rate:,} records/s | | |")
    print(
        f"| staging / COPY | {s['staging_share_of_copy']:.2f} | ≥ {TARGET_STAGING_SHARE:.2f} | {v['staging_share']} |"
    )
