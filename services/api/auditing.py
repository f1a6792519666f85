"""What the API writes to the audit trail, in one place.

* Every write request (any method but GET/HEAD/OPTIONS) of a known caller: one event with
  the changed rows before and after (collected from the session's flushes; ID numbers
  masked, health and secrets redacted), inserted at the end of the request's transaction so
  it commits with the data. A write that fails is recorded too (result ``failure`` or
  ``denied``) in a transaction of its own, after the request's has been rolled back.
* Logins, success and failure (``auth.login``), by the login endpoint itself.
* Sensitive reads — a response that shows health details (``person.read_health``,
  ``household.read_health``) or a full ID number (``person.unmask``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import ipaddress
import logging
import re
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession

from services.core.audit import AuditRecord, AuditResult, record, record_now
from services.core.audit.queries import INSERT_BATCH_SQL, PURGE_BATCHES_SQL
from services.core.audit.service import CHANGES_KEY, rows_json
from services.core.idempotency import IdempotencyRecord

log = logging.getLogger("guardline.audit")

# Rows whose changes are not worth an audit entry of their own (bookkeeping of other events).
_NOT_AUDITED = {IdempotencyRecord.__tablename__, "login_sessions"}
_SKIPPED_COLUMNS = {"created_at", "updated_at"}


def collect_changes(session) -> None:
    """Make ``session`` (sync or async) remember what its flushes change."""
    getattr(session, "sync_session", session).info[CHANGES_KEY] = []


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "[protected]"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def _row_change(obj: Any, kind: str) -> dict[str, Any] | None:
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.persist_selectable.name
    if table in _NOT_AUDITED:
        return None
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for column in mapper.column_attrs:
        key = column.key
        if key in _SKIPPED_COLUMNS:
            continue
        if kind == "update":
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before[key] = _json(history.deleted[0]) if history.deleted else None
            after[key] = _json(history.added[0]) if history.added else None
        else:
            value = _json(state.attrs[key].value)
            if value is not None:
                (after if kind == "create" else before)[key] = value
    if kind == "update" and not after:
        return None
    identity = state.identity or mapper.primary_key_from_instance(obj)
    return {
        "table": table,
        "id": "/".join(str(i) for i in identity),
        "kind": kind,
        "region_code": getattr(obj, "region_code", None),
        "before": before or None,
        "after": after or None,
    }


@event.listens_for(OrmSession, "after_flush")
def _remember_flush(session, _context) -> None:
    changes = session.info.get(CHANGES_KEY)
    if changes is None:
        return
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if kind == "update" and not session.is_modified(obj, include_collections=False):
                continue
            change = _row_change(obj, kind)
            if change is not None:
                changes.append(change)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _action(request: Request) -> str:
    route = request.scope.get("route")
    operation = getattr(route, "operation_id", None) or getattr(route, "name", None) or "request"
    return f"api.{_snake(operation)}"


def _path_object(request: Request) -> tuple[str | None, str | None]:
    for name, value in request.path_params.items():
        if name.endswith("_id") or name == "code":
            return (name[:-3] if name.endswith("_id") else "region"), str(value)
    return None, None


@functools.lru_cache(maxsize=4096)
def _valid_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _address(request: Request) -> str | None:
    client = request.scope.get("client")
    return _valid_address(client[0]) if client else None


def base_event(request: Request, caller, **fields: Any) -> dict[str, Any]:
    """The who, where from and which request of an event, as plain values fit for the
    table (``AuditRecord(**…)`` or, for the busiest reads, a row as it is)."""
    out: dict[str, Any] = {
        "request_id": request.scope.get("state", {}).get("request_id"),
        "ip": _address(request),
    }
    if caller is not None:
        out.update(
            actor=caller.principal,
            actor_name=caller.username,
            role=caller.role.value,
            client=caller.username if caller.client_id is not None else None,
            region_code=caller.region_prefix or None,
        )
    out.update(fields)
    return out


def merged_changes(changes: list[dict]) -> list[dict]:
    """One entry per row: a write may flush the same row several times (a step changes the
    case's status, then its deadline). Before keeps each column's first value, after its last."""
    rows: dict[tuple[str, str], dict] = {}
    for change in changes:
        key = (change["table"], change["id"])
        row = rows.get(key)
        if row is None:
            rows[key] = {**change, "before": dict(change["before"] or {}), "after": dict(change["after"] or {})}
            continue
        for column, value in (change["before"] or {}).items():
            row["before"].setdefault(column, value)
        row["after"].update(change["after"] or {})
        if change["kind"] == "delete":
            row["kind"] = "delete" if row["kind"] != "create" else "create+delete"
    for row in rows.values():
        row["before"], row["after"] = row["before"] or None, row["after"] or None
    return list(rows.values())


def _write_event(
    request: Request, caller, status: int, result: AuditResult, changes: list[dict] | None, error: str | None = None
) -> AuditRecord:
    object_type, object_id = _path_object(request)
    changes = merged_changes(changes or [])
    if object_type is None and changes:
        object_type, object_id = changes[0]["table"], changes[0]["id"]
    region = next((c["region_code"] for c in changes if c.get("region_code")), None)
    fields = base_event(
        request,
        caller,
        action=_action(request),
        result=result,
        status=status,
        object_type=object_type and re.sub(r"[^a-z0-9_]", "_", object_type.lower()),
        object_id=object_id,
    )
    if region:
        fields["region_code"] = region
    if changes:
        fields["before"] = {f"{c['table']}/{c['id']}": c["before"] for c in changes if c["before"]} or None
        fields["after"] = {f"{c['table']}/{c['id']}": c["after"] for c in changes if c["after"]} or None
    detail: dict[str, Any] = {"method": request.method, "path": request.url.path}
    if changes:
        detail["rows"] = [f"{c['kind']} {c['table']}/{c['id']}" for c in changes]
    if error:
        detail["error"] = error
    fields["detail"] = detail
    return AuditRecord(**fields)


async def record_write(request: Request, session, status: int) -> None:
    """At the end of a write's transaction, before it commits."""
    if getattr(request.state, "audited", False):
        return
    caller = getattr(request.state, "caller", None)
    if caller is None:
        return
    changes = getattr(session, "sync_session", session).info.pop(CHANGES_KEY, None)
    await record(session, _write_event(request, caller, status, AuditResult.success, changes))


async def record_changes_so_far(request: Request, session) -> None:
    """For a long write (a rule raising a clue for each of thousands of households): record
    the changes collected so far as an event of their own, in the request's transaction, and
    collect afresh, so that the request never holds every change at once. The rest is
    recorded at the end as usual."""
    caller = getattr(request.state, "caller", None)
    info = getattr(session, "sync_session", session).info
    changes = info.get(CHANGES_KEY)
    if caller is None or not changes:
        return
    info[CHANGES_KEY] = []
    await record(session, _write_event(request, caller, 200, AuditResult.success, changes))


async def record_failed_write(request: Request, status: int, code: str) -> None:
    """After the request's transaction was rolled back: a refused or failed write."""
    caller = getattr(request.state, "caller", None)
    if caller is None or getattr(request.state, "audited", False):
        return
    result = AuditResult.denied if status in (403, 404) else AuditResult.failure
    try:
        await record_now(request.app.state.db, _write_event(request, caller, status, result, None, code))
    except Exception as exc:  # the answer to the client must not change; the log keeps the trace
        from services.api.problems import described, frames  # (their messages may hold the values)

        log.error("could not record a failed write in the audit trail: %s\n%s", described(exc), frames(exc))


# ---- sensitive reads ----------------------------------------------------------------------


class ReadAuditBuffer:
    """Sensitive-read events written in batches (``audit.read_flush_ms``). Their commits do
    not wait for the disk (the window a crash may lose is the buffer's anyway), so the
    audit chain keeps up with busy reads. When events still pile up faster than they are
    written, the readers wait for a flush instead of the buffer growing without end."""

    def __init__(self, database, flush_ms: int, max_batch: int = 500, high_water: int = 20_000):
        self.database = database
        self.interval = flush_ms / 1000
        self.max_batch = max_batch
        self.high_water = high_water
        self.pending: list[AuditRecord | dict] = []
        self._inflight: tuple[uuid.UUID, int] | None = None  # the batch being written: token, size
        self._purged = time.monotonic()
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()
        # Since the start (``/metrics``): events written, failed batch writes, readers that waited.
        self.written = 0
        self.failures = 0
        self.waits = 0

    def add(self, event: AuditRecord | dict) -> None:
        self.pending.append(event)
        if len(self.pending) >= self.max_batch:
            self.wake.set()

    @property
    def backed_up(self) -> bool:
        return len(self.pending) >= self.high_water

    async def flush(self) -> None:
        async with self._lock:  # one writer at a time: a batch is removed only once written
            # What is pending now, not what arrives while it is written: under steady reads
            # the loop would otherwise never end, writing a handful of events per round trip
            # (a transaction and a commit each) instead of the interval's worth at once.
            due = len(self.pending)
            while due > 0 and self.pending:
                # A batch that failed is sent again as it was, under the same token: if its
                # commit went through and only the answer was lost, the token is found and
                # nothing is written twice; events that came meanwhile wait for the next.
                if self._inflight is None:
                    self._inflight = (uuid.uuid4(), min(due, self.max_batch))
                token, size = self._inflight
                try:
                    await self.database.fetch_rows(
                        INSERT_BATCH_SQL, [rows_json(self.pending[:size]), token], wait_for_disk=False
                    )
                except Exception:
                    self.failures += 1
                    raise
                del self.pending[:size]
                self._inflight = None
                self.written += size
                due -= size

    async def purge(self) -> None:
        """Forget the tokens of batches written more than a day ago (at most hourly)."""
        if time.monotonic() - self._purged > 3600:
            await self.database.fetch_rows(PURGE_BATCHES_SQL, [])
            self._purged = time.monotonic()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval)
            self.wake.clear()
            try:
                await self.flush()
                await self.purge()
            except Exception as exc:  # kept in memory, retried next time
                from services.api.problems import described, frames
                from services.core.db import unavailable

                if unavailable(exc):  # one line each time, while the database is away
                    log.warning(
                        "could not write %d sensitive-read events (database unavailable: %s); kept, will retry",
                        len(self.pending),
                        type(exc).__name__,
                    )
                else:
                    log.error("could not write sensitive-read events; will retry: %s\n%s", described(exc), frames(exc))


