"""The whole flow over real sockets: the three department simulators serve a small demo
county, the worker runs as its own process, and we check what landed — and that faults
(a worker killed with SIGKILL, a source that is down, a flaky source) end in exactly the
state of an undisturbed run.

Two databases hold the same demo county (the loader is deterministic): A is disturbed,
B is the reference. The simulators read A's registry (the same as B's)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.core.db import Database, asyncpg_dsn, create_engine
from services.core.sync.config import builtin_sources_on
from services.core.sync.enums import Trigger
from services.simulators import launch
from services.worker.queue import enqueue_run
from tests.cli import needs_embedded_server
from tests.conftest import scratch_database
from tests.processes import children_of, running
from tests.sync.conftest import SYNC_TABLES

pytestmark = needs_embedded_server
ROOT = Path(__file__).resolve().parents[2]
PERSONS = 2000
KINDS = ("civil-affairs", "medical-insurance", "education")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, settings) -> None:
    from services.demo.loader import load_demo

    await load_demo(url, settings, persons=PERSONS, seed=2026)


@pytest.fixture(scope="module")
async def databases(engine, settings) -> AsyncIterator[tuple[str, str]]:
    async with scratch_database(engine, "guardline_e2e_a") as a, scratch_database(engine, "guardline_e2e_b") as b:
        await asyncio.gather(load(a, settings), load(b, settings))
        yield a, b


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {kind: free_port() for kind in KINDS}


@pytest.fixture(scope="module")
def sources_file(ports, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sync") / "sources.toml"
    path.write_text(builtin_sources_on(ports), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def simulators(databases, ports, settings):
    env = _env(settings)
    procs = {
        kind: launch.spawn(kind, ports[kind], "--database-url", databases[0], "--control", env=env) for kind in KINDS
    }
    try:
        yield procs
    finally:
        for proc in procs.values():
            launch.stop(proc)


def _env(settings, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update({"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test", **extra})
    return env


def worker_env(settings, url: str, sources_file: Path, **extra) -> dict[str, str]:
    quick = {
        "GUARDLINE_DATABASE_URL": url,
        "GUARDLINE_SYNC__SOURCES_FILE": str(sources_file),
        "GUARDLINE_SYNC__BACKOFF_BASE_SECONDS": "0.01",
        "GUARDLINE_SYNC__BACKOFF_MAX_SECONDS": "0.05",
        "GUARDLINE_SYNC__RETRY_AFTER_MAX_SECONDS": "0.2",
        "GUARDLINE_SYNC__PAGE_ATTEMPTS": "12",
        "GUARDLINE_SYNC__POLL_SECONDS": "0.2",
    }
    return _env(settings, **{**quick, **extra})


def guardline(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def reset(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(f"TRUNCATE {SYNC_TABLES} RESTART IDENTITY CASCADE")
        # Clues the rules raised (and nothing else's) go too, so a rerun starts afresh.
        await conn.execute("DELETE FROM clue_reports WHERE source LIKE 'sync:%'")
        await conn.execute(
            "DELETE FROM risk_clues c WHERE NOT EXISTS (SELECT 1 FROM clue_reports r "
            "WHERE r.clue_id = c.id) AND c.case_id IS NULL"
        )
    finally:
        await conn.close()


async def snapshot(url: str, source: str | None = None) -> dict:
    """What runs leave (of one source, or all), without ids and times (which differ between
    databases)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    where = "WHERE source = $1" if source else "WHERE $1::text IS NULL"
    try:
        records = await conn.fetch(
            "SELECT source, external_key, raw_hash, data::text, county FROM dept_records "
            f"{where} ORDER BY source, external_key",
            source,
        )
        quarantine = await conn.fetch(
            f"SELECT source, raw_hash, reason, field, status FROM sync_quarantine {where} ORDER BY source, raw_hash",
            source,
        )
        findings = await conn.fetch(
            "SELECT fingerprint, rule_id, severity, status, region_code, values::text, "
            "records::text, clue_id IS NOT NULL AS clue FROM sync_findings "
            f"{where} ORDER BY fingerprint",
            source,
        )
        cursors = await conn.fetch(
            f"SELECT source, county, position::text, complete FROM sync_cursors {where} ORDER BY 1, 2", source
        )
        runs = await conn.fetch(
            "SELECT source, status, fetched, staged, unchanged, quarantined, matched, unmatched, "
            f"findings_open FROM sync_runs {where} AND status = 'succeeded' ORDER BY source, id",
            source,
        )
        return {
            "records": [tuple(r) for r in records],
            "quarantine": [tuple(r) for r in quarantine],
            "findings": [tuple(r) for r in findings],
            "cursors": [tuple(r) for r in cursors],
            "runs": [tuple(r) for r in runs],
        }
    finally:
        await conn.close()


