"""Department sources, sync runs and quarantined records. Thin: parse, check the county is
the caller's, call ``services.core.sync``, shape the response.

Runs, quarantine and a source's counties belong to a county: only callers at county level
and above see them (``services.core.sync.service``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from services.api import tags
from services.api.deps import Needs, Session, path_object
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, PlainText
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.crypto import keyring
from services.core.i18n import message, wants_chinese
from services.core.idnumber import redact
from services.core.paging import list_page
from services.core.sync import service
from services.core.sync.config import NAME, Sources, UnknownSource, load_sources
from services.core.sync.enums import QuarantineStatus, RunStatus, Trigger
from services.core.sync.models import QuarantinedRecord, SyncRun
from services.core.sync.runs import enqueue
from services.core.sync.schemas import QuarantineOut, ReprocessIn, RunIn, RunOut, RunQueuedOut, SourceOut
from services.core.timeutil import CHINA, now

router = APIRouter(prefix="/api/v1/sync", route_class=GuardlineRoute)
SYNC: tags.Tags = [tags.SYNC]

LIST = [Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
SyncReader = Annotated[Caller, Needs(Permission.sync_read)]
SyncRunner = Annotated[Caller, Needs(Permission.sync_run)]
SourceQ = Annotated[str | None, Query(pattern=NAME, description="Source name 数据源")]
CountyQ = Annotated[str | None, Query(pattern=r"^\d{6}$", description="County code, 6 digits 县级区划代码")]
SourcePath = Annotated[str, PathParam(pattern=NAME, description="The source's name 数据源名称")]

# Objects named in paths, for the 404-before-403 check: a county's, seen from county level up.
path_object("run_id", SyncRun, visible=lambda prefix: service.county_visible(SyncRun.county, prefix))
path_object(
    "quarantine_id", QuarantinedRecord, visible=lambda prefix: service.county_visible(QuarantinedRecord.county, prefix)
)

COUNTY_SCOPE = (
    "Runs, quarantine and sources belong to a county: they are visible from county level up (a county "
    "outside your regions answers 404, like a missing one). "
)


def _sources(request: Request) -> Sources:
    return load_sources(request.app.state.settings)


def _threshold(request: Request) -> int:
    return request.app.state.settings.sync.breaker_threshold


def _text(value: str | None) -> str | None:
    return redact(value) if value else value


# ---- sources ------------------------------------------------------------------------------


def _run_summary(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        f: getattr(run, f)
        for f in ("id", "status", "phase", "trigger", "created_at", "started_at", "finished_at", "error_code")
    }


def _breaker(state, threshold: int) -> dict[str, Any]:
    return {
        "state": service.breaker_state(state, threshold),
        "consecutive_failures": state.consecutive_failures if state else 0,
        "open_until": state.open_until if state else None,
        "last_success_at": state.last_success_at if state else None,
        "last_failure_at": state.last_failure_at if state else None,
        "last_error": _text(state.last_error) if state else None,
    }


def _source_body(visible: service.VisibleSource, state, runs: dict, threshold: int) -> dict[str, Any]:
    source = visible.config
    return {
        "name": source.name,
        "kind": source.kind,
        "title": source.title,
        "pulls": source.pulls,
        "spreadsheet_only": not source.pulls,
        "every_hours": source.every_hours,
        "counties": [{"county": c, "last_run": _run_summary(runs.get((source.name, c)))} for c in visible.counties],
        "breaker": _breaker(state, threshold),
    }


async def _sources_bodies(request: Request, session, visible: list[service.VisibleSource]) -> list[dict]:
    states = await service.breakers(session, [v.config.name for v in visible])
    runs = await service.last_runs(session, [(v.config.name, c) for v in visible for c in v.counties])
    return [_source_body(v, states.get(v.config.name), runs, _threshold(request)) for v in visible]


@router.get(
    "/sources",
    response_model=Page[SourceOut],
    operation_id="listSyncSources",
    tags=SYNC,
    responses=responses(),
    summary="Department sources of your counties 部门数据源",
    description="The configured sources serving your counties (county level and up): kind, whether they "
    "are pulled over HTTP or imported from spreadsheets only, the schedule, the circuit "
    "breaker, and each county's last run. Credentials are never shown.",
)
async def list_sources(
    request: Request, session: Session, caller: SyncReader, limit: Limit = None, cursor: Cursor = None
):
    limit = page_limit(request, limit)
    visible = service.visible_sources(_sources(request), caller.region_prefix)
    # Sources are configured, not rows: paged by name in memory.
    shown, next_cursor = list_page(visible, lambda v: [v.config.name], (str,), cursor, limit)
    return JSON({"items": await _sources_bodies(request, session, shown), "next_cursor": next_cursor})


@router.get(
    "/sources/{name}",
    response_model=SourceOut,
    operation_id="getSyncSource",
    tags=SYNC,
    responses=responses(404),
    summary="One department source 数据源详情",
    description=COUNTY_SCOPE,
)
async def get_source(request: Request, name: SourcePath, session: Session, caller: SyncReader):
    visible = service.get_source(_sources(request), name, caller.region_prefix)
    return JSON((await _sources_bodies(request, session, [visible]))[0])


# ---- runs ---------------------------------------------------------------------------------

COUNT_FIELDS = (
    "pages",
    "fetched",
    "staged",
    "unchanged",
    "quarantined",
    "retries",
    "matched",
    "unmatched",
    "findings_opened",
    "findings_resolved",
    "findings_open",
    "clues",
)


def run_body(run: SyncRun) -> dict[str, Any]:
    body = {
        f: getattr(run, f)
        for f in (
            "id",
            "source",
            "county",
            "status",
            "phase",
            "trigger",
            "requested_by",
            "file_name",
            "created_at",
            "not_before",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "worker",
            "attempts",
            "error_code",
        )
    }
    body["error_message"] = _text(run.error)
    body["counts"] = {f: getattr(run, f) for f in COUNT_FIELDS}
    body["roster"] = (
        None
        if run.roster_region is None
        else {
            "period": run.roster_period,
            "region": run.roster_region,
            "records": run.roster_records,
            "refused": run.roster_rejected,
        }
    )
    return body


def _run_response(run: SyncRun, status: int = 200, extra: dict | None = None) -> JSON:
    headers = {"Location": f"/api/v1/sync/runs/{run.id}"} if extra is not None else None
    return JSON({**run_body(run), **(extra or {})}, status_code=status, headers=headers)


async def _check_filters(session, caller: Caller, county: str | None) -> None:
    if county is not None:
        await service.check_county(session, county, caller.region_prefix)


@router.get(
    "/runs",
    response_model=Page[RunOut],
    operation_id="listSyncRuns",
    tags=SYNC,
    dependencies=LIST,
    responses=responses(404),
    summary="Sync runs, newest first 同步任务列表",
    description=COUNTY_SCOPE,
)
async def list_runs(
    request: Request,
    session: Session,
    caller: SyncReader,
    source: SourceQ = None,
    county: CountyQ = None,
    status: RunStatus | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    await _check_filters(session, caller, county)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_runs(
        session,
        caller.region_prefix,
        source=source,
        county=county,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": [run_body(r) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/runs/{run_id}",
    response_model=RunOut,
    operation_id="getSyncRun",
    tags=SYNC,
    responses=responses(404),
    summary="One sync run and its progress 同步任务详情",
    description="Status, phase, times, attempts, the error, and the counts committed so far (they move "
    "while the run is running). " + COUNTY_SCOPE,
)
async def get_run(run_id: Id, session: Session, caller: SyncReader):
    return _run_response(await service.get_run(session, caller.region_prefix, run_id))


async def _queue(request: Request, session, caller: Caller, source_name: str, county: str, trigger: Trigger) -> JSON:
    sources = _sources(request)
    service.check_target(sources, source_name, county, caller.region_prefix)
    run, created = await enqueue(session, source_name, county, trigger, caller.user_id)
    state = (await service.breakers(session, [source_name])).get(source_name)
    is_open = service.breaker_state(state, _threshold(request), now()) == "open"
    open_until = state.open_until if state is not None and is_open else None  # open: there is a time
    notice = None
    if open_until is not None:
        zh = wants_chinese(request.headers.get("accept-language"))
        until = open_until.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        notice = message("sync_breaker_open", zh, {"source": source_name, "until": until})
    extra = {"created": created, "breaker_open_until": open_until, "notice": notice}
    return _run_response(run, 202 if created else 200, extra)


QUEUED = {
    **responses(404),
    200: {
        "model": RunQueuedOut,
        "description": "A run of this source and county was already queued or running: this is it",
    },
}


@router.post(
    "/runs",
    status_code=202,
    response_model=RunQueuedOut,
    operation_id="createSyncRun",
    tags=SYNC,
    responses=QUEUED,
    summary="Queue a sync run 发起同步",
    description="Queues a pull of `source` for `county` (202). When a run of that source and county is "
    "already queued or running, the request joins it (200, `created: false`). A source "
    "whose circuit breaker is open still queues: the run waits, and `breaker_open_until` "
    "says until when. An unknown source answers 404 (`source`); a county outside your "
    "regions 404 and one the source does not serve 422 (`county`). Send an "
    "`Idempotency-Key` so that a retried request is not queued twice.",
)
async def create_run(request: Request, body: RunIn, session: Session, caller: SyncRunner):
    return await _queue(request, session, caller, body.source, body.county, Trigger.manual)


# ---- quarantine ---------------------------------------------------------------------------


def quarantine_body(record: QuarantinedRecord, raw: Any) -> dict[str, Any]:
    body = {
        f: getattr(record, f)
        for f in (
            "id",
            "source",
            "county",
            "reason",
            "field",
            "location",
            "status",
            "first_run_id",
            "last_run_id",
            "created_at",
            "last_seen_at",
            "resolved_at",
        )
    }
    body["detail"] = _text(record.detail)
    body["external_key"] = _text(record.external_key)
    body["raw"] = raw
    return body


def _shown(request: Request, caller: Caller, records: list[QuarantinedRecord]) -> list[dict]:
    """The payloads are shown to roles that may see health details (a payload may be a
    medical claim), ID numbers masked."""
    sees_health = Permission.registry_health in caller.permissions
    ring = keyring(request.app.state.settings) if sees_health else None
    sources = _sources(request)
    out = []
    for record in records:
        raw = None
        if ring is not None:
            try:
                config = sources.get(record.source)
            except UnknownSource:
                config = None
            raw = service.raw_payload(record, ring, config)
        out.append(quarantine_body(record, raw))
    return out


@router.get(
    "/quarantine",
    response_model=Page[QuarantineOut],
    operation_id="listQuarantine",
    tags=SYNC,
    dependencies=LIST,
    responses=responses(404),
    summary="Quarantined department records 隔离记录",
    description="Records the normaliser refused, with the reason and the field at fault, newest first. "
    "The payload as received is shown with every ID number masked. " + COUNTY_SCOPE,
)
async def list_quarantine(
    request: Request,
    session: Session,
    caller: SyncReader,
    source: SourceQ = None,
    county: CountyQ = None,
    reason: Annotated[str | None, PlainText(1, 64, "e.g. id_number.check_digit")] = None,
    status: QuarantineStatus | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    await _check_filters(session, caller, county)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_quarantine(
        session,
        caller.region_prefix,
        source=source,
        county=county,
        reason=reason,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": _shown(request, caller, rows), "next_cursor": next_cursor})


@router.get(
    "/quarantine/{quarantine_id}",
    response_model=QuarantineOut,
    operation_id="getQuarantinedRecord",
    tags=SYNC,
    responses=responses(404),
    summary="One quarantined record 隔离记录详情",
    description=COUNTY_SCOPE,
)
async def get_quarantined(request: Request, quarantine_id: Id, session: Session, caller: SyncReader):
    record = await service.get_quarantined(session, caller.region_prefix, quarantine_id)
    return JSON(_shown(request, caller, [record])[0])


@router.post(
    "/quarantine/reprocess",
    status_code=202,
    response_model=RunQueuedOut,
    operation_id="reprocessQuarantine",
    tags=SYNC,
    responses=QUEUED,
    summary="Re-process quarantined records 重新处理隔离记录",
    description="Queues a run (trigger `reprocess`) that passes the open quarantined records of `source` "
    "and `county` through the normaliser again, with the current configuration, and stages "
    "those that now pass. Answers like `POST /api/v1/sync/runs`, joining a run already "
    "queued or running.",
)
async def reprocess(request: Request, body: ReprocessIn, session: Session, caller: SyncRunner):
    return await _queue(request, session, caller, body.source, body.county, Trigger.reprocess)
