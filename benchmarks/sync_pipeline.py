"""Department sync benchmark (issue 5): a 1,000,000-record source end to end.

    .venv/bin/python -m benchmarks --only sync [--persons N]

With the demo county of ``--persons`` persons in the bench database, the medical-insurance
simulator serves it (one enrolment per person for the year, plus claims for about 5 %:
≈ 1.05 records per person). Then, in one run:

1. **End to end**: ``guardline sync run --source medical-insurance`` as its own process
   (pages of 5,000): simulator → normalised → staged → reconciled against the registry.
   Printed: records/s of the pull (fetch + stage), seconds of the reconciliation, the whole
   run, and the worker process's peak memory (its maximum resident set, from wait4).
   (Left out by ``--targets``, which needs only the next part.)
2. **Staging against a server-side COPY of the same final rows, side by side**: the
   records, read once from the simulator into a file, are staged as the worker stages them
   (``staging.pipeline``: normalise, hash, encrypt and encode COPY rows in one or two
   preparing processes; key probe; binary COPY of the new records into ``dept_records``;
   quarantine; cursor), page by page.
   The rows the first staging wrote into ``dept_records`` are exported (COPY's text
   format) to a file, and the baseline loads exactly those rows into the same table (same
   indexes and constraints) with ``COPY dept_records (…) FROM '<file>'``, executed by the
   server: no Python and no client per row. The bench database's role is a superuser on
   the embedded server, which a server-side COPY from a file needs; where it is not,
   the baseline is ``COPY … FROM STDIN`` of the file's bytes already in memory, the
   closest a client comes (the table says which). The former baseline parsed the JSON
   pages in Python and COPYed them raw into a plain table, which made the COPY look slower
   than it is and flattered the ratio about twofold. Staging with one preparing process,
   the COPY and staging with two run interleaved (``benchmarks/stats.interleaved``),
   ``--repeat`` times, each from the same settled state (``settle``: the previous run's
   rows deleted and vacuumed — waiting, if need be, until VACUUM could remove them — and a
   checkpoint taken); the share COPY seconds / staging seconds is taken per repetition,
   reported as median (min–max). Each run prints what it used: CPU-s of this process, of
   the preparing processes and of the server, the machine's I/O wait, and for a staging the
   rows its plans read by sequential scans (``cpu_s`` in the results).

Targets: staging ≥ 0.5 of the server-side COPY (issue 19); reconciliation of 1,000,000
records < 60 s; worker peak memory < 500 MB. The figures go to
``benchmarks/results/sync.json``.
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

from benchmarks.harness import free_port, io_wait, own_cpu, postmaster_pid, server_cpu

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sync.json"
SOURCE = "medical-insurance"
COUNTY = "529901"
PAGE = 5000
TARGET_STAGING_SHARE = 0.5  # issue 19: of a server-side COPY of the same final rows
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


def end_to_end_run(env: dict) -> dict:
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


STAGING_SOURCE = "bench-staging"  # its own source name: every record is new, as on a first run


def usage(dsn: str) -> tuple:
    """CPU seconds so far of this process, of its children it has waited for (the preparing
    processes) and of the database server (``None`` unless it runs here), and the machine's
    I/O wait: a run's share of each is the difference of two such readings."""
    me, children = own_cpu()
    return me, children, server_cpu(postmaster_pid(dsn)), io_wait()


def used(before: tuple, after: tuple) -> dict:
    """What a run used between two ``usage`` readings: CPU seconds and the I/O wait, so
    that a slow run says whether it did more work or waited (for the disk, or for
    something else on the machine)."""
    names = ("this_process", "preparing_processes", "server", "io_wait")
    return {
        n: None if a is None or b is None else round(b - a, 2) for n, a, b in zip(names, before, after, strict=True)
    }


