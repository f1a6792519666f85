"""Small query helpers shared by the domains' services."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
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


async def by_id(
    session: AsyncSession, model: Any, row_id: Any, code: str, field: str, *, for_update: bool = False
) -> Any:
    """The row of ``model`` whose ``id`` is ``row_id`` (locked with ``for_update``), or
    NotFound(code) naming ``field`` and the id (a UUID as its text): ``one_or_404`` for the
    commonest read, so that every domain's ``get_*`` answers a missing row the same way."""
    shown = str(row_id) if isinstance(row_id, uuid.UUID) else row_id
    return await one_or_404(
        session, select(model).where(model.id == row_id), code, field, for_update=for_update, id=shown
    )
