"""A run that fails for any reason ends ``failed`` with its reason, and the source goes
on: the worker lives, the next run (or import) of the source proceeds, the circuit
breaker lets a run through after its cool-down, and an import left running by a process
that died does not stand in the way of the next.

The unexpected failure is a real database error: a CHECK constraint added for the test
refuses one record's row, as a constraint or a bug of ours would in production."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.core.logs import JsonFormatter
from services.core.sync.config import parse_sources
from services.core.sync.enums import Trigger
from services.worker import queue
from services.worker.sheets import csv_text
from services.worker.worker import Session, import_file, run_now, work
from tests.api.sync_helpers import civil_affairs_pull
from tests.simulators.conftest import serving

VALID = "11010519491231002X"
HEADER = ["记录编号", "身份证号", "姓名", "救助类型", "开始日期"]
BROKEN = "ALTER TABLE dept_records ADD CONSTRAINT test_refuses_bad CHECK (external_key <> 'BAD') NOT VALID"
MENDED = "ALTER TABLE dept_records DROP CONSTRAINT IF EXISTS test_refuses_bad"


def department() -> Starlette:
    """A department with one page of two records (no token needed)."""
    records = [
        {"jzid": key, "sfzh": VALID, "xm": "张三", "jzlx": "低保", "ksrq": "2024-01-01"} for key in ("GOOD", "BAD")
    ]

    async def page(request: Request) -> Response:
        return Response(orjson.dumps({"records": records, "next": None}), media_type="application/json")

    return Starlette(routes=[Route("/api/assistance", page)])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(department()) as url:
        yield url


def hanging_department(asked: threading.Event, answer: threading.Event) -> Starlette:
    """The department above, whose page comes only once ``answer`` is set."""
    inner = department()

    async def page(request: Request) -> Response:
        asked.set()
        while not answer.is_set():  # noqa: ASYNC110 (a threading.Event, set from the test's thread)
            await asyncio.sleep(0.02)
        return await inner.routes[0].endpoint(request)

    return Starlette(routes=[Route("/api/assistance", page)])


@asynccontextmanager
async def opened(sync_url, settings, base_url, **sync):
    local = settings.model_copy(
        update={
            "database_url": sync_url,
            "sync": settings.sync.model_copy(update={"prepare_processes": 0, "poll_seconds": 0.05, **sync}),
        }
    )
    session = await Session.open(local)
    session.ctx.sources = parse_sources(civil_affairs_pull(base_url))
    try:
        yield session
    finally:
        await session.close()


@pytest.fixture
async def broken(pool):
    await pool.execute(BROKEN)
    try:
        yield
    finally:
        await pool.execute(MENDED)


async def test_an_unexpected_database_error_fails_the_run_and_the_next_run_succeeds(
    pool, sync_url, settings, base_url, broken
):
    async with opened(sync_url, settings, base_url) as session:
        run_id, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.manual)
        # The worker carries the run out and lives on (``once``: returns when none is ready).
        assert await work(session, stop=asyncio.Event(), once=True) == 1
        run = await pool.fetchrow("SELECT status, error_code, error FROM sync_runs WHERE id = $1", run_id)
        assert (run["status"], run["error_code"]) == ("failed", "internal_error")
        assert "CheckViolationError" in run["error"]
        assert VALID not in run["error"] and "张三" not in run["error"] and "BAD" not in run["error"]
        # Not wedged: the run is no longer active, its lock is free; a retry is queued for later.
        retry = await pool.fetchrow("SELECT id, status, trigger FROM sync_runs WHERE id <> $1", run_id)
        assert (retry["status"], retry["trigger"]) == ("queued", "retry")
        assert (
            await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", run_id) == 0
        )

        await pool.execute(MENDED)
        # Asked for now, the run joins the retry and carries it out at once.
        done = await run_now(session, session.source("civil-affairs"), "529901", lambda r: None)
        assert (done["id"], done["status"], done["staged"]) == (retry["id"], "succeeded", 2)
        state = await pool.fetchrow("SELECT consecutive_failures, open_until FROM sync_source_states")
        assert tuple(state) == (0, None)


async def test_the_breaker_holds_a_failing_source_and_lets_it_run_after_the_cool_down(
    pool, sync_url, settings, base_url, broken
):
    async with opened(
        sync_url, settings, base_url, breaker_threshold=1, breaker_cooldown_seconds=3600, run_retry_seconds=0
    ) as session:
        first, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.manual)
        assert await work(session, stop=asyncio.Event(), once=True) == 1
        assert await pool.fetchval("SELECT status FROM sync_runs WHERE id = $1", first) == "failed"
        assert await pool.fetchval("SELECT open_until > now() FROM sync_source_states")
        await pool.execute(MENDED)
        # The retry is due, but the breaker is open: no worker takes it.
        assert await work(session, stop=asyncio.Event(), once=True) == 0
        retry = await pool.fetchval("SELECT id FROM sync_runs WHERE status = 'queued'")
        # The cool-down passes: the next worker runs it, and it closes the breaker.
        await pool.execute("UPDATE sync_source_states SET open_until = now() - interval '1 second'")
        assert await work(session, stop=asyncio.Event(), once=True) == 1
        assert await pool.fetchval("SELECT status FROM sync_runs WHERE id = $1", retry) == "succeeded"
        state = await pool.fetchrow("SELECT consecutive_failures, open_until FROM sync_source_states")
        assert tuple(state) == (0, None)


async def test_an_import_that_fails_unexpectedly_ends_failed_and_the_next_import_proceeds(
    pool, sync_url, settings, base_url, broken, tmp_path
):
    path = tmp_path / "名单.csv"
    path.write_bytes(
        csv_text([HEADER, ["GOOD", VALID, "张三", "低保", "2024-01-01"], ["BAD", VALID, "张三", "低保", "2024-01-01"]])
    )
    async with opened(sync_url, settings, base_url) as session:
        source = session.source("civil-affairs")
        run = await import_file(session, source, "529901", path, lambda r: None)
        assert (run["status"], run["error_code"]) == ("failed", "internal_error")
        assert VALID not in run["error"] and "张三" not in run["error"]
        # No retry of an import (its file is not kept), no count against the breaker.
        assert await pool.fetchval("SELECT count(*) FROM sync_runs") == 1
        assert await pool.fetchval("SELECT count(*) FROM sync_source_states") == 0
        await pool.execute(MENDED)
        again = await import_file(session, source, "529901", path, lambda r: None)
        assert (again["status"], again["staged"]) == ("succeeded", 2)


async def test_an_import_left_running_by_a_dead_process_does_not_block_the_next(
    pool, dsn, sync_url, settings, base_url, tmp_path
):
    dead = await queue.open_import(dsn, "civil-affairs", "529901", "old.xlsx", "cli")
    assert dead is not None
    await dead.lock.close()  # the process importing it died (its connection, and lock, went)
    await asyncio.sleep(0.1)
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_text([HEADER, ["GOOD", VALID, "张三", "低保", "2024-01-01"]]))
    async with opened(sync_url, settings, base_url) as session:
        run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded" and run["id"] != dead.run_id
    old = await pool.fetchrow("SELECT status, error_code FROM sync_runs WHERE id = $1", dead.run_id)
    assert tuple(old) == ("failed", "interrupted")


async def test_an_import_still_running_elsewhere_is_not_taken_over(pool, dsn, sync_url, settings, base_url, tmp_path):
    alive = await queue.open_import(dsn, "civil-affairs", "529901", "old.xlsx", "cli")
    try:
        path = tmp_path / "名单.csv"
        path.write_bytes(csv_text([HEADER, ["GOOD", VALID, "张三", "低保", "2024-01-01"]]))
        async with opened(sync_url, settings, base_url) as session:
            with pytest.raises(RuntimeError, match="queued or running"):
                await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
        assert await pool.fetchval("SELECT status FROM sync_runs WHERE id = $1", alive.run_id) == "running"
    finally:
        await alive.release()


async def test_a_worker_asked_to_stop_mid_run_stops_at_once_and_the_run_is_taken_up_again(pool, sync_url, settings):
    """Ctrl-C (or SIGTERM) on a worker waiting for a slow department: it stops now, not
    when the run ends; the run is left as a crash leaves it, and the next worker finishes it."""
    asked, answer = threading.Event(), threading.Event()
    with serving(hanging_department(asked, answer)) as url:
        try:
            async with opened(
                sync_url, settings, url, asset_checks=False, visit_breaches=False, registry_checks=False, reports=False
            ) as session:
                run_id, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.manual)
                stop = asyncio.Event()
                worker = asyncio.create_task(work(session, stop=stop))
                assert await asyncio.to_thread(asked.wait, 30)
                stop.set()
                assert await asyncio.wait_for(worker, 30) == 0  # the department has still not answered
                assert await pool.fetchval("SELECT status FROM sync_runs WHERE id = $1", run_id) == "running"
                assert (
                    await pool.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", run_id
                    )
                    == 0
                )  # its claim was released
                answer.set()
                assert await work(session, stop=asyncio.Event(), once=True) == 1
                run = await pool.fetchrow("SELECT status, staged FROM sync_runs WHERE id = $1", run_id)
                assert (run["status"], run["staged"]) == ("succeeded", 2)
        finally:
            answer.set()


async def test_a_failed_run_logs_its_id_on_every_line_and_no_record_values(pool, sync_url, settings, base_url, broken):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        async with opened(sync_url, settings, base_url) as session:
            run_id, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.manual)
            assert await work(session, stop=asyncio.Event(), once=True) == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    of_the_run = [e for e in lines if e["logger"].startswith("guardline.sync") and f"run {run_id}" in e["message"]]
    assert len(of_the_run) >= 3, lines  # taken, failed (with where), ended
    assert all(e.get("run_id") == run_id for e in of_the_run), of_the_run
    failed = [e for e in of_the_run if e["level"] == "ERROR"]
    assert failed and "CheckViolationError" in failed[0]["message"]
    text = stream.getvalue()
    assert VALID not in text and "张三" not in text
