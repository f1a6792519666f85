"""The preparing side of the staging: a page's records turned into rows, outside the
writing transaction and, for a pipeline, in preparing processes (``staging.Preparer``).
Each record is checked (too large, a NUL, not an object), normalised (``normalise``), its
payload hashed and encrypted, and a staged one encoded as its row in COPY's binary format
(``copyformat``); a rejected one becomes its quarantine columns.

A module of its own, apart from the writer, so that a preparing process imports only this:
no SQLAlchemy, no ORM models, no database driver (``tests/sync/test_preparing.py``).
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.core.crypto import Keyring
from services.core.idnumber import keyed_hasher, mask
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
from services.core.sync.sealing import QUARANTINE_AAD, RAW_AAD
from services.worker import copyformat


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


# ---- in a preparing process ----------------------------------------------------------------

_CHILD_STAGER: Stager | None = None


def child_init(parent: int, source, settings) -> None:
    """A preparing process's start: tied to the worker, with its own ``Stager``."""
    global _CHILD_STAGER
    from services.core.children import tie_to_parent
    from services.core.crypto import keyring

    tie_to_parent(parent)  # a worker killed with SIGKILL leaves no process of its pool behind

    _CHILD_STAGER = Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )


_JSON_TYPES_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


@dataclass(frozen=True, slots=True)
class JsonPage:
    """A pulled page's records for a preparing process, as JSON text."""

    text: bytes


def for_child(items: list[Any], locations: list[str] | None, parsed_json: bool = False) -> JsonPage | bytes | tuple:
    """A page's records for a preparing process, arriving there with the same values of the
    same types. A pulled page (``parsed_json``: the records are what ``orjson.loads`` made
    of the source's answer, so JSON's types only) goes as JSON text: orjson writes it and
    reads it back in a third of the time ``marshal`` takes (5,000 records: 0.6 + 4.4 ms
    against 1.6 + 6.3). Other records go with ``marshal`` where it holds every value (a few
    times cheaper than pickling), pickled otherwise — a date or a time from a spreadsheet,
    say."""
    if parsed_json and locations is None:
        try:  # a date, a time or a subclass refused rather than written as text
            return JsonPage(orjson.dumps(items, option=_JSON_TYPES_ONLY))
        except (orjson.JSONEncodeError, TypeError):  # not what orjson.loads makes after all
            pass
    try:
        return marshal.dumps((items, locations))
    except ValueError:
        return (items, locations)


def child_prepare(page: JsonPage | bytes | tuple) -> Prepared:
    """A page (``for_child``) prepared in a preparing process, without the cyclic garbage
    collector: a page's records, readings and rows hold no reference cycles
    (``tests/sync/test_preparing.py``), yet each few hundred of the 5,000 records it
    unpacks made the collector walk them again (about 5 % of the process's CPU). Whatever
    cycle a page might still make is collected once the collector is back, after it."""
    assert _CHILD_STAGER is not None
    collecting = gc.isenabled()
    gc.disable()
    try:
        if isinstance(page, JsonPage):
            return _CHILD_STAGER.prepare(orjson.loads(page.text), None)
        items, locations = marshal.loads(page) if isinstance(page, bytes) else page
        return _CHILD_STAGER.prepare(items, locations)
    finally:
        if collecting:
            gc.enable()
