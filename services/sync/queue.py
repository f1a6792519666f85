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
from sqlalchemy import text

from services.core import timeutil
from services.core.db import Database
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import SyncSettings
from services.core.sync import runs
from services.core.sync.enums import Trigger
from services.core.sync.rosters import Roster

# A connection of its own or one taken from a pool (``pool.acquire()``): the same methods.
Connection = asyncpg.Connection | PoolConnectionProxy

# Advisory-lock namespace of sync runs (the first key of the two-key form).
LOCK_SPACE = 0x5359  # "SY"

_CANDIDATES = """
SELECT r.id FROM sync_runs r
WHERE r.status IN ('queued', 'running') AND r.not_before <= now()
  AND r.source = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM sync_source_states s WHERE s.source = r.source AND s.open_until > now())
ORDER BY r.not_before, r.id
FOR UPDATE OF r SKIP LOCKED
LIMIT 16
"""


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
            await self.lock.execute("SELECT pg_advisory_unlock($1, $2::int)", LOCK_SPACE, self.run_id)
        finally:
            await self.lock.close()


async def claim(dsn: str, sources: list[str], worker: str, run_id: int | None = None) -> Claim | None:
    """The next ready run (or run ``run_id``), locked for this worker; None when none is."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "guardline-sync-lock"})
    try:
        async with conn.transaction():
            if run_id is None:
                ids = [r["id"] for r in await conn.fetch(_CANDIDATES, sources)]
            else:
                ids = [
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT id FROM sync_runs WHERE id = $1 AND status IN ('queued', 'running') "
                        "FOR UPDATE SKIP LOCKED",
                        run_id,
                    )
                ]
            row = None
            for candidate in ids:
                # Run ids fit the int4 of the two-key advisory lock for a long time (2^31 runs).
                if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2::int)", LOCK_SPACE, candidate):
                    continue
                if await conn.fetchval("SELECT trigger = 'spreadsheet' FROM sync_runs WHERE id = $1", candidate):
                    # An import whose process is gone: the file is not here to go on with.
                    await runs.fail_interrupted(conn, candidate, _INTERRUPTED)
                    await conn.execute("SELECT pg_advisory_unlock($1, $2::int)", LOCK_SPACE, candidate)
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
    candidate = await conn.fetchval(
        "SELECT id FROM sync_runs WHERE source = $1 AND county = $2 AND status IN ('queued', 'running') "
        "AND trigger = 'spreadsheet' FOR UPDATE SKIP LOCKED",
        source,
        county,
    )
    if candidate is None:
        return False
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2::int)", LOCK_SPACE, candidate):
        return False  # alive
    try:
        await runs.fail_interrupted(conn, candidate, _INTERRUPTED)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, $2::int)", LOCK_SPACE, candidate)
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
            # Not through ``runs.enqueue`` (``runs.open_import``): an import is not queued but running at once, and
            # its lock must be taken in the transaction that creates it.
            declared = (roster.period if roster else None, roster.region if roster else None, 0 if roster else None)
            run_id = await runs.open_import(conn, source, county, file_name, *declared)
            if run_id is None and await _end_interrupted_import(conn, source, county):
                run_id = await runs.open_import(conn, source, county, file_name, *declared)
            if run_id is not None:
                await conn.execute("SELECT pg_advisory_lock($1, $2::int)", LOCK_SPACE, run_id)
                await runs.import_started(conn, run_id, worker)
        if run_id is None:
            await conn.close()
            return None
        return Claim(run_id, source, county, "spreadsheet", 1, "fetching", conn)
    except BaseException:
        await conn.close()
        raise


_FORGET_MARK = """
DELETE FROM sync_cursors c
WHERE c.source = $1 AND c.county = $2
  AND NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.source = $1 AND r.county = $2 AND r.status IN ('queued', 'running'))
"""


async def forget_mark(pool: asyncpg.Pool, source: str, county: str) -> bool:
    """Let the next run of ``source`` for ``county`` read from the start (updated-since
    paging otherwise reads only what changed since the mark): a full pull, which a roster
    source declares a complete roster (docs/rosters.md). Not while a run is queued or
    running (it may be resuming from its cursor): False then."""
    active = await pool.fetchval(
        "SELECT count(*) FROM sync_runs WHERE source = $1 AND county = $2 AND status IN ('queued', 'running')",
        source,
        county,
    )
    if active:
        return False
    await pool.execute(_FORGET_MARK, source, county)
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
        await session.execute(text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": LOCK_SPACE})
        for source, county, hours in due:
            recent = (
                await session.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source = :source AND county = :county "
                        "AND (status IN ('queued', 'running') OR created_at > now() - make_interval(hours => :hours)))"
                    ),
                    {"source": source, "county": county, "hours": hours},
                )
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
        await session.execute(
            text(
                "INSERT INTO sync_source_states AS s (source, consecutive_failures, last_failure_at, last_error) "
                "VALUES (:source, 1, now(), :error) ON CONFLICT (source) DO UPDATE "
                "SET consecutive_failures = s.consecutive_failures + 1, last_failure_at = now(), last_error = :error"
            ),
            {"source": source, "error": f"{code}: {message}"[:2000]},
        )
        await session.execute(
            text(
                "UPDATE sync_source_states SET open_until = now() + make_interval(secs => :cooldown) "
                "WHERE source = :source AND consecutive_failures >= :threshold"
            ),
            {"source": source, "cooldown": settings.breaker_cooldown_seconds, "threshold": settings.breaker_threshold},
        )
        if not retry:
            return None
        retries = (
            await session.execute(
                text(
                    "SELECT count(*) FROM sync_runs WHERE source = :source AND county = :county AND trigger = 'retry' "
                    "AND created_at > now() - interval '1 day'"
                ),
                {"source": source, "county": run.county},
            )
        ).scalar_one()
        if retries + 1 >= settings.run_attempts:
            return None
        later = timeutil.now() + timedelta(seconds=settings.run_retry_seconds)
        queued, _ = await runs.enqueue(session, source, run.county, Trigger.retry, not_before=later)
        return queued.id


async def record_success(conn: Connection, source: str) -> None:
    await conn.execute(
        "INSERT INTO sync_source_states AS s (source, consecutive_failures, last_success_at) VALUES ($1, 0, now()) "
        "ON CONFLICT (source) DO UPDATE SET consecutive_failures = 0, open_until = NULL, last_success_at = now()",
        source,
    )
