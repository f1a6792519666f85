"""The sync worker: takes runs from the queue (``queue``), carries them out (``runner``),
and queues the scheduled ones. Start as many as you like, on one machine or many: they
share the queue and never carry out a run twice. Stopping one (even with SIGKILL) loses
nothing; its run is taken up again from the last committed page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from services.core.db import Database, application_url, asyncpg_dsn, create_engine, unavailable
from services.core.logs import RUN_ID, log_context
from services.core.progress import Step
from services.core.settings import Settings
from services.core.sync.config import SourceConfig, load_sources
from services.core.sync.enums import Trigger
from services.core.sync.rosters import Roster
from services.worker import queries, queue
from services.worker.runner import (
    INTERNAL_ERROR,
    Context,
    Progress,
    execute,
    import_records,
    internal_message,
    run_counts,
)

log = logging.getLogger("guardline.sync")


class NotReady(RuntimeError):
    pass


@dataclass
class Session:
    """What a worker or a CLI command holds while it works: both pools and the sources."""

    ctx: Context
    dsn: str

    @classmethod
    async def open(cls, settings: Settings) -> Session:
        url = application_url(settings)  # the application's restricted role, not the owner
        db = Database(create_engine(url, settings, "sync"))
        async with db.engine.connect() as conn:
            if not (await conn.execute(queries.MIGRATED)).scalar_one():
                await db.dispose()
                raise NotReady("the database is not migrated yet: run `guardline migrate` (or start the API)")
        dsn = asyncpg_dsn(url)
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=4, server_settings={"application_name": "guardline-sync"}
        )
        return cls(Context.build(settings, load_sources(settings), pool, db), dsn)

    async def close(self) -> None:
        await self.ctx.pool.close()
        await self.ctx.db.dispose()

    def source(self, name: str) -> SourceConfig:
        return self.ctx.sources.get(name)


def county_of(source: SourceConfig, county: str | None) -> str:
    if county is None:
        if len(source.counties) != 1:
            raise ValueError(f"source {source.name} serves {', '.join(source.counties)}: name one with --county")
        return source.counties[0]
    if county not in source.counties:
        raise ValueError(
            f"source {source.name} does not serve county {county} (it serves {', '.join(source.counties)})"
        )
    return county


async def work(session: Session, *, stop: asyncio.Event, once: bool = False, name: str | None = None) -> int:
    """Claim and carry out runs until ``stop`` is set (or, with ``once``, until none is
    ready). Returns how many runs this worker carried out."""
    ctx = session.ctx
    worker = name or queue.worker_name()
    names = ctx.sources.names()
    done = 0
    state = _Daily()
    while not stop.is_set():
        try:
            claim = await _next_claim(ctx, session, names, worker, once, state)
        except Exception as exc:
            if not unavailable(exc):
                raise
            # The database restarts or is away: nothing is lost (the queue and every run's
            # progress are in it); ask again after a pause.
            log.warning("the database is unavailable (%s); the worker waits and tries again", type(exc).__name__)
            if once:
                return done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ctx.settings.sync.poll_seconds)
            continue
        if claim is None:
            if once or stop.is_set():
                return done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ctx.settings.sync.poll_seconds)
            continue
        try:
            log.info(
                "run %s: %s for county %s (%s, attempt %s)",
                claim.run_id,
                claim.source,
                claim.county,
                claim.trigger,
                claim.attempts,
                extra={"run_id": claim.run_id},
            )
            with log_context(run_id=claim.run_id):  # every line the run logs carries its id
                status = await _unless_stopped(execute(ctx, claim), stop)
            if status is None:
                log.info(
                    "run %s stopped; it is taken up again from its last written page",
                    claim.run_id,
                    extra={"run_id": claim.run_id},
                )
                break
            log.info("run %s %s", claim.run_id, status, extra={"run_id": claim.run_id})
            done += 1
        except Exception as exc:  # the database went away (or recording the failure failed)
            # The run stays ``running`` with its lock released below: the next claim takes
            # it up again from its last committed page. The worker lives on.
            if unavailable(exc):
                log.warning(
                    "run %s paused: the database is unavailable (%s); it is taken up again from its last written page",
                    claim.run_id,
                    type(exc).__name__,
                    extra={"run_id": claim.run_id},
                )
            else:
                log.exception(
                    "run %s could not be closed; it is taken up again", claim.run_id, extra={"run_id": claim.run_id}
                )
            if once:
                return done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ctx.settings.sync.poll_seconds)
        finally:
            await claim.release()
    return done


@dataclass
class _Daily:
    """The days the worker's daily checks last ran."""

    assets: date | None = None
    visits: date | None = None
    registry: date | None = None
    reports: date | None = None


