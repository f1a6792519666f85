"""Small query helpers shared by the domains' services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound


async def one_or_404(
    session: AsyncSession, stmt: Select, code: str, field: str, *, for_update: bool = False, **params: Any
) -> Any:
    """The single row of a scoped query, or NotFound(code) — the same answer whether the row
    does not exist or lies outside the caller's regions."""
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(code, field=field, **params)
    return row


def keyset(stmt: Select, order: Sequence[tuple[Any, bool]], after: Sequence[Any] | None, limit: int) -> Select:
    """``stmt`` ordered by ``order`` (column, descending) pairs, a unique key, from the row
    after ``after`` (that key's values, or None for the first page), ``limit + 1`` rows: the
    extra row tells the caller that a next page exists (``services.api.pagination.page_of``)."""
    if after is not None:
        stmt = stmt.where(
            or_(
                *(
                    and_(
                        *(c == v for (c, _), v in zip(order[:i], after[:i], strict=True)),
                        col < after[i] if desc else col > after[i],
                    )
                    for i, (col, desc) in enumerate(order)
                )
            )
        )
    return stmt.order_by(*(col.desc() if desc else col for col, desc in order)).limit(limit + 1)
