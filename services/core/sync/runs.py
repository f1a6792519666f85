"""The run queue: one place that puts a run in it, for the API, the CLI and the worker's
scheduler alike.

At most one run per source and county is waiting or running (the partial unique index
``uq_sync_runs_active``); a request for a source and county that already has one joins it
instead of queuing a second pull of the same data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict
from services.core.sync.enums import RunPhase, RunStatus, Trigger
from services.core.sync.models import SyncRun

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
