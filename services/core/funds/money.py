"""The money allocated to and disbursed from funds and projects, summed per fund or per
project: one query per kind of money, never one per row, for a list or for one."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.funds.models import Allocation, Disbursement

ZERO = Decimal("0.00")


async def money_by(
    session: AsyncSession, key: Literal["fund_id", "project_id"], ids: list[int]
) -> dict[int, tuple[Decimal, Decimal]]:
    """Allocated and disbursed totals of each of ``ids`` (funds or projects, as ``key``
    says), zero where there is none yet."""
    if not ids:
        return {}
    totals: list[dict[int, Decimal]] = []
    for model in (Allocation, Disbursement):
        column = getattr(model, key)
        rows = await session.execute(select(column, func.sum(model.amount)).where(column.in_(ids)).group_by(column))
        totals.append(dict(rows.all()))
    allocated, disbursed = totals
    return {i: (allocated.get(i) or ZERO, disbursed.get(i) or ZERO) for i in ids}
