"""The case's state machine: from each status, which action may be taken, with which
permission, and where each decision leads. Nothing else moves a case."""

from __future__ import annotations

from dataclasses import dataclass

from services.core.accounts.roles import Permission
from services.core.monitoring.enums import OPEN, Action, CaseStatus, Decision

S = CaseStatus


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a case (监测对象 workflow): the action, the permission it needs and where
    each decision leads — verification (入户核实), village democratic review (村级民主评议),
    public notice (村级公示), township review (乡镇审核), county approval (县级审批)."""

    action: Action
    permission: Permission
    # decision -> next status; steps without a choice have only "approve".
    outcomes: dict[Decision, CaseStatus]


# The five reviews of a phase, in order: identification and risk elimination take the same
# ones (入户核实, 民主评议, 公示, 乡镇审核, 县级审批), each with its permission.
REVIEWS: tuple[tuple[Action, Permission], ...] = (
    (Action.verify, Permission.cases_verify),
    (Action.village_review, Permission.cases_village_review),
    (Action.notice_result, Permission.cases_village_review),
    (Action.township_review, Permission.cases_township_review),
    (Action.county_decision, Permission.cases_approve),
)


def _phase(statuses: tuple[CaseStatus, ...], end: CaseStatus, reject: CaseStatus) -> dict[CaseStatus, tuple[Step, ...]]:
    """The steps of a phase: from each of its ``statuses`` one review, whose approval leads
    to the next status (the last to ``end``) and whose rejection to ``reject``."""
    return {
        status: (Step(action, permission, {Decision.approve: approved, Decision.reject: reject}),)
        for (action, permission), status, approved in zip(REVIEWS, statuses, (*statuses[1:], end), strict=True)
    }


# Identification: a rejection at any step closes the case (未纳入). Risk elimination: a
# rejection returns the case to assistance.
STEPS: dict[CaseStatus, tuple[Step, ...]] = {
    **_phase(
        (S.verification, S.village_review, S.identification_notice, S.township_review, S.county_approval),
        S.assisting,
        S.rejected,
    ),
    S.assisting: (
        Step(Action.propose_elimination, Permission.cases_assist, {Decision.approve: S.elimination_verification}),
    ),
    **_phase(
        (
            S.elimination_verification,
            S.elimination_review,
            S.elimination_notice,
            S.elimination_township_review,
            S.elimination_approval,
        ),
        S.eliminated,
        S.assisting,
    ),
}
TERMINATE = Step(Action.terminate, Permission.cases_approve, {Decision.approve: S.terminated})

# Where each action is sent (relative to /api/v1/monitoring-cases/{case_id}).
PATHS: dict[Action, str] = {
    Action.verify: "verification",
    Action.village_review: "village-review",
    Action.notice_result: "notice-result",
    Action.township_review: "township-review",
    Action.county_decision: "county-decision",
    Action.propose_elimination: "elimination-proposal",
    Action.terminate: "termination",
}


def steps_from(status: CaseStatus) -> tuple[Step, ...]:
    """The steps a case may take from ``status``: the next step of identification (识别) or
    of risk elimination (风险消除), and termination (终止) while the case is open."""
    own = STEPS.get(status, ())
    return own + ((TERMINATE,) if status in OPEN else ())


def step_for(status: CaseStatus, action: Action) -> Step | None:
    """The step ``action`` takes from ``status`` (识别 or 风险消除 workflow), or None when it
    may not be taken."""
    for step in steps_from(status):
        if step.action == action:
            return step
    return None


def allowed(status: CaseStatus) -> list[dict]:
    """What may be done from ``status``, for the 409 of an illegal transition (不允许的流程步骤)."""
    return [
        {
            "action": s.action.value,
            "path": PATHS[s.action],
            "permission": s.permission.value,
            "decisions": [d.value for d in s.outcomes],
        }
        for s in steps_from(status)
    ]
