"""Request and response bodies of funds, allocations, disbursements, projects, beneficiaries
and the compliance indicators."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from services.core.funds.enums import (
    FundKind, FundLevel, IndicatorStatus, ProjectCategory, ProjectStatus, SpendingItem,
)
from services.core.households.schemas import Input
from services.core.types import Day, MULTILINE, Money, PositiveMoney, RegionCodeStr, Text100, Text200

Year = Annotated[int, Field(ge=2000, le=2100)]
Note = Annotated[str | None, MULTILINE, Field(None, max_length=2000)]


# ---- funds ------------------------------------------------------------------------------------

class FundIn(Input):
    year: Year
    level: FundLevel = Field(description="central 中央 / provincial 省级 / city 市级 / county 县级")
    kind: FundKind = Field(description="transition 衔接资金 / work_relief 以工代赈 / east_west 东西部协作 / "
                                       "designated 定点帮扶 / social 社会帮扶")
    name: Text200 = Field(min_length=1, description="资金名称")
    document_ref: Text100 | None = Field(None, description="指标文件文号")
    region_code: RegionCodeStr = Field(description="The county receiving it (12-digit code of a county) 县级区划代码")
    amount: PositiveMoney
    received_on: Day = Field(description="下达日期")
    note: Note


class FundUpdate(Input):
    name: Text200 = Field(min_length=1)
    document_ref: Text100 | None = None
    amount: PositiveMoney = Field(description="Never below what is already allocated 不得低于已分配金额")
    received_on: Day
    note: Note


class FundOut(BaseModel):
    id: int
    year: int
    level: FundLevel
    kind: FundKind
    name: str
    document_ref: str | None
    region_code: str
    amount: Decimal
    allocated: Decimal
    available: Decimal
    disbursed: Decimal
    received_on: Day
    note: str | None
    version: int


class AllocationIn(Input):
    project_id: int = Field(ge=1, le=2**62)
    amount: PositiveMoney
    allocated_on: Day = Field(description="下达到项目的日期")
    note: Note


class AllocationOut(BaseModel):
    id: int
    fund_id: int
    project_id: int
    region_code: str
    amount: Decimal
    allocated_on: Day
    note: str | None
    created_at: datetime


class DisbursementIn(Input):
    fund_id: int = Field(ge=1, le=2**62)
    amount: PositiveMoney
    paid_on: Day = Field(description="支付日期")
    voucher_ref: Text100 = Field(min_length=1, description="凭证号")
    item: SpendingItem = Field(description="What it paid for 支出事项 (the negative list is refused)")
    payee: Text200 | None = None
    note: Note


class DisbursementOut(BaseModel):
    id: int
    fund_id: int
    project_id: int
    region_code: str
    amount: Decimal
    paid_on: Day
    voucher_ref: str
    item: SpendingItem
    payee: str | None
    note: str | None
    imported: bool
    created_at: datetime


class DisbursementImport(Input):
    rows: list[dict[str, Any]] = Field(
        min_length=1, max_length=5000,
        description="Rows of the finance system's books, each with project_id, fund_id, amount, paid_on, voucher_ref, "
                    "item and optionally payee and note. Each row is checked on its own: a bad one is returned "
                    "with its reason and never fails the others 逐行校验")


class ImportRejected(BaseModel):
    row: int
    field: str | None
    code: str
    message: str


class ImportResult(BaseModel):
    accepted: int
    flagged: int = Field(description="Accepted, and raised as findings: negative-list items 负面清单")
    rejected: list[ImportRejected]
    disbursement_ids: list[int]
    finding_ids: list[int]


# ---- projects ---------------------------------------------------------------------------------

class Target(Input):
    indicator: Text200 = Field(min_length=1, description="绩效指标")
    target: Text100 = Field(min_length=1, description="指标值")
    unit: Text100 | None = None


class ProjectFields(Input):
    name: Text200 = Field(min_length=1, description="项目名称")
    category: ProjectCategory
    location: Text200 | None = Field(None, description="建设地点")
    implementing_unit: Text200 = Field(min_length=1, description="实施单位")
    content: Annotated[str | None, MULTILINE, Field(None, max_length=4000, description="建设内容及规模")]
    budget: Money = Field(description="计划投资 (元)")
    performance_targets: list[Target] = Field(default_factory=list, max_length=50, description="绩效目标")
    farmer_links: Annotated[str | None, Field(None, max_length=4000, description="联农带农机制")]
    planned_start: Day
    planned_end: Day

    @model_validator(mode="after")
    def _in_order(self):
        if self.planned_end < self.planned_start:
            raise ValueError("planned_end_before_start@planned_end")
        return self


class ProjectIn(ProjectFields):
    year: Year
    region_code: RegionCodeStr = Field(description="The township or village of the project 项目所在乡镇或村")
    proposed_on: Day | None = Field(None, description="申报日期 (default today)")


class ProjectUpdate(ProjectFields):
    pass


class StepIn(Input):
    status: ProjectStatus = Field(description="The next step (or cancelled) 下一环节")
    on: Day = Field(description="The day of the step 环节日期 (not before the previous step, not in the future)")
    note: Note


class ProjectOut(BaseModel):
    id: int
    year: int
    name: str
    category: ProjectCategory
    region_code: str
    location: str | None
    implementing_unit: str
    content: str | None
    budget: Decimal
    performance_targets: list[dict]
    farmer_links: str | None
    planned_start: Day
    planned_end: Day
    status: ProjectStatus
    proposed_on: Day
    reviewed_on: Day | None
    approved_on: Day | None
    tendering_on: Day | None
    started_on: Day | None
    completed_on: Day | None
    accepted_on: Day | None
    handed_over_on: Day | None
    cancelled_on: Day | None
    cancel_reason: str | None
    history: list[dict]
    next_steps: list[ProjectStatus]
    allocated: Decimal
    disbursed: Decimal
    version: int


class BeneficiaryIn(Input):
    household_id: int = Field(ge=1, le=2**62)
    benefit: Text200 = Field(min_length=1, description="What it receives 受益内容")
    amount: Money = Field(Decimal("0"), description="Its value (元)")
    labour_days: int = Field(0, ge=0, le=3660, description="以工代赈: days worked")
    labour_pay: Money = Field(Decimal("0"), description="以工代赈: labour pay received (元)")


class BeneficiaryOut(BaseModel):
    id: int
    project_id: int
    household_id: int
    region_code: str
    category: str | None
    benefit: str
    amount: Decimal
    labour_days: int
    labour_pay: Decimal
    created_at: datetime


# ---- indicators -------------------------------------------------------------------------------

class ProjectShortfall(BaseModel):
    id: int
    name: str
    region_code: str
    category: ProjectCategory
    status: ProjectStatus
    figures: dict[str, Any]


class Indicator(BaseModel):
    id: str = Field(description="industry_share.<level> | spending_progress | start_rate | labour_pay_share | "
                                "management_fee_share")
    value: Decimal | None = Field(description="A share (0–1), null when nothing to measure")
    target: Decimal
    expected: Decimal | None = Field(None, description="Where the value should be by as_of on the way to the target")
    comparison: str = Field(description="at_least | at_most")
    status: IndicatorStatus
    numerator: Decimal
    denominator: Decimal
    details: dict[str, Any] = Field(default_factory=dict)
    projects: list[ProjectShortfall] = Field(description="The projects that pull it down, the worst first")


class IndicatorSet(BaseModel):
    region: str
    year: int
    as_of: Day
    indicators: list[Indicator]
