"""Staging a page of department records, all in one transaction: the new and changed
records (by source and external key; unchanged ones are recognised by the hash of the
payload and not written), the rejected ones into quarantine, the cursor that follows the
page and the run's counts. A crash before the commit leaves none of it; after, all of it —
so a restarted run neither skips nor doubles a page.

The preparing step (``Stager.prepare``, in a preparing process for a pipeline) turns each
staged record into its row in COPY's binary format (``copyformat``); the writer looks up
which keys the table holds, COPYs the new records' rows straight into ``dept_records`` and
the changed ones' through a temporary table and one INSERT … ON CONFLICT, passing the bytes
on as they are (PERFORMANCE.md: COPY is ≈ 3× faster than row inserts).
"""

from __future__ import annotations

import hashlib
import marshal
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson
from asyncpg.exceptions import UniqueViolationError

from services.core.crypto import Keyring
from services.core.idnumber import keyed_hasher, mask
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
from services.worker import copyformat, queries


@dataclass
class PageCounts:
    fetched: int = 0
    staged: int = 0
    unchanged: int = 0
    quarantined: int = 0  # rejected records of this page (new to quarantine or seen again)


@dataclass
class Prepared:
    """A page turned into rows: the normalising, hashing, encrypting and encoding happen
    outside the transaction (and, for a pipeline, in another process while the previous
    page is being written). A staged record is its external key, its index in the page,
    the hash of its payload and its row (``queries.RECORD_COLUMNS`` in COPY's binary
    format); a rejected one a tuple of the quarantine's columns."""

    keys: list[str] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    rows: list[bytes] = field(default_factory=list)
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


# The fixed-size fields that start a staged record's row, each after its length: id_hash,
# raw_hash (32 bytes each), birth_date (days since 2000-01-01), id_masked (18 characters);
# then the length of the external key.
_FIXED = struct.Struct("!i32si32siii18si")


def _column(text: str | None, width: int = 64) -> str | None:
    """A reason or field for a varchar(64) column (a generic source's field names are free)."""
    return text if text is None or len(text) <= width else text[:width]


class Stager:
    def __init__(self, normaliser: Normaliser, keyring: Keyring, id_hash_key: bytes):
        self.normaliser = normaliser
        self.keyring = keyring
        self.id_hash_key = id_hash_key
        self._id_hash = keyed_hasher(id_hash_key)
        self._types: dict[str, bytes] = {}  # record type → its COPY field

    def prepare(self, records: list[Any], locations: list[str] | None = None) -> Prepared:
        """Each record becomes a staged row or a quarantined one; nothing a record holds can
        fail the page. Before the normaliser: a record too large to keep whole (a value
        beyond ``MAX_CELL_CHARS``, more than ``MAX_RECORD_BYTES`` as JSON) is quarantined
        as ``evidence`` with the digest of the whole; a NUL anywhere (PostgreSQL cannot
        store it) quarantines the record with the column that holds it."""
        out = Prepared(fetched=len(records))
        staged: list[Normal] = []
        bodies: list[bytes] = []  # of the staged records, encrypted at once
        encrypt = self.keyring.encrypt
        encrypt_all = self.keyring.encrypt_all
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
            out.order.append(i)
            out.keys.append(result.external_key)
            out.digests.append(digest)
            staged.append(result)
            bodies.append(body)
        out.rows = [self._row(*each) for each in zip(staged, out.digests, encrypt_all(bodies, RAW_AAD), strict=True)]
        return out

    def _row(self, result: Normal, digest: bytes, raw_enc: bytes) -> bytes:
        """A staged record's fields, ``queries.RECORD_COLUMNS`` in COPY's binary format."""
        external_key, record_type, id_number, id_note, name, birth_date, data = result
        if id_note:
            data = {**data, "id_note": id_note}
        type_field = self._types.get(record_type)
        if type_field is None:
            type_field = self._types[record_type] = copyformat.text(record_type)
        key = external_key.encode()
        document = orjson.dumps(data)
        return b"".join(
            (
                _FIXED.pack(
                    32,
                    self._id_hash(id_number),
                    32,
                    digest,
                    4,
                    birth_date.toordinal() - copyformat.EPOCH,
                    18,
                    mask(id_number).encode(),
                    len(key),
                ),
                key,
                type_field,
                copyformat.text(name),
                copyformat.jsonb_length(document),
                document,
                copyformat.length(len(raw_enc)),
                raw_enc,
            )
        )


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


def _send(page: PageIn) -> bytes | tuple:
    """A page's records for a preparing process: with ``marshal`` where it holds every value
    (what JSON gives: a few times cheaper than pickling, on both sides), as they are (pickled)
    otherwise — a date or a time from a spreadsheet, say. Either way the values arrive of
    the same types."""
    try:
        return marshal.dumps((page.items, page.locations))
    except ValueError:
        return (page.items, page.locations)


def _child_prepare(page: bytes | tuple) -> Prepared:
    assert _CHILD_STAGER is not None
    items, locations = marshal.loads(page) if isinstance(page, bytes) else page
    return _CHILD_STAGER.prepare(items, locations)


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
                initializer=_child_init,
                initargs=(os.getpid(), source, settings),
            )

    async def prepare(self, page: PageIn) -> Prepared:
        if self._pool is None:
            return self.stager.prepare(page.items, page.locations)
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._pool, _child_prepare, _send(page))

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
