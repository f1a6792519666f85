"""Department spreadsheets in over the API: ``POST /api/v1/sync/sources/{name}/imports``.
Thin: check the target and the file, then ``services.worker.uploads`` (the command line's
import, run here) and the per-row report."""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from services.api import tags
from services.api.auditing import base_event
from services.api.deps import Session
from services.api.errors_doc import responses
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.api.sync.router import SourcePath, SyncRunner
from services.core.audit import AuditRecord, record
from services.core.errors import Conflict, Unprocessable, UnsupportedMediaType
from services.core.sync import runs, service
from services.core.sync.config import load_sources
from services.core.sync.enums import RunStatus
from services.core.sync.normalise import Normaliser
from services.worker import uploads
from services.worker.sheets import SheetError

router = APIRouter(prefix="/api/v1/sync", route_class=GuardlineRoute)

# The paths whose bodies may reach ``sync.max_upload_bytes`` (``middleware.RequestContext``).
UPLOAD_PATHS = re.compile(r"^/api/v1/sync/sources/[^/]+/imports$")
HEAD_BYTES = 8192


class QuarantinedRow(BaseModel):
    row: int | None = Field(description="Row number in the file (1 = the first row) 行号")
    reason: str = Field(description="Why it was quarantined, a reason code (docs/sync-input-limits.md) 隔离原因")
    field: str | None = Field(description="The field at fault, if one 出错字段")
    detail: str | None = Field(description="What was wrong with the value (never a full ID number) 详细说明")


class ImportReport(BaseModel):
    run_id: int = Field(description="The import's sync run 同步任务标识")
    source: str = Field(description="The source's name 数据源名称")
    county: str = Field(description="County code, 6 digits 县级区划代码")
    file_name: str = Field(description="The file's name 文件名")
    status: RunStatus = Field(description="How the run ended 运行状态")
    rows: int = Field(description="Data rows read (blank rows and the header not counted) 数据行数")
    accepted: int = Field(description="Rows taken in (staged new or changed, or unchanged) 接收行数")
    quarantined: int = Field(description="Rows quarantined 隔离行数")
    accepted_rows: list[list[int]] = Field(
        description="The accepted rows' numbers, as [first, last] runs 接收的行号（连续区间）"
    )
    quarantined_rows: list[QuarantinedRow] = Field(description="Each quarantined row, with why 隔离明细")
    staged: int = Field(description="Records new or changed 新增或变更记录数")
    unchanged: int = Field(description="Records as they were already 未变化记录数")
    findings_open: int | None = Field(
        description="Open findings of the source in the county after the run 未解决问题数"
    )


def _safe_name(name: str | None) -> str:
    """The uploaded file's own name, as a plain file name (no directories, no control characters)."""
    base = Path((name or "").replace("\\", "/")).name
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    if len(base) > 100:
        stem, dot, suffix = base.rpartition(".")
        base = stem[: 95 - len(suffix)] + dot + suffix if dot else base[:100]
    return base or "upload"


def _save(upload: Any, path: Path) -> bytes:
    """Copy the upload to ``path``; its first bytes."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    with path.open("wb") as out:
        out.write(head)
        shutil.copyfileobj(upload, out, 1 << 20)
    return head


@router.post(
    "/sources/{name}/imports",
    response_model=ImportReport,
    operation_id="importSpreadsheet",
    tags=[tags.SYNC],
    responses=responses(404, 409, 413, 415),
    summary="Import a department spreadsheet 上传导入部门数据表",
    description="A department's file for `county` (multipart/form-data: fields `county` and `file`): .xlsx, .xls (Excel 97–2003) or .csv "
    "(UTF-8 or GB18030), read exactly as `guardline sync import` reads it — the same header search, "
    "normaliser, quarantine and reconciliation — and answered with a per-row report: the accepted rows "
    "and each quarantined row with its number and reason. The file is checked whole first: another kind "
    "of file answers 415, a damaged one, one without a header row or one too large to read safely 422, a "
    "body over `sync.max_upload_bytes` 413 — and then nothing is imported. While a run of the source and "
    "county is queued or running, 409. Needs sync:run; the county must be yours and served by the source.",
)
async def import_spreadsheet(
    request: Request,
    name: SourcePath,
    session: Session,
    caller: SyncRunner,
    county: Annotated[str, Form(pattern=r"^\d{6}$", description="County code, 6 digits 县级区划代码")],
    file: Annotated[UploadFile, File(description="The spreadsheet (.xlsx, .xls or .csv) 数据表文件")],
):
    from services.worker import worker as w

    settings = request.app.state.settings
    source = service.check_target(load_sources(settings), name, county, caller.region_prefix)
    file_name = _safe_name(file.filename)
    with tempfile.TemporaryDirectory(prefix="guardline-upload-") as directory:
        path = Path(directory) / file_name
        head = await anyio.to_thread.run_sync(_save, file.file, path)
        try:
            uploads.check_kind(path, head)
        except uploads.KindError as exc:
            error = Unprocessable if exc.code == "upload_empty" else UnsupportedMediaType
            raise error(exc.code, field="file", **exc.params) from None
        try:
            numbers = await anyio.to_thread.run_sync(uploads.survey, path, Normaliser(source), settings.sync)
        except (SheetError, OSError) as exc:
            code = uploads.SHEET_PROBLEMS.get(getattr(exc, "code", "unreadable"), "upload_unreadable")
            raise Unprocessable(code, field="file", file=file_name, detail=str(exc)[:300]) from None
        worker = await w.Session.open(settings)
        try:
            try:
                run = await w.import_file(worker, source, county, path, lambda _run: None)
            except RuntimeError:
                raise Conflict("sync_import_busy", field="county", source=name, county=county) from None
            await runs.requested_by(worker.ctx.pool, run["id"], caller.user_id)
            report = await uploads.report(worker.ctx.pool, name, county, run["id"], numbers)
        finally:
            await worker.close()
    body: dict[str, Any] = {
        "run_id": run["id"],
        "source": name,
        "county": county,
        "file_name": file_name,
        "status": run.get("status"),
        "rows": report.rows,
        "accepted": report.accepted,
        "quarantined": len(report.quarantined_rows),
        "accepted_rows": report.accepted_rows,
        "quarantined_rows": report.quarantined_rows,
        "staged": run.get("staged") or 0,
        "unchanged": run.get("unchanged") or 0,
        "findings_open": run.get("findings_open"),
    }
    await record(
        session,
        AuditRecord(
            **base_event(
                request,
                caller,
                action="sync.import_upload",
                object_type="sync_run",
                object_id=str(run["id"]),
                status=200,
                detail={
                    "source": name,
                    "county": county,
                    "file": file_name,
                    "rows": report.rows,
                    "accepted": report.accepted,
                    "quarantined": len(report.quarantined_rows),
                    "status": run.get("status"),
                },
            )
        ),
    )
    request.state.audited = True
    return JSON(body)