async def run_all(env: dict) -> None:
    for kind in KINDS:
        out = await asyncio.to_thread(guardline, env, "sync", "run", "--source", kind)
        assert out.returncode == 0, out.stderr[-3000:]


async def control(port: int, **faults) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/_control/faults", json=faults)
        assert response.status_code == 200, response.text


async def test_the_three_departments_give_findings_and_a_rerun_changes_nothing(
    databases, simulators, sources_file, settings
):
    a, _ = databases
    await reset(a)
    env = worker_env(settings, a, sources_file)
    await run_all(env)
    first = await snapshot(a)
    rules_by_source = {}
    for _fingerprint, rule, *_ in first["findings"]:
        rules_by_source.setdefault(rule, 0)
        rules_by_source[rule] += 1
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        per_source = dict(await conn.fetch("SELECT source, count(*) FROM sync_findings GROUP BY source"))
        clues = await conn.fetchval("SELECT count(*) FROM clue_reports WHERE source LIKE 'sync:%'")
        channel = await conn.fetchval("SELECT DISTINCT channel FROM clue_reports WHERE source LIKE 'sync:%'")
    finally:
        await conn.close()
    assert set(per_source) == set(KINDS), per_source  # findings from all three departments
    for rule in ("name_mismatch", "dead_elsewhere", "not_insured", "large_medical_cost", "out_of_school"):
        assert rules_by_source.get(rule), (rule, rules_by_source)
    assert first["quarantine"], "the simulators' malformed records are quarantined"
    assert clues > 0 and channel == "department_screening"
    assert all(r[1] == "succeeded" and r[2] > 0 for r in first["runs"])

    await run_all(env)
    second = await snapshot(a)
    assert second["records"] == first["records"] and second["quarantine"] == first["quarantine"]
    assert second["findings"] == first["findings"]
    reruns = [r for r in second["runs"] if r not in first["runs"]]
    cursor_sources = {"civil-affairs", "education"}  # these re-read everything; nothing is new
    for source, _status, fetched, staged, _unchanged, *_ in reruns:
        if source in cursor_sources:
            assert fetched > 0 and staged == 0
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        assert await conn.fetchval("SELECT count(*) FROM clue_reports WHERE source LIKE 'sync:%'") == clues
    finally:
        await conn.close()


async def _wait_for_pages(url: str, source: str, pages: int, timeout: float = 120) -> int:  # noqa: ASYNC109 (a poll)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await conn.fetchrow(
                "SELECT id, pages, status FROM sync_runs WHERE source = $1 ORDER BY id DESC LIMIT 1", source
            )
            if row and row["pages"] >= pages:
                return row["id"]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no run of {source} reached {pages} pages")
    finally:
        await conn.close()


@pytest.mark.parametrize("source", ["civil-affairs", "medical-insurance"])
async def test_a_worker_killed_mid_run_ends_as_an_undisturbed_run(
    databases, simulators, sources_file, settings, ports, source
):
    a, b = databases
    await asyncio.gather(reset(a), reset(b))
    small = {"GUARDLINE_SYNC__PAGE_SIZE": "40"}
    reference = await asyncio.to_thread(
        guardline, worker_env(settings, b, sources_file, **small), "sync", "run", "--source", source
    )
    assert reference.returncode == 0, reference.stderr[-3000:]

    await control(ports[source], slow_rate=1.0, slow_ms=40)
    env = worker_env(settings, a, sources_file, **small)
    db = Database(create_engine(a, settings, "tests"))
    try:
        run_id, _ = await enqueue_run(db, source, "529901", Trigger.manual)
    finally:
        await db.dispose()
    # Popen starts the worker and returns: it does not wait for it (hence the noqa).
    worker = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "services.cli", "sync", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert await _wait_for_pages(a, source, 3) == run_id
        helpers = children_of(worker.pid)
        assert helpers  # the pool that prepares pages (and multiprocessing's resource tracker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        # Its helper processes die with it instead of staying blocked on a pipe.
        deadline = time.monotonic() + 10
        while running(helpers) and time.monotonic() < deadline:  # noqa: ASYNC110 (other processes: no event to wait on)
            await asyncio.sleep(0.1)
        assert running(helpers) == []
    finally:
        if worker.poll() is None:
            worker.kill()
    await control(ports[source], slow_rate=0.0)
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        row = await conn.fetchrow("SELECT status, pages FROM sync_runs WHERE id = $1", run_id)
        assert row["status"] == "running" and row["pages"] >= 3  # interrupted mid-run
    finally:
        await conn.close()
    again = await asyncio.to_thread(guardline, env, "sync", "worker", "--once")
    assert again.returncode == 0, again.stderr[-3000:]
    disturbed, undisturbed = await asyncio.gather(snapshot(a, source), snapshot(b, source))
    assert disturbed["records"] and disturbed["findings"]
    assert disturbed == undisturbed


