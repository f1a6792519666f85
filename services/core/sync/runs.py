"""The one module that writes ``sync_runs``: the run queue (one place that puts a run in it,
for the API, the CLI and the worker's scheduler alike), and every later change of a run's
row — claimed, counted, phase, succeeded, failed — for the worker, the spreadsheet import
and the registry check. Reads stay where they are needed.

At most one run per source and county is waiting or running (the partial unique index
``uq_sync_runs_active``); a request for a source and county that already has one joins it
instead of queuing a second pull of the same data.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from services.core.errors import Conflict
from services.core.sync.enums import RunPhase, RunStatus, Trigger
from services.core.sync.models import SyncRun

if TYPE_CHECKING:  # the worker's page-writing processes import this module: no asyncio ORM there
    from sqlalchemy.ext.asyncio import AsyncSession

# An asyncpg connection, pooled connection or pool (the worker's bookkeeping).
Driver = Any

ACTIVE = (RunStatus.queued, RunStatus.running)
ACTIVE_INDEX = "uq_sync_runs_active"
# A run that joins races with one that finishes: each lost race is tried again, a few times.
_ATTEMPTS = 5


async def active_run(session: AsyncSession, source: str, county: str) -> SyncRun | None:
    """The run of ``source`` for ``county`` that is queued or running, if any."""
    stmt = select(SyncRun).where(SyncRun.source == source, SyncRun.county == county, SyncRun.status.in_(ACTIVE))
    return (await session.execute(stmt)).scalar_one_or_none()


def _lost_to_another_run(exc: IntegrityError) -> bool:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    return constraint == ACTIVE_INDEX or ACTIVE_INDEX in str(exc.orig)


async def enqueue(
    session: AsyncSession,
    source: str,
    county: str,
    trigger: Trigger,
    requested_by: int | None = None,
    *,
    file_name: str | None = None,
    not_before: datetime | None = None,
) -> tuple[SyncRun, bool]:
    """Queue a run of ``source`` for ``county``: ``(run, True)`` for a new ``queued`` run,
    ``(run, False)`` for the run already queued or running, which the request joins.

    ``requested_by`` is the user who asked (None: the schedule or the command line);
    ``not_before`` holds the run back (a retry later). The caller has checked that the
    source exists and serves the county. The new row is flushed, not committed: it is
    queued when the caller's transaction commits. Inserted through the ORM so that an API
    request's audit event records the row."""
    for _ in range(_ATTEMPTS):
        found = await active_run(session, source, county)
        if found is not None:
            return found, False
        run = SyncRun(
            source=source,
            county=county,
            trigger=trigger,
            requested_by=requested_by,
            status=RunStatus.queued,
            phase=RunPhase.fetching,
            file_name=file_name,
            attempts=0,
            pages=0,
            fetched=0,
            staged=0,
            unchanged=0,
            quarantined=0,
            retries=0,
        )
        if not_before is not None:
            run.not_before = not_before
        try:
            # A savepoint: losing the race to a concurrent request must not end the
            # caller's transaction.
            async with session.begin_nested():
                session.add(run)
        except IntegrityError as exc:
            if not _lost_to_another_run(exc):
                raise
            continue
        await session.refresh(run)  # the server's defaults: created_at, not_before
        return run, True
    raise Conflict("changed_concurrently", headers={"Retry-After": "1"})


# ---- the run's life after it is queued ----------------------------------------------------
#
# Everything below writes ``sync_runs`` for the worker, the spreadsheet import and the
# registry check: each write is one function here, so the run's columns change in one
# module. The worker keeps its crash-safety because the caller still chooses the
# connection and transaction: a page's counters are written in the page's transaction
# (``count_page``), a claim's start in the claim's (``start``), the reconciliation's counts
# with its findings (``enter_clues``). Two kinds of connection call them: the worker's
# asyncpg connections and pools (``$n`` parameters), and SQLAlchemy sessions (``:name``).

