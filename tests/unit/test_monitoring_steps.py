"""Every step of the case's state machine has its handler in the service (``take_step``
looks the handler up by the step's action), and nothing else has one."""

from __future__ import annotations

from services.core.monitoring.machine import STEPS, TERMINATE
from services.core.monitoring.service import HANDLERS


def test_one_handler_per_step_of_the_machine():
    actions = {step.action for steps in STEPS.values() for step in steps} | {TERMINATE.action}
    assert set(HANDLERS) == actions