async def _next_claim(ctx, session: Session, names: list[str], worker: str, once: bool, state: _Daily):
    """The daily checks when due, the scheduled runs, then the next ready run (or None)."""
    if not once and ctx.settings.sync.asset_checks:
        state.assets = await daily_asset_checks(ctx, state.assets)
    if not once and ctx.settings.sync.visit_breaches:
        state.visits = await daily_visit_breaches(ctx, state.visits)
    if not once and ctx.settings.sync.registry_checks:
        state.registry = await daily_registry_checks(ctx, state.registry, worker)
    if not once and ctx.settings.sync.reports:
        state.reports = await daily_reports(ctx, state.reports)
    due = [(s.name, c, s.every_hours) for s in ctx.sources if s.pulls and s.every_hours for c in s.counties]
    if due and not once:
        for run_id in await queue.schedule_due(ctx.db, due):
            log.info("scheduled run %s", run_id)
    return await queue.claim(session.dsn, names, worker)


async def deliver_events(session: Session, *, stop: asyncio.Event, once: bool = False) -> int:
    """The delivery of events to the subscribers (``services.core.events.delivery``), beside
    the runs, so that an installation needs no process of its own for it. Returns the
    deliveries attempted."""
    from services.core.events import delivery

    settings = session.ctx.settings
    if not settings.events.deliver_in_sync_worker:
        return 0
    return await delivery.deliver_on(session.ctx.db.engine, settings, stop=stop, once=once)