async def seq_rows(dsn: str) -> int:
    """Rows of ``dept_records`` read by sequential scans so far. A staging reads none: each
    page's probe of its keys is an index scan (``staging._store``), whatever the table's
    size; rows read here would say a plan chose to scan the table instead."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT coalesce(sum(seq_tup_read), 0)::bigint FROM pg_stat_user_tables WHERE relname = 'dept_records'"
        )
    finally:
        await conn.close()


def usage_text(cpu: dict) -> str:
    server = "n/a" if cpu["server"] is None else f"{cpu['server']:.1f}"
    scans = f"; rows read by sequential scans {cpu['seq_rows']:,}" if "seq_rows" in cpu else ""
    return (
        f"CPU-s: this process {cpu['this_process']:.1f}, preparing processes {cpu['preparing_processes']:.1f}, "
        f"server {server}; I/O wait {cpu['io_wait']:.1f} s{scans}"
    )


async def superuser(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    finally:
        await conn.close()


async def staging_run(dsn: str) -> int:
    """A run row for the side-by-side staging (its counts; no worker takes it)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "INSERT INTO sync_runs (source, county, trigger, status, phase, not_before, attempts, pages, fetched, "
            "staged, unchanged, quarantined, retries) VALUES ($1, $2, 'manual', 'running', 'fetching', now(), 0, 0, 0, "
            "0, 0, 0, 0) RETURNING id",
            STAGING_SOURCE,
            COUNTY,
        )
    finally:
        await conn.close()


async def clear_staged(dsn: str, run_id: int | None = None) -> None:
    """Remove what the side-by-side staging wrote (with ``run_id``: its run row too), and
    leave the tables as the next run should find them (``settle``)."""
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("dept_records", "sync_quarantine", "sync_cursors"):
            await conn.execute(f"DELETE FROM {table} WHERE source = $1", STAGING_SOURCE)
        if run_id is not None:
            await conn.execute("DELETE FROM sync_runs WHERE id = $1", run_id)
        await settle(conn)
    finally:
        await conn.close()


SETTLE_WAIT_S = 120.0  # at most, for the deleted rows of the last run to be removable


async def dead_rows(conn) -> int:
    """Rows of ``dept_records`` that the last VACUUM found deleted but could not remove (as
    its report left them: a plain VACUUM's, not one with ANALYZE)."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return await conn.fetchval(
        "SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables WHERE relname = 'dept_records'"
    )


async def settle(conn) -> None:
    """Every timed run, staging or COPY, starts from the same state: the million rows the
    last one wrote and the clearing deleted are vacuumed away now, and a checkpoint has
    written the dirty pages, so no run pays for the one before it. Without this, the
    deleted rows piled up (4.5 million dead rows in ``dept_records`` after a ``--targets``
    run) and were vacuumed whenever autovacuum came to them: the last three stagings of that
    run took 81–98 s against 20–24 s for the first three, and the COPYs 11–14 s against
    8.4–8.6 s once settled."""
    await conn.execute("VACUUM dept_records, sync_quarantine")
    # VACUUM cannot remove a deleted row that a transaction open since before the delete
    # may still see (an autovacuum worker's ANALYZE of another table, say). Such rows are
    # the very keys the next run writes again: each new row's unique check then visits its
    # dead namesakes (a staging after a clearing whose rows a transaction held: the server's
    # 5.8 CPU-s became 10.1). So the clearing waits for them to go, and says what held them.
    waited, told = 0.0, False
    while (dead := await dead_rows(conn)) and waited < SETTLE_WAIT_S:
        holders = await conn.fetch(
            "SELECT pid, backend_type, datname, state, now() - xact_start AS open_for, left(query, 80) AS query "
            "FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid() "
            "AND datname = current_database()"  # (another database's transactions hold no row of this one)
        )
        if holders and not told:
            held = "; ".join(
                f"{r['backend_type']} {r['pid']} in {r['datname']} ({r['state']}, open {r['open_for']}): {r['query']}"
                for r in holders
            )
            print(f"  settling: {dead:,} deleted rows of dept_records not removable yet, waiting for: {held}")
            told = True
        if holders:
            await asyncio.sleep(1.0)
        waited += 1.0  # (without a holder the count was one the last VACUUM had not yet replaced)
        await conn.execute("VACUUM dept_records")
    if dead:
        print(f"  settling: {dead:,} deleted rows still there after {SETTLE_WAIT_S:.0f} s: this run pays for them")
    # After, not with the VACUUM: ANALYZE counts what it samples afresh, and a deleted row still
    # held is not among what it counts as dead (so ``dead_rows`` would read 0).
    await conn.execute("ANALYZE dept_records, sync_quarantine")
    if await conn.fetchval(
        "SELECT rolsuper OR pg_has_role(current_user, 'pg_checkpoint', 'MEMBER') FROM pg_roles WHERE rolname = current_user"
    ):
        await conn.execute("CHECKPOINT")


def final_rows_query() -> str:
    from services.worker import queries

    columns = ", ".join(queries.DIRECT_COLUMNS)
    return f"SELECT {columns} FROM dept_records WHERE source = '{STAGING_SOURCE}' ORDER BY id"


async def export_final_rows(dsn: str, path: Path) -> int:
    """The rows the staging wrote into ``dept_records`` (the columns it COPYs), in COPY's
    text format, into ``path``: what the baseline loads."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_from_query(final_rows_query(), output=path, format="text")
        return await conn.fetchval("SELECT count(*) FROM dept_records WHERE source = $1", STAGING_SOURCE)
    finally:
        await conn.close()


