"""Monitoring cases: opening from clues, the steps of the state machine, measures, visits,
the assistance cadre, and the bookkeeping of deadlines (the nearest one stored on the case,
late ones recorded as breaches)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.accounts.roles import PERMISSIONS, Permission
from services.core.errors import Conflict, Unprocessable
from services.core.households.service import get_active_household
from services.core.monitoring import clues as clue_service
from services.core.monitoring import deadlines as dl
from services.core.monitoring.context import PolicyContext
from services.core.monitoring.enums import (
    OPEN,
    UNDER_ASSISTANCE,
    Action,
    CaseStatus,
    ClueStatus,
    DeadlineKind,
    MeasureStatus,
)
from services.core.monitoring.machine import allowed
from services.core.monitoring.models import (
    CaseTransition,
    Measure,
    MonitoringCase,
    RiskClue,
    Visit,
    VisitBreach,
)
from services.core.monitoring.schemas import CadreIn, CaseFromClue, MeasureIn, MeasureUpdate, Reporter, VisitIn
from services.core.paging import KeyPage, keyset_page
from services.core.repository import by_id
from services.core.scope import under
from services.core.timeutil import today


async def get_case(session: AsyncSession, case_id: int, for_update: bool = False) -> MonitoringCase:
    return await by_id(session, MonitoringCase, case_id, "case_not_found", "case_id", for_update=for_update)


# Pages of a case's rows (``paging.keyset_page``), each in its order, ending in a unique key.
TRANSITION_ORDER = [(CaseTransition.id, False)]
MEASURE_ORDER = [(Measure.start_on, False), (Measure.created_at, False), (Measure.id, False)]
VISIT_ORDER = [(Visit.visited_on, False), (Visit.created_at, False), (Visit.id, False)]
BREACH_ORDER = [(VisitBreach.month, False)]  # one breach per case and month


async def transitions_of(
    session: AsyncSession, case_id: int, *, cursor: str | None, limit: int
) -> KeyPage[CaseTransition]:
    stmt = select(CaseTransition).where(CaseTransition.case_id == case_id)
    return await keyset_page(session, stmt, TRANSITION_ORDER, cursor, limit)


async def measures_of(session: AsyncSession, case_id: int, *, cursor: str | None, limit: int) -> KeyPage[Measure]:
    stmt = select(Measure).where(Measure.case_id == case_id)
    return await keyset_page(session, stmt, MEASURE_ORDER, cursor, limit)


async def visits_of(session: AsyncSession, case_id: int, *, cursor: str | None, limit: int) -> KeyPage[Visit]:
    stmt = select(Visit).where(Visit.case_id == case_id)
    return await keyset_page(session, stmt, VISIT_ORDER, cursor, limit)


# The measures and visits of a region, not of one case (the ledgers, ``services.api.exports``):
# by id, the primary key, so that each batch continues where the last one ended on the index.
REGION_MEASURE_ORDER = [(Measure.id, False)]
REGION_VISIT_ORDER = [(Visit.id, False)]


async def measures_in(
    session: AsyncSession, *, region: str | None, case_id: int | None, cursor: str | None, limit: int
) -> KeyPage[Measure]:
    """The measures in the caller's regions (under ``region``, of ``case_id`` when given)."""
    stmt = select(Measure)
    if region is not None:
        stmt = stmt.where(under(Measure.region_code, region))
    if case_id is not None:
        stmt = stmt.where(Measure.case_id == case_id)
    return await keyset_page(session, stmt, REGION_MEASURE_ORDER, cursor, limit)


async def visits_in(
    session: AsyncSession, *, region: str | None, case_id: int | None, cursor: str | None, limit: int
) -> KeyPage[Visit]:
    """The visits in the caller's regions (under ``region``, of ``case_id`` when given)."""
    stmt = select(Visit)
    if region is not None:
        stmt = stmt.where(under(Visit.region_code, region))
    if case_id is not None:
        stmt = stmt.where(Visit.case_id == case_id)
    return await keyset_page(session, stmt, REGION_VISIT_ORDER, cursor, limit)


# ---------------------------------------------------------------- deadlines


