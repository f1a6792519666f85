"""Small query helpers shared by the domains' services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
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
