"""The run queue, in PostgreSQL, shared by every worker on any machine.

A worker claims a run by locking candidate rows with ``FOR UPDATE SKIP LOCKED`` and taking
a session-level advisory lock on the run id on a connection it keeps for the run. While
it lives, nobody else can take the run; if it dies (even by SIGKILL) its connection closes,
PostgreSQL drops the lock, and the run — still ``running``, with its cursor committed —
is claimed again and continues where the last committed page left it.

Runs are per source and county, so several workers pull several sources or counties at
once. A source whose circuit breaker is open is not claimed until it closes.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.core import timeutil
from services.core.db import Database, unavailable
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import SyncSettings
from services.core.sync import runs
from services.core.sync.enums import Trigger
from services.core.sync.rosters import Roster
from services.worker import queries

# A connection of its own or one taken from a pool (``pool.acquire()``): the same methods.
Connection = asyncpg.Connection | PoolConnectionProxy

# Advisory-lock namespace of sync runs (the first key of the two-key form).
LOCK_SPACE = 0x5359  # "SY"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Claim:
    run_id: int
    source: str
    county: str
    trigger: str
    attempts: int
    phase: str
    lock: asyncpg.Connection  # holds the advisory lock; closing it frees the run

    async def release(self) -> None:
        if self.lock.is_closed():
            return
        try:
            await self.lock.execute(queries.UNLOCK, LOCK_SPACE, self.run_id)
        except Exception as exc:
            if not unavailable(exc):
                raise
            # The database went away: its lock went with the connection. Nothing to undo.
            self.lock.terminate()
        finally:
            if not self.lock.is_closed():
                await self.lock.close()


async def claim(dsn: str, sources: list[str], worker: str, run_id: int | None = None) -> Claim | None:
    """The next ready run (or run ``run_id``), locked for this worker; None when none is."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "guardline-sync-lock"})
    try:
        async with conn.transaction():
            if run_id is None:
                ids = [r["id"] for r in await conn.fetch(queries.CANDIDATES, sources)]
            else:
                ids = [r["id"] for r in await conn.fetch(queries.CANDIDATE, run_id)]
            row = None
            for candidate in ids:
                # Run ids fit the int4 of the two-key advisory lock for a long time (2^31 runs).
                if not await conn.fetchval(queries.TRY_LOCK, LOCK_SPACE, candidate):
                    continue
                if await conn.fetchval(queries.IS_IMPORT, candidate):
                    # An import whose process is gone: the file is not here to go on with.
                    await runs.fail_interrupted(conn, candidate, _INTERRUPTED)
                    await conn.execute(queries.UNLOCK, LOCK_SPACE, candidate)
                    continue
                row = await runs.start(conn, candidate, worker)
                break
        if row is None:
            await conn.close()
            return None
        return Claim(row["id"], row["source"], row["county"], row["trigger"], row["attempts"], row["phase"], conn)
    except BaseException:
        await conn.close()
        raise


_INTERRUPTED = "the import was interrupted; import the file again (unchanged records are recognised)"


async def _end_interrupted_import(conn: asyncpg.Connection, source: str, county: str) -> bool:
    """The active run of the source and county is an import whose process is gone (its
    advisory lock is free): it is failed ``interrupted``, as a worker would fail it, so
    that the next import need not wait for a worker to pass by. True when it was."""
    candidate = await conn.fetchval(queries.ACTIVE_IMPORT, source, county)
    if candidate is None:
        return False
    if not await conn.fetchval(queries.TRY_LOCK, LOCK_SPACE, candidate):
        return False  # alive
    try:
        await runs.fail_interrupted(conn, candidate, _INTERRUPTED)
    finally:
        await conn.execute(queries.UNLOCK, LOCK_SPACE, candidate)
    return True


