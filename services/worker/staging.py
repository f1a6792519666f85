"""Staging a page of department records, all in one transaction: the new and changed
records (by source and external key; unchanged ones are recognised by the hash of the
payload and not written), the rejected ones into quarantine, the cursor that follows the
page and the run's counts. A crash before the commit leaves none of it; after, all of it —
so a restarted run neither skips nor doubles a page.

The page goes in with COPY into a temporary table, then one INSERT … ON CONFLICT
(PERFORMANCE.md: COPY is ≈ 3× faster than row inserts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from asyncpg.exceptions import UniqueViolationError

from services.core.crypto import Keyring
from services.core.idnumber import keyed_hash, mask
from services.core.sync import runs
from services.core.sync.models import QUARANTINE_AAD, RAW_AAD
from services.core.sync.normalise import (
    EVIDENCE,
    MAX_CELL_CHARS,
    MAX_RECORD_BYTES,
    Normal,
    Normaliser,
    Rejected,
    control_character_column,
    evidence,
    oversized,
)
from services.worker import queries


@dataclass
class PageCounts:
    fetched: int = 0
    staged: int = 0
    unchanged: int = 0
    quarantined: int = 0  # rejected records of this page (new to quarantine or seen again)


@dataclass
class Prepared:
    """A page turned into rows: the normalising and encrypting happen outside the
    transaction (and, for a pipeline, while the previous page is being written)."""

    staged: list[tuple] = field(default_factory=list)
    rejected: list[tuple] = field(default_factory=list)
    fetched: int = 0


def payload_bytes(raw: Any) -> bytes:
    """The record as received, as JSON: what is encrypted and what its hash is of. A value
    JSON cannot hold as such (an integer beyond 64 bits from a spreadsheet cell, a lone
    surrogate) is written as text instead of failing the page."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str)
    except (orjson.JSONEncodeError, TypeError):
        return orjson.dumps(_jsonable(raw, 0), option=orjson.OPT_SORT_KEYS, default=str)


