"""The monitoring package's front door: what the routers and the worker call to move a case
(take a step, open a case from a clue) and to answer about it (its deadlines, the
risk-elimination check). The rules stay in their modules (``machine`` the steps,
``elimination`` the conditions, ``deadlines`` the time limits); this module orchestrates them
in as few round trips as it can.

A step (``take_step``) is: look the step up in the state machine (``machine.step_for``),
check the day and the elimination guard, call the step's handler (``HANDLERS``, one per
action), record the transition. The case arrives with everything the checks need, read
with it in one statement (``case_for_step``), and the calendar and policy in another; the
deadlines before and after the step are computed from these, not read again, and the
changes are written in one flush (the case, its household, the transition row)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, NotFound, Unprocessable
from services.core.guarantees.models import Item
from services.core.households.enums import Category, LabourCapacity
from services.core.households.models import Household
from services.core.households.service import get_household
from services.core.income.rolling import quarter_of_index
from services.core.monitoring import cases, queries
from services.core.monitoring import clues as clue_service
from services.core.monitoring import deadlines as dl
from services.core.monitoring.context import PolicyContext, load_policy_context
from services.core.monitoring.elimination import EliminationFacts, earliest_record_needed, unmet_conditions
from services.core.monitoring.enums import (
    ELIMINATION_PHASE,
    FINAL,
    IDENTIFICATION_PHASE,
    UNDER_ASSISTANCE,
    Action,
    CaseStatus,
    ClueStatus,
    Decision,
    VisitMode,
)
from services.core.monitoring.machine import Step, step_for
from services.core.monitoring.models import CaseTransition, Measure, MonitoringCase, RiskClue, Visit
from services.core.monitoring.schemas import CadreIn, CaseFromClue, ClueIn, MeasureIn, Reporter, VisitIn
from services.core.policy.monitoring import MonitoringPolicy
from services.core.timeutil import today

# The plain reads and writes of one row, as their modules define them: the routers find
# everything here.
get_case = cases.get_case
get_clue = clue_service.get_clue
reports_of = clue_service.reports_of
get_measure = cases.get_measure
update_measure = cases.update_measure

# ---------------------------------------------------------------- the case and its facts


@dataclass
class StepSubject:
    """A case locked for a step, with what was read along with it: the day of its last step
    (``first_clue_on`` when none), all its visits (day, mode) and the months recorded as
    missed. A step changes none of these rows, so the deadlines after it need no new read."""

    case: MonitoringCase
    last_effective: date
    visits: list[tuple[date, VisitMode]]
    breached: set[date]

    def counted_visits(self, ctx: PolicyContext) -> list[date]:
        """The days of the visits that count towards the monthly visit, as ``cases`` counts
        them: only once the case is identified and under assistance."""
        case = self.case
        if case.identified_on is None or case.status not in UNDER_ASSISTANCE:
            return []
        return [day for day, mode in self.visits if mode in ctx.policy(case.region_code, day.year).visit_modes_counted]

    def deadlines(self, ctx: PolicyContext) -> list[dl.Deadline]:
        """The case's pending deadlines in its present state (``cases.pending``, unread)."""
        case = self.case
        breached = self.breached if case.identified_on is not None and case.status in UNDER_ASSISTANCE else set()
        return dl.case_deadlines(
            case, self.counted_visits(ctx), ctx.policy_for(case.region_code), ctx.calendar, breached
        )


async def case_for_step(session: AsyncSession, case_id: int) -> StepSubject:
    """The case, locked, with its facts (one statement); 404 as ``cases.get_case``."""
    row = (await session.execute(queries.case_for_step(case_id))).one_or_none()
    if row is None:
        raise NotFound("case_not_found", field="case_id", id=case_id)
    case, last, days, modes, months = row
    return StepSubject(
        case=case,
        last_effective=last or case.first_clue_on,
        visits=[(day, VisitMode(mode)) for day, mode in zip(days or [], modes or [], strict=True)],
        breached=set(months or []),
    )


# ---------------------------------------------------------------- risk elimination


