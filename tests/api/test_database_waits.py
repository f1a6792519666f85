"""A slow or exhausted database: a request waits at most the configured time, then is
answered 503 with Retry-After; nothing piles up without bound. And the connections a
cut-short statement leaves behind are thrown away, not handed to the next request."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
import httpx
import pytest

from services.api.app import create_app
from services.api.auditing import ReadAuditBuffer
from services.core.db import Database, asyncpg_dsn, create_engine

PATHS = ("/api/v1/households/1", "/api/v1/households")  # the read pool's path and the session's


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def _answers(database: Database, settings, headers) -> list[tuple[str, int, str | None, float]]:
    app = create_app(settings, database=database)
    out = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        for path in PATHS:
            started = time.monotonic()
            r = await client.get(path, headers=headers)
            out.append((path, r.status_code, r.headers.get("retry-after"), time.monotonic() - started))
            if r.status_code == 503:
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "service_unavailable"
    return out


async def test_a_statement_held_up_by_a_lock_is_503_after_the_statement_timeout(settings, engine, auth):
    url = _url(engine)
    database = Database(create_engine(url, settings, "tests", statement_timeout_ms=300), statement_timeout_ms=300)
    holder = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE households IN ACCESS EXCLUSIVE MODE")
            answers = await _answers(database, settings, auth("county_staff.county"))
        for path, status, retry_after, seconds in answers:
            assert (path, status, retry_after) == (path, 503, "5")
            assert seconds < 3, (path, seconds)  # 0.3 s and the answer, not the lock's end
        # The lock gone, the same database answers again (the cancelled statements' connections are sound).
        for path, status, _, _ in await _answers(database, settings, auth("county_staff.county")):
            assert status in (200, 404), (path, status)
    finally:
        await holder.close()
        await database.dispose()


async def test_an_exhausted_pool_is_503_after_the_pool_timeout(settings, engine, auth):
    narrow = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.3})
    database = Database(create_engine(_url(engine), narrow, "tests"), read_pool_size=1)
    assert database.acquire_timeout == 0.3
    try:
        pool = await database.read_pool()
        taken = await pool.acquire(5)
        try:
            async with database.engine.connect() as held:
                await held.exec_driver_sql("SELECT 1")
                answers = await _answers(database, narrow, auth("county_staff.county"))
        finally:
            pool.release(taken)
        for path, status, retry_after, seconds in answers:
            assert (path, status, retry_after) == (path, 503, "5")
            assert seconds < 3, (path, seconds)
        for path, status, _, _ in await _answers(database, narrow, auth("county_staff.county")):
            assert status in (200, 404), (path, status)
    finally:
        await database.dispose()


@pytest.mark.parametrize("how", ["cancelled", "ended by the server"])
async def test_a_statement_cut_short_leaves_no_broken_connection_behind(settings, engine, how):
    """A client that goes away cancels its request mid-statement; a restarting server ends
    the session mid-statement. Either way the read pool's only connection must not reach
    the next request in an unknown state ("cannot switch to state …; another operation is
    in progress": a 500), and the statement that was cut short counts as unavailability."""
    from services.core.db import unavailable

    database = Database(create_engine(_url(engine), settings, "tests"), read_pool_size=1)
    try:
        marker = f"cut-short-{uuid.uuid4().hex}"
        slow = asyncio.create_task(database.fetch_row(f"SELECT pg_sleep(5) -- {marker}", []))
        await asyncio.sleep(0.3)
        if how == "cancelled":
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
        else:
            killer = await asyncpg.connect(asyncpg_dsn(_url(engine)))
            try:
                ended = await killer.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'guardline-read' AND query LIKE $1",
                    f"%{marker}%",
                )
            finally:
                await killer.close()
            assert ended == 1
            with pytest.raises(Exception) as cut:
                await slow
            assert unavailable(cut.value), cut.value
        started = time.monotonic()
        for n in range(3):
            row = await database.fetch_row("SELECT 41 + $1::int AS n", [n])
            assert row["n"] == 41 + n
        assert time.monotonic() - started < 3
    finally:
        await database.dispose()


