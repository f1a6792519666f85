"""Carrying out one claimed run: pull (or re-process quarantine), then reconcile.

Each page is one transaction (``staging.write_page``); the reconciliation is one more.
The run row says which phase it is in, so a run claimed again after a crash goes on from
its committed cursor, or straight to the reconciliation when every page was in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import orjson

from services.core.crypto import Keyring, keyring
from services.core.db import Database, unavailable
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import Settings
from services.core.sync import runs
from services.core.sync.config import SourceConfig, Sources, UnknownSource
from services.core.sync.normalise import Normaliser
from services.core.sync.queries import PRUNE_ROSTERS
from services.core.sync.rosters import RosterError, parse_period
from services.core.sync.sealing import QUARANTINE_AAD
from services.core.timeutil import today as china_today
from services.worker import queries
from services.worker.fetch import SourceClient, SourceDown
from services.worker.preparing import Stager
from services.worker.queue import Claim, Connection, record_failure, record_success
from services.worker.staging import PageIn, Preparer, pipeline, write_page

log = logging.getLogger("guardline.sync")
Progress = Callable[[dict], None]
REPROCESS_BATCH = 1000


@dataclass
class Context:
    settings: Settings
    sources: Sources
    pool: asyncpg.Pool  # staging, the queue's bookkeeping
    db: Database  # the reconciliation (ORM: risk clues go through the monitoring service)
    keyring: Keyring
    id_hash_key: bytes

    @classmethod
    def build(cls, settings: Settings, sources: Sources, pool: asyncpg.Pool, db: Database) -> Context:
        key = settings.data_protection.id_hash_key.get_secret_value().encode()
        return cls(settings, sources, pool, db, keyring(settings), key)

    def stager(self, source: SourceConfig) -> Stager:
        return Stager(Normaliser(source), self.keyring, self.id_hash_key)


async def run_counts(pool: asyncpg.Pool, run_id: int) -> dict:
    row = await pool.fetchrow(queries.RUN_ROW, run_id)
    return dict(row) if row else {}


async def execute(
    ctx: Context, claim: Claim, progress: Progress | None = None, client: SourceClient | None = None
) -> str:
    """Carry the run to ``succeeded`` or ``failed``; returns the status."""
    try:
        source = ctx.sources.get(claim.source)
    except UnknownSource:
        await _fail(ctx, claim, "unknown_source", f"source {claim.source!r} is not configured", retry=False)
        return "failed"
    if claim.county not in source.counties:
        await _fail(
            ctx, claim, "unknown_county", f"source {source.name} does not serve county {claim.county}", retry=False
        )
        return "failed"
    try:
        if claim.phase == "fetching":
            if claim.trigger == "reprocess":
                await reprocess(ctx, source, claim, progress)
            elif source.pulls:
                await pull(ctx, source, claim, progress, client)
            else:
                await _fail(
                    ctx,
                    claim,
                    "not_pulled",
                    f"source {source.name} is spreadsheet-only: use `guardline sync import`",
                    retry=False,
                )
                return "failed"
        await finish(ctx, source, claim, progress)
    except SourceDown as exc:
        log.warning("run %s of %s/%s failed: %s", claim.run_id, claim.source, claim.county, exc)
        await _fail(ctx, claim, exc.code, str(exc), retry=True)
        return "failed"
    except Exception as exc:  # whatever it is, the run ends failed and the source goes on
        if unavailable(exc):
            # Not the run's fault, nor the source's: the run stays ``running`` and is taken up
            # again from its last committed page once the database answers (the worker's loop).
            raise
        await _fail(ctx, claim, INTERNAL_ERROR, internal_message(claim.run_id, exc), retry=True)
        return "failed"
    return "succeeded"


INTERNAL_ERROR = "internal_error"


def internal_message(run_id: int, exc: BaseException) -> str:
    """The run's error for an unexpected exception, logged here with its traceback. The
    message says only the exception's kind: a database error's text can quote the values
    of the row it refused (ID numbers, names), and the run's error is shown to users. The
    log gets the traceback's frames without the exception's text, for the same reason."""
    import traceback

    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("run %s failed with an unexpected %s:\n%s", run_id, exc.__class__.__name__, frames)
    return (
        f"an unexpected {exc.__class__.__name__} stopped the run; the worker's log has where. "
        "Records staged before it stay staged; the next run starts afresh."
    )


async def _fail(ctx: Context, claim: Claim, code: str, message: str, *, retry: bool) -> None:
    """The run ends failed. A spreadsheet import is not retried (its file is not kept) and
    does not count against the source's circuit breaker, which is about the department's
    server; a pull does both."""
    imported = claim.trigger == "spreadsheet"
    await record_failure(
        ctx.db,
        claim.run_id,
        claim.source,
        code,
        message,
        ctx.settings.sync,
        retry=retry and not imported,
        breaker=not imported,
    )


async def _start_position(conn: Connection, source: SourceConfig, claim: Claim) -> tuple[dict | None, bool, bool]:
    """Where this run reads from: its own committed cursor when it is resuming; otherwise
    the start (cursor paging reads everything each run) or, for updated-since paging,
    the mark the last run left. Also whether every page is in, and whether the run is new."""
    row = await conn.fetchrow(queries.CURSOR_OF, source.name, claim.county)
    if row is not None and row["run_id"] == claim.run_id:
        return (orjson.loads(row["position"]) if row["position"] else None), row["complete"], False
    updated_since = source.paging is not None and source.paging.style == "updated_since"
    position = orjson.loads(row["position"]) if row is not None and updated_since and row["position"] else None
    await conn.execute(
        queries.START_CURSOR,
        source.name,
        claim.county,
        orjson.dumps(position).decode() if position else None,
        claim.run_id,
    )
    return position, False, True


@dataclass
class RosterPageIn(PageIn):
    """A page of a pull, with the roster period the page names (``roster.period_path``)."""

    roster_period: str | None = None


async def _pull_roster(conn: Connection, source: SourceConfig, claim: Claim, position, new: bool) -> bool:
    """Whether this pull is a complete roster (docs/rosters.md): a new run of a roster
    source that reads from the start declares one (of the run's county; of this year unless
    the pages name the period); a run taken up again keeps what it declared."""
    if not new:
        return bool(await conn.fetchval(queries.IS_ROSTER, claim.run_id))
    if source.roster is None or position is not None:
        return False
    period = None if source.roster.period_path else str(china_today().year)
    await runs.declare_roster(conn, claim.run_id, period, claim.county)
    return True


async def pull(
    ctx: Context, source: SourceConfig, claim: Claim, progress: Progress | None, client: SourceClient | None = None
) -> None:
    async with ctx.pool.acquire() as conn:
        position, complete, new = await _start_position(conn, source, claim)
        roster = await _pull_roster(conn, source, claim, position, new)
    if new:
        # A new run first tries the quarantine again: a mended mapping, or a record that a
        # request to re-process joined this run for, passes now.
        await reprocess(ctx, source, claim, progress)
    if complete:
        return
    own = client is None
    client = client or SourceClient(source, ctx.settings.sync)

    async def pages():
        at = position
        while True:
            page = await client.page(at, claim.county)
            # The records are as ``orjson.loads`` made them (``SourceClient``): JSON to a preparing process.
            yield RosterPageIn(
                page.items,
                None,
                page.position,
                page.done,
                page.retries,
                parsed_json=True,
                roster_period=page.roster_period,
            )
            if page.done:
                return
            at = page.position

    try:
        await _stage(ctx, source, claim, pages(), progress, roster=roster)
    finally:
        if own:
            await client.aclose()


async def _roster_page(conn: Connection, source: SourceConfig, prepared, page: PageIn, run_id: int) -> None:
    """A roster's page, in the page's transaction: the keys it read, new, changed or
    unchanged (staging writes only the first two), and those it refused when their key is
    readable (a person whose row is refused now but known from before is not absent)."""
    period = getattr(page, "roster_period", None)
    if period is not None:
        try:
            period = parse_period(source.kind, period)
        except RosterError as exc:
            raise SourceDown("roster_period", str(exc)) from None
        declared = await runs.roster_period(conn, run_id, period)
        if declared != period:
            raise SourceDown("roster_changed", f"a page names roster period {period!r}, an earlier one {declared!r}")
    keys = prepared.keys + [row[0] for row in prepared.rejected if row[0] is not None]
    if keys:
        await conn.execute(queries.ROSTER_ENTRIES, run_id, keys)
    await runs.count_roster(conn, run_id, len(prepared.keys), len(prepared.rejected))


async def _stage(
    ctx: Context, source: SourceConfig, claim: Claim, pages, progress: Progress | None, *, roster: bool = False
) -> None:
    """Pages through the pipeline: each written in its own transaction with its cursor (and,
    for a roster, its entries)."""

    async def write(page: PageIn, prepared) -> None:
        async with ctx.pool.acquire() as conn, conn.transaction():
            await write_page(
                conn,
                prepared,
                source=source.name,
                county=claim.county,
                run_id=claim.run_id,
                position=page.position,
                complete=page.complete,
                retries=page.retries,
            )
            if roster:
                await _roster_page(conn, source, prepared, page, claim.run_id)
        if progress:
            progress(await run_counts(ctx.pool, claim.run_id))

    preparer = Preparer(ctx.stager(source), source, ctx.settings, ctx.settings.sync.prepare_processes)
    try:
        await pipeline(pages, preparer, write)
    finally:
        preparer.close()


async def reprocess(ctx: Context, source: SourceConfig, claim: Claim, progress: Progress | None) -> None:
    """Open quarantined records of the source and county through the normaliser again
    (the configuration may have been mended): those that pass are staged and marked
    ``reprocessed``; the others stay, with the reason of this try."""
    stager = ctx.stager(source)
    after = 0
    while True:
        rows = await ctx.pool.fetch(
            queries.QUARANTINE_BATCH,
            source.name,
            claim.county,
            after,
            REPROCESS_BATCH,
        )
        if not rows:
            return
        after = rows[-1]["id"]
        raws = [orjson.loads(ctx.keyring.decrypt(r["raw_enc"], QUARANTINE_AAD)) for r in rows]
        prepared = stager.prepare(raws)
        passed = [rows[i]["id"] for i in prepared.order]
        async with ctx.pool.acquire() as conn, conn.transaction():
            await write_page(conn, prepared, source=source.name, county=claim.county, run_id=claim.run_id)
            await conn.execute(queries.REPROCESSED, passed, claim.run_id)
        if progress:
            progress(await run_counts(ctx.pool, claim.run_id))


async def finish(ctx: Context, source: SourceConfig, claim: Claim, progress: Progress | None) -> None:
    """Reconcile the source's records of the county (one transaction), then raise risk
    clues for its new risk findings (a transaction per batch), then close the run. The run's
    phase says where a run taken up again goes on."""
    from services.core.sync.reconcile import raise_clues, reconcile

    if claim.phase != "clues":
        await runs.reconciling(ctx.pool, claim.run_id)
        if progress:
            progress(await run_counts(ctx.pool, claim.run_id))
        async with ctx.db.session() as session, session.begin():
            bind_scope(session, UNRESTRICTED)  # the worker reconciles the whole county
            counts = await reconcile(session, ctx.settings, source, claim.county, claim.run_id)
            await runs.enter_clues(session, claim.run_id, counts)
        if progress:
            progress(await run_counts(ctx.pool, claim.run_id))
    after: int | None = 0  # None: every batch is raised
    while after is not None:
        async with ctx.db.session() as session, session.begin():
            bind_scope(session, UNRESTRICTED)
            raised, after = await raise_clues(session, ctx.settings, source, claim.county, after=after)
            if after is None:
                break
            await runs.count_clues(session, claim.run_id, raised)
        if progress:
            progress(await run_counts(ctx.pool, claim.run_id))
    await runs.succeed(ctx.pool, claim.run_id)
    async with ctx.pool.acquire() as conn:
        await record_success(conn, source.name)
        # Entries of rosters that no longer count (failed, or replaced by a newer one).
        await conn.execute(PRUNE_ROSTERS, source.name, claim.county)
    if progress:
        progress(await run_counts(ctx.pool, claim.run_id))


async def import_records(
    ctx: Context, source: SourceConfig, claim: Claim, rows, progress: Progress | None, *, roster: bool = False
) -> None:
    """Stage ``rows`` ((location, record) pairs, e.g. from ``sheets.records``) a page at a
    time, then reconcile. Unchanged records of a file imported twice are recognised. With
    ``roster`` the run was declared a complete roster (``queue.open_import``): the rows it
    reads are its entries."""
    size = ctx.settings.sync.page_size

    async def pages() -> AsyncIterator[PageIn]:
        batch: list = []
        locations: list[str] = []
        for location, record in rows:
            batch.append(record)
            locations.append(location)
            if len(batch) >= size:
                yield PageIn(batch, locations)
                batch, locations = [], []
        if batch:
            yield PageIn(batch, locations)

    await _stage(ctx, source, claim, pages(), progress, roster=roster)
    await finish(ctx, source, claim, progress)