def _jsonable(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return value
        return str(value) if value.bit_length() < 10_000 else f"<an integer of {value.bit_length()} bits>"
    if depth > 32:
        return "…"
    if isinstance(value, dict):
        return {_jsonable(str(k), depth + 1): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    return _jsonable(str(value), depth + 1)


def _column(text: str | None, width: int = 64) -> str | None:
    """A reason or field for a varchar(64) column (a generic source's field names are free)."""
    return text if text is None or len(text) <= width else text[:width]


class Stager:
    def __init__(self, normaliser: Normaliser, keyring: Keyring, id_hash_key: bytes):
        self.normaliser = normaliser
        self.keyring = keyring
        self.id_hash_key = id_hash_key

    def prepare(self, records: list[Any], locations: list[str] | None = None) -> Prepared:
        """Each record becomes a staged row or a quarantined one; nothing a record holds can
        fail the page. Before the normaliser: a record too large to keep whole (a value
        beyond ``MAX_CELL_CHARS``, more than ``MAX_RECORD_BYTES`` as JSON) is quarantined
        as ``evidence`` with the digest of the whole; a NUL anywhere (PostgreSQL cannot
        store it) quarantines the record with the column that holds it."""
        out = Prepared(fetched=len(records))
        encrypt = self.keyring.encrypt
        normalise = self.normaliser.normalise
        for i, raw in enumerate(records):
            where = locations[i] if locations else None
            if isinstance(raw, dict) and EVIDENCE in raw:  # kept shortened before: it stays so
                body = payload_bytes(raw)
                kept = raw[EVIDENCE]
                out.rejected.append(
                    (
                        None,
                        _column(kept["reason"]),
                        _column(kept.get("field")),
                        kept.get("detail"),
                        where,
                        encrypt(body, QUARANTINE_AAD),
                        bytes.fromhex(kept["sha256"]),
                        None,
                    )
                )
                continue
            body = payload_bytes(raw)
            digest = hashlib.sha256(body).digest()
            if not isinstance(raw, dict):
                out.rejected.append(
                    (
                        None,
                        "invalid.record",
                        None,
                        "the record is not an object",
                        where,
                        encrypt(body, QUARANTINE_AAD),
                        digest,
                        None,
                    )
                )
                continue
            if len(body) > MAX_CELL_CHARS:
                problem = oversized(raw, self.normaliser)
                if problem is None and len(body) > MAX_RECORD_BYTES:
                    problem = ("too_large.record", None, f"{len(body)} bytes as JSON (at most {MAX_RECORD_BYTES})")
                if problem is not None:
                    reason, fault, detail = problem
                    kept = payload_bytes(evidence(reason, fault, detail, digest, len(body), raw))
                    out.rejected.append(
                        (
                            None,
                            _column(reason),
                            _column(fault),
                            detail,
                            where,
                            encrypt(kept, QUARANTINE_AAD),
                            digest,
                            None,
                        )
                    )
                    continue
            result = normalise(raw)
            if isinstance(result, Normal) and b"\\u0000" in body:
                column = control_character_column(raw)
                if column is not None:
                    result = Rejected(
                        "control_character.record", None, f"a NUL character in column {column}", result.external_key
                    )
            if isinstance(result, Rejected):
                out.rejected.append(
                    (
                        result.external_key,
                        _column(result.reason),
                        _column(result.field),
                        result.detail,
                        where,
                        encrypt(body, QUARANTINE_AAD),
                        digest,
                        result.id_masked,
                    )
                )
                continue
            assert isinstance(result, Normal)
            data = result.data
            if result.id_note:
                data = {**data, "id_note": result.id_note}
            out.staged.append(
                (
                    i,
                    result.external_key,
                    result.record_type,
                    keyed_hash(result.id_number, self.id_hash_key),
                    mask(result.id_number),
                    result.name,
                    result.birth_date,
                    orjson.dumps(data).decode(),
                    encrypt(body, RAW_AAD),
                    digest,
                )
            )
        return out


async def _store(conn, rows: list[tuple], source: str, county: str, run_id: int) -> int:
    """Write the new and changed records of a page; returns how many. The keys the table
    already holds are looked up first (one index probe each): unchanged records are left
    alone, new ones are COPYed straight into the table, and only changed ones take the
    slower path through the stage table and an upsert."""
    latest = {row[1]: row for row in rows}  # the last of a key within a page wins
    known = {r["external_key"]: bytes(r["raw_hash"]) for r in await conn.fetch(queries.EXISTING, source, list(latest))}
    new = [(source, key, county, *row[2:], run_id, run_id) for key, row in latest.items() if key not in known]
    changed = [row for key, row in latest.items() if key in known and known[key] != row[9]]
    if new:
        try:
            async with conn.transaction():  # a savepoint: a key another run wrote meanwhile
                await conn.copy_records_to_table("dept_records", records=new, columns=queries.DIRECT_COLUMNS)
        except UniqueViolationError:
            changed.extend(latest[r[1]] for r in new)
    if changed:
        await conn.execute(queries.STAGE_TABLE)
        await conn.copy_records_to_table("stage_in", records=changed, columns=queries.STAGE_COLUMNS)
        await conn.execute(queries.UPSERT, source, county, run_id)
    return len(new) + len(changed)


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
    if prepared.staged:
        counts.staged = await _store(conn, prepared.staged, source, county, run_id)
        counts.unchanged = len(prepared.staged) - counts.staged
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
    the cursor becomes once it is written."""

    items: list[Any]
    locations: list[str] | None = None
    position: Any = KEEP_CURSOR
    complete: bool = False
    retries: int = 0


_CHILD_STAGER: Stager | None = None


def _child_init(parent: int, source, settings) -> None:
    global _CHILD_STAGER
    from services.core.children import tie_to_parent
    from services.core.crypto import keyring

    tie_to_parent(parent)  # a worker killed with SIGKILL leaves no process of its pool behind

    _CHILD_STAGER = Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )


def _child_prepare(items: list[Any], locations: list[str] | None) -> Prepared:
    assert _CHILD_STAGER is not None
    return _CHILD_STAGER.prepare(items, locations)


class Preparer:
    """Normalising, hashing and encrypting a page: in a separate process when
    ``processes`` > 0, so it runs on another core while the event loop writes the previous
    page and fetches the next; in the event loop otherwise."""

    def __init__(self, stager: Stager, source, settings, processes: int):
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
                initializer=_child_init,
                initargs=(os.getpid(), source, settings),
            )

    async def prepare(self, page: PageIn) -> Prepared:
        if self._pool is None:
            return self.stager.prepare(page.items, page.locations)
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._pool, _child_prepare, page.items, page.locations)

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
