"""Writing audit events and reading them back for auditors.

Two ways to write:

* ``record(session, event)`` / ``record_many`` inside the request's own transaction, for
  writes: the event commits with the data, or neither does;
* ``record_now(database, event)`` in a short transaction of its own, for what must stay
  recorded although the request fails or changes nothing (a failed login, a denied
  request, a sensitive read).

Each insert takes the chain lock (see the migration ``audit_log``), which is held until
its transaction ends. So insert audit events at the *end* of a transaction, after the
work that may take time; and never call ``record_now`` while the same task's transaction
already holds an uncommitted audit row: the new connection would wait for that lock for
ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.core.audit import queries
from services.core.audit.models import AuditEvent, AuditResult
from services.core.audit.schemas import AuditRecord
from services.core.errors import NotFound, TooManyRequests
from services.core.paging import KeyPage, keyset_page
from services.core.scope import UNRESTRICTED, under

audit_log = AuditEvent.__table__

# The session's list of row changes a request's audit event will name (collected from ORM
# flushes by ``services.api.auditing``; set-based writes add theirs with ``note_changes``).
CHANGES_KEY = "guardline.audit_changes"


def collects_changes(session: Any) -> bool:
    """Whether the session's writes are collected for a request's audit event."""
    return CHANGES_KEY in getattr(session, "sync_session", session).info


def note_changes(session: Any, changes: Sequence[dict[str, Any]]) -> None:
    """Hand row changes written without the ORM's flushes (``{table, id, kind, region_code,
    before, after}``, values as JSON) to the request's audit, when the session collects them."""
    collected = getattr(session, "sync_session", session).info.get(CHANGES_KEY)
    if collected is not None:
        collected.extend(changes)


class AuditRef(NamedTuple):
    id: int
    hash: bytes


async def record(target: AsyncSession | AsyncConnection, event: AuditRecord | dict[str, Any]) -> AuditRef:
    """Insert one event in ``target``'s current transaction; its id and hash."""
    return (await record_many(target, [event]))[0]


def rows_json(events: Sequence[AuditRecord | dict[str, Any]]) -> str:
    return orjson.dumps([e if isinstance(e, dict) else e.row() for e in events]).decode()


async def record_many(
    target: AsyncSession | AsyncConnection, events: Sequence[AuditRecord | dict[str, Any]]
) -> list[AuditRef]:
    """Insert several events with one statement (one round trip), chained in the given order.
    Plain dicts are rows already fit for the table (``AuditRecord.row()``, or built by the
    API's sensitive-read recorder from trusted values)."""
    if not events:
        return []
    result = await target.execute(queries.INSERT_ROWS, {"rows": rows_json(events)})
    refs = [AuditRef(row.id, row.hash) for row in result.all()]
    return sorted(refs)


async def record_now(database: Any, event: AuditRecord | dict[str, Any]) -> AuditRef:
    """Insert one event in a transaction of its own and commit it at once.

    ``database`` is the process's ``services.core.db.Database`` (a new session from its
    pool) or an ``AsyncEngine``."""
    if isinstance(database, AsyncEngine):
        async with database.begin() as connection:
            return await record(connection, event)
    async with database.session() as session:
        ref = await record(session, event)
        await session.commit()
        return ref


# ---- reading --------------------------------------------------------------------------

_COLUMNS = (
    audit_log.c.id,
    audit_log.c.at,
    audit_log.c.actor,
    audit_log.c.actor_name,
    audit_log.c.client,
    audit_log.c.role,
    audit_log.c.action,
    audit_log.c.object_type,
    audit_log.c.object_id,
    audit_log.c.region_code,
    audit_log.c.result,
    audit_log.c.status,
    audit_log.c.request_id,
    func.host(audit_log.c.ip).label("ip"),
    audit_log.c.before,
    audit_log.c.after,
    audit_log.c.detail,
    func.encode(audit_log.c.prev_hash, "hex").label("prev_hash"),
    func.encode(audit_log.c.hash, "hex").label("hash"),
)


# Failed logins under a name that is no account's (guessing, typing errors): no region is
# known, yet a county deployment's auditor must see them, so every auditor does. They hold
# the name typed (printable, at most 64 characters) and the address, never the password.
UNKNOWN_NAME_LOGINS = ("auth.login", "auth.client_token")