async def elimination_facts(
    session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, on: date
) -> EliminationFacts:
    """What the conditions are judged on as of ``on`` (one statement): the household's
    quarters as far back as the earliest window judged reaches, the line, the guarantees,
    the members' labour capacity, the measures carried out."""
    policy = ctx.policy(case.region_code, on.year)
    province = case.region_code[:2]
    first_year, _ = quarter_of_index(earliest_record_needed(on, policy.elimination_income_quarters))
    stmt = queries.elimination_facts(case.id, case.household_id, province, first_year, on)
    years, quarters, nets, members, line, guarantees, labour, carried_out = (await session.execute(stmt)).one()
    return EliminationFacts(
        decided_on=on,
        identified_on=case.identified_on,
        measures_carried_out=carried_out,
        income_records=list(zip(years or [], quarters or [], nets or [], members or [], strict=True)),
        lines={} if line is None else {on.year: line},
        province_code=province,
        guarantees=None if guarantees is None else {i.value: s for i, s in zip(Item, guarantees, strict=True)},
        labour=[LabourCapacity(v) for v in labour or []],
    )


async def elimination_check(session: AsyncSession, ctx: PolicyContext, case: MonitoringCase, on: date) -> list:
    """Every unmet condition of risk elimination as of ``on`` (``FieldError``s; empty: met)."""
    facts = await elimination_facts(session, ctx, case, on)
    return unmet_conditions(facts, ctx.policy(case.region_code, on.year))


def guards_elimination(status: CaseStatus, action: Action, decision: Decision) -> bool:
    """Whether a step must meet the elimination conditions: the proposal and every approval
    of the elimination phase (verification, democratic review before the notice, the
    notice's result, township review, county approval). Rejections and termination never."""
    if action == Action.propose_elimination:
        return True
    return status in ELIMINATION_PHASE and action != Action.terminate and decision == Decision.approve


# ---------------------------------------------------------------- steps


@dataclass
class Move:
    """One step being taken: what the handler reads (the case, the body, the day, the policy
    of the day's year, whether the case is being identified) and writes (the case's columns,
    the transition's ``details``, the household when it changes)."""

    session: AsyncSession
    ctx: PolicyContext
    case: MonitoringCase
    step: Step
    decision: Decision
    data: Any
    day: date
    policy: MonitoringPolicy
    identifying: bool
    details: dict[str, Any] = field(default_factory=dict)
    household: Household | None = None

    @property
    def approves(self) -> bool:
        return self.decision == Decision.approve

    async def locked_household(self) -> Household:
        if self.household is None:
            self.household = await get_household(self.session, self.case.household_id, for_update=True)
        return self.household


Handler = Callable[[Move], Awaitable[None]]


async def _verify(move: Move) -> None:
    """Verification visit: the findings; approving an identification needs the consent."""
    move.details["findings"] = move.data.findings
    if move.identifying and move.approves:
        if not move.data.consent_signed:
            raise Unprocessable("consent_required", field="consent_signed")
        move.case.consent_on = move.day
        move.details["consent_signed"] = True


async def _village_review(move: Move) -> None:
    """Democratic review: an approval starts the public notice, at least the policy's days."""
    if not move.approves:
        return
    data, day, case = move.data, move.day, move.case
    start = data.notice_start or day
    if start < day:
        raise Unprocessable("notice_before_review", field="notice_start", day=day.isoformat())
    min_end, provisional = dl.notice_min_end(start, move.policy, move.ctx.calendar)
    end = data.notice_end or min_end
    if end < min_end:
        raise Unprocessable(
            "notice_too_short", field="notice_end", min_end=min_end.isoformat(), days=move.policy.notice_min_days
        )
    case.notice_start, case.notice_end = start, end
    move.details.update(notice_start=start.isoformat(), notice_end=end.isoformat())
    if provisional:
        move.details["notice_provisional"] = True


async def _notice_result(move: Move) -> None:
    """End of the notice: approved only after its last day."""
    case = move.case
    if move.approves and (case.notice_end is None or move.day <= case.notice_end):
        raise Conflict(
            "notice_not_over",
            field="effective_on",
            notice_end=case.notice_end.isoformat() if case.notice_end else "-",
        )


async def _township_review(move: Move) -> None:
    """Township review: nothing beyond the decision."""