async def _unless_stopped(work, stop: asyncio.Event):
    """The result of the coroutine ``work``, or None if ``stop`` is set first: then ``work``
    is cancelled, which leaves a run as a crash would (its pages written so far stay, and
    the next claim takes it up again), but with its ``finally`` blocks run (the page
    preparers' processes stopped, the claim released)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
    return None if task.cancelled() else task.result()


async def _once_a_day(ctx, last: date | None, what: str, job) -> date | None:
    """``job(session, day)`` over every region as of today (China time) in a transaction of
    its own, unless ``last`` is today; returns the day done (``last`` again after a failure,
    which is logged and tried again next loop). Jobs are idempotent, so two workers doing one
    on the same day change nothing more than one."""
    from services.core.scope import UNRESTRICTED, bind_scope
    from services.core.timeutil import today

    day = today()
    if last == day:
        return last
    try:
        async with ctx.db.session() as session:
            bind_scope(session, UNRESTRICTED)
            result = await job(session, day)
            await session.commit()
    except Exception:
        log.exception("%s failed; trying again", what)
        return last
    log.info("%s as of %s: %s", what, day, result)
    return day


async def daily_asset_checks(ctx, last: date | None) -> date | None:
    """The asset checks of every region as of today (``_once_a_day``): what each rule found."""
    from services.core.funds.findings import scan_assets
    from services.core.policy.funds import policy_for
    from services.core.scope import UNRESTRICTED

    async def job(session, day):
        counts = await scan_assets(session, UNRESTRICTED, day, policy_for)
        return {rule: c["found"] for rule, c in counts.items()}

    return await _once_a_day(ctx, last, "asset checks", job)


async def daily_visit_breaches(ctx, last: date | None) -> date | None:
    """The monitored households' missed visit months of every region, recorded as of today
    (``_once_a_day``; one breach per case and month, so nothing is recorded twice)."""
    from services.core.monitoring.service import record_missed_visits
    from services.core.scope import UNRESTRICTED

    async def job(session, day):
        return f"{await record_missed_visits(session, UNRESTRICTED, day)} recorded"

    return await _once_a_day(ctx, last, "visit breaches", job)


async def daily_reports(ctx, last: date | None) -> date | None:
    """The township reports that fell due by today, stored once (``_once_a_day``; one per
    township, kind and period, so a second worker or a second day stores nothing more)."""
    from services.core.reports.service import generate_due
    from services.core.scope import UNRESTRICTED

    async def job(session, day):
        return await generate_due(session, UNRESTRICTED, day)

    return await _once_a_day(ctx, last, "township reports", job)


async def check_registry(ctx, county: str, trigger: Trigger, worker: str | None = None) -> dict | None:
    """The registry check of ``county`` in a transaction of its own (``registry_check``);
    a scheduled one is skipped (None) when another worker already checked the county today."""
    from services.core.scope import UNRESTRICTED, bind_scope
    from services.core.sync.registry_check import check_registry as check
    from services.core.sync.registry_check import checked_today

    async with ctx.db.session() as session, session.begin():
        bind_scope(session, UNRESTRICTED)  # the check reads the whole county
        if trigger == Trigger.schedule and await checked_today(session, county):
            return None
        return await check(session, ctx.settings, county, trigger=trigger, worker=worker)


async def registry_counties(ctx) -> list[str]:
    """The counties with households in the registry."""
    from services.core.scope import UNRESTRICTED, bind_scope
    from services.core.sync.registry_check import counties

    async with ctx.db.session() as session:
        bind_scope(session, UNRESTRICTED)
        return await counties(session)


async def daily_registry_checks(ctx, last: date | None, worker: str | None = None) -> date | None:
    """The registry checks of every county with households, once a day (China time), like
    the asset checks; a county another worker checked today is skipped (``check_registry``).
    A county whose check fails is logged, and the day is tried again next loop."""
    from services.core.timeutil import today

    day = today()
    if last == day:
        return last
    try:
        names = await registry_counties(ctx)
    except Exception:
        log.exception("registry checks: counties not read; trying again")
        return last
    failed = False
    for county in names:
        try:
            counts = await check_registry(ctx, county, Trigger.schedule, worker)
        except Exception:
            log.exception("registry check of %s failed; trying again", county)
            failed = True
            continue
        if counts is not None:
            log.info("registry check of %s as of %s: %s", county, day, counts)
    return last if failed else day


async def run_now(
    session: Session,
    source: SourceConfig,
    county: str,
    progress: Progress,
    *,
    trigger: Trigger = Trigger.manual,
    full: bool = False,
) -> dict:
    """Queue a run (or join the one already queued or running) and carry it out here; when
    another worker holds it, follow its progress until it ends. ``full``: read from the
    start, not from the last run's mark (refused while a run is queued or running)."""
    if full and not await queue.forget_mark(session.ctx.pool, source.name, county):
        raise RuntimeError(
            f"a run of {source.name} for county {county} is queued or running; ask for a full pull when it ends"
        )
    run_id, _ = await queue.enqueue_run(session.ctx.db, source.name, county, trigger)
    claim = await queue.claim(session.dsn, [source.name], queue.worker_name(), run_id=run_id)
    if claim is None:
        return await follow(session, run_id, progress)
    try:
        with log_context(run_id=run_id):
            await execute(session.ctx, claim, progress)
    finally:
        await claim.release()
    return await run_counts(session.ctx.pool, run_id)


async def follow(session: Session, run_id: int, progress: Progress) -> dict:
    while True:
        counts = await run_counts(session.ctx.pool, run_id)
        progress(counts)
        if counts.get("status") in ("succeeded", "failed"):
            return counts
        await asyncio.sleep(1.0)


