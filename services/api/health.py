from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from services.api import tags
from services.api.errors_doc import responses
from services.api.responses import JSON
from services.core.errors import ServiceUnavailable

router = APIRouter(tags=[tags.HEALTH])


class ProbeStatus(BaseModel):
    """What a liveness or readiness probe answers."""

    status: str = Field(description="`ok` when the probe passes 状态")


@router.get("/healthz", response_model=ProbeStatus, operation_id="healthz", summary="The process is up")
async def healthz():
    """Liveness probe: answers `{"status": "ok"}` while the process runs, without touching the database. No login.
    存活检查。"""
    return JSON({"status": "ok"})


@router.get(
    "/readyz",
    response_model=ProbeStatus,
    operation_id="readyz",
    summary="The database answers",
    responses={503: responses(503)[503]},
)
async def readyz(request: Request):
    """Readiness probe: `{"status": "ok"}` when the database answers a query, 503 otherwise. No login. 就绪检查。"""
    try:
        async with request.app.state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready
        raise ServiceUnavailable("service_unavailable", headers={"Retry-After": "5"}) from None
    return JSON({"status": "ready"})