async def server_copy(dsn: str, path: Path, data: bytes | None) -> tuple[float, dict]:
    """The baseline: the same final rows COPYed into the same table (same indexes and
    constraints), in one statement. With ``server_side`` (the bench role is a superuser)
    the server reads the file itself (``COPY … FROM '<file>'``): no client, no Python per
    row. Otherwise (``data``: the file's bytes, read into memory beforehand) ``COPY … FROM
    STDIN`` of those bytes, so the client only streams them."""
    from services.worker import queries

    columns = ", ".join(queries.DIRECT_COLUMNS)
    conn = await asyncpg.connect(dsn)
    try:
        await clear_staged_on(conn)
        literal = str(path).replace("'", "''")
        before = usage(dsn)
        began = time.perf_counter()
        if data is None:
            await conn.execute(f"COPY dept_records ({columns}) FROM '{literal}'")
        else:
            await conn.copy_to_table(
                "dept_records",
                source=memoryview(data),  # type: ignore[arg-type]  # asyncpg takes any buffer
                columns=list(queries.DIRECT_COLUMNS),
                format="text",
            )
        # Left in place: the next timed run clears and settles before its clock starts, and
        # ``side_by_side`` clears at the end.
        return time.perf_counter() - began, used(before, usage(dsn))
    finally:
        await conn.close()


async def clear_staged_on(conn) -> None:
    await conn.execute("DELETE FROM dept_records WHERE source = $1", STAGING_SOURCE)
    await settle(conn)


