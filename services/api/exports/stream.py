"""A ledger's answer: checked like its list, then streamed a batch at a time, then audited.

The route reads the first batch with the request's own session, through the list's own
service function and filters: a filter naming a region, household or case the caller
cannot see answers 404, a health filter without the permission 403, a bad value 422 — as
problem+json, before a byte of the file is sent. The rest is read in keyset batches on a
session of its own (the request's is closed once the route returns), bound to the
caller's region prefix like every session, while the writer turns each batch into bytes.

Once the file has been sent (or the client went away, or a read failed) one audit event
says who exported which ledger, with which filters, in which format, how many rows, and
whether the file was complete (``ledger.export``; ``failure`` when not).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import anyio
from fastapi import Request
from starlette.responses import StreamingResponse

from services.api.auditing import base_event
from services.core.accounts.security import Caller
from services.core.audit import record_now
from services.core.exports.writer import WRITERS, Ledger, content_disposition
from services.core.labels import LabelledEnum
from services.core.scope import bind_scope
from services.core.timeutil import today

log = logging.getLogger("guardline.exports")

EXPORT_ACTION = "ledger.export"
# Rows read per batch: one batch (and the compressor's window) is what an export holds.
BATCH_ROWS = 1000

Rows = tuple[list[dict[str, Any]], str | None]
# A batch of the ledger's rows after ``cursor`` (None: the first), at most ``limit``, as the
# list endpoint shows them, and the cursor of the next batch (None after the last).
PageOf = Callable[[Any, str | None, int], Awaitable[Rows]]


class ExportFormat(LabelledEnum):
    """The file format of an export 导出格式."""

    xlsx = "xlsx", "Excel 工作簿（.xlsx）"
    csv = "csv", "CSV 文本（UTF-8，带 BOM，Excel 可直接打开）"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def file_name(ledger: Ledger, fmt: ExportFormat) -> tuple[str, str]:
    """(ASCII name, Chinese name) of the file: the ledger and today's date (China time)."""
    day = today().strftime("%Y%m%d")
    return f"{ledger.name}_{day}.{fmt.value}", f"{ledger.title}_{day}.{fmt.value}"


async def ledger_response(
    request: Request,
    session: Any,
    caller: Caller,
    ledger: Ledger,
    fmt: ExportFormat,
    filters: Mapping[str, Any],
    page: PageOf,
    *,
    health: bool = False,
    names: tuple[str, str] | None = None,
) -> StreamingResponse:
    """The streamed file of ``ledger`` (see the module). ``filters`` are recorded in the audit
    event as given (None ones left out); ``health``: whether the rows may show health details;
    ``names``: the (ASCII, Chinese) file names when not the ledger's of today (``file_name``)."""
    first, cursor = await page(session, None, BATCH_ROWS)  # every check of the list happens here
    writer = WRITERS[fmt.value](ledger)
    database = request.app.state.db
    given = {k: _plain(v) for k, v in filters.items() if v is not None}
    held: list[Any] = [first]  # released once written

    async def body():
        complete = False
        try:
            yield writer.start()
            yield writer.rows(held.pop())
            after = cursor
            if after is not None:
                async with database.session(readonly=True) as own:
                    bind_scope(own, caller.region_prefix)
                    while after is not None:
                        rows, after = await page(own, after, BATCH_ROWS)
                        data = writer.rows(rows)
                        del rows
                        if data:
                            yield data
            yield writer.end()
            complete = True
        finally:
            if not complete:
                writer.discard()
            with anyio.CancelScope(shield=True):  # recorded even when the client went away
                await _audit(request, caller, ledger, fmt, given, writer.count, complete, health)

    ascii_name, name = names or file_name(ledger, fmt)
    return StreamingResponse(
        body(),
        media_type=writer.media_type,
        headers={"Content-Disposition": content_disposition(ascii_name, name)},
    )


async def _audit(
    request: Request,
    caller: Caller,
    ledger: Ledger,
    fmt: ExportFormat,
    filters: dict[str, Any],
    rows: int,
    complete: bool,
    health: bool,
) -> None:
    event = base_event(
        request,
        caller,
        action=EXPORT_ACTION,
        result="success" if complete else "failure",
        status=200,
        object_type=ledger.name.replace("-", "_"),
        object_id=None,
        detail={
            "path": request.scope["path"],
            "format": fmt.value,
            "filters": filters,
            "rows": rows,
            "complete": complete,
            "health": health,
        },
    )
    try:
        await record_now(request.app.state.db, event)
    except Exception:  # the file is sent already; the log keeps the failure
        log.exception("could not record the export of %s (%s rows) in the audit trail", ledger.name, rows)