async def open_import(
    dsn: str, source: str, county: str, file_name: str, worker: str, roster: Roster | None = None
) -> Claim | None:
    """A spreadsheet import's run, created running and locked by this process in one
    transaction (no worker can see it unlocked). None when a run of the source and county
    is already queued or running — but an import left running by a process that died is
    failed ``interrupted`` here and does not stand in the way. ``roster``: the file is
    declared a complete roster."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "guardline-sync-lock"})
    try:
        async with conn.transaction():
            # Not through ``runs.enqueue`` but ``runs.open_import``: an import is not queued but
            # running at once, and its lock must be taken in the transaction that creates it.
            declared = (roster.period if roster else None, roster.region if roster else None, 0 if roster else None)
            run_id = await runs.open_import(conn, source, county, file_name, *declared)
            if run_id is None and await _end_interrupted_import(conn, source, county):
                run_id = await runs.open_import(conn, source, county, file_name, *declared)
            if run_id is not None:
                await conn.execute(queries.LOCK, LOCK_SPACE, run_id)
                await runs.import_started(conn, run_id, worker)
        if run_id is None:
            await conn.close()
            return None
        return Claim(run_id, source, county, "spreadsheet", 1, "fetching", conn)
    except BaseException:
        await conn.close()
        raise


async def forget_mark(pool: asyncpg.Pool, source: str, county: str) -> bool:
    """Let the next run of ``source`` for ``county`` read from the start (updated-since
    paging otherwise reads only what changed since the mark): a full pull, which a roster
    source declares a complete roster (docs/rosters.md). Not while a run is queued or
    running (it may be resuming from its cursor): False then."""
    active = await pool.fetchval(queries.ACTIVE_COUNT, source, county)
    if active:
        return False
    await pool.execute(queries.FORGET_MARK, source, county)
    return True


async def enqueue_run(
    db: Database, source: str, county: str, trigger: Trigger, *, delay: timedelta | None = None
) -> tuple[int, bool]:
    """``runs.enqueue`` (the one way a run is queued, shared with the API) in a
    transaction of its own; returns (run id, created)."""
    async with db.session() as session, session.begin():
        bind_scope(session, UNRESTRICTED)
        not_before = timeutil.now() + delay if delay else None
        run, created = await runs.enqueue(session, source, county, trigger, not_before=not_before)
        return run.id, created


async def schedule_due(db: Database, due: list[tuple[str, str, float]]) -> list[int]:
    """Queue a scheduled run for each (source, county, every_hours) whose last run was
    created longer ago than its interval. Serialised by a transaction-level advisory
    lock, so two workers looking at the same moment queue it once."""
    queued = []
    async with db.session() as session, session.begin():
        bind_scope(session, UNRESTRICTED)
        await session.execute(queries.SCHEDULE_LOCK, {"space": LOCK_SPACE})
        for source, county, hours in due:
            recent = (
                await session.execute(queries.RECENT_RUN, {"source": source, "county": county, "hours": hours})
            ).scalar_one()
            if not recent:
                run, created = await runs.enqueue(session, source, county, Trigger.schedule)
                if created:
                    queued.append(run.id)
    return queued


async def record_failure(
    db: Database,
    run_id: int,
    source: str,
    code: str,
    message: str,
    settings: SyncSettings,
    *,
    retry: bool,
    breaker: bool = True,
) -> int | None:
    """The run failed: say why, count it against the source's breaker (opening it at the
    threshold; not for ``breaker=False``: a spreadsheet import says nothing of the
    department's server), and queue a retry later while attempts remain. Returns the
    retry's id."""
    async with db.session() as session, session.begin():
        bind_scope(session, UNRESTRICTED)
        run = await runs.fail(session, run_id, code, message)
        if not breaker:
            return None
        await session.execute(queries.SOURCE_FAILED, {"source": source, "error": f"{code}: {message}"[:2000]})
        await session.execute(
            queries.OPEN_BREAKER,
            {"source": source, "cooldown": settings.breaker_cooldown_seconds, "threshold": settings.breaker_threshold},
        )
        if not retry:
            return None
        retries = (await session.execute(queries.RETRIES_TODAY, {"source": source, "county": run.county})).scalar_one()
        if retries + 1 >= settings.run_attempts:
            return None
        later = timeutil.now() + timedelta(seconds=settings.run_retry_seconds)
        queued, _ = await runs.enqueue(session, source, run.county, Trigger.retry, not_before=later)
        return queued.id


async def record_success(conn: Connection, source: str) -> None:
    await conn.execute(queries.SOURCE_SUCCEEDED, source)