async def staging(dsn: str, settings, source, path: Path, processes: int, run_id: int) -> tuple[float, dict, dict]:
    """The worker's staging (``staging.pipeline``: pages prepared in ``processes`` other
    processes while the previous one is written) of the pages in ``path``. What it wrote
    stays (``export_final_rows`` reads it; ``clear_staged`` removes it)."""
    from services.core.crypto import keyring
    from services.core.sync.normalise import Normaliser
    from services.worker.preparing import Stager
    from services.worker.staging import PageIn, Preparer, pipeline, write_page

    await clear_staged(dsn)
    stager = Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    totals = {"fetched": 0, "staged": 0, "quarantined": 0}
    try:

        async def read():
            for number, items in enumerate(pages(path)):
                yield PageIn(items, None, {"page": number}, False, parsed_json=True)  # as the worker's pulled pages

        async def write(page, prepared) -> None:
            async with pool.acquire() as conn, conn.transaction():
                counts = await write_page(
                    conn,
                    prepared,
                    source=STAGING_SOURCE,
                    county=COUNTY,
                    run_id=run_id,
                    position=page.position,
                    complete=False,
                )
            for key in totals:
                totals[key] += getattr(counts, key)

        preparer = Preparer(stager, source, settings, processes)
        # The preparing processes start before the clock does.
        await asyncio.gather(*(preparer.prepare(PageIn([])) for _ in range(preparer.depth)))
        scanned = await seq_rows(dsn)
        before = usage(dsn)
        began = time.perf_counter()
        try:
            await pipeline(read(), preparer, write)
        finally:
            preparer.close()  # waits for the preparing processes: their CPU is counted
        seconds, spent = time.perf_counter() - began, used(before, usage(dsn))
    finally:
        await pool.close()
    await asyncio.sleep(0.5)  # the pool's backends report their counts as they exit
    spent["seq_rows"] = await seq_rows(dsn) - scanned
    return seconds, totals, spent


def side_by_side(dsn: str, settings, source, dump: Path, workdir: Path, repeat: int) -> dict:
    """Staging (one and two preparing processes) against a server-side COPY of the rows the
    staging wrote, interleaved, ``repeat`` times; the share copy/staging per repetition."""
    from benchmarks import stats

    final = workdir / "final-rows.copy"
    server_side = asyncio.run(superuser(dsn))
    run_id = asyncio.run(staging_run(dsn))
    times: dict[str, list[float]] = {"staging-1": [], "copy": [], "staging-2": []}
    cpu: dict[str, list[dict]] = {op: [] for op in times}
    records = final_rows = 0
    data: bytes | None = None
    try:
        # Staging first: the COPY loads what the first staging wrote.
        for rep, op in stats.interleaved(list(times), repeat):
            if op == "copy":
                seconds, spent = asyncio.run(server_copy(dsn, final, data))
            else:
                seconds, totals, spent = asyncio.run(staging(dsn, settings, source, dump, int(op[-1]), run_id))
                records = totals["fetched"]
                if not final.exists():
                    final_rows = asyncio.run(export_final_rows(dsn, final))
                    print(
                        f"  final rows of the staging: {final_rows:,} of {records:,} records (the rest quarantined), "
                        f"{final.stat().st_size / 1e6:.0f} MB",
                        flush=True,
                    )
                    if not server_side:
                        data = final.read_bytes()
            print(f"  {op} run {rep + 1}/{repeat}: {seconds:.2f} s ({usage_text(spent)})", flush=True)
            times[op].append(seconds)
            cpu[op].append(spent)
    finally:
        asyncio.run(clear_staged(dsn, run_id))
    shares = {
        n: stats.spread([c / s for c, s in zip(times["copy"], times[f"staging-{n}"], strict=True)]) for n in (1, 2)
    }
    processes = max(shares, key=lambda n: shares[n]["median"] or 0)
    return {
        "records": records,
        "final_rows": final_rows,
        "repeat": repeat,
        "copy_method": "server-side COPY FROM file" if server_side else "COPY FROM STDIN of bytes in memory",
        "seconds": times,
        "cpu_s": cpu,
        "copy_rows_per_s": stats.spread([final_rows / t for t in times["copy"]]),
        "staging_records_per_s_by_processes": {
            n: stats.spread([records / t for t in times[f"staging-{n}"]]) for n in (1, 2)
        },
        "share_by_processes": shares,
        "prepare_processes": processes,
        "share": shares[processes],
    }


