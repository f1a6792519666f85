"""Staging a page of department records, all in one transaction: the new and changed
records (by source and external key; unchanged ones are recognised by the hash of the
payload and not written), the rejected ones into quarantine, the cursor that follows the
page and the run's counts. A crash before the commit leaves none of it; after, all of it —
so a restarted run neither skips nor doubles a page.

The preparing step (``preparing.Stager.prepare``, in a preparing process for a pipeline)
turns each staged record into its row in COPY's binary format (``copyformat``); the writer
looks up which keys the table holds, COPYs the new records' rows straight into
``dept_records`` and the changed ones' through a temporary table and one INSERT … ON
CONFLICT, passing the bytes on as they are (COPY is ≈ 3× faster than row inserts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from asyncpg.exceptions import UniqueViolationError

from services.core.sync import runs
from services.worker import copyformat, queries
from services.worker.preparing import Prepared, Stager, child_init, child_prepare, for_child


@dataclass
class PageCounts:
    fetched: int = 0
    staged: int = 0
    unchanged: int = 0
    quarantined: int = 0  # rejected records of this page (new to quarantine or seen again)


# Keys of a page looked up before it is COPYed without the full lookup (``_store``).
SAMPLE_KEYS = 16


async def _store(conn, prepared: Prepared, source: str, county: str, run_id: int) -> int:
    """Write the new and changed records of a page; returns how many. Unchanged records are
    left alone, new ones are COPYed straight into the table, and only changed ones take the
    slower path through the stage table and an upsert. Which is which takes a lookup of
    every key (an index probe each) — unless none of a sample of the page's keys is known
    (a first run, new records): then the page is COPYed as new at once, and only if the
    table holds one of its keys after all is it looked up in full. The rows go as the
    preparing step wrote them; only the page's own fields (source, county, run) are put in
    front."""
    latest = dict(zip(prepared.keys, range(len(prepared.keys)), strict=True))  # the last of a key wins
    keys = list(latest)
    sample = keys[:: max(1, len(keys) // SAMPLE_KEYS)]
    if not await conn.fetchval(queries.ANY_KNOWN, source, sample) and await _copy_new(
        conn, prepared, list(latest.values()), source, county, run_id
    ):
        return len(latest)
    known = {r["external_key"]: bytes(r["raw_hash"]) for r in await conn.fetch(queries.EXISTING, source, keys)}
    digests = prepared.digests
    new = [i for key, i in latest.items() if key not in known]
    changed = [i for key, i in latest.items() if key in known and known[key] != digests[i]]
    if new and not await _copy_new(conn, prepared, new, source, county, run_id):
        changed.extend(new)  # a key another run wrote meanwhile
    if changed:
        await conn.execute(queries.STAGE_TABLE)
        rows = [prepared.rows[i] for i in changed]
        data = copyformat.table(copyformat.count(len(queries.RECORD_COLUMNS)), rows)
        await _copy(conn, "stage_records", data, queries.RECORD_COLUMNS)
        await conn.execute(queries.UPSERT, source, county, run_id)
    return len(new) + len(changed)


async def _copy_new(conn, prepared: Prepared, which: list[int], source: str, county: str, run_id: int) -> bool:
    """COPY the records ``which`` (indexes into the page) into ``dept_records`` as new ones,
    in a savepoint; False (and nothing written) when the table holds one of their keys."""
    start = b"".join(
        (
            copyformat.count(len(queries.DIRECT_COLUMNS)),
            copyformat.text(source),
            copyformat.text(county),
            copyformat.int8(run_id),
            copyformat.int8(run_id),
        )
    )
    rows = prepared.rows
    try:
        async with conn.transaction():
            await _copy(conn, "dept_records", copyformat.table(start, [rows[i] for i in which]), queries.DIRECT_COLUMNS)
    except UniqueViolationError:
        return False
    return True


async def _copy(conn, table: str, data: bytes, columns) -> None:
    # A memoryview: asyncpg would take bytes for a file name.
    await conn.copy_to_table(table, source=memoryview(data), columns=list(columns), format="binary")


KEEP_CURSOR = object()  # imports and re-processing leave the pull's cursor alone


async def write_page(
    conn,
    prepared: Prepared,
    *,
    source: str,
    county: str,
    run_id: int,
    position: Any = KEEP_CURSOR,
    complete: bool = False,
    retries: int = 0,
) -> PageCounts:
    """Everything of one page, on ``conn`` (asyncpg) inside the caller's transaction."""
    counts = PageCounts(fetched=prepared.fetched)
    if prepared.keys:
        counts.staged = await _store(conn, prepared, source, county, run_id)
        counts.unchanged = len(prepared.keys) - counts.staged
    if prepared.rejected:
        # The same payload twice in a page (a row a department's export repeats) is one
        # quarantine row: one statement may not upsert a row twice. The last one wins, as it
        # does across pages and for staged records.
        rejected = list({row[6]: row for row in prepared.rejected}.values())
        columns = list(zip(*rejected, strict=True))
        await conn.fetch(queries.QUARANTINE, source, county, run_id, *[list(c) for c in columns])
        counts.quarantined = len(prepared.rejected)
    if position is not KEEP_CURSOR:
        await conn.execute(
            queries.CURSOR,
            source,
            county,
            orjson.dumps(position).decode() if position is not None else None,
            run_id,
            complete,
        )
    await runs.count_page(conn, run_id, counts.fetched, counts.staged, counts.unchanged, counts.quarantined, retries)
    return counts