async def test_a_source_that_is_down_fails_the_run_with_the_reason_and_is_retried_later(
    databases, simulators, sources_file, settings, ports
):
    a, _ = databases
    await reset(a)
    port = ports["education"]
    launch.stop(simulators["education"])  # the department's server is off
    try:
        env = worker_env(settings, a, sources_file, GUARDLINE_SYNC__PAGE_ATTEMPTS="2")
        out = await asyncio.to_thread(guardline, env, "sync", "run", "--source", "education", "--json")
        assert out.returncode == 1
        assert "unreachable" in out.stderr
        conn = await asyncpg.connect(asyncpg_dsn(a))
        try:
            failed = await conn.fetchrow("SELECT status, error_code, error FROM sync_runs ORDER BY id LIMIT 1")
            assert failed["status"] == "failed" and failed["error_code"] == "unreachable"
            assert f"127.0.0.1:{port}" in failed["error"]
            retry = await conn.fetchrow(
                "SELECT id, status, trigger, not_before > now() AS later FROM sync_runs ORDER BY id DESC LIMIT 1"
            )
            assert (retry["status"], retry["trigger"], retry["later"]) == ("queued", "retry", True)
            # Not yet due: a worker leaves it.
            idle = await asyncio.to_thread(guardline, env, "sync", "worker", "--once")
            assert idle.returncode == 0
            assert await conn.fetchval("SELECT status FROM sync_runs WHERE id = $1", retry["id"]) == "queued"
            # The department is back and the time has come.
            simulators["education"] = launch.spawn(
                "education", port, "--database-url", a, "--control", env=_env(settings)
            )
            await conn.execute("UPDATE sync_runs SET not_before = now() WHERE id = $1", retry["id"])
            done = await asyncio.to_thread(guardline, env, "sync", "worker", "--once")
            assert done.returncode == 0, done.stderr[-3000:]
            assert await conn.fetchval("SELECT status FROM sync_runs WHERE id = $1", retry["id"]) == "succeeded"
            state = await conn.fetchrow(
                "SELECT consecutive_failures, open_until FROM sync_source_states WHERE source = 'education'"
            )
            assert tuple(state) == (0, None)
        finally:
            await conn.close()
    finally:
        if simulators["education"].poll() is not None:
            simulators["education"] = launch.spawn(
                "education", port, "--database-url", a, "--control", env=_env(settings)
            )


async def test_a_flaky_source_ends_as_a_steady_one(databases, simulators, sources_file, settings, ports):
    a, b = databases
    await asyncio.gather(reset(a), reset(b))
    small = {"GUARDLINE_SYNC__PAGE_SIZE": "100"}
    steady = await asyncio.to_thread(
        guardline, worker_env(settings, b, sources_file, **small), "sync", "run", "--source", "medical-insurance"
    )
    assert steady.returncode == 0, steady.stderr[-3000:]
    port = ports["medical-insurance"]
    await control(port, fail_rate=0.2, truncate_rate=0.1, malformed_rate=0.1, repeat_cursor_rate=0.1, rate_limit=50)
    try:
        flaky = await asyncio.to_thread(
            guardline,
            worker_env(settings, a, sources_file, **small),
            "sync",
            "run",
            "--source",
            "medical-insurance",
            "--json",
        )
    finally:
        await control(port, fail_rate=0.0, truncate_rate=0.0, malformed_rate=0.0, repeat_cursor_rate=0.0, rate_limit=0)
    assert flaky.returncode == 0, flaky.stderr[-3000:]
    import json

    run = json.loads(flaky.stdout.strip().splitlines()[-1])
    assert run["retries"] > 0
    assert await snapshot(a) == await snapshot(b)


