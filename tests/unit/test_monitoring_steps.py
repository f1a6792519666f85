"""Every step of the case's state machine has its handler in the service (``take_step``
looks the handler up by the step's action), and nothing else has one."""

from __future__ import annotations

from services.core.monitoring.machine import STEPS, TERMINATE
from services.core.monitoring.service import HANDLERS


def test_one_handler_per_step_of_the_machine():
    actions = {step.action for steps in STEPS.values() for step in steps} | {TERMINATE.action}
    assert set(HANDLERS) == actions


def test_both_phases_walk_the_five_reviews_to_their_end_or_back():
    from services.core.monitoring.enums import CaseStatus as S
    from services.core.monitoring.enums import Decision
    from services.core.monitoring.machine import REVIEWS

    for status, end, reject in (
        (S.verification, S.assisting, S.rejected),
        (S.elimination_verification, S.eliminated, S.assisting),
    ):
        for action, permission in REVIEWS:
            (step,) = STEPS[status]
            assert (step.action, step.permission) == (action, permission)
            assert step.outcomes[Decision.reject] == reject
            status = step.outcomes[Decision.approve]
        assert status == end
    (proposal,) = STEPS[S.assisting]
    assert proposal.outcomes == {Decision.approve: S.elimination_verification}