# ---- the pipeline: fetch, prepare and write overlap ---------------------------------------


@dataclass
class PageIn:
    """A page on its way in: its records, where each came from (spreadsheet rows), and what
    the cursor becomes once it is written. ``parsed_json``: the records are exactly what
    ``orjson.loads`` made of a source's answer (a pulled page), so they can travel to a
    preparing process as JSON (``preparing.for_child``)."""

    items: list[Any]
    locations: list[str] | None = None
    position: Any = KEEP_CURSOR
    complete: bool = False
    retries: int = 0
    parsed_json: bool = False


MAX_DEFAULT_PROCESSES = 4


def idle_cores() -> int:
    """Preparing processes when the settings name none: the cores this process may run on,
    less the load of the last minute (rounded) — both of two cores when the machine is
    otherwise idle, one when something else keeps a core busy — at least 1, at most
    ``MAX_DEFAULT_PROCESSES``."""
    import os

    cores = len(os.sched_getaffinity(0))
    return max(1, min(MAX_DEFAULT_PROCESSES, cores - round(os.getloadavg()[0])))


class Preparer:
    """Normalising, hashing, encrypting and encoding a page: in separate processes when
    ``processes`` > 0 (None: ``idle_cores``), so it runs on other cores while the event loop
    writes the previous page and fetches the next; in the event loop otherwise."""

    def __init__(self, stager: Stager, source, settings, processes: int | None):
        if processes is None:
            processes = idle_cores()
        self.stager = stager
        self.depth = max(1, processes)
        self._pool = None
        if processes > 0:
            import multiprocessing
            import os
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=child_init,
                initargs=(os.getpid(), source, settings),
            )

    async def prepare(self, page: PageIn) -> Prepared:
        if self._pool is None:
            return self.stager.prepare(page.items, page.locations)
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(
            self._pool, child_prepare, for_child(page.items, page.locations, page.parsed_json)
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


async def pipeline(pages, preparer: Preparer, write) -> None:
    """Pages from the async iterator ``pages`` go through ``preparer`` and ``write(page,
    prepared)`` in order, the stages working on different pages at once: one fetched
    ahead, up to ``preparer.depth`` being prepared, one being written — so memory stays a
    few pages whatever the source's size. The first error stops everything and is raised;
    pages written before it stay written."""
    import asyncio

    done = object()
    fetched: asyncio.Queue = asyncio.Queue(maxsize=1)
    prepared: asyncio.Queue = asyncio.Queue(maxsize=preparer.depth)

    async def fetch() -> None:
        async for page in pages:
            await fetched.put(page)
        await fetched.put(done)

    async def prepare() -> None:
        while (page := await fetched.get()) is not done:
            # Started now, awaited in order by ``store``: several pages can be prepared at
            # once by several processes.
            await prepared.put((page, asyncio.ensure_future(preparer.prepare(page))))
        await prepared.put(done)

    async def store() -> None:
        while (item := await prepared.get()) is not done:
            page, work = item
            await write(page, await work)

    try:
        async with asyncio.TaskGroup() as group:
            for stage in (fetch, prepare, store):
                group.create_task(stage())
    except BaseExceptionGroup as failed:  # one stage failed and the others were cancelled
        raise failed.exceptions[0] from None
