"""Checking the hash chain (``guardline audit verify``) and the retention purge
(``guardline audit purge``).

The database builds the chain (migration ``audit_log``): row n has id n, ``prev_hash`` =
hash of row n-1 (32 zero bytes for row 1) and ``hash`` = sha256(prev_hash ||
audit_canonical(row)). Verification recomputes every link here, in Python, so a changed
row, a removed row or a reordered chain shows up as the first link that does not hold.
Removing the newest rows leaves a shorter but intact chain; an operator notes the head
(last id and hash) and passes it back with ``expect_head`` to catch that.

The purge removes the oldest rows only, as one run from the start of the chain, and first
writes a marker event (action ``audit.purge``) holding the id range removed and the hash
of the last removed row: verification starts from there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.core.audit import queries
from services.core.audit.models import GENESIS_HASH, AuditResult
from services.core.audit.schemas import AuditRecord
from services.core.audit.service import record

PURGE_ACTION = "audit.purge"
STREAM_BATCH = 2000


@dataclass(frozen=True)
class BrokenLink:
    row_id: int
    reason: str
    expected: str
    stored: str


@dataclass
class VerifyReport:
    rows_checked: int = 0
    first_id: int | None = None
    head_id: int | None = None
    head_hash: bytes | None = None
    broken: BrokenLink | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def head(self) -> str | None:
        """``ID:HEX``, the form ``--expect-head`` takes."""
        if self.head_id is None or self.head_hash is None:  # both are set together, by the last row read
            return None
        return f"{self.head_id}:{self.head_hash.hex()}"


def link_hash(prev_hash: bytes, canonical: str) -> bytes:
    return hashlib.sha256(prev_hash + canonical.encode("utf-8")).digest()


def parse_head(value: str) -> tuple[int, bytes]:
    """``"1234:ab12…"`` → (1234, bytes); ValueError if malformed."""
    ident, sep, digest = value.strip().partition(":")
    if not sep or not ident.isdigit() or len(digest) != 64:
        raise ValueError("expected ID:HEX with a 64-digit sha256 in hex")
    return int(ident), bytes.fromhex(digest)


async def _latest_purge(connection: AsyncConnection):
    return (
        await connection.execute(
            queries.LATEST_PURGE,
            {"action": PURGE_ACTION},
        )
    ).first()


async def verify_chain(connection: AsyncConnection, expect_head: tuple[int, bytes] | None = None) -> VerifyReport:
    """Check every link, in id order, streaming the rows (constant memory). Runs in the
    connection's current transaction: give it a REPEATABLE READ one for a consistent view
    while others keep inserting (``verify_database`` does)."""
    report = VerifyReport()
    marker = await _latest_purge(connection)
    if marker is None:
        expected_id, expected_prev = 1, GENESIS_HASH
    else:
        purge = marker.detail or {}
        try:
            expected_id, expected_prev = int(purge["purged_to_id"]) + 1, bytes.fromhex(purge["last_purged_hash"])
        except (KeyError, TypeError, ValueError):
            report.broken = BrokenLink(
                marker.id,
                "the latest purge marker does not say what was purged",
                "purged_to_id and last_purged_hash",
                str(purge)[:200],
            )
            return report
        report.notes.append(
            f"rows {purge.get('purged_from_id')}–{purge['purged_to_id']} were purged "
            f"on {purge.get('purged_at')} (retention {purge.get('retention_days')} days)"
        )
    # A cursor of our own rather than the driver's (``queries.DECLARE_VERIFY``).
    await connection.execute(queries.DECLARE_VERIFY)
    # On an error the transaction is lost anyway, and the cursor with it.
    await _walk(connection, report, expected_id, expected_prev, expect_head)
    await connection.execute(queries.CLOSE_VERIFY)
    if report.broken is not None:
        return report
    if expect_head is not None:
        head_id, head_hash = expect_head
        if report.head_id is None or head_id > report.head_id:
            last = report.head_id or 0
            report.broken = BrokenLink(
                head_id,
                f"the noted head row is missing: the chain ends at row {last}, rows were removed from its end",
                head_hash.hex(),
                report.head_hash.hex() if report.head_hash else "(no rows)",
            )
        elif report.first_id is not None and head_id < report.first_id:
            report.notes.append(
                f"the noted head {head_id} precedes the first kept row {report.first_id} (purged); not compared"
            )
    return report


async def _walk(
    connection: AsyncConnection,
    report: VerifyReport,
    expected_id: int,
    expected_prev: bytes,
    expect_head: tuple[int, bytes] | None,
) -> None:
    fetch = queries.fetch_verify(STREAM_BATCH)
    while batch := (await connection.execute(fetch)).all():
        for row in batch:
            if report.first_id is None:
                report.first_id = row.id
            broken = _check(row, expected_id, expected_prev)
            if broken is None and expect_head is not None and row.id == expect_head[0] and row.hash != expect_head[1]:
                broken = BrokenLink(
                    row.id, "the noted head row differs: the chain was rewritten", expect_head[1].hex(), row.hash.hex()
                )
            if broken is not None:
                report.broken = broken
                return
            report.rows_checked += 1
            report.head_id, report.head_hash = row.id, row.hash
            expected_id, expected_prev = row.id + 1, row.hash


def _check(row, expected_id: int, expected_prev: bytes) -> BrokenLink | None:
    if row.id != expected_id:
        if row.id > expected_id:
            missing = f"row {expected_id}" if row.id == expected_id + 1 else f"rows {expected_id}–{row.id - 1}"
            reason = f"{missing} missing (removed from the chain)"
        else:
            reason = "row precedes the recorded purge range"
        return BrokenLink(
            row.id,
            reason,
            f"id {expected_id}, prev_hash {expected_prev.hex()}",
            f"id {row.id}, prev_hash {row.prev_hash.hex()}",
        )
    if row.prev_hash != expected_prev:
        return BrokenLink(
            row.id, "prev_hash does not match the previous row's hash", expected_prev.hex(), row.prev_hash.hex()
        )
    computed = link_hash(row.prev_hash, row.canonical)
    if computed != row.hash:
        return BrokenLink(
            row.id,
            "the row's content does not match its hash (changed after it was written)",
            computed.hex(),
            row.hash.hex(),
        )
    return None


async def verify_database(engine: AsyncEngine, expect_head: tuple[int, bytes] | None = None) -> VerifyReport:
    """``verify_chain`` in a read-only REPEATABLE READ transaction of its own."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            await connection.execute(queries.READ_ONLY)
            return await verify_chain(connection, expect_head)


