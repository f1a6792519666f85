"""Risk clues (线索): reported through any of the three channels, merged while open,
then dismissed with a reason or turned into a case. Every report is kept (应纳尽纳)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import idnumber
from services.core.errors import Conflict, NotFound
from services.core.households.enums import PersonStatus
from services.core.households.models import Person
from services.core.households.service import get_active_household
from services.core.monitoring import deadlines as dl
from services.core.monitoring.context import PolicyContext
from services.core.monitoring.enums import Channel, ClueStatus
from services.core.monitoring.models import ClueReport, RiskClue
from services.core.monitoring.schemas import ClueIn, Reporter
from services.core.repository import by_id
from services.core.timeutil import now, today


async def get_clue(session: AsyncSession, clue_id: int, for_update: bool = False) -> RiskClue:
    return await by_id(session, RiskClue, clue_id, "clue_not_found", "clue_id", for_update=for_update)


async def reports_of(session: AsyncSession, clue_id: int) -> list[ClueReport]:
    stmt = select(ClueReport).where(ClueReport.clue_id == clue_id).order_by(ClueReport.id)
    return list((await session.execute(stmt)).scalars())


async def _self_declared_on(session: AsyncSession, clue: RiskClue) -> date | None:
    if Channel.self_declaration.value not in clue.channels:
        return None
    stmt = select(func.min(ClueReport.reported_on)).where(
        ClueReport.clue_id == clue.id, ClueReport.channel == Channel.self_declaration
    )
    return (await session.execute(stmt)).scalar()


async def pending(session: AsyncSession, ctx: PolicyContext, clue: RiskClue) -> list[dl.Deadline]:
    return dl.clue_deadlines(
        clue.status,
        clue.first_reported_on,
        await _self_declared_on(session, clue),
        ctx.policy_for(clue.region_code),
        ctx.calendar,
    )


async def household_of(session: AsyncSession, id_number: str, id_hash_key: bytes) -> int:
    """The household of a living person with this ID number, in the caller's regions."""
    stmt = select(Person.household_id).where(
        Person.id_hash == idnumber.keyed_hash(id_number, id_hash_key),
        Person.status == PersonStatus.alive,
        Person.household_id.is_not(None),
    )
    household_id = (await session.execute(stmt)).scalar()
    if household_id is None:
        raise NotFound("person_id_number_not_found", field="id_number")
    return household_id


async def report(
    session: AsyncSession, ctx: PolicyContext, data: ClueIn, reporter: Reporter, id_hash_key: bytes | None = None
) -> tuple[RiskClue, str]:
    """Record a report. Returns the clue and "created", "merged" (an open clue of the same
    household sharing a risk type took it) or "duplicate" (the source's reference is known:
    nothing new is written). A report naming a person by ID number needs ``id_hash_key``.
    Many reports at once: ``intake.report_many``, which does the same for each."""
    if data.external_ref is not None:
        known = (
            await session.execute(
                select(ClueReport.clue_id).where(
                    ClueReport.source == data.source, ClueReport.external_ref == data.external_ref
                )
            )
        ).scalar()
        if known is not None:
            return await get_clue(session, known), "duplicate"
    household_id = data.household_id
    if household_id is None:
        assert data.id_number is not None and id_hash_key is not None
        household_id = await household_of(session, data.id_number, id_hash_key)
    # Locks the household: concurrent reports for it are merged one after the other.
    household = await get_active_household(session, household_id)
    reported_on = data.reported_on or today()
    risks = [r.value for r in data.risk_types]
    stmt = (
        select(RiskClue)
        .where(
            RiskClue.household_id == household.id,
            RiskClue.status == ClueStatus.open,
            RiskClue.risk_types.overlap(risks),
        )
        .order_by(RiskClue.id)
        .limit(1)
        .with_for_update()
    )
    clue = (await session.execute(stmt)).scalar_one_or_none()
    if clue is None:
        outcome = "created"
        clue = RiskClue(
            household_id=household.id,
            region_code=household.region_code,
            risk_types=risks,
            channels=[data.channel.value],
            status=ClueStatus.open,
            first_reported_on=reported_on,
            report_count=1,
            deadline_breaches=[],
        )
        session.add(clue)
        await session.flush()
    else:
        outcome = "merged"
        clue.risk_types = clue.risk_types + [r for r in risks if r not in clue.risk_types]
        if data.channel.value not in clue.channels:
            clue.channels = [*clue.channels, data.channel.value]
        clue.first_reported_on = min(clue.first_reported_on, reported_on)
        clue.report_count += 1
    session.add(
        ClueReport(
            clue_id=clue.id,
            region_code=clue.region_code,
            channel=data.channel,
            risk_types=risks,
            evidence=data.evidence,
            attachments=[a.model_dump() for a in data.attachments],
            reported_on=reported_on,
            reporter_user_id=reporter.user_id,
            reporter_client_id=reporter.client_id,
            declarant_name=data.declarant_name,
            declarant_phone=data.declarant_phone,
            source=data.source,
            external_ref=data.external_ref,
        )
    )
    await session.flush()
    dl.store_next(clue, await pending(session, ctx, clue))
    await session.flush()
    return clue, outcome


def _require_open(clue: RiskClue) -> None:
    if clue.status != ClueStatus.open:
        raise Conflict("clue_not_open", field="clue_id", id=clue.id, status=clue.status.value)


async def close(
    session: AsyncSession,
    ctx: PolicyContext,
    clue: RiskClue,
    status: ClueStatus,
    actor_id: int | None,
    *,
    reason: str | None = None,
    case_id: int | None = None,
    on: date | None = None,
) -> None:
    """Dismiss the clue or mark it converted; a deadline it met late is recorded."""
    _require_open(clue)
    before = await pending(session, ctx, clue)
    clue.status = status
    clue.dismissal_reason = reason
    clue.case_id = case_id
    clue.handled_by = actor_id
    clue.handled_at = now()
    late = dl.breaches(before, [], on or today())
    if late:
        clue.deadline_breaches = list(clue.deadline_breaches) + late
    dl.store_next(clue, [])
    await session.flush()