async def _counted_visits(
    session: AsyncSession, ctx: PolicyContext, cases: Sequence[MonitoringCase]
) -> dict[int, list[date]]:
    """Dates of the visits that count towards the monthly visit, per case (identified ones)."""
    ids = [c.id for c in cases if c.identified_on is not None and c.status in UNDER_ASSISTANCE]
    out: dict[int, list[date]] = defaultdict(list)
    if not ids:
        return out
    rows = await session.execute(select(Visit.case_id, Visit.visited_on, Visit.mode).where(Visit.case_id.in_(ids)))
    by_id = {c.id: c for c in cases}
    for case_id, visited_on, mode in rows:
        case = by_id[case_id]
        policy = ctx.policy(case.region_code, visited_on.year)
        if mode in policy.visit_modes_counted:
            out[case_id].append(visited_on)
    return out


async def _breached_months(session: AsyncSession, cases: Sequence[MonitoringCase]) -> dict[int, set[date]]:
    """The months recorded as missed (first days), per case (identified ones)."""
    ids = [c.id for c in cases if c.identified_on is not None and c.status in UNDER_ASSISTANCE]
    out: dict[int, set[date]] = defaultdict(set)
    if ids:
        rows = await session.execute(select(VisitBreach.case_id, VisitBreach.month).where(VisitBreach.case_id.in_(ids)))
        for case_id, month in rows:
            out[case_id].add(month)
    return out


async def pending(session: AsyncSession, ctx: PolicyContext, case: MonitoringCase) -> list[dl.Deadline]:
    visits = (await _counted_visits(session, ctx, [case]))[case.id]
    breached = (await _breached_months(session, [case]))[case.id]
    return dl.case_deadlines(case, visits, ctx.policy_for(case.region_code), ctx.calendar, breached)


async def record_missed_visits(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, as_of: date
) -> list[VisitBreach]:
    """Record each month of assistance that ended before ``as_of`` without its visits, once
    (the unique key (case, month) makes a second run, or a concurrent one, add nothing), on
    the breach table and on the case's ``deadline_breaches`` (met_on null: missed). The
    case's visit deadline then moves on to the next month lacking visits, at the latest the
    month of ``as_of``. Returns the breaches recorded now. ``case`` is locked."""
    if case.identified_on is None or case.status not in UNDER_ASSISTANCE:
        return []
    visits = (await _counted_visits(session, ctx, [case]))[case.id]
    breached = set((await _breached_months(session, [case]))[case.id])
    recorded: list[VisitBreach] = []
    notes: list[dict] = []
    while True:
        deadlines = dl.case_deadlines(case, visits, ctx.policy_for(case.region_code), ctx.calendar, breached)
        visit = next((d for d in deadlines if d.kind == DeadlineKind.monthly_visit), None)
        if visit is None or visit.due >= as_of:
            break
        month = visit.due.replace(day=1)
        policy = ctx.policy(case.region_code, month.year)
        made = dl.visits_in(month, visits)
        inserted = (
            await session.execute(
                insert(VisitBreach)
                .values(
                    case_id=case.id,
                    household_id=case.household_id,
                    region_code=case.region_code,
                    cadre_user_id=case.cadre_user_id,
                    month=month,
                    required=policy.visits_per_month,
                    made=made,
                    recorded_on=as_of,
                )
                .on_conflict_do_nothing(index_elements=[VisitBreach.case_id, VisitBreach.month])
                .returning(VisitBreach.id)
            )
        ).scalar()
        breached.add(month)
        if inserted is not None:
            recorded.append(await session.get_one(VisitBreach, inserted))
            notes.append(
                {
                    "kind": DeadlineKind.monthly_visit.value,
                    "due": visit.due.isoformat(),
                    "met_on": None,
                    "required": policy.visits_per_month,
                    "made": made,
                }
            )
    if notes:
        case.deadline_breaches = list(case.deadline_breaches) + notes
    dl.store_next(case, dl.case_deadlines(case, visits, ctx.policy_for(case.region_code), ctx.calendar, breached))
    await session.flush()
    return recorded