async def test_a_department_spreadsheet_goes_the_same_way(databases, simulators, sources_file, settings, tmp_path):
    a, _ = databases
    await reset(a)
    sheet = tmp_path / "低保名单.xlsx"
    exported = await asyncio.to_thread(
        guardline,
        _env(settings),
        "simulate",
        "civil-affairs",
        "--export",
        str(sheet),
        "--county",
        "529901",
        "--database-url",
        a,
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    env = worker_env(settings, a, sources_file)
    first = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "civil-affairs", str(sheet), "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    import json

    run = json.loads(first.stdout.strip().splitlines()[-1])
    assert run["trigger"] == "spreadsheet" and run["file_name"] == sheet.name
    assert run["staged"] > 0 and run["quarantined"] > 0 and run["matched"] > 0 and run["findings_open"] > 0
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        where = await conn.fetchval("SELECT location FROM sync_quarantine ORDER BY id LIMIT 1")
        assert where.startswith("row ")  # a quarantined row says where it is in the file
    finally:
        await conn.close()
    again = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "civil-affairs", str(sheet), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert rerun["staged"] == 0 and rerun["unchanged"] == run["staged"]
    assert rerun["findings_open"] == run["findings_open"] and rerun["findings_opened"] == 0


async def test_a_file_that_is_not_a_department_list_fails_its_run_with_the_reason(
    databases, sources_file, settings, tmp_path
):
    a, _ = databases
    await reset(a)
    junk = tmp_path / "notes.csv"
    junk.write_text("会议纪要\n第一项,第二项\n", encoding="utf-8")
    out = await asyncio.to_thread(
        guardline, worker_env(settings, a, sources_file), "sync", "import", "--source", "civil-affairs", str(junk)
    )
    assert out.returncode == 1 and "no_header" in out.stderr
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        row = await conn.fetchrow("SELECT status, error_code FROM sync_runs ORDER BY id DESC LIMIT 1")
    finally:
        await conn.close()
    assert tuple(row) == ("failed", "no_header")


async def test_sync_import_quarantines_bad_rows_and_refuses_a_zip_bomb(databases, sources_file, settings, tmp_path):
    """``guardline sync import`` as an operator runs it: a file with bad rows imports, the
    bad rows quarantined with their reasons; an XLSX that would unpack beyond the limit is
    refused unopened with the reason, and the source's next import goes on."""
    import json
    import zipfile

    from services.worker.sheets import csv_text

    a, _ = databases
    await reset(a)
    env = worker_env(settings, a, sources_file)
    valid = "11010519491231002X"
    header = ["记录编号", "公民身份号码", "救助对象姓名", "救助类别", "享受开始时间", "月救助金额", "备注"]
    rows = [
        header,
        ["MZ1", valid, "张三", "低保", "2024-01-01", "580", ""],
        ["MZ2", valid, "张\x00三", "低保", "2024-01-01", "580", ""],
        ["MZ3", valid, "张三", "低保", "2024-01-01", "580", "长" * 300_000],
        ["MZ4", valid, "张三", "低保", "20251301", "580", ""],
        ["MZ5", valid, "张三", "低保", "2024-01-01", "580", ""],
    ]
    sheet = tmp_path / "名单.csv"
    sheet.write_bytes(csv_text(rows))
    out = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "civil-affairs", str(sheet), "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert (run["status"], run["fetched"], run["staged"], run["quarantined"]) == ("succeeded", 5, 2, 3)

    bomb = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part,
    ):
        for _ in range(300):
            part.write(b"\0" * (1 << 20))  # 300 MiB of zeros: a few hundred kilobytes on disk
    refused = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "civil-affairs", str(bomb))
    assert refused.returncode == 1 and "too_large" in refused.stderr and "refused unopened" in refused.stderr
    again = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "civil-affairs", str(sheet), "--json")
    assert again.returncode == 0, again.stderr[-3000:]


