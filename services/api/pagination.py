"""Keyset pagination: ``?limit=&cursor=`` and one page envelope, ``{items, next_cursor}``."""
from __future__ import annotations

import base64
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field

from services.core.errors import Unprocessable

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page. 下一页游标。"
    )


def page_limit(request: Any, limit: int | None) -> int:
    """The page size asked for, or the default, and never above the maximum (settings.paging)."""
    paging = request.app.state.settings.paging
    return min(limit or paging.default_limit, paging.max_limit)


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int = 1) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise Unprocessable("cursor_invalid", field="cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise Unprocessable("cursor_invalid", field="cursor")
    return values


def cursor_id(cursor: str | None) -> int | None:
    """The id a one-key cursor (``[id]``) holds, or None without a cursor (422 when it is
    not a cursor of ours)."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    if type(values[0]) is not int or not 0 <= values[0] < 2**63:
        raise Unprocessable("cursor_invalid", field="cursor")
    return values[0]


def page_of(rows: list[Any], limit: int, key) -> tuple[list[Any], str | None]:
    """``rows`` was fetched with ``limit + 1``: the extra row tells whether a next page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None
