"""The monitoring policy's figures: deadlines and the conditions of risk elimination.

Every figure is a setting per year and region (docs/domain.md: settings, not constants).
The defaults below are the figures of the seeds; table ``monitoring_policies`` holds
overrides, each for a region prefix ("" = everywhere) from a year on, resolved by
``services.core.policy.overrides`` (a village's or county's own rule wins over the
province's, a later year over an earlier one of the same region). Monitoring reads it
through ``services.core.monitoring.context.PolicyContext`` (one read of the rows per transaction).

Every change of the monitoring policy recomputes the stored deadlines of the open cases and
clues under the row's prefix (``refresh_after_change``), with the rules read after the
change.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.fieldwork.enums import OfficerLevel, RosterRole
from services.core.households.enums import LabourCapacity
from services.core.monitoring.enums import VisitMode
from services.core.monitoring.models import MonitoringPolicyRow
from services.core.policy import overrides
from services.core.policy.overrides import PolicyOverride, PolicyTable
from services.core.workdays import DayUnit

# 区级2名、镇街2名、村社1名 [004 §17].
OFFICERS_REQUIRED = {OfficerLevel.county: 2, OfficerLevel.township: 2, OfficerLevel.village: 1}


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
    # (2: half a year; ``services.core.monitoring.elimination``) …
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
    # Follow-up of everyone, not only open cases (docs/follow-up.md). Assistance cadres visit
    # formerly poor households (脱贫户) in March, August and November [004 §6] …
    followup_visit_months: list[int] = Field(
        default_factory=lambda: [3, 8, 11],
        min_length=1,
        max_length=12,
        description="Months in which assistance cadres visit formerly poor households (seed: 3, 8, 11); each visit "
        "is due by its month's last working day 脱贫户定期走访月份",
    )
    # … and households whose risk was eliminated stay on that follow-up for this long after
    # elimination (持续跟踪、动态保障 [003]; the seeds give no figure: docs/follow-up.md).
    followup_after_elimination_months: int = Field(
        12,
        ge=0,
        le=120,
        description="Months an eliminated household stays on the scheduled follow-up visits after elimination "
        "(the seeds give no figure; 12 chosen) 风险消除后持续跟踪月数",
    )
    # Quarterly income of formerly poor and monitored households is entered "within the set
    # time" after the quarter (在规定时限内 [000 §三.三]; no figure: docs/follow-up.md).
    income_entry_days: int = Field(
        10,
        ge=1,
        le=90,
        description="A quarter's income is entered within this many days after the quarter's last day "
        "(the seed says only 规定时限内; 10 chosen) 季度收入录入时限",
    )
    income_entry_unit: DayUnit = Field(
        DayUnit.working, description="Whether income_entry_days counts calendar or working days 收入录入时限单位"
    )
    # Households to look at first: per-capita net income under this figure [000 §二.二:
    # 人均纯收入1万元以下的农户] or falling year on year (收入不增反降).
    income_watch_per_capita: Decimal = Field(
        Decimal("10000.00"),
        ge=0,
        le=Decimal("1000000"),
        max_digits=12,
        decimal_places=2,
        description="Per-capita net income (rolling year) under which a household is flagged (seed 000: 10,000 "
        "yuan) 人均纯收入关注线",
    )

    @field_validator("followup_visit_months")
    @classmethod
    def _months(cls, value: list[int]) -> list[int]:
        if any(not 1 <= m <= 12 for m in value) or len(set(value)) != len(value):
            raise ValueError("months are distinct numbers 1 to 12")
        return sorted(value)

    # Field work (docs/field-work.md). Information officers (防止返贫监测信息员) each level's
    # region needs, at least: 区级2名、镇街2名、村社1名 [004 §17] …
    officers_required: dict[OfficerLevel, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: dict(OFFICERS_REQUIRED),
        description="Information officers each county, township and village needs, at least (seed: county 2, "
        "township 2, village 1) 防止返贫监测信息员配备标准",
    )
    # … counting these roster roles.
    officer_roles_counted: list[RosterRole] = Field(
        default_factory=lambda: [RosterRole.information_officer],
        min_length=1,
        description="Roster roles that count towards the information officers 计入信息员的人员类别",
    )
    # Screening campaigns go from house to house in teams of two (两人一组进村入户) [004 §18].
    campaign_team_size: int = Field(
        2, ge=1, le=10, description="Members of a screening campaign's team (seed: 2) 大走访大排查每组人数"
    )
    # Village-based team members live and work in the village at least two thirds of each
    # month (每月三分之二以上时间“三在村”) [004 §6]: a fraction of the month's calendar days.
    resident_share_of_month: str = Field(
        "2/3",
        pattern=r"^[1-9][0-9]?/[1-9][0-9]?$",
        description="Share of a month's calendar days a village-based team member must spend in the village, as a "
        "fraction (seed: 2/3) 驻村工作队员每月在村时间比例",
    )

    @field_validator("officers_required")
    @classmethod
    def _every_level(cls, value: dict) -> dict:
        # An override naming one level (a village's own figure) keeps the others' defaults.
        return {**OFFICERS_REQUIRED, **value}

    @field_validator("resident_share_of_month")
    @classmethod
    def _proper_fraction(cls, value: str) -> str:
        numerator, denominator = (int(part) for part in value.split("/"))
        if numerator > denominator:
            raise ValueError("a share of the month is at most 1")
        return value

    # The monthly clearing ledger (月清零、月调度、月通报, seed 004 §18): an item of the three
    # guarantees or safe water found at risk is cleared by the responsible department within
    # this many days of being found. The seeds say "monthly" and give no figure; 20 working
    # days is about one month of work (docs/ledgers.md).
    clearing_days: int = Field(
        20,
        ge=1,
        le=365,
        description="A clearing-ledger item (three guarantees or safe water at risk) is cleared within (chosen: "
        "20 working days, one month of work) 清零时限",
    )
    clearing_unit: DayUnit = Field(
        DayUnit.working, description="Whether clearing_days counts calendar or working days 清零时限单位"
    )
    # Who clears each item (责任单位, seed 001 二(一): 教育局、医保局、住建局、水务局).
    clearing_departments: dict[str, str] = Field(
        default_factory=lambda: {
            "education": "县教育局",
            "medical": "县医疗保障局",
            "housing": "县住房和城乡建设局",
            "water": "县水务局",
        },
        description="Responsible department of each item (education, medical, housing, water) 各项责任部门",
    )
    # The rectification ledger (问题整改): a problem is rectified within (the seeds set no
    # figure; 30 working days, docs/ledgers.md).
    rectification_days: int = Field(
        30,
        ge=1,
        le=730,
        description="A problem found (inspection, audit, assessment, the system) is rectified within (chosen: 30 "
        "working days) 整改时限",
    )
    rectification_unit: DayUnit = Field(
        DayUnit.working, description="Whether rectification_days counts calendar or working days 整改时限单位"
    )
    # The township monthly report (乡镇月报) is due by this day of the following month: the
    # townships report to the county by the 20th (每月20日前…报送, seed 001 五); villages
    # report to the township by the 22nd (每月22日前…报镇乡村振兴办, seed 000), which a
    # region sets as its own figure (docs/reports.md). The sync worker generates the
    # previous month's report on or after this day.
    monthly_report_day: int = Field(
        20,
        ge=1,
        le=28,
        description="Day of the month by which the previous month's township report is due; the scheduled "
        "report is generated on or after it (seed 001: 20; seed 000: 22 for villages) 月报报送日",
    )


FIELDS = frozenset(MonitoringPolicy.model_fields)
# Figures renamed: an override naming the old name is refused, pointing at the new one.
RENAMED = {"elimination_min_completed_measures": "elimination_min_measures_carried_out"}


TABLE = PolicyTable(MonitoringPolicyRow, MonitoringPolicy, RENAMED)


def resolve(rows: Iterable[PolicyOverride], region_code: str, year: int) -> MonitoringPolicy:
    """The monitoring policy in force for ``region_code`` in ``year``, from override rows
    read beforehand (``context.PolicyContext`` resolves many cases against one read)."""
    return overrides.resolve(rows, region_code, year, MonitoringPolicy)


async def refresh_after_change(session: AsyncSession, region_prefix: str) -> int:
    """Recompute the stored deadlines under ``region_prefix`` with the rules as they are now
    (the change is flushed first, so the rules include it)."""
    from services.core.monitoring.cases import refresh_deadlines
    from services.core.monitoring.context import load_policy_context

    await session.flush()
    return await refresh_deadlines(session, await load_policy_context(session), region_prefix)
