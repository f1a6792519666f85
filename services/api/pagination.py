"""Keyset pagination in the API: the page envelope ``{items, next_cursor}`` and the page size.
The cursor codec and the query of a page are ``services.core.paging``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

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