# ---- retention --------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    purged: int = 0
    from_id: int | None = None
    to_id: int | None = None
    last_hash: bytes | None = None
    marker_id: int | None = None


async def purge(
    connection: AsyncConnection,
    retention_days: int,
    *,
    dry_run: bool = False,
    actor_name: str = "guardline audit purge",
) -> PurgeReport:
    """Remove the rows older than ``retention_days``, in the connection's transaction.

    Only a run from the start of the chain goes: it stops at the first row younger than the
    cutoff, even if older rows follow (``at`` is the start of the writing transaction, so it
    is not strictly in id order). The database refuses, whatever is asked, rows younger
    than its own floor (183 days) and any delete outside a session marked as the purge."""
    now, cutoff = (await connection.execute(queries.PURGE_CUTOFF, {"days": retention_days})).one()
    first_id = (await connection.execute(queries.FIRST_ID)).scalar_one()
    if first_id is None:
        return PurgeReport(cutoff)
    # Walks the primary key from the oldest row: reads about as many rows as it will delete.
    first_young = (await connection.execute(queries.FIRST_YOUNG, {"cutoff": cutoff})).scalar()
    to_id = (first_young - 1) if first_young is not None else (await connection.execute(queries.LAST_ID)).scalar_one()
    if to_id < first_id:
        return PurgeReport(cutoff)
    last_hash = (await connection.execute(queries.HASH_OF, {"id": to_id})).scalar_one()
    count = to_id - first_id + 1  # ids have no gaps
    if dry_run:
        return PurgeReport(cutoff, count, first_id, to_id, last_hash)
    await connection.execute(queries.PURGE_ON)
    marker = await record(
        connection,
        AuditRecord(
            action=PURGE_ACTION,
            object_type="audit_log",
            actor_name=actor_name,
            result=AuditResult.success,
            detail={
                "purged_from_id": first_id,
                "purged_to_id": to_id,
                "purged_count": count,
                "last_purged_hash": last_hash.hex(),
                "cutoff": cutoff.isoformat(),
                "purged_at": now.isoformat(),
                "retention_days": retention_days,
            },
        ),
    )
    deleted = (await connection.execute(queries.DELETE_RANGE, {"first": first_id, "last": to_id})).rowcount
    await connection.execute(queries.PURGE_OFF)
    if deleted != count:  # cannot happen while ids have no gaps; never leave a half purge
        raise RuntimeError(f"purge expected to remove {count} rows, removed {deleted}")
    return PurgeReport(cutoff, deleted, first_id, to_id, last_hash, marker.id)


async def purge_database(engine: AsyncEngine, retention_days: int, *, dry_run: bool = False) -> PurgeReport:
    """``purge`` in a transaction of its own, committed when it succeeds."""
    async with engine.begin() as connection:
        return await purge(connection, retention_days, dry_run=dry_run)