async def import_file(
    session: Session, source: SourceConfig, county: str, path: Path, progress: Progress, roster: Roster | None = None
) -> dict:
    """Import a spreadsheet; ``roster`` (``rosters.declare``) declares it the complete roster
    of a period and region: it counts only if the import succeeds."""
    from services.worker.sheets import SheetError, records

    claim = await queue.open_import(session.dsn, source.name, county, path.name, queue.worker_name(), roster)
    if claim is None:
        raise RuntimeError(f"a run of {source.name} for county {county} is queued or running; import when it ends")
    logged_as = RUN_ID.set(claim.run_id)  # every line the import logs carries the run's id
    try:
        try:
            rows = records(path, session.ctx.stager(source).normaliser, session.ctx.settings.sync)
            await import_records(session.ctx, source, claim, rows, progress, roster=roster is not None)
        except (SheetError, OSError) as exc:
            code = getattr(exc, "code", "unreadable")
            await queue.record_failure(
                session.ctx.db,
                claim.run_id,
                source.name,
                code,
                str(exc),
                session.ctx.settings.sync,
                retry=False,
                breaker=False,
            )
        except Exception as exc:  # the run ends failed with a code, never left running
            await queue.record_failure(
                session.ctx.db,
                claim.run_id,
                source.name,
                INTERNAL_ERROR,
                internal_message(claim.run_id, exc),
                session.ctx.settings.sync,
                retry=False,
                breaker=False,
            )
    finally:
        RUN_ID.reset(logged_as)
        await claim.release()
    return await run_counts(session.ctx.pool, claim.run_id)


def run_step(run: dict) -> Step:
    """A run's counts (``run_counts``) as a progress ``Step``: the records read so far (a
    department does not say beforehand how many it will send), and the counts in words."""
    line = (
        f"run {run.get('id')} {run.get('status')}/{run.get('phase')}: {run.get('pages', 0)} pages, "
        f"{run.get('fetched', 0)} fetched, {run.get('staged', 0)} staged, {run.get('unchanged', 0)} unchanged, "
        f"{run.get('quarantined', 0)} quarantined"
    )
    if run.get("matched") is not None:
        line += (
            f", {run['matched']} matched, {run['unmatched']} unmatched, findings +{run['findings_opened']} "
            f"-{run['findings_resolved']} ({run['findings_open']} open), {run['clues']} clues"
        )
    if run.get("roster_region") is not None:
        line += (
            f"; roster {run.get('roster_period') or '?'} of {run['roster_region']}: "
            f"{run.get('roster_records') or 0} rows, {run.get('roster_rejected') or 0} refused"
        )
    return Step(
        f"run {run.get('id')}",
        line,
        int(run.get("fetched") or 0),
        None,
        "records",
        last=run.get("status") in ("succeeded", "failed"),
    )


def stop_on_signals(stop: asyncio.Event) -> None:
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)


async def status(settings: Settings) -> dict:
    """Schema version, sources and their last runs (``guardline sync status``)."""
    session = await Session.open(settings)
    try:
        out: dict[str, Any] = {"sources": []}
        for source in session.ctx.sources:
            runs = await session.ctx.pool.fetch(queries.LAST_RUNS, source.name)
            out["sources"].append(
                {
                    "name": source.name,
                    "kind": source.kind.value,
                    "counties": source.counties,
                    "pulls": source.pulls,
                    "last_runs": [dict(r) for r in runs],
                }
            )
        # The registry checks' last run per county (source ``registry``: rules on the registry alone).
        runs = await session.ctx.pool.fetch(queries.LAST_CHECKS)
        out["registry_checks"] = [dict(r) for r in runs]
        out["schema"] = await session.ctx.pool.fetchval(queries.SCHEMA_VERSION)
        return out
    finally:
        await session.close()