async def _county_decision(move: Move) -> None:
    """County approval: identification makes the household a monitored one; elimination
    records the day and the way (required)."""
    if not move.approves:
        return
    data, day, case = move.data, move.day, move.case
    household = await move.locked_household()
    if move.identifying:
        if data.case_type is not None:
            move.details["case_type"] = data.case_type.value
            case.case_type = data.case_type
        case.identified_on = day
        if household.category != Category.monitored:
            case.category_before = household.category
            household.previous_category = household.category
            household.category = Category.monitored
        else:
            case.category_before = household.previous_category
    else:
        if data.way is None:
            raise Unprocessable("way_required", field="way")
        case.eliminated_on = day
        case.elimination_way = data.way
        move.details["way"] = data.way.value


async def _propose_elimination(move: Move) -> None:
    """Proposal of risk elimination: its day."""
    move.case.elimination_proposed_on = move.day


async def _terminate(move: Move) -> None:
    """Termination: the reason."""
    move.details["reason"] = move.data.reason
    move.case.closed_reason = move.data.reason


# One handler per step of the state machine (``machine.STEPS``, ``machine.TERMINATE``), by
# its action: the same action is a step of identification and of risk elimination, the
# handler tells them apart by ``Move.identifying``.
HANDLERS: dict[Action, Handler] = {
    Action.verify: _verify,
    Action.village_review: _village_review,
    Action.notice_result: _notice_result,
    Action.township_review: _township_review,
    Action.county_decision: _county_decision,
    Action.propose_elimination: _propose_elimination,
    Action.terminate: _terminate,
}


async def _close(move: Move, target: CaseStatus) -> None:
    """What every step into ``target`` entails: a final status closes the case (and gives an
    identified household its category back); leaving the elimination forgets the proposal."""
    case = move.case
    if target in FINAL:
        case.closed_on = move.day
        if case.identified_on is not None and target in (CaseStatus.eliminated, CaseStatus.terminated):
            household = await move.locked_household()
            if household.category == Category.monitored:
                household.category = case.category_before or household.previous_category or Category.ordinary
                household.previous_category = None
    if case.status in ELIMINATION_PHASE and target == CaseStatus.assisting:
        case.elimination_proposed_on = None


@dataclass
class StepDone:
    case: MonitoringCase
    transition: CaseTransition
    deadlines: list[dl.Deadline]  # pending after the step


async def take_step(
    session: AsyncSession, subject: StepSubject, action: Action, data: Any, actor: Reporter
) -> StepDone:
    """One step of the state machine, with everything it entails: look up the step, check
    the day and the elimination guard, run the step's handler, record the transition (and
    a deadline the step met late). ``subject`` is locked (``case_for_step``)."""
    case = subject.case
    step = step_for(case.status, action)
    if step is None:
        raise cases.not_allowed(case, action)
    ctx = await load_policy_context(session)
    decision: Decision = getattr(data, "decision", Decision.approve)
    target = step.outcomes[decision]
    before = subject.deadlines(ctx)
    day = data.effective_on or today()
    if day < subject.last_effective:
        raise Unprocessable(
            "effective_before_previous", field="effective_on", previous=subject.last_effective.isoformat()
        )
    move = Move(
        session=session,
        ctx=ctx,
        case=case,
        step=step,
        decision=decision,
        data=data,
        day=day,
        policy=ctx.policy(case.region_code, day.year),
        identifying=case.status in IDENTIFICATION_PHASE,
        details={"decision": decision.value},
    )
    if guards_elimination(case.status, action, decision):
        if action == Action.county_decision and data.way is None:
            raise Unprocessable("way_required", field="way")
        unmet = await elimination_check(session, ctx, case, day)
        if unmet:
            raise Conflict("elimination_conditions_unmet", errors=unmet, count=len(unmet))
        move.details["elimination_conditions_met_on"] = day.isoformat()
    await HANDLERS[action](move)
    await _close(move, target)

    from_status = case.status
    case.status = target
    after = subject.deadlines(ctx)
    # A step that ends the identification or the case meets its deadlines by deciding;
    # termination is not a decision on time and records nothing late.
    late = dl.breaches([] if action == Action.terminate else before, after, day)
    if late:
        case.deadline_breaches = list(case.deadline_breaches) + late
        move.details["breaches"] = late
    dl.store_next(case, after)
    transition = cases.transition(
        case,
        action,
        actor,
        day,
        from_status=from_status,
        to_status=target,
        details=move.details,
        comment=data.comment,
        attachments=[a.model_dump() for a in data.attachments],
    )
    session.add(transition)
    await session.flush()
    return StepDone(case, transition, after)


