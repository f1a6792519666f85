from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from services.api import tags
from services.api.errors_doc import responses
from services.api.responses import JSON
from services.core.errors import ServiceUnavailable

router = APIRouter(tags=[tags.HEALTH])


class ProbeStatus(BaseModel):
    """What a liveness or readiness probe answers."""

    status: str


@router.get("/healthz", response_model=ProbeStatus, operation_id="healthz", summary="The process is up")
async def healthz():
    return JSON({"status": "ok"})


@router.get("/readyz", response_model=ProbeStatus, operation_id="readyz", summary="The database answers",
            responses={503: responses(503)[503]})
async def readyz(request: Request):
    try:
        async with request.app.state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        raise ServiceUnavailable("service_unavailable", headers={"Retry-After": "5"}) from None
    return JSON({"status": "ready"})