def run(url: str, settings, env_base: dict, repeat: int = 3, end_to_end: bool = True) -> dict:
    """The end-to-end run (unless ``end_to_end`` is false: ``--targets`` needs only the
    staging) and staging against a server-side COPY, side by side; prints and writes ``RESULTS``."""
    from services.core.db import asyncpg_dsn
    from services.core.sync.config import parse_sources
    from services.simulators import launch

    dsn = asyncpg_dsn(url)
    port = free_port()
    e2e = None
    with tempfile.TemporaryDirectory(prefix="guardline-sync-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # the database server reads the baseline's file from here
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
            if end_to_end:
                asyncio.run(reset(dsn))
                print("sync: end to end (guardline sync run, its own process) …", flush=True)
                e2e = end_to_end_run(env)
            print(
                f"sync: staging against a server-side COPY of the same rows, interleaved, {repeat} times …", flush=True
            )
            dump = workdir / "pages.jsonl"
            asyncio.run(dump_pages(settings, source, dump))
        finally:
            launch.stop(sim)
        side = side_by_side(dsn, settings, source, dump, workdir, repeat)
    result: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": SOURCE,
        "page_size": PAGE,
        "side_by_side": side,
        "targets": {
            "staging_share_min": TARGET_STAGING_SHARE,
            "reconcile_s_max": TARGET_RECONCILE_S,
            "worker_rss_mb_max": TARGET_RSS_MB,
        },
    }
    share = side["share"]["median"]
    result["verdict"] = {"staging_share": "PASS" if share is not None and share >= TARGET_STAGING_SHARE else "FAIL"}
    if e2e is not None:
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
        result["end_to_end"] = {
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
        }
        result["verdict"]["reconcile"] = "PASS" if reconcile_s < TARGET_RECONCILE_S else "FAIL"
        result["verdict"]["memory"] = "PASS" if max(e2e["peak_rss_mb"], e2e["tree_peak_mb"]) < TARGET_RSS_MB else "FAIL"
    print_result(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def print_result(res: dict) -> None:
    from benchmarks.stats import figure_text

    s = res["side_by_side"]
    v = res["verdict"]
    print()
    e = res.get("end_to_end")
    if e is not None:
        print(
            f"department sync, {res['source']}: {e['records']:,} records against the registry "
            f"({e['matched']:,} matched, {e['unmatched']:,} unmatched, {e['quarantined']:,} quarantined, "
            f"{e['findings_open']:,} findings open, {e['clues']:,} clues)"
        )
    print("| measure | figure | target | verdict |")
    print("| --- | --- | --- | --- |")
    if e is not None:
        print(f"| pull (fetch + normalise + stage) | {e['pull_records_per_s']:,} records/s ({e['pull_s']} s) | | |")
        print(
            f"| reconciliation (match, rules, findings merged) | {e['reconcile_s']} s | < {TARGET_RECONCILE_S:.0f} s "
            f"| {v['reconcile']} |"
        )
        print(
            f"| risk clues through the monitoring intake | {e['clues']:,} in {e['clues_s']} s "
            f"({e['clues_per_s']}/s) | | |"
        )
        print(f"| whole run | {e['run_wall_s']} s ({e['end_to_end_records_per_s']:,} records/s) | | |")
        print(
            f"| worker peak memory (largest process / worker with its preparing process) | "
            f"{e['worker_peak_rss_mb']} MB / {e['worker_tree_peak_mb']} MB | < {TARGET_RSS_MB:.0f} MB | "
            f"{v['memory']} |"
        )
    print(
        f"| {s['copy_method']}, the staging's final rows ({s['final_rows']:,}) | "
        f"{figure_text(s['copy_rows_per_s'], ',.0f')} rows/s | | |"
    )
    for n, rate in s["staging_records_per_s_by_processes"].items():
        print(
            f"| staging, same records, {n} preparing process{'es' if n > 1 else ''} | "
            f"{figure_text(rate, ',.0f')} records/s; share of COPY {figure_text(s['share_by_processes'][n])} | | |"
        )
    print(
        f"| staging / COPY ({s['prepare_processes']} preparing process(es), median (min–max) of {s['repeat']}) | "
        f"{figure_text(s['share'])} | ≥ {TARGET_STAGING_SHARE:.2f} | {v['staging_share']} |"
    )