def _visible_to(stmt, prefix: str):
    """Auditors see the events of their regions: ``region_code`` under their prefix, and
    the failed logins under unknown names (``UNKNOWN_NAME_LOGINS``). Other events without a
    region (a purge) only reach an unrestricted caller."""
    if prefix == UNRESTRICTED:
        return stmt
    unknown_name = and_(
        audit_log.c.region_code.is_(None),
        audit_log.c.actor.is_(None),
        audit_log.c.action.in_(UNKNOWN_NAME_LOGINS),
        audit_log.c.result == AuditResult.failure.value,
    )
    return stmt.where(or_(under(audit_log.c.region_code, prefix), unknown_name))


def _as_dict(row) -> dict[str, Any]:
    out = row._asdict()
    out["result"] = AuditResult(out["result"]).value if out["result"] is not None else None
    return out


async def list_events(
    target: AsyncSession | AsyncConnection,
    prefix: str,
    *,
    region: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    result: AuditResult | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[dict[str, Any]]:
    """A page of events, newest first."""
    stmt = _visible_to(select(*_COLUMNS), prefix)
    if region:
        stmt = stmt.where(under(audit_log.c.region_code, region))
    if actor is not None:
        stmt = stmt.where(audit_log.c.actor == actor)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if object_type is not None:
        stmt = stmt.where(audit_log.c.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(audit_log.c.object_id == object_id)
    if result is not None:
        stmt = stmt.where(audit_log.c.result == result.value)
    if since is not None:
        stmt = stmt.where(audit_log.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_log.c.at < until)
    return await keyset_page(target, stmt, [(audit_log.c.id, True)], cursor, limit, rows="rows", row=_as_dict)


async def get_event(target: AsyncSession | AsyncConnection, prefix: str, event_id: int) -> dict[str, Any]:
    """One event, or NotFound — the same whether it does not exist or lies outside ``prefix``."""
    stmt = _visible_to(select(*_COLUMNS).where(audit_log.c.id == event_id), prefix)
    row = (await target.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound("audit_event_not_found", field="event_id", id=event_id)
    return _as_dict(row)


# ---- reveals of complete ID numbers -------------------------------------------------------

REVEAL_ACTION = "person.unmask"
# The failed write the API records when a reveal is refused (services.api.auditing).
REVEAL_REFUSED_ACTION = "api.unmask_id_number"
_WINDOWS = ((timedelta(hours=1), "hour", "1 小时"), (timedelta(days=1), "24 hours", "24 小时"))


async def check_reveal_rate(session: AsyncSession, actor: str, per_hour: int, per_day: int) -> None:
    """429 (``reveal_rate_limited``, Retry-After) when ``actor`` has revealed ``per_hour``
    complete ID numbers in the last hour or ``per_day`` in the last 24 hours.

    Counted from the audit trail, which every API process writes: the limit holds across
    processes. A transaction-scoped advisory lock per actor makes two reveals of the same
    user at once count one after the other (the reveal's own event is inserted before the
    lock is released, at commit)."""
    await session.execute(queries.REVEAL_LOCK, {"key": f"guardline.reveal:{actor}"})
    for (window, name, name_zh), limit in zip(_WINDOWS, (per_hour, per_day), strict=True):
        wait = (
            await session.execute(
                queries.NTH_REVEAL, {"window": window, "action": REVEAL_ACTION, "actor": actor, "offset": limit - 1}
            )
        ).scalar()
        if wait is not None:
            wait = max(1, int(wait))
            raise TooManyRequests(
                "reveal_rate_limited",
                headers={"Retry-After": str(wait)},
                retry_after=wait,
                limit=limit,
                window=name,
                window_zh=name_zh,
            )


async def reveal_counts(
    target: AsyncSession | AsyncConnection,
    prefix: str,
    *,
    since: datetime,
    until: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Who revealed how many complete ID numbers between ``since`` and ``until`` (of the
    persons under ``prefix``), and how many of their reveals were refused by the rate limit;
    most reveals first."""
    a = audit_log.c
    revealed = func.count().filter((a.action == REVEAL_ACTION) & (a.result == AuditResult.success.value))
    refused = func.count().filter((a.action == REVEAL_REFUSED_ACTION) & (a.status == 429))
    stmt = _visible_to(
        select(
            a.actor,
            func.max(a.actor_name).label("actor_name"),
            func.max(a.role).label("role"),
            revealed.label("reveals"),
            refused.label("refused"),
            func.min(a.at).label("first_at"),
            func.max(a.at).label("last_at"),
        ),
        prefix,
    ).where(a.action.in_((REVEAL_ACTION, REVEAL_REFUSED_ACTION)), a.at >= since, a.actor.is_not(None))
    if until is not None:
        stmt = stmt.where(a.at < until)
    stmt = stmt.group_by(a.actor).order_by(revealed.desc(), refused.desc(), a.actor).limit(limit)
    return [row._asdict() for row in await target.execute(stmt)]
