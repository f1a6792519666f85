"""监测标准: the monitoring income line per year and province (docs/domain.md "The income
line": a table, never a constant).

Lines are public figures: anyone with monitoring:read sees those of the provinces their
regions lie in. Only a caller whose regions cover a whole province may set its line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, Forbidden
from services.core.income.rules import yuan
from services.core.monitoring.models import IncomeLine
from services.core.paging import KeyPage, cursor_id, keyset_page, page_of
from services.core.regions.models import Region
from services.core.regions.rules import Level
from services.core.tuning import custom_plans


def provinces_seen_by(prefix: str) -> str | None:
    """The province a region prefix lies in, or None when it spans every province."""
    return prefix[:2] if len(prefix) >= 2 else None


def covers_province(prefix: str, province_code: str) -> bool:
    """Whether a caller with region ``prefix`` answers for the whole province."""
    return len(prefix) <= 2 and province_code.startswith(prefix)


async def list_lines(
    session: AsyncSession,
    prefix: str,
    year: int | None,
    province: str | None,
    *,
    cursor: str | None,
    limit: int,
) -> KeyPage[IncomeLine]:
    """A page of the lines the caller's regions see, newest year first (key: year, province)."""
    stmt = select(IncomeLine)
    own = provinces_seen_by(prefix)
    if own is not None:
        stmt = stmt.where(IncomeLine.province_code == own)
    if province is not None:
        stmt = stmt.where(IncomeLine.province_code == province)
    if year is not None:
        stmt = stmt.where(IncomeLine.year == year)
    return await keyset_page(session, stmt, [(IncomeLine.year, True), (IncomeLine.province_code, False)], cursor, limit)


async def get_line(
    session: AsyncSession, year: int, province_code: str, *, for_update: bool = False
) -> IncomeLine | None:
    stmt = select(IncomeLine).where(IncomeLine.year == year, IncomeLine.province_code == province_code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def check_may_set(prefix: str, province_code: str) -> None:
    """403 unless the caller answers for the whole province (the line is public, so the
    answer is 403 and never 404)."""
    if not covers_province(prefix, province_code):
        raise Forbidden("income_line_province_only", field="province_code", province=province_code)


async def set_line(
    session: AsyncSession,
    current: IncomeLine | None,
    year: int,
    province_code: str,
    amount: Decimal,
    note: str | None,
    user_id: int | None,
) -> IncomeLine:
    """Create the line or replace the current one (the caller has checked If-Match)."""
    amount = yuan(amount)
    if current is None:
        current = IncomeLine(year=year, province_code=province_code, amount=amount, note=note, updated_by=user_id)
        session.add(current)
    else:
        current.amount, current.note, current.updated_by = amount, note, user_id
    await session.flush()
    return current


async def require_lines(session: AsyncSession, year: int, region: str) -> dict[str, Decimal]:
    """The lines of ``year`` for the provinces under ``region``; 409 naming ``year`` when a
    province has none (the rule cannot be judged without it)."""
    own = provinces_seen_by(region)
    if own is not None:
        provinces: Iterable[str] = [own]
    else:
        codes = await session.execute(select(Region.code).where(Region.level == int(Level.province)))
        provinces = sorted(code[:2] for code in codes.scalars())
    found = await session.execute(
        select(IncomeLine.province_code, IncomeLine.amount).where(
            IncomeLine.year == year, IncomeLine.province_code.in_(list(provinces))
        )
    )
    lines = dict(found.all())
    missing = [p for p in provinces if p not in lines]
    if missing:
        raise Conflict("income_line_missing", field="year", year=year, province=", ".join(missing))
    return lines


# ---- the uncovered-households rule (rules.uncovered_households), executed ----------------------


async def uncovered(
    session: AsyncSession, year: int, region: str, after_id: int | None, limit: int, complete: bool | None = None
) -> list[dict[str, Any]]:
    """A page (``limit + 1`` rows, keyset on id) of the households the rule finds, each with
    its twelve months (``period``, ``quarters``, ``income_complete``)."""
    from services.core.households.models import Household
    from services.core.income.rolling import label
    from services.core.monitoring.uncovered import uncovered_households, upto_of
    from services.core.timeutil import today

    stmt = uncovered_households(year, upto_of(year, today()), region or None, complete)
    if after_id is not None:
        stmt = stmt.where(Household.id > after_id)
    # Planned for each page's values: every page after the first has the same text (the
    # cursor is a parameter), and after five of them PostgreSQL took a generic plan that
    # computed the rolling income of every formerly poor household after the cursor, then
    # sorted them to keep the page (on the loaded million: 48,819 households, 1.4 s a page
    # instead of 20–30 ms). The clue run reads the county this way too, batch by batch.
    out = []
    async with custom_plans(session):
        rows = (await session.execute(stmt.limit(limit + 1))).all()
    for row in rows:
        item = row._asdict()
        item["period"] = f"{label(item.pop('first_q'))}–{label(item.pop('last_q'))}"
        out.append(item)
    return out


async def uncovered_page(
    session: AsyncSession, year: int, region: str, cursor: str | None, limit: int, complete: bool | None = None
) -> KeyPage[dict[str, Any]]:
    """A page of ``uncovered`` after ``cursor`` (the rule's statement is ordered by id itself)."""
    rows = await uncovered(session, year, region, cursor_id(cursor), limit, complete)
    return KeyPage(*page_of(rows, limit, lambda r: [r["id"]]))


def evidence(year: int, per_capita_net: Decimal, line: Decimal, period: str) -> str:
    return (
        f"{period} 滚动12个月人均纯收入 {per_capita_net} 元，低于 {year} 年监测标准 {line} 元（脱贫户，未纳入监测）。"
        f"Per-capita net income over the twelve months {period}: {per_capita_net} yuan, below the {year} "
        f"monitoring line of {line} yuan (formerly poor, not monitored)."
    )


async def raise_uncovered_clues(
    session: AsyncSession,
    year: int,
    region: str,
    reporter: Any,
    after_batch: Callable[[], Awaitable[None]] | None = None,
    batch: int = 200,
) -> dict[str, int]:
    """A risk clue for every household the rule finds below the line under ``region`` (a
    complete year of income only: an incomplete one is never a clue on income), through the
    clue service's bulk intake (``intake.report_many``: clues merge and re-sent references are
    recognised, as by ``clues.report``). Households are read ``batch`` at a time by id, so a
    county of 300,000 households is never held at once; ``after_batch`` runs after each
    batch (the API records its audit event there, with the rows the batch wrote)."""
    from services.core.monitoring.context import load_policy_context
    from services.core.monitoring.enums import Channel, RiskType
    from services.core.monitoring.intake import report_many
    from services.core.monitoring.schemas import ClueIn
    from services.core.monitoring.uncovered import RULE_SOURCE, external_ref

    rules = await load_policy_context(session)
    counts = {"households": 0, "created": 0, "merged": 0, "duplicate": 0}
    after_id: int | None = None
    while True:
        page = await uncovered(session, year, region, after_id, batch - 1, complete=True)
        items = [
            ClueIn(
                household_id=row["id"],
                channel=Channel.department_screening,
                risk_types=[RiskType.income_below_line],
                evidence=evidence(year, row["per_capita_net"], row["line"], row["period"]),
                source=RULE_SOURCE,
                external_ref=external_ref(year, row["id"]),
            )
            for row in page
        ]
        for _, outcome in await report_many(session, rules, items, reporter):
            counts[outcome] += 1
        counts["households"] += len(page)
        if after_batch is not None and page:
            await after_batch()
        if len(page) < batch:
            return counts
        after_id = page[-1]["id"]
