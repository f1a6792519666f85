"""The demo county is made from core's definitions, not from copies of them (issue 18): the
income items, the steps of a monitoring case, the lifecycle of a project."""

from services.core.funds.enums import DATE_OF, LIFECYCLE, ProjectStatus
from services.core.income.rules import DETAIL_ITEMS, PARTS
from services.core.monitoring.enums import Action, CaseStatus, Decision
from services.core.monitoring.machine import step_for
from services.demo import cases, funds, income


def test_the_demo_records_every_income_item_of_core_under_its_part() -> None:
    assert tuple(item for part in PARTS for item in DETAIL_ITEMS[part]) == income.ITEMS
    for item, part in zip(income.ITEMS, income.PART_OF_ITEM, strict=True):
        assert item in DETAIL_ITEMS[PARTS[part]]
    assert len(income.QUARTER_SHARES) == len(income.ITEMS)
    assert all(sum(shares) == 1000 for shares in income.QUARTER_SHARES)  # per mille of the year
    assert income.ITEMS[income.PWP_PAY] == "public_welfare_post_pay"
    assert income.ITEMS[income.DIBAO] == "dibao"


def test_the_demo_cases_take_the_steps_of_the_state_machine() -> None:
    for phase, end in (
        (cases.IDENTIFICATION_STEPS, CaseStatus.assisting),
        (cases.ELIMINATION_STEPS, CaseStatus.eliminated),
    ):
        assert len(phase) == len(cases._STEP_ACTIONS) == 5
        for k, status in enumerate(phase):
            step = step_for(status, cases._STEP_ACTIONS[k])
            assert step is not None, (status, cases._STEP_ACTIONS[k])
            assert step.outcomes[Decision.approve] == (phase[k + 1] if k + 1 < len(phase) else end)
            assert cases._approved(status) == step.outcomes[Decision.approve]
    assert cases._STEP_ACTIONS[0] == Action.verify and cases._STEP_ACTIONS[-1] == Action.county_decision


def test_the_demo_projects_follow_core_s_lifecycle() -> None:
    assert tuple(funds.STEP_DAY) == LIFECYCLE
    dates = [c for c in funds.COLUMNS["projects"] if c.endswith("_on")]
    assert dates == [DATE_OF[s] for s in (*LIFECYCLE, ProjectStatus.cancelled)]


def test_the_demo_writes_clue_reports_in_the_columns_of_core_s_intake() -> None:
    from services.core.monitoring.queries import INTAKE_REPORT_COLUMNS
    from services.demo.layout import COPY_COLUMNS

    assert COPY_COLUMNS["clue_reports"] == (*INTAKE_REPORT_COLUMNS, "created_at")
