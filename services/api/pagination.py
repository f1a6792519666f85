"""Keyset pagination: ``?limit=&cursor=`` and one page envelope, ``{items, next_cursor}``."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field

from services.core.errors import Unprocessable

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T] = Field(description="The page's items, in the list's order 本页数据")
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page. 下一页游标。"
    )


def page_limit(request: Any, limit: int | None) -> int:
    """The page size asked for, or the default, and never above the maximum (settings.paging)."""
    paging = request.app.state.settings.paging
    return min(limit or paging.default_limit, paging.max_limit)


# A cursor is base64url (unpadded) of a JSON list: the sort key of the last row given out.
# Longer input than any key we make is refused before it is decoded.
MAX_CURSOR_CHARS = 512
MAX_TEXT_KEY_CHARS = 100
_BIGINT = 2**63


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, types: tuple[type, ...], valid: Callable[[tuple[Any, ...]], bool] | None = None
) -> tuple[Any, ...] | None:
    """The key a cursor holds, one value per entry of ``types`` (``int``: a bigint >= 0;
    ``str``: text without NUL; ``date`` / ``datetime``: ISO 8601 text; ``uuid.UUID``), or None without a
    cursor. Anything else (not base64url, not JSON, another shape, a value of another type
    or out of range) is 422 ``cursor_invalid`` naming the field ``cursor``: a cursor is
    input like any other and never reaches a query unchecked. ``valid`` may hold the key to
    its range (a year, a quarter) beyond its types."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("longer than any cursor we make")
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = orjson.loads(raw)
        if type(values) is not list or len(values) != len(types):
            raise ValueError("not a list of the key's length")
        key = tuple(_key(value, kind) for value, kind in zip(values, types, strict=True))
        if valid is not None and not valid(key):
            raise ValueError("outside the key's range")
        return key
    except ValueError:  # also binascii.Error, orjson.JSONDecodeError, UnicodeEncodeError
        raise Unprocessable("cursor_invalid", field="cursor") from None


def _key(value: Any, kind: type) -> Any:
    if kind is int:
        if type(value) is int and 0 <= value < _BIGINT:  # not bool, not float
            return value
    elif kind is str:
        if type(value) is str and len(value) <= MAX_TEXT_KEY_CHARS and "\x00" not in value:
            return value
    elif kind is datetime:
        if type(value) is str and len(value) <= 40:
            return datetime.fromisoformat(value)
    elif kind is date:
        if type(value) is str and len(value) == 10:
            return date.fromisoformat(value)
    elif kind is uuid.UUID:
        if type(value) is str and len(value) == 36:
            return uuid.UUID(value)
    else:
        raise TypeError(f"no cursor key of type {kind.__name__}")
    raise ValueError("not a value of the key's type")


def cursor_id(cursor: str | None) -> int | None:
    """The id a one-key cursor (``[id]``) holds, or None without a cursor (422 when it is
    not a cursor of ours)."""
    key = decode_cursor(cursor, (int,))
    return None if key is None else key[0]


def page_of(rows: list[Any], limit: int, key) -> tuple[list[Any], str | None]:
    """``rows`` was fetched with ``limit + 1``: the extra row tells whether a next page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None


def page(rows: list[Any], limit: int, key, body) -> dict[str, Any]:
    """The page envelope of ``rows`` (fetched with ``limit + 1``): ``body`` of each item, and
    the cursor of ``key`` of the last one when a next page exists."""
    rows, next_cursor = page_of(rows, limit, key)
    return {"items": [body(row) for row in rows], "next_cursor": next_cursor}
