"""The policy's deadlines, as plain functions of a case's or clue's facts.

Each open case and clue stores its nearest pending deadline (``next_deadline``), so the
daily work list is an index range scan. A deadline that passes stays in place (it is
late, not moved); when it is met late, the breach is recorded on the case and on the step
that met it (``breaches``), never corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from services.core.monitoring.enums import (
    IDENTIFICATION_PHASE,
    UNDER_ASSISTANCE,
    ClueStatus,
    DeadlineKind,
)
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import DayUnit, WorkCalendar, add_months, month_end

PolicyFor = Callable[[int], MonitoringPolicy]  # the policy in force in a year (for one region)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline (时限) of a clue or case: its kind (``DeadlineKind``: identification 识别时限,
    self-declaration acceptance 自主申报受理时限, assistance cadre 明确帮扶责任人, one household one
    plan 制定一户一策, monthly visit 每月走访) and the day it is due."""

    kind: DeadlineKind
    due: date
    provisional: bool = False  # computed over a year whose official calendar is not known

    def as_dict(self) -> dict:
        return {"kind": self.kind.value, "due": self.due.isoformat(), "provisional": self.provisional}


def _by_due(items: Iterable[Deadline]) -> list[Deadline]:
    return sorted(items, key=lambda d: (d.due, d.kind.value))


def clue_deadlines(
    status: ClueStatus, first_reported_on: date, self_declared_on: date | None, policy_for: PolicyFor, cal: WorkCalendar
) -> list[Deadline]:
    """An open clue must be decided on in time for the identification deadline; a
    self-declaration must also be accepted (turned into a case or dismissed) by the township
    within the acceptance time.

    Identification (识别) of a monitoring case (监测对象) is due ``identification_days``
    (识别时限) after the first risk clue (风险线索), counted in ``identification_unit``
    (自然日 calendar or 工作日 working days); a self-declaration (自主申报) is accepted within
    ``self_declaration_acceptance_days`` (自主申报受理时限), counted in
    ``self_declaration_acceptance_unit``. The figures are the ``MonitoringPolicy`` in force
    for the region and year."""
    if status != ClueStatus.open:
        return []
    policy = policy_for(first_reported_on.year)
    due, provisional = cal.add(first_reported_on, policy.identification_days, policy.identification_unit)
    out = [Deadline(DeadlineKind.identification, due, provisional)]
    if self_declared_on is not None:
        policy = policy_for(self_declared_on.year)
        due, provisional = cal.add(
            self_declared_on, policy.self_declaration_acceptance_days, policy.self_declaration_acceptance_unit
        )
        out.append(Deadline(DeadlineKind.clue_acceptance, due, provisional))
    return _by_due(out)


def visits_in(month: date, counted_visits: Sequence[date]) -> int:
    """The counted visits (走访) that fall in ``month``'s calendar month."""
    return sum(1 for day in counted_visits if (day.year, day.month) == (month.year, month.month))


def visit_due(
    identified_on: date, counted_visits: Sequence[date], per_month: int, breached: Collection[date] = ()
) -> date:
    """End of the first calendar month after identification that lacks its visits
    (``per_month`` of them) and has not been recorded as missed (``breached``: first days
    of months). The month of identification itself needs none: the verification visit
    preceded the decision. A month recorded as missed is a breach, recorded once; the
    deadline moves on to the next month, so a later visit clears the case from the
    overdue list (docs/monitoring-rules.md). The monthly visit (每月走访) by the assistance
    cadre (帮扶责任人): ``visits_per_month`` (每月走访次数) of the policy."""
    per_month_counts: dict[tuple[int, int], int] = {}
    for day in counted_visits:
        per_month_counts[(day.year, day.month)] = per_month_counts.get((day.year, day.month), 0) + 1
    missed = {(m.year, m.month) for m in breached}
    month = add_months(identified_on.replace(day=1), 1)
    while per_month_counts.get((month.year, month.month), 0) >= per_month or (month.year, month.month) in missed:
        month = add_months(month, 1)
    return month_end(month)


def case_deadlines(
    case, counted_visits: Sequence[date], policy_for: PolicyFor, cal: WorkCalendar, breached: Collection[date] = ()
) -> list[Deadline]:
    """The pending deadlines of a case in its present state, nearest first. ``case`` is a
    ``MonitoringCase`` (or anything with its attributes); ``counted_visits`` the dates of
    its visits that count towards the monthly visit; ``breached`` the months recorded as
    missed.

    While being identified: identification (识别) within ``identification_days`` (识别时限)
    of the first clue. Once identified and under assistance (帮扶): an assistance cadre
    (明确帮扶责任人) and a one-household-one-plan (一户一策) within ``plan_days``
    (明确帮扶责任人和一户一策时限, counted in ``plan_unit``), and the monthly visit (每月走访)."""
    out: list[Deadline] = []
    if case.status in IDENTIFICATION_PHASE:
        policy = policy_for(case.first_clue_on.year)
        due, provisional = cal.add(case.first_clue_on, policy.identification_days, policy.identification_unit)
        out.append(Deadline(DeadlineKind.identification, due, provisional))
    elif case.status in UNDER_ASSISTANCE and case.identified_on is not None:
        policy = policy_for(case.identified_on.year)
        due, provisional = cal.add(case.identified_on, policy.plan_days, policy.plan_unit)
        if case.cadre_user_id is None:
            out.append(Deadline(DeadlineKind.cadre_assignment, due, provisional))
        if case.plan_on is None:
            out.append(Deadline(DeadlineKind.plan, due, provisional))
        if policy.visits_per_month > 0:
            out.append(
                Deadline(
                    DeadlineKind.monthly_visit,
                    visit_due(case.identified_on, counted_visits, policy.visits_per_month, breached),
                )
            )
    return _by_due(out)


def breaches(before: Sequence[Deadline], after: Sequence[Deadline], met_on: date) -> list[dict]:
    """Deadlines that a change met (pending before, gone after) later than they were due:
    each a breach (超时限办理), recorded on the case and never corrected."""
    remaining = {(d.kind, d.due) for d in after}
    return [
        {"kind": d.kind.value, "due": d.due.isoformat(), "met_on": met_on.isoformat()}
        for d in before
        if (d.kind, d.due) not in remaining and met_on > d.due
    ]


def notice_min_end(start: date, policy: MonitoringPolicy, cal: WorkCalendar) -> tuple[date, bool]:
    """A public notice runs at least ``notice_min_days`` days, its first day counted: the
    earliest last day of a notice that starts on ``start`` (5 calendar days from the 1st
    run to the 5th; it may be closed on the 6th). The village's public notice (公示) lasts
    at least ``notice_min_days`` (公示最短天数), counted in ``notice_unit`` (公示天数单位:
    自然日 or 工作日)."""
    days = policy.notice_min_days - 1
    if policy.notice_unit == DayUnit.working and not cal.is_workday(start):
        days += 1  # a notice posted on a holiday counts from the next working day
    return cal.add(start, days, policy.notice_unit)


def store_next(target, pending_deadlines: list[Deadline]) -> None:
    """Keep the nearest pending deadline (最近的时限) on the row, cases and clues alike: the
    daily work list reads it from the deadline index."""
    first = pending_deadlines[0] if pending_deadlines else None
    target.next_deadline = first.due if first else None
    target.next_deadline_kind = first.kind if first else None
    target.deadline_provisional = any(d.provisional for d in pending_deadlines)
