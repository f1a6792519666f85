"""JSON rendering with orjson: Decimal as a string with two places ("8500.00"), dates ISO."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse

from services.core.timeutil import CHINA


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        # Times are shown in China time, whatever zone the driver returned.
        return (obj.astimezone(CHINA) if obj.tzinfo else obj).isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID) or type(obj).__name__ == "UUID":  # asyncpg returns its own UUID type
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)


class JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class ProblemJSON(JSON):
    media_type = "application/problem+json"


NO_STORE = {"Cache-Control": "no-store"}


def resource_response(
    body: dict[str, Any],
    tag: str,
    *,
    status: int = 200,
    location: str | None = None,
    secret: tuple[str, str] | None = None,
) -> JSON:
    """A resource's answer with its ETag (``tag``); a 201 names it in ``Location``. A secret
    shown once (``secret``: its member and value — a client's or a subscription's) makes the
    answer ``no-store``, so that no cache and no stored idempotent replay keeps it."""
    headers = {"ETag": tag}
    if secret is not None:
        body = {**body, secret[0]: secret[1]}
        headers.update(NO_STORE)
    if status == 201 and location is not None:
        headers["Location"] = location
    return JSON(body, status_code=status, headers=headers)


def etag(kind: str, ident: Any, version: int) -> str:
    """Strong ETag naming the resource and its version, e.g. "household-12-v3"."""
    return f'"{kind}-{ident}-v{version}"'