# The run is claimed by ``worker`` (a new attempt; ``started_at`` kept when resuming).
_START = """
UPDATE sync_runs SET status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now(),
       attempts = attempts + 1, worker = $2
WHERE id = $1
RETURNING id, source, county, trigger, attempts, phase
"""

_FAIL_INTERRUPTED = (
    "UPDATE sync_runs SET status = 'failed', finished_at = now(), error_code = 'interrupted', error = $2 WHERE id = $1"
)

# A spreadsheet import's run: created running (``ON CONFLICT``: None while another run of
# the source and county is active).
_OPEN_IMPORT = """
INSERT INTO sync_runs (source, county, trigger, file_name, status, phase, not_before, attempts, pages, fetched, staged,
                       unchanged, quarantined, retries, created_at, roster_period, roster_region, roster_records,
                       roster_rejected)
VALUES ($1, $2, 'spreadsheet', $3, 'running', 'fetching', now(), 0, 0, 0, 0, 0, 0, 0, now(), $4, $5, $6, $6)
ON CONFLICT (source, county) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id
"""

_IMPORT_STARTED = (
    "UPDATE sync_runs SET started_at = now(), heartbeat_at = now(), attempts = 1, worker = $2 WHERE id = $1"
)

_PAGE_COUNTS = """
UPDATE sync_runs SET pages = pages + 1, fetched = fetched + $2, staged = staged + $3, unchanged = unchanged + $4,
       quarantined = quarantined + $5, retries = retries + $6, heartbeat_at = now()
WHERE id = $1
"""

_DECLARE_ROSTER = (
    "UPDATE sync_runs SET roster_period = $2, roster_region = $3, roster_records = 0, roster_rejected = 0 WHERE id = $1"
)
_ROSTER_PERIOD = (
    "UPDATE sync_runs SET roster_period = coalesce(roster_period, $2) WHERE id = $1 RETURNING roster_period"
)
_ROSTER_COUNTS = (
    "UPDATE sync_runs SET roster_records = coalesce(roster_records, 0) + $2, "
    "roster_rejected = coalesce(roster_rejected, 0) + $3 WHERE id = $1"
)

_RECONCILING = (
    "UPDATE sync_runs SET phase = 'reconciling', heartbeat_at = now(), reconcile_started_at = now() WHERE id = $1"
)

_CLUES_PHASE = text(
    "UPDATE sync_runs SET phase = 'clues', clues_started_at = clock_timestamp(), "
    "heartbeat_at = clock_timestamp(), clues = 0, matched = :matched, unmatched = :unmatched, "
    "findings_opened = :findings_opened, findings_resolved = :findings_resolved, "
    "findings_open = :findings_open WHERE id = :id"
)

_COUNT_CLUES = text("UPDATE sync_runs SET clues = clues + :n, heartbeat_at = clock_timestamp() WHERE id = :id")

_SUCCEED = (
    "UPDATE sync_runs SET status = 'succeeded', phase = 'done', finished_at = clock_timestamp(), "
    "heartbeat_at = clock_timestamp(), error_code = NULL, error = NULL WHERE id = $1"
)

_FAIL = text(
    "UPDATE sync_runs SET status = 'failed', finished_at = clock_timestamp(), error_code = :code, "
    "error = :error WHERE id = :id RETURNING county"
)

# The registry check's run: never queued, written running and finished in one transaction.
_START_CHECK = text("""
INSERT INTO sync_runs (source, county, trigger, status, phase, worker, attempts, pages, fetched, staged, unchanged,
                       quarantined, retries, created_at, not_before, started_at, heartbeat_at, reconcile_started_at)
VALUES (:source, :county, :trigger, 'running', 'reconciling', :worker, 1, 0, 0, 0, 0, 0, 0,
        :at, :at, :at, :at, :at)
RETURNING id""")