async def record_missed_visits_under(
    session: AsyncSession, ctx: PolicyContext, prefix: str, as_of: date, batch: int = 500
) -> int:
    """``record_missed_visits`` for every case under ``prefix`` whose nearest deadline has
    passed (read from the deadline index). Idempotent; run daily by the worker. Returns
    how many breaches were recorded."""
    count = 0
    last = 0
    while True:
        stmt = (
            select(MonitoringCase)
            .where(
                MonitoringCase.next_deadline < as_of,
                MonitoringCase.status.in_(UNDER_ASSISTANCE),
                MonitoringCase.identified_on.is_not(None),
                MonitoringCase.id > last,
                under(MonitoringCase.region_code, prefix),
            )
            .order_by(MonitoringCase.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        cases = list((await session.execute(stmt)).scalars())
        if not cases:
            return count
        for case in cases:
            count += len(await record_missed_visits(session, ctx, case, as_of))
        last = cases[-1].id


async def visit_breaches_of(
    session: AsyncSession, case_id: int, *, cursor: str | None, limit: int
) -> KeyPage[VisitBreach]:
    stmt = select(VisitBreach).where(VisitBreach.case_id == case_id)
    return await keyset_page(session, stmt, BREACH_ORDER, cursor, limit)


async def _track(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, before: list[dl.Deadline], met_on: date
) -> list[dict]:
    """After a change: store the nearest pending deadline; record those met late."""
    await session.flush()
    after = await pending(session, ctx, case)
    late = dl.breaches(before, after, met_on)
    if late:
        case.deadline_breaches = list(case.deadline_breaches) + late
    dl.store_next(case, after)
    return late


async def _locked_batches(
    session: AsyncSession, model: Any, open_: ColumnElement[bool], prefix: str, batch: int
) -> AsyncIterator[list[Any]]:
    """The open rows of ``model`` under ``prefix`` in batches by id, each batch locked and
    read only once the caller is done with the one before."""
    last = 0
    while True:
        stmt = (
            select(model)
            .where(open_, model.id > last, under(model.region_code, prefix))
            .order_by(model.id)
            .limit(batch)
            .with_for_update()
        )
        rows = list((await session.execute(stmt)).scalars())
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _stored_deadline(row: MonitoringCase | RiskClue) -> tuple[Any, ...]:
    return (row.next_deadline, row.next_deadline_kind, row.deadline_provisional)


async def refresh_deadlines(session: AsyncSession, ctx: PolicyContext, prefix: str, batch: int = 2000) -> int:
    """Recompute the stored deadlines of every open case and clue under ``prefix`` (after
    the policy or the calendar changed). Returns how many rows changed."""
    changed = 0
    async for cases in _locked_batches(session, MonitoringCase, MonitoringCase.status.in_(OPEN), prefix, batch):
        visits = await _counted_visits(session, ctx, cases)
        breached = await _breached_months(session, cases)
        for case in cases:
            new = dl.case_deadlines(
                case, visits[case.id], ctx.policy_for(case.region_code), ctx.calendar, breached[case.id]
            )
            old = _stored_deadline(case)
            dl.store_next(case, new)
            changed += old != _stored_deadline(case)
        await session.flush()
    async for clues in _locked_batches(session, RiskClue, RiskClue.status == ClueStatus.open, prefix, batch):
        for clue in clues:
            old = _stored_deadline(clue)
            dl.store_next(clue, await clue_service.pending(session, ctx, clue))
            changed += old != _stored_deadline(clue)
        await session.flush()
    return changed


# ---------------------------------------------------------------- opening


async def open_from_clue(
    session: AsyncSession, ctx: PolicyContext, clue: RiskClue, data: CaseFromClue, actor: Reporter
) -> tuple[MonitoringCase, bool]:
    """Turn an open clue into a case. The household's open case, if it has one, takes the
    clue's risks instead (one open case per household); a household whose last case was
    eliminated gets a new case linked to it. Returns the case and whether it is new."""
    household = await get_active_household(session, clue.household_id)  # locks the household
    day = data.effective_on or today()
    if day < clue.first_reported_on:
        raise Unprocessable(
            "effective_before_previous", field="effective_on", previous=clue.first_reported_on.isoformat()
        )
    current = (
        await session.execute(
            select(MonitoringCase)
            .where(MonitoringCase.household_id == household.id, MonitoringCase.status.in_(OPEN))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if current is not None:
        before = await pending(session, ctx, current)
        added = [r for r in clue.risk_types if r not in current.risk_types]
        if added:
            current.risk_types = current.risk_types + added
        session.add(
            transition(
                current,
                Action.add_risks,
                actor,
                day,
                from_status=current.status,
                to_status=current.status,
                details={"clue_id": clue.id, "added": added},
                comment=data.comment,
            )
        )
        await clue_service.close(session, ctx, clue, ClueStatus.converted, actor.user_id, case_id=current.id, on=day)
        await _track(session, ctx, current, before, day)
        return current, False
    previous = (
        await session.execute(
            select(MonitoringCase.id)
            .where(MonitoringCase.household_id == household.id, MonitoringCase.status == CaseStatus.eliminated)
            .order_by(MonitoringCase.id.desc())
            .limit(1)
        )
    ).scalar()
    case = MonitoringCase(
        household_id=household.id,
        region_code=household.region_code,
        case_type=data.case_type,
        risk_types=list(clue.risk_types),
        status=CaseStatus.verification,
        first_clue_on=clue.first_reported_on,
        opened_on=day,
        deadline_breaches=[],
        reopened_from_id=previous,
    )
    session.add(case)
    await session.flush()
    session.add(
        transition(
            case,
            Action.open,
            actor,
            day,
            from_status=None,
            to_status=case.status,
            details={"clue_id": clue.id, **({"reopened_from": previous} if previous else {})},
            comment=data.comment,
        )
    )
    await clue_service.close(session, ctx, clue, ClueStatus.converted, actor.user_id, case_id=case.id, on=day)
    await _track(session, ctx, case, [], day)
    return case, True


def transition(
    case: MonitoringCase,
    action: Action,
    actor: Reporter,
    day: date,
    *,
    from_status: CaseStatus | None,
    to_status: CaseStatus,
    details: dict[str, Any],
    comment: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> CaseTransition:
    """A row of the case's history (一案一档): ``action`` taken on ``day`` by ``actor``, from
    one step to another (the same one for actions that do not move the case)."""
    return CaseTransition(
        case_id=case.id,
        region_code=case.region_code,
        action=action,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
        attachments=[] if attachments is None else attachments,
        details=details,
        effective_on=day,
        actor_user_id=actor.user_id,
        actor_client_id=actor.client_id,
    )


# ---------------------------------------------------------------- steps


def not_allowed(case: MonitoringCase, action: Action) -> Conflict:
    return Conflict(
        "transition_not_allowed",
        field="status",
        status=case.status.value,
        action=action.value,
        extra={"allowed": allowed(case.status)},
    )


# ---------------------------------------------------------------- cadre, measures, visits

ASSISTING_ROLES = frozenset(role for role, perms in PERMISSIONS.items() if Permission.cases_assist in perms)


async def assign_cadre(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, data: CadreIn, actor: Reporter
) -> MonitoringCase:
    if case.status not in OPEN:
        raise not_allowed(case, Action.assign_cadre)
    cadre = await _eligible_cadre(session, case, data.cadre_user_id, "cadre_user_id")
    day = data.assigned_on or today()
    before = await pending(session, ctx, case)
    case.cadre_user_id = cadre.id
    case.cadre_assigned_on = day
    session.add(
        transition(
            case,
            Action.assign_cadre,
            actor,
            day,
            from_status=case.status,
            to_status=case.status,
            details={"cadre_user_id": cadre.id},
        )
    )
    await _track(session, ctx, case, before, day)
    await session.flush()
    return case


async def _eligible_cadre(session: AsyncSession, case: MonitoringCase, user_id: int, field: str) -> User:
    """An active user whose role assists households and whose regions include the case."""
    user = await session.get(User, user_id)
    if (
        user is None
        or not user.active
        or user.role not in ASSISTING_ROLES
        or not case.region_code.startswith(user.region_prefix)
    ):
        raise Unprocessable("cadre_not_eligible", field=field, id=user_id)
    return user


def _same(existing: Any, data: Any, fields: Sequence[str]) -> bool:
    for name in fields:
        value = getattr(data, name)
        if isinstance(value, list):
            value = [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
        if getattr(existing, name) != value:
            return False
    return True


async def _sent_again(session: AsyncSession, model: Any, case: MonitoringCase, data: Any, fields: Sequence[str]) -> Any:
    """The stored row a client sends again under its own id (after working offline), or
    None for a new one. The same id with other values, or for another case, is a
    conflict: a client id names one measure or visit for ever."""
    if data.id is None:
        return None
    existing = (await session.execute(select(model).where(model.id == data.id))).scalar_one_or_none()
    if existing is not None and (existing.case_id != case.id or not _same(existing, data, fields)):
        raise Conflict("client_id_reused", field="id")
    return existing


async def _claim_id(session: AsyncSession, row: Any) -> bool:
    """Add a row under a client-generated id. False when the id is taken already (by a row
    the caller cannot see: ids are global), the row then not added."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


MEASURE_FIELDS = ("category", "content", "responsible_unit", "start_on", "end_on", "status", "result", "amount")


async def add_measure(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, data: MeasureIn, actor: Reporter
) -> tuple[Measure, bool]:
    existing = await _sent_again(session, Measure, case, data, MEASURE_FIELDS)
    if existing is not None:
        return existing, False
    if case.status not in UNDER_ASSISTANCE:
        raise Conflict("case_not_assisting", field="case_id", status=case.status.value)
    day = data.planned_on or today()
    before = await pending(session, ctx, case)
    measure = Measure(
        id=data.id or uuid.uuid4(),
        case_id=case.id,
        household_id=case.household_id,
        region_code=case.region_code,
        recorded_by=actor.user_id,
        planned_on=day,
        **{name: getattr(data, name) for name in MEASURE_FIELDS},
    )
    if not await _claim_id(session, measure):
        raise Conflict("client_id_reused", field="id")
    if case.plan_on is None or day < case.plan_on:
        case.plan_on = day
    await _track(session, ctx, case, before, day)
    await session.flush()
    await session.refresh(measure)  # money as stored (two places)
    return measure, True


async def get_measure(session: AsyncSession, measure_id: uuid.UUID, for_update: bool = False) -> Measure:
    return await by_id(session, Measure, measure_id, "measure_not_found", "measure_id", for_update=for_update)


async def update_measure(session: AsyncSession, measure: Measure, data: MeasureUpdate) -> Measure:
    if measure.status in (MeasureStatus.completed, MeasureStatus.stopped) and data.status != measure.status:
        raise Conflict("measure_closed", field="status", status=measure.status.value)
    for name in MEASURE_FIELDS:
        if name != "category":
            setattr(measure, name, getattr(data, name))
    await session.flush()
    await session.refresh(measure)
    return measure


VISIT_FIELDS = ("visited_on", "mode", "findings", "attachments")


async def add_visit(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, data: VisitIn, actor: Reporter
) -> tuple[Visit, bool]:
    existing = await _sent_again(session, Visit, case, data, VISIT_FIELDS)
    if existing is not None:
        return existing, False
    if case.status in (CaseStatus.rejected, CaseStatus.terminated):
        raise Conflict("case_closed", field="case_id", status=case.status.value)
    if data.cadre_user_id is not None and data.cadre_user_id != actor.user_id:
        cadre_id = (await _eligible_cadre(session, case, data.cadre_user_id, "cadre_user_id")).id
    elif actor.user_id is not None:
        cadre_id = actor.user_id
    else:
        raise Unprocessable("field_required", field="cadre_user_id")
    # Months that ended before this visit without their visits are recorded first (once), so
    # the visit answers its own month's deadline and clears the case from the overdue list.
    # As of the visit's day, not today: visits are written on paper first and entered later.
    await record_missed_visits(session, ctx, case, data.visited_on)
    before = await pending(session, ctx, case)
    visit = Visit(
        id=data.id or uuid.uuid4(),
        visited_on=data.visited_on,
        mode=data.mode,
        findings=data.findings,
        attachments=[a.model_dump() for a in data.attachments],
        case_id=case.id,
        household_id=case.household_id,
        region_code=case.region_code,
        cadre_user_id=cadre_id,
        recorded_by=actor.user_id,
    )
    if not await _claim_id(session, visit):
        raise Conflict("client_id_reused", field="id")
    if data.mode in ctx.policy(case.region_code, data.visited_on.year).visit_modes_counted:
        case.last_visit_on = max(case.last_visit_on or data.visited_on, data.visited_on)
    await _track(session, ctx, case, before, data.visited_on)
    await session.flush()
    return visit, True
