"""The monitoring policy's figures: deadlines and the conditions of risk elimination.

Every figure is a setting per year and region (docs/domain.md: settings, not constants).
The defaults below are the figures of the seeds; table ``monitoring_policies`` holds
overrides, each for a region prefix ("" = everywhere) from a year on. For a case in region
R and year Y, the overrides of every prefix of R with a year ≤ Y apply, the wider region
first and the older year first, so a village's or county's own rule wins over the
province's, and a later year over an earlier one of the same region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.households.enums import LabourCapacity
from services.core.monitoring.enums import VisitMode
from services.core.workdays import DayUnit


class MonitoringPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # From the first risk clue to the county's identification decision [004 §17].
    identification_days: int = Field(
        15,
        ge=1,
        le=180,
        description="From the first risk clue to the county's identification decision, at most (seed: 15) 识别时限",
    )
    identification_unit: DayUnit = Field(
        DayUnit.calendar, description="Whether identification_days counts calendar or working days 识别时限单位"
    )
    # Village public notice, at least [004 §17]; a notice cannot end earlier.
    notice_min_days: int = Field(
        5,
        ge=1,
        le=60,
        description="Village public notice, at least (seed: 5); a notice cannot end earlier 公示最短天数",
    )
    notice_unit: DayUnit = Field(
        DayUnit.calendar, description="Whether notice_min_days counts calendar or working days 公示天数单位"
    )
    # Self-declarations (e.g. through an app) accepted by the township within (one
    # county's rule: 2 days).
    self_declaration_acceptance_days: int = Field(
        2,
        ge=1,
        le=60,
        description="Self-declarations are accepted by the township within (one county's rule: 2) 自主申报受理时限",
    )
    self_declaration_acceptance_unit: DayUnit = Field(
        DayUnit.calendar,
        description="Whether self_declaration_acceptance_days counts calendar or working days 受理时限单位",
    )
    # An assistance cadre and a one-household-one-plan after identification [004 §17].
    plan_days: int = Field(
        10,
        ge=1,
        le=90,
        description="After identification, an assistance cadre and a "
        "one-household-one-plan within (seed: 10) 明确帮扶责任人和一户一策时限",
    )
    plan_unit: DayUnit = Field(
        DayUnit.working, description="Whether plan_days counts calendar or working days 时限单位"
    )
    # At least this many visits in each calendar month while assisting [004 §17] …
    visits_per_month: int = Field(
        1, ge=0, le=31, description="Visits required in each calendar month while assisting (seed: 1) 每月走访次数"
    )
    # … counting visits made in these ways.
    visit_modes_counted: list[VisitMode] = Field(
        default_factory=lambda: [VisitMode.in_person],
        min_length=1,
        description="Visit modes that count towards the monthly visits 计入走访的方式",
    )
    # Risk elimination [000, 002, 003]: identified at least this long …
    elimination_min_months: int = Field(
        6,
        ge=0,
        le=60,
        description="Risk elimination: identified at least this many months (seed: 6) 风险消除最短监测月数",
    )
    # … at least this many measures carried out (落实: started by the day of the step, in
    # progress or completed — not only planned, not stopped; formerly
    # ``elimination_min_completed_measures``, renamed in stored overrides by the migration
    # ``e5b7c9d1f311``) …
    elimination_min_measures_carried_out: int = Field(
        1,
        ge=0,
        le=20,
        description="Risk elimination: at least this many measures carried out (落实: started by the step's day, in "
        "progress or completed) 最少落实措施数",
    )
    # … and income stably above the line: the rolling twelve months ending with each of
    # this many last completed quarters complete and at least the line of the step's year
    # (2: half a year; ``services.core.monitoring.guard``) …
    elimination_income_quarters: int = Field(
        2,
        ge=0,
        le=8,
        description="Risk elimination: the rolling twelve "
        "months ending with each of this many last "
        "completed quarters are complete and at "
        "least the year's line (2: half a year) "
        "收入稳定超过监测标准的季度数",
    )
    # … the three guarantees and safe water secured …
    elimination_requires_guarantees: bool = Field(
        True,
        description="Risk elimination: the three guarantees and safe water must be secured 须“三保障”和饮水安全有保障",
    )
    # … and someone in the household able to work (otherwise it stays under social
    # protection and is not marked eliminated).
    elimination_requires_labour: bool = Field(
        True,
        description="Risk elimination: someone in the household must be "
        "able to work (otherwise it stays under social "
        "protection) 须有劳动能力",
    )
    labour_capacities_able: list[LabourCapacity] = Field(
        default_factory=lambda: [LabourCapacity.skilled, LabourCapacity.ordinary, LabourCapacity.weak],
        min_length=1,
        description="Labour capacities that count as able to work 视为有劳动能力的劳动技能",
    )


FIELDS = frozenset(MonitoringPolicy.model_fields)
# Figures renamed: an override naming the old name is refused, pointing at the new one.
RENAMED = {"elimination_min_completed_measures": "elimination_min_measures_carried_out"}


class PolicyOverride(BaseModel):
    """One row of ``monitoring_policies`` as the resolver sees it."""

    region_prefix: str
    year: int
    values: dict[str, Any]


def resolve(
    overrides: Iterable[PolicyOverride], region_code: str, year: int, model: type[BaseModel] = MonitoringPolicy
) -> Any:
    """The policy (a ``model``: the monitoring policy, the funds policy) in force for
    ``region_code`` in ``year``."""
    applicable = sorted(
        (o for o in overrides if region_code.startswith(o.region_prefix) and o.year <= year),
        key=lambda o: (len(o.region_prefix), o.year),
    )
    values: dict[str, Any] = {}
    for override in applicable:
        values.update(override.values)
    return model.model_validate(values)


def check_values(values: dict[str, Any], model: type[BaseModel] = MonitoringPolicy) -> dict[str, Any]:
    """Validate an override (only the named fields) and return it normalised."""
    full = model.model_validate(values)
    return {name: full.model_dump(mode="json")[name] for name in values}