_FINISH_CHECK = text("""
UPDATE sync_runs SET status = 'succeeded', phase = 'done', finished_at = clock_timestamp(),
       heartbeat_at = clock_timestamp(), findings_opened = :findings_opened, findings_resolved = :findings_resolved,
       findings_open = :findings_open, clues = 0
WHERE id = :run_id""")


async def start(conn: Driver, run_id: int, worker: str):
    """A claimed run starts (again) under ``worker``: its row (id, source, county, trigger,
    attempts, phase), in the claim's transaction."""
    return await conn.fetchrow(_START, run_id, worker)


async def fail_interrupted(conn: Driver, run_id: int, message: str) -> None:
    """An import whose process is gone ends failed ``interrupted``."""
    await conn.execute(_FAIL_INTERRUPTED, run_id, message)


async def open_import(
    conn: Driver,
    source: str,
    county: str,
    file_name: str,
    roster_period: str | None,
    roster_region: str | None,
    roster_records: int | None,
) -> int | None:
    """A spreadsheet import's run, created running; None when a run of the source and
    county is already queued or running."""
    return await conn.fetchval(_OPEN_IMPORT, source, county, file_name, roster_period, roster_region, roster_records)


async def requested_by(conn: Driver, run_id: int, user_id: int | None) -> None:
    """Who asked for the run (an upload through the API)."""
    await conn.execute("UPDATE sync_runs SET requested_by = $1 WHERE id = $2", user_id, run_id)


async def import_started(conn: Driver, run_id: int, worker: str) -> None:
    await conn.execute(_IMPORT_STARTED, run_id, worker)


async def count_page(
    conn: Driver, run_id: int, fetched: int, staged: int, unchanged: int, quarantined: int, retries: int
) -> None:
    """A page's counts and the heartbeat, in the page's transaction (with its cursor)."""
    await conn.execute(_PAGE_COUNTS, run_id, fetched, staged, unchanged, quarantined, retries)


async def declare_roster(conn: Driver, run_id: int, period: str | None, region: str) -> None:
    """The run reads a complete roster of ``region`` (its period: given, or named by the pages)."""
    await conn.execute(_DECLARE_ROSTER, run_id, period, region)


async def roster_period(conn: Driver, run_id: int, period: str) -> str | None:
    """The roster's period as a page names it: set once; returns the one declared."""
    return await conn.fetchval(_ROSTER_PERIOD, run_id, period)


async def count_roster(conn: Driver, run_id: int, records: int, rejected: int) -> None:
    await conn.execute(_ROSTER_COUNTS, run_id, records, rejected)


async def reconciling(conn: Driver, run_id: int) -> None:
    await conn.execute(_RECONCILING, run_id)


async def enter_clues(session: AsyncSession, run_id: int, counts: dict[str, int]) -> None:
    """The reconciliation's counts, in its transaction; the run goes on to raise clues."""
    await session.execute(_CLUES_PHASE, {"id": run_id, **counts})


async def count_clues(session: AsyncSession, run_id: int, raised: int) -> None:
    """A batch of clues, in the batch's transaction (with the clue ids on the findings)."""
    await session.execute(_COUNT_CLUES, {"n": raised, "id": run_id})


async def succeed(conn: Driver, run_id: int) -> None:
    await conn.execute(_SUCCEED, run_id)


async def fail(session: AsyncSession, run_id: int, code: str, message: str):
    """The run ends failed with ``code`` and ``message`` (cut to the column); its row (county)."""
    return (await session.execute(_FAIL, {"id": run_id, "code": code, "error": message[:2000]})).one()


async def start_check(
    session: AsyncSession, source: str, county: str, trigger: Trigger, worker: str | None, at: datetime
) -> int:
    """A registry check's run, written running in the check's transaction; its id."""
    params = {"source": source, "county": county, "trigger": trigger.value, "worker": worker, "at": at}
    return (await session.execute(_START_CHECK, params)).scalar_one()


async def finish_check(session: AsyncSession, run_id: int, counts: dict[str, int]) -> None:
    await session.execute(_FINISH_CHECK, {"run_id": run_id, **counts})
