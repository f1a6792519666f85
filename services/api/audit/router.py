"""The audit trail for auditors (审计): query events by actor, object, action, result, region
and time, newest first. Only roles with ``audit:read`` (the auditor) may read it, and only
the events of their regions (404 for a region or event outside them)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.auditing import record_sensitive_read
from services.api.deps import Needs, Session
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, IdPath, Limit, PlainText, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.audit import service
from services.core.audit.models import AuditResult
from services.core.audit.schemas import AuditEventOut, RevealReport
from services.core.errors import Unprocessable
from services.core.timeutil import CHINA, now
from services.core.types import Moment

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

TAG = tags.AUDIT
EventId = Annotated[int, IdPath("Audit event id 审计记录序号")]
# The caller of a route, with the permission it needs (``deps.Needs``).
Auditor = Annotated[Caller, Needs(Permission.audit_read)]
NAIVE_TIMES = "Times without a zone are China time."


def _beijing(moment: datetime | None) -> str | None:
    """A time echoed as UTC+08:00 text (Asia/Shanghai of a distant year, as the JSON encoder
    would give it, carries its local mean time: +08:05:43, not a valid date-time)."""
    return moment.astimezone(timezone(timedelta(hours=8))).isoformat() if moment is not None else None


def _china(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA)
    return moment


@router.get(
    "/audit/events",
    response_model=Page[AuditEventOut],
    operation_id="listAuditEvents",
    tags=[TAG],
    dependencies=[Depends(bulk_read)],
    responses=responses(403, 404, 429),
    summary="Find audit events 审计日志查询",
    description="Newest first. Only auditors; only the events of the caller's regions. " + NAIVE_TIMES,
)
async def list_audit_events(
    request: Request,
    session: Session,
    caller: Auditor,
    region: RegionQ = None,
    actor: Annotated[str | None, PlainText(1, 64, 'Who, e.g. "user:12" 操作者')] = None,
    action: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
            max_length=64,
            description='What, e.g. "household.update" 动作',
        ),
    ] = None,
    object_type: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description='Kind of object, e.g. "household" 对象类型'),
    ] = None,
    object_id: Annotated[str | None, PlainText(1, 100, "The object's id (needs object_type) 对象标识")] = None,
    result: Annotated[AuditResult | None, Query(description="success / failure / denied 结果")] = None,
    since: Annotated[Moment | None, Query(description="At or after 起始时间")] = None,
    until: Annotated[Moment | None, Query(description="Before 截止时间")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    limit = page_limit(request, limit)
    if object_id is not None and object_type is None:
        raise Unprocessable("audit_object_id_needs_type", field="object_id")
    since, until = _china(since), _china(until)
    if since is not None and until is not None and since >= until:
        raise Unprocessable("audit_time_range", field="until")
    rows, next_cursor = await service.list_events(
        session,
        caller.region_prefix,
        region=region,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        result=result,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    # Who read the trail is part of the trail (等保: the audit administrator is audited too).
    filters = {
        k: str(v)
        for k, v in (
            ("region", region),
            ("actor", actor),
            ("action", action),
            ("object_type", object_type),
            ("object_id", object_id),
            ("result", result),
            ("since", since),
            ("until", until),
        )
        if v is not None
    }
    await record_sensitive_read(request, caller, "audit.read", "audit_log", "list", filters=filters, rows=len(rows))
    return JSON({"items": rows, "next_cursor": next_cursor})


@router.get(
    "/audit/events/{event_id}",
    response_model=AuditEventOut,
    operation_id="getAuditEvent",
    tags=[TAG],
    responses=responses(403, 404),
    summary="One audit event 审计记录详情",
)
async def get_audit_event(request: Request, event_id: EventId, session: Session, caller: Auditor):
    """One audit event in full: who, what, where, the result and, for writes, the object before and after. Needs
    audit:read; an event outside your regions answers 404. Reading it is itself audited. 审计记录详情。"""
    event = await service.get_event(session, caller.region_prefix, event_id)
    await record_sensitive_read(request, caller, "audit.read", "audit_event", event_id)
    return JSON(event)


@router.get(
    "/audit/reveals",
    response_model=RevealReport,
    operation_id="listRevealCounts",
    tags=[TAG],
    dependencies=[Depends(bulk_read)],
    responses=responses(403, 429),
    summary="Who revealed how many complete ID numbers 完整身份证号码查看统计",
    description="Per user, the complete ID numbers revealed (unmaskIdNumber) of persons in the "
    "auditor's regions between `since` (default: 24 hours ago) and `until`, and how many "
    "reveals the rate limit refused; most reveals first, at most 100 users. " + NAIVE_TIMES,
)
async def list_reveal_counts(
    request: Request,
    session: Session,
    caller: Auditor,
    since: Annotated[datetime | None, Query(description="At or after 起始时间")] = None,
    until: Annotated[datetime | None, Query(description="Before 截止时间")] = None,
):
    since = _china(since) or now() - timedelta(days=1)
    until = _china(until)
    if until is not None and since >= until:
        raise Unprocessable("audit_time_range", field="until")
    items = await service.reveal_counts(session, caller.region_prefix, since=since, until=until)
    await record_sensitive_read(
        request,
        caller,
        "audit.read",
        "audit_log",
        "reveals",
        filters={"since": str(since), **({"until": str(until)} if until else {})},
        rows=len(items),
    )
    return JSON({"since": _beijing(since), "until": _beijing(until), "items": items})