def _event(run: str, n: int) -> dict:
    """The n-th sensitive-read event of a test run (found again by its request id)."""
    return {
        "action": "household.read_health",
        "result": "success",
        "status": 200,
        "object_type": "household",
        "object_id": str(n),
        "request_id": f"{run}-{n}",
    }


async def test_a_batch_whose_commit_answer_was_lost_is_written_once(settings, engine):
    """The database committed a batch of read events but the connection was cut before the
    answer came back: the buffer sends the same batch again, and it is not written twice;
    events added meanwhile follow, in order."""
    database = Database(engine)
    run = uuid.uuid4().hex[:12]

    class AnswerLost:
        """The first write goes through, then its answer is lost."""

        def __init__(self):
            self.calls = 0

        async def fetch_rows(self, sql, args, **kw):
            self.calls += 1
            result = await database.fetch_rows(sql, args, **kw)
            if self.calls == 1:
                raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
            return result

    target = AnswerLost()
    buffer = ReadAuditBuffer(target, flush_ms=100)
    try:
        for n in range(3):
            buffer.add(_event(run, n))
        with pytest.raises(asyncpg.ConnectionDoesNotExistError):
            await buffer.flush()
        assert len(buffer.pending) == 3 and buffer.failures == 1  # kept: the outcome is unknown here
        buffer.add(_event(run, 3))
        await buffer.flush()
        assert buffer.pending == [] and buffer.written == 4
        rows = await database.fetch_rows(
            "SELECT request_id FROM audit_log WHERE request_id LIKE $1 ORDER BY id", [f"{run}-%"]
        )
        assert [r["request_id"] for r in rows] == [f"{run}-{n}" for n in range(4)]
    finally:
        await database.dispose()


async def test_a_flush_writes_what_was_pending_when_it_began(settings, engine):
    """Reads go on while a batch is written: the events they add wait for the next
    interval's flush instead of keeping this one writing a few events per transaction (it
    used to loop until the buffer was empty, which under steady reads it never was)."""
    database = Database(engine)
    run = uuid.uuid4().hex[:12]
    buffer: ReadAuditBuffer

    class ReadsMeanwhile:
        """Each batch's write takes a moment in which two more reads are audited."""

        def __init__(self):
            self.batches: list[int] = []

        async def fetch_rows(self, sql, args, **kw):
            self.batches.append(len(json.loads(args[0])))
            result = await database.fetch_rows(sql, args, **kw)
            n = len(buffer.pending) + buffer.written
            buffer.add(_event(run, n))
            buffer.add(_event(run, n + 1))
            return result

    target = ReadsMeanwhile()
    buffer = ReadAuditBuffer(target, flush_ms=100, max_batch=4)
    try:
        for n in range(10):
            buffer.add(_event(run, n))
        await asyncio.wait_for(buffer.flush(), 30)  # (the old loop never ended here)
        # The ten pending at the start, in batches of at most four; what came meanwhile waits.
        assert target.batches == [4, 4, 2]
        assert buffer.written == 10 and len(buffer.pending) == 6
        await asyncio.wait_for(buffer.flush(), 30)  # the next interval's: the six, in order after the ten
        assert target.batches == [4, 4, 2, 4, 2] and buffer.written == 16
        rows = await database.fetch_rows(
            "SELECT request_id FROM audit_log WHERE request_id LIKE $1 ORDER BY id", [f"{run}-%"]
        )
        assert [r["request_id"] for r in rows] == [f"{run}-{n}" for n in range(16)]
    finally:
        await database.dispose()


