"""The monthly clearing ledger of the three guarantees and safe water, and the rectification
ledger. Thin: parse, look up in scope, check If-Match, call ``services.core.ledgers``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, IdQ, Limit, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import NotFound
from services.core.guarantees.models import Item
from services.core.ledgers import clearing, rectification
from services.core.ledgers.enums import EntryStatus, ProblemSource, RectificationStatus
from services.core.ledgers.models import ClearingEntry, Rectification, RectificationStep
from services.core.ledgers.schemas import (
    ClosureRequestIn,
    DecisionIn,
    EntryClosure,
    EntryIn,
    EntryOut,
    EntryScanIn,
    EntryScanOut,
    MonthlyReport,
    RectificationIn,
    RectificationOut,
    RectificationStepIn,
    StepOut,
)
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import today
from services.core.types import Day

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
CLEARING: tags.Tags = [tags.CLEARING]
RECTIFY: tags.Tags = [tags.RECTIFICATION]

READ = [Needs(Permission.ledgers_read)]
LIST = [Needs(Permission.ledgers_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
LedgerReader = Annotated[Caller, Needs(Permission.ledgers_read)]
LedgerWriter = Annotated[Caller, Needs(Permission.ledgers_write)]
LedgerApprover = Annotated[Caller, Needs(Permission.ledgers_approve)]
path_object("clearing_entry_id", ClearingEntry)
path_object("rectification_id", Rectification)

Month = Annotated[
    str | None,
    Query(
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
        description="The month, YYYY-MM (default: this month) 月份",
        examples=["2026-10"],
    ),
]
AsOf = Annotated[
    Day | None,
    Query(description="Counts as they stood at the end of this day (default: the month's end, or today) 统计截止日"),
]
Overdue = Annotated[
    bool | None, Query(description="true: only those open past their deadline; false: only the others 是否超期")
]
ENTRY_IF_MATCH = "Needs `If-Match` with the entry's ETag (428 without it, 412 when stale)."
RECT_IF_MATCH = "Needs `If-Match` with the problem's ETag (428 without it, 412 when stale)."


async def _within(session, caller: Caller, region: str | None, field: str = "region") -> str:
    """The region a report or scan covers: the caller's own, or one it can see that lies
    within its regions (the raw SQL is bounded by this prefix alone)."""
    if region is None:
        return caller.region_prefix
    await check_prefix_visible(session, region, field=field)
    if not region.startswith(caller.region_prefix):
        raise NotFound("region_not_found", field=field, region=region.ljust(12, "0"))
    return region


def _report(month: str, prefix: str, cut: date, rows: list[clearing.Counts]) -> JSON:
    def row(c: clearing.Counts) -> dict[str, Any]:
        return {
            "township": c.township,
            "name": c.name,
            "opened": c.opened,
            "cleared": c.cleared,
            "overdue": c.overdue,
            "open": c.open,
        }

    return JSON(
        {
            "month": month,
            "region": prefix,
            "cut_off": cut,
            "townships": [row(r) for r in rows],
            "total": row(clearing.total(rows)),
        }
    )


# ---------------------------------------------------------------- clearing ledger


def entry_body(e: ClearingEntry, on: date | None = None) -> dict[str, Any]:
    body = {f: getattr(e, f) for f in EntryOut.model_fields if f != "overdue"}
    body["overdue"] = clearing.is_overdue(e.status, e.deadline, on or today())
    return body


def _entry_response(e: ClearingEntry, status: int = 200) -> JSON:
    headers = {"ETag": etag("clearing_entry", e.id, e.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/clearing-entries/{e.id}"
    return JSON(entry_body(e), status_code=status, headers=headers)


@router.post(
    "/clearing-entries",
    status_code=201,
    response_model=EntryOut,
    operation_id="openClearingEntry",
    tags=CLEARING,
    responses=responses(403, 404, 409),
    summary="Record an item found at risk 登记发现问题",
    description="An item of the three guarantees or safe water found at risk for a household (发现一户、保障一户), "
    "recorded by hand. The responsible department defaults to the policy's department of the item; the "
    "deadline is the policy's `clearing_days` from today on the working-day calendar. A household has one "
    "open entry per item (409 `clearing_entry_open`). Send an `Idempotency-Key`.",
)
async def open_entry(body: EntryIn, session: Session, caller: LedgerWriter):
    return _entry_response(await clearing.create(session, body, caller.user_id), 201)


@router.get(
    "/clearing-entries",
    response_model=Page[EntryOut],
    operation_id="listClearingEntries",
    tags=CLEARING,
    dependencies=LIST,
    responses=responses(404),
    summary="The clearing ledger, newest first 清零台账",
)
async def list_entries(
    request: Request,
    session: Session,
    region: RegionQ = None,
    kind: Item | None = None,
    status: EntryStatus | None = None,
    overdue: Overdue = None,
    household_id: IdQ = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Items of the three guarantees and safe water found at risk (月清零台账) in your regions, newest first,
    filtered by region (e.g. a township's prefix), item, status, overdue or household. Needs ledgers:read.
    清零台账。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await clearing.list_entries(
        session,
        region=region,
        kind=kind,
        status=status,
        overdue=overdue,
        household_id=household_id,
        cursor=cursor,
        limit=limit,
    )
    on = today()
    return JSON({"items": [entry_body(e, on) for e in rows], "next_cursor": next_cursor})


@router.get(
    "/clearing-entries/{clearing_entry_id}",
    response_model=EntryOut,
    operation_id="getClearingEntry",
    tags=CLEARING,
    dependencies=READ,
    responses=responses(404),
    summary="One clearing-ledger entry 台账详情",
)
async def get_entry(clearing_entry_id: Id, session: Session):
    """One entry: household, item, department, deadline, status and the evidence of its clearing, with its
    ETag. Needs ledgers:read. 台账详情。"""
    return _entry_response(await clearing.get(session, clearing_entry_id))


@router.post(
    "/clearing-entries/{clearing_entry_id}/closure",
    response_model=EntryOut,
    operation_id="clearClearingEntry",
    tags=CLEARING,
    responses=responses(403, 404, 409, 412, 428),
    summary="Clear an item, with evidence 清零销号",
    description="Evidence is required: the text and at least one reference (422 naming the field otherwise). "
    "Not before the day it was found, not in the future; a cleared entry is not cleared again (409). " + ENTRY_IF_MATCH,
)
async def clear_entry(
    request: Request, clearing_entry_id: Id, body: EntryClosure, session: Session, caller: LedgerWriter
):
    entry = await clearing.get(session, clearing_entry_id, for_update=True)
    check_if_match(request, etag("clearing_entry", entry.id, entry.version))
    return _entry_response(await clearing.close(session, entry, body, caller.user_id))


@router.post(
    "/clearing-entries/scan",
    response_model=EntryScanOut,
    operation_id="scanClearingEntries",
    tags=CLEARING,
    responses=responses(403, 404),
    summary="Open entries from what the system knows 自动生成台账",
    description="Opens an entry for every item at risk under `region` (default: your regions) that has none "
    "open: an item of a household's three-guarantees status at risk, and an open department cross-check "
    "finding whose rule names an item (a child out of school, an uninsured person, a C/D-grade house). The "
    "sync worker does the same after each reconciliation.",
)
async def scan_entries(body: EntryScanIn, session: Session, caller: LedgerWriter):
    region = await _within(session, caller, body.region)
    return JSON({"region": region, "opened": await clearing.open_from_known(session, region)})


@router.get(
    "/clearing-report",
    response_model=MonthlyReport,
    operation_id="getClearingReport",
    tags=CLEARING,
    dependencies=LIST,
    responses=responses(404),
    summary="Monthly clearing report by township 月清零通报",
)
async def clearing_report(
    session: Session, caller: LedgerReader, month: Month = None, region: RegionQ = None, as_of: AsOf = None
):
    """For a month (月通报): per township under `region` (default: your regions), the items found and cleared in
    the month, and those open and overdue at its end (or at `as_of`, when earlier). A past month gives the same
    figures whenever it is asked. Needs ledgers:read. 月清零通报。"""
    prefix = await _within(session, caller, region)
    month = month or today().isoformat()[:7]
    first, cut = clearing.month_bounds(month, as_of, today())
    rows = await clearing.monthly_report(session, "clearing_entries", prefix, first, cut)
    return _report(month, prefix, cut, rows)


# ---------------------------------------------------------------- rectification ledger


def rect_body(r: Rectification, steps: list[RectificationStep] | None = None, on: date | None = None) -> dict:
    body = {f: getattr(r, f) for f in RectificationOut.model_fields if f not in ("overdue", "steps")}
    body["overdue"] = rectification.is_overdue(r.status, r.deadline, on or today())
    body["steps"] = [{f: getattr(s, f) for f in StepOut.model_fields} for s in steps or []]
    return body


async def _rect_response(session, r: Rectification, status: int = 200) -> JSON:
    headers = {"ETag": etag("rectification", r.id, r.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/rectifications/{r.id}"
    steps = await rectification.steps_of(session, r.id)
    return JSON(rect_body(r, steps), status_code=status, headers=headers)


@router.post(
    "/rectifications",
    status_code=201,
    response_model=RectificationOut,
    operation_id="recordRectification",
    tags=RECTIFY,
    responses=responses(403, 404),
    summary="Record a problem to rectify 登记整改问题",
    description="From an inspection, audit, assessment, self-check or the system's own findings; the deadline is "
    "the policy's `rectification_days` from the day found, on the working-day calendar. Send an "
    "`Idempotency-Key`.",
)
async def record_rectification(body: RectificationIn, session: Session, caller: LedgerWriter):
    row = await rectification.create(session, body, caller.user_id)
    return await _rect_response(session, row, 201)


@router.get(
    "/rectifications",
    response_model=Page[RectificationOut],
    operation_id="listRectifications",
    tags=RECTIFY,
    dependencies=LIST,
    responses=responses(404),
    summary="The rectification ledger, newest first 整改台账",
)
async def list_rectifications(
    request: Request,
    session: Session,
    region: RegionQ = None,
    source: ProblemSource | None = None,
    status: RectificationStatus | None = None,
    overdue: Overdue = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Problems to rectify in your regions, newest first, filtered by region, source, status or overdue (the
    overdue list: `overdue=true`). Steps are in a single problem's answer. Needs ledgers:read. 整改台账。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await rectification.list_rows(
        session, region=region, source=source, status=status, overdue=overdue, cursor=cursor, limit=limit
    )
    on = today()
    return JSON({"items": [rect_body(r, None, on) for r in rows], "next_cursor": next_cursor})


@router.get(
    "/rectifications/{rectification_id}",
    response_model=RectificationOut,
    operation_id="getRectification",
    tags=RECTIFY,
    dependencies=READ,
    responses=responses(404),
    summary="One problem with its steps 整改详情",
)
async def get_rectification(rectification_id: Id, session: Session):
    """One problem: source, responsible unit, deadline, status, evidence and every progress step, with its ETag.
    Needs ledgers:read. 整改详情。"""
    return await _rect_response(session, await rectification.get(session, rectification_id))


@router.post(
    "/rectifications/{rectification_id}/steps",
    status_code=201,
    response_model=RectificationOut,
    operation_id="addRectificationStep",
    tags=RECTIFY,
    responses=responses(403, 404, 409),
    summary="Record progress 记录整改进展",
    description="A step of the rectification with its evidence references; not for a closed problem (409). "
    "Answers the problem with its steps. Send an `Idempotency-Key`.",
)
async def add_step(rectification_id: Id, body: RectificationStepIn, session: Session, caller: LedgerWriter):
    row = await rectification.get(session, rectification_id, for_update=True)
    await rectification.add_step(session, row, body, caller.user_id)
    return await _rect_response(session, row, 201)


@router.post(
    "/rectifications/{rectification_id}/closure-request",
    response_model=RectificationOut,
    operation_id="requestRectificationClosure",
    tags=RECTIFY,
    responses=responses(403, 404, 409, 412, 428),
    summary="Request closure, with evidence 申请销号",
    description="Evidence is required: the text and at least one reference (422 naming the field otherwise). "
    "Only an open problem (409). A second person with ledgers:approve decides. " + RECT_IF_MATCH,
)
async def request_closure(
    request: Request, rectification_id: Id, body: ClosureRequestIn, session: Session, caller: LedgerWriter
):
    row = await rectification.get(session, rectification_id, for_update=True)
    check_if_match(request, etag("rectification", row.id, row.version))
    return await _rect_response(session, await rectification.request_closure(session, row, body, caller.user_id))


@router.post(
    "/rectifications/{rectification_id}/decision",
    response_model=RectificationOut,
    operation_id="decideRectificationClosure",
    tags=RECTIFY,
    responses=responses(403, 404, 409, 412, 428),
    summary="Approve or refuse the closure 销号审批",
    description="Approving closes the problem (销号); refusing sends it back to rectification. Never by the one who "
    "requested the closure (403 `approve_own_request`); only a problem whose closure was requested (409). "
    + RECT_IF_MATCH,
)
async def decide_closure(
    request: Request, rectification_id: Id, body: DecisionIn, session: Session, caller: LedgerApprover
):
    row = await rectification.get(session, rectification_id, for_update=True)
    check_if_match(request, etag("rectification", row.id, row.version))
    return await _rect_response(session, await rectification.decide(session, row, body, caller.user_id))


@router.get(
    "/rectification-report",
    response_model=MonthlyReport,
    operation_id="getRectificationReport",
    tags=RECTIFY,
    dependencies=LIST,
    responses=responses(404),
    summary="Monthly rectification summary by township 整改月度汇总",
)
async def rectification_report(
    session: Session, caller: LedgerReader, month: Month = None, region: RegionQ = None, as_of: AsOf = None
):
    """For a month: per township under `region` (default: your regions), problems found (`opened`) and closed
    (`cleared`) in the month, and those not closed and overdue at its end (or at `as_of`). Reproducible for a
    past month. Needs ledgers:read. 整改月度汇总。"""
    prefix = await _within(session, caller, region)
    month = month or today().isoformat()[:7]
    first, cut = clearing.month_bounds(month, as_of, today())
    rows = await clearing.monthly_report(session, "rectifications", prefix, first, cut)
    return _report(month, prefix, cut, rows)