async def record_sensitive_read(
    request: Request, caller, action: str, object_type: str, object_id: Any, **detail: Any
) -> None:
    """A read that showed health details. Kept as a plain row (no model validation on the
    busiest reads): every value comes from the verified token or from the server itself.
    It carries the moment of the read (``at``): the buffer writes it up to an interval
    later, or, while the database is away, once it is back — the row still says when the
    details were seen, not when the row was written."""
    row = base_event(
        request,
        caller,
        at=datetime.now(UTC),
        action=action,
        result="success",
        status=200,
        object_type=object_type,
        object_id=str(object_id),
        detail={"path": request.scope["path"], **detail},
    )
    pending = getattr(request.state, "read_events", None)
    if pending is not None:
        pending.append(row)  # written by GuardlineRoute once the request's session is closed
    else:
        await write_reads(request, [row])


async def write_reads(request: Request, rows: list[dict]) -> None:
    """Hand sensitive-read events to the buffer, or write them now when there is none."""
    buffer: ReadAuditBuffer | None = request.app.state.read_audit
    for row in rows:
        if buffer is not None:
            buffer.add(row)
        else:
            await record_now(request.app.state.db, row)
    if buffer is not None and buffer.backed_up:
        buffer.waits += 1
        await buffer.flush()  # back-pressure: this reader waits rather than the buffer growing