def test_every_way_a_lost_database_surfaces_is_unavailability():
    """What a restart raised at the reviewer's load, wherever it surfaced: each is a 503,
    and each but a cancelled statement marks its connection for the bin."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from services.core.db import broken_connection, unavailable

    raised = [
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        FileNotFoundError(2, "No such file or directory"),  # the socket of a stopped server
        ConnectionRefusedError(111, "Connection refused"),
        PoolTimeout("QueuePool limit reached"),
        TimeoutError(),  # the read pool's acquire
    ]
    for exc in raised:
        assert unavailable(exc), exc
    for exc in raised[:7]:  # the driver's, as SQLAlchemy hands them on
        wrapped = DBAPIError("SELECT 1", None, Exception("adapted"))
        wrapped.orig.__cause__ = exc
        assert unavailable(wrapped), exc
    assert all(broken_connection(e) for e in raised[:7])
    cancelled = asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout")
    assert unavailable(cancelled) and not broken_connection(cancelled)
    for exc in (ValueError("bad"), asyncpg.UniqueViolationError("duplicate key"), KeyError("x")):
        assert not unavailable(exc) and not broken_connection(exc), exc


async def _driver_misuses(dsn: str) -> list[Exception]:
    """What the driver itself raises for a statement built wrongly, before sending it; the
    connection answers the next statement."""
    conn = await asyncpg.connect(dsn)
    raised = []
    try:
        for statement, args, kind in (
            ("SELECT $1::int", ["not a number"], asyncpg.DataError),  # a value it cannot encode
            ("SELECT 1", list(range(40_000)), asyncpg.InterfaceError),  # more than 32,767 parameters
            ("SELECT $1::int + $2::int", [1], asyncpg.InterfaceError),  # fewer than the statement has
        ):
            with pytest.raises(kind) as caught:
                await conn.fetchval(statement, *args)
            raised.append(caught.value)
        assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await conn.close()
    return raised


async def test_a_statement_built_wrongly_is_a_defect_not_an_outage(settings, engine):
    """asyncpg raises ``InterfaceError`` for a lost connection and for a statement of ours
    that it refuses to send. The second is the same on every retry: not unavailability (a
    503 asking the client to try again), and its connection is not thrown away."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from services.core.db import broken_connection, unavailable

    raised = await _driver_misuses(asyncpg_dsn(_url(engine)))
    assert "cannot exceed 32767" in str(raised[1]) and "expects 2 arguments" in str(raised[2])
    for exc in raised:
        assert not unavailable(exc) and not broken_connection(exc), exc
    async with engine.connect() as conn:  # as SQLAlchemy hands it on to the API's sessions
        with pytest.raises(DBAPIError) as wrapped:
            await conn.execute(text("SELECT CAST(:n AS int)"), {"n": "not a number"})
        assert not unavailable(wrapped.value) and not broken_connection(wrapped.value)
        assert not wrapped.value.connection_invalidated
        await conn.rollback()
        assert (await conn.execute(text("SELECT 42"))).scalar() == 42
    lost = asyncpg.InterfaceError("cannot perform operation: connection is closed")
    assert unavailable(lost) and broken_connection(lost)  # still an outage


async def test_a_statement_built_wrongly_is_answered_500(settings, engine, auth, monkeypatch):
    """On the list's both paths (the direct read and the session's), the driver's refusal of
    a statement is a 500 internal error, not a 503 with Retry-After."""
    from services.api.households import listing
    from services.core.households import service

    too_many = (await _driver_misuses(asyncpg_dsn(_url(engine))))[1]

    async def refused(*args, **kwargs):
        raise too_many

    def refused_read(*args, **kwargs):
        raise too_many

    monkeypatch.setattr(service, "list_households", refused)
    monkeypatch.setattr(listing, "household_list_read", refused_read)
    database = Database(create_engine(_url(engine), settings, "tests"))
    try:
        app = create_app(settings, database=database)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as client:
            for query in ("", "?name=x"):
                r = await client.get(f"/api/v1/households{query}", headers=auth("county_staff.county"))
                assert (r.status_code, r.json()["code"]) == (500, "internal_error"), r.text
                assert "retry-after" not in r.headers
    finally:
        await database.dispose()