async def test_a_spreadsheet_declared_a_roster_makes_absence_a_finding(
    databases, simulators, sources_file, settings, tmp_path
):
    """The medical-insurance export, imported with --roster: the living formerly poor and
    monitored people it leaves out are found (应保尽保), key groups without a family doctor
    too; the same file imported without the declaration changes nothing; a period that is
    not a year is refused before anything is read. The pull declared its own rosters."""
    import json

    from services.core.timeutil import today

    a, _ = databases
    await reset(a)
    env = worker_env(settings, a, sources_file)
    sheet = tmp_path / "参保名册.csv"
    exported = await asyncio.to_thread(
        guardline,
        _env(settings),
        "simulate",
        "medical-insurance",
        "--export",
        str(sheet),
        "--county",
        "529901",
        "--database-url",
        a,
        "--unenrolled-rate",
        "0.05",
        "--no-family-doctor-rate",
        "0.2",
        "--claims-rate",
        "0",
        "--large-cost-rate",
        "0",
    )  # a 参保名册 lists enrolments, not claims
    assert exported.returncode == 0, exported.stderr[-3000:]
    year = str(today().year)
    refused = await asyncio.to_thread(
        guardline, env, "sync", "import", "--source", "medical-insurance", "--roster", f"{year}秋", str(sheet)
    )
    assert refused.returncode == 2 and "a year such as" in refused.stderr
    out = await asyncio.to_thread(
        guardline, env, "sync", "import", "--source", "medical-insurance", "--roster", year, str(sheet), "--json"
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert (run["roster_period"], run["roster_region"]) == (year, "529901")
    assert run["roster_records"] > 0 and run["roster_rejected"] <= 0.01 * (
        run["roster_records"] + run["roster_rejected"]
    )
    assert not [line for line in out.stderr.splitlines() if line.startswith("run ")]  # --json: no progress lines
    conn = await asyncpg.connect(asyncpg_dsn(a))
    try:
        count = "SELECT rule_id, count(*) FROM sync_findings WHERE status = 'open' GROUP BY rule_id"
        found = dict(await conn.fetch(count))
        assert found.get("missing_from_insurance_roster", 0) > 0 and found.get("no_family_doctor", 0) > 0, found
        plain = await asyncio.to_thread(guardline, env, "sync", "import", "--source", "medical-insurance", str(sheet))
        assert plain.returncode == 0, plain.stderr[-3000:]
        assert dict(await conn.fetch(count)) == found  # the roster stays in force
        await run_all(env)
        declared = dict(
            await conn.fetch(
                "SELECT source, roster_period FROM sync_runs WHERE trigger = 'manual' "
                "AND status = 'succeeded' AND roster_period IS NOT NULL"
            )
        )
        assert set(declared) == {"medical-insurance", "education"}, declared
    finally:
        await conn.close()


async def _cut_connections(url: str, application: str, seconds: float) -> int:
    """What a database restart does to a worker: every connection it holds is ended, and
    those it opens again for ``seconds`` too. (The test server is shared by the whole suite,
    so it is not itself restarted: see tests/platform/test_database_outage.py for that.)"""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    cut = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            cut += await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name LIKE $1",
                application,
            )
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return cut


async def _wait_for_end(url: str, run_id: int, timeout: float = 180) -> str:  # noqa: ASYNC109 (a poll)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = await conn.fetchval("SELECT status FROM sync_runs WHERE id = $1", run_id)
            if status not in ("queued", "running"):
                return status
            await asyncio.sleep(0.1)
        raise AssertionError(f"run {run_id} did not end")
    finally:
        await conn.close()


async def test_a_database_restart_mid_run_ends_as_an_undisturbed_run(
    databases, simulators, sources_file, settings, ports
):
    """The worker's connections are cut in the middle of a run (the database restarted): the
    worker stays up, and once the database answers again the run ends in the same tables
    as a run nothing disturbed."""
    source = "civil-affairs"
    a, b = databases
    await asyncio.gather(reset(a), reset(b))
    small = {"GUARDLINE_SYNC__PAGE_SIZE": "40"}
    reference = await asyncio.to_thread(
        guardline, worker_env(settings, b, sources_file, **small), "sync", "run", "--source", source
    )
    assert reference.returncode == 0, reference.stderr[-3000:]

    await control(ports[source], slow_rate=1.0, slow_ms=40)
    env = worker_env(settings, a, sources_file, **small)
    db = Database(create_engine(a, settings, "tests"))
    try:
        run_id, _ = await enqueue_run(db, source, "529901", Trigger.manual)
    finally:
        await db.dispose()
    worker = subprocess.Popen(  # noqa: ASYNC220 (started, not waited for)
        [sys.executable, "-m", "services.cli", "sync", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert await _wait_for_pages(a, source, 3) == run_id
        assert await _cut_connections(a, "guardline-sync%", 1.0) > 0
        await control(ports[source], slow_rate=0.0)
        status = await _wait_for_end(a, run_id)
        assert worker.poll() is None  # the worker rode it out
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _, stderr = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, stderr = worker.communicate()
    assert status == "succeeded", stderr.decode(errors="replace")[-3000:]
    disturbed, undisturbed = await asyncio.gather(snapshot(a, source), snapshot(b, source))
    assert disturbed["records"] and disturbed["findings"]
    assert disturbed == undisturbed
    # One line for each thing the outage interrupted, no traceback.
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-3000:]
    assert b"database is unavailable" in stderr