# ---------------------------------------------------------------- clues, opening, assistance
# Each loads the policy context once and calls the module that holds the rule.


async def report_clue(
    session: AsyncSession, data: ClueIn, reporter: Reporter, id_hash_key: bytes | None = None
) -> tuple[RiskClue, str]:
    """Record a report of a risk: ``clues.report`` (created, merged or duplicate)."""
    return await clue_service.report(session, await load_policy_context(session), data, reporter, id_hash_key)


async def clue_deadlines(session: AsyncSession, clue: RiskClue) -> list[dl.Deadline]:
    """The pending deadlines of a clue as stored now."""
    return await clue_service.pending(session, await load_policy_context(session), clue)


async def dismiss_clue(session: AsyncSession, clue: RiskClue, actor_id: int | None, reason: str) -> None:
    """Dismiss an open clue with a reason (a deadline it met late is recorded)."""
    await clue_service.close(
        session, await load_policy_context(session), clue, ClueStatus.dismissed, actor_id, reason=reason
    )


async def open_from_clue(
    session: AsyncSession, clue: RiskClue, data: CaseFromClue, actor: Reporter
) -> tuple[MonitoringCase, bool, list[dl.Deadline]]:
    """Turn an open clue into a case (or add its risks to the household's open case):
    ``cases.open_from_clue``. Returns the case, whether it is new, and its deadlines."""
    ctx = await load_policy_context(session)
    case, created = await cases.open_from_clue(session, ctx, clue, data, actor)
    return case, created, await cases.pending(session, ctx, case)


async def assign_cadre(
    session: AsyncSession, case: MonitoringCase, data: CadreIn, actor: Reporter
) -> tuple[MonitoringCase, list[dl.Deadline]]:
    """Name the assistance cadre (``cases.assign_cadre``); the case and its deadlines."""
    ctx = await load_policy_context(session)
    await cases.assign_cadre(session, ctx, case, data, actor)
    return case, await cases.pending(session, ctx, case)


async def add_measure(
    session: AsyncSession, case: MonitoringCase, data: MeasureIn, actor: Reporter
) -> tuple[Measure, bool]:
    """Add a measure (``cases.add_measure``): the measure and whether it is new."""
    return await cases.add_measure(session, await load_policy_context(session), case, data, actor)


async def add_visit(session: AsyncSession, case: MonitoringCase, data: VisitIn, actor: Reporter) -> tuple[Visit, bool]:
    """Record a visit (``cases.add_visit``): the visit and whether it is new."""
    return await cases.add_visit(session, await load_policy_context(session), case, data, actor)


# ---------------------------------------------------------------- the worker, the CLI


async def record_missed_visits(session: AsyncSession, prefix: str, as_of: date) -> int:
    """The missed visit months of every case under ``prefix`` as of ``as_of``, recorded once
    (``cases.record_missed_visits_under``; the daily worker). Returns how many."""
    return await cases.record_missed_visits_under(session, await load_policy_context(session), prefix, as_of)


async def refresh_deadlines(session: AsyncSession, prefix: str) -> int:
    """Recompute the stored deadlines under ``prefix`` after the calendar or the policy
    changed (``cases.refresh_deadlines``). Returns how many rows changed."""
    return await cases.refresh_deadlines(session, await load_policy_context(session), prefix)


# ---------------------------------------------------------------- answering


async def case_deadlines(session: AsyncSession, case: MonitoringCase) -> list[dl.Deadline]:
    """The pending deadlines of a case as stored now."""
    return await cases.pending(session, await load_policy_context(session), case)


async def check_elimination(session: AsyncSession, case: MonitoringCase, on: date) -> list:
    """The unmet risk-elimination conditions of ``case`` as of ``on``."""
    return await elimination_check(session, await load_policy_context(session), case, on)
