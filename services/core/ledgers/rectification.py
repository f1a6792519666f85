"""The rectification ledger (问题整改, seeds 002, 003, 004 §18): problems found by
inspections (督查、暗访), audits, assessments (考核评估) or the system's own findings, each
with its source, responsible unit, deadline, progress steps and evidence.

A problem is closed (销号) in two hands: someone records the closure request with its
evidence, and a second person with the approver's permission approves it — never the one
who requested it (``check_not_own``). A refusal sends it back to rectification.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, Forbidden, Unprocessable
from services.core.households.models import Household
from services.core.ledgers.enums import ProblemSource, RectificationStatus
from services.core.ledgers.models import Rectification, RectificationStep
from services.core.ledgers.schemas import ClosureRequestIn, DecisionIn, RectificationIn, RectificationStepIn
from services.core.monitoring.context import PolicyContext, load_policy_context
from services.core.paging import KeyPage, keyset_page
from services.core.regions.rules import prefix_of
from services.core.regions.service import get_region
from services.core.repository import by_id
from services.core.scope import under
from services.core.timeutil import today as china_today

OPEN = (RectificationStatus.open, RectificationStatus.closure_requested)


# ---------------------------------------------------------------- pure rules


def rectification_deadline(ctx: PolicyContext, region_code: str, found_on: date) -> tuple[date, bool]:
    """Rectify by (整改时限): the policy's ``rectification_days`` (working days by default, on
    the official calendar) from the day the problem was found."""
    policy = ctx.policy(region_code, found_on.year)
    return ctx.calendar.add(found_on, policy.rectification_days, policy.rectification_unit)


def check_not_own(requested_by: int | None, approver_id: int | None) -> None:
    """Two hands (审批与申请分离): the approver is not the one who requested the closure."""
    if requested_by is not None and requested_by == approver_id:
        raise Forbidden("approve_own_request", field="approve")


def is_overdue(status: RectificationStatus, deadline: date, on: date) -> bool:
    """Not closed after the deadline day (超期未整改销号)."""
    return status != RectificationStatus.closed and on > deadline


# ---------------------------------------------------------------- writes


async def create(session: AsyncSession, data: RectificationIn, actor_id: int | None) -> Rectification:
    region = await get_region(session, data.region_code)
    if data.household_id is not None:
        household = await by_id(session, Household, data.household_id, "household_not_found", "household_id")
        if not household.region_code.startswith(prefix_of(region.code)):
            raise Unprocessable("household_outside_region", field="household_id", id=household.id, region=region.code)
    found_on = data.found_on or china_today()
    ctx = await load_policy_context(session)
    deadline, provisional = rectification_deadline(ctx, region.code, found_on)
    row = Rectification(
        region_code=region.code,
        source=ProblemSource(data.source),
        source_ref=data.source_ref,
        title=data.title,
        description=data.description,
        responsible_unit=data.responsible_unit,
        household_id=data.household_id,
        found_on=found_on,
        deadline=deadline,
        deadline_provisional=provisional,
        status=RectificationStatus.open,
        evidence_refs=[],
        created_by=actor_id,
    )
    session.add(row)
    await session.flush()
    return row


def _not_closed(row: Rectification) -> None:
    if row.status == RectificationStatus.closed:
        raise Conflict("rectification_closed", field="rectification_id", id=row.id)


async def add_step(
    session: AsyncSession, row: Rectification, data: RectificationStepIn, actor_id: int | None
) -> RectificationStep:
    _not_closed(row)
    done_on = data.done_on or china_today()
    if done_on < row.found_on:
        raise Unprocessable(
            "date_before_opening", field="done_on", date=done_on.isoformat(), earliest=row.found_on.isoformat()
        )
    step = RectificationStep(
        rectification_id=row.id,
        region_code=row.region_code,
        done_on=done_on,
        content=data.content,
        refs=list(data.refs),
        recorded_by=actor_id,
    )
    session.add(step)
    await session.flush()
    return step


async def request_closure(
    session: AsyncSession, row: Rectification, data: ClosureRequestIn, actor_id: int | None
) -> Rectification:
    if row.status != RectificationStatus.open:
        raise Conflict("rectification_not_open", field="rectification_id", id=row.id, status=row.status.value)
    row.status = RectificationStatus.closure_requested
    row.evidence = data.evidence
    row.evidence_refs = list(data.evidence_refs)
    row.closure_requested_by = actor_id
    row.closure_requested_on = china_today()
    row.decision_note = None
    await session.flush()
    return row


async def decide(session: AsyncSession, row: Rectification, data: DecisionIn, actor_id: int | None) -> Rectification:
    if row.status != RectificationStatus.closure_requested:
        raise Conflict("rectification_no_request", field="rectification_id", id=row.id, status=row.status.value)
    check_not_own(row.closure_requested_by, actor_id)
    row.decision_note = data.note
    if data.approve:
        row.status = RectificationStatus.closed
        row.approved_by = actor_id
        row.closed_on = china_today()
    else:
        row.status = RectificationStatus.open
    await session.flush()
    return row


# ---------------------------------------------------------------- reads


async def get(session: AsyncSession, row_id: int, *, for_update: bool = False) -> Rectification:
    return await by_id(
        session, Rectification, row_id, "rectification_not_found", "rectification_id", for_update=for_update
    )


async def steps_of(session: AsyncSession, row_id: int) -> list[RectificationStep]:
    stmt = (
        select(RectificationStep)
        .where(RectificationStep.rectification_id == row_id)
        .order_by(RectificationStep.done_on, RectificationStep.id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_rows(
    session: AsyncSession,
    *,
    region: str | None = None,
    source: ProblemSource | None = None,
    status: RectificationStatus | None = None,
    overdue: bool | None = None,
    on: date | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[Rectification]:
    stmt = select(Rectification)
    if region is not None:
        stmt = stmt.where(under(Rectification.region_code, region))
    if source is not None:
        stmt = stmt.where(Rectification.source == source)
    if status is not None:
        stmt = stmt.where(Rectification.status == status)
    if overdue is not None:
        day = on or china_today()
        late = (Rectification.status != RectificationStatus.closed) & (Rectification.deadline < day)
        stmt = stmt.where(late if overdue else ~late)
    return await keyset_page(session, stmt, [(Rectification.id, True)], cursor, limit)
