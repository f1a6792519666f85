"""Request and response bodies of funds, allocations, disbursements, projects, beneficiaries
and the compliance indicators."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from services.core.base import VERSION_DESCRIPTION
from services.core.funds.enums import (
    FundKind,
    FundLevel,
    IndicatorStatus,
    ProjectCategory,
    ProjectStatus,
    SpendingItem,
)
from services.core.households.schemas import Input
from services.core.types import MULTILINE, Day, Money, PositiveMoney, RegionCodeStr, Text100, Text200

Year = Annotated[int, Field(ge=2000, le=2100)]
Note = Annotated[str | None, MULTILINE, Field(None, max_length=2000)]


# ---- funds ------------------------------------------------------------------------------------


class FundIn(Input):
    year: Year = Field(description="Budget year of the fund 资金年度")
    level: FundLevel = Field(description="central 中央 / provincial 省级 / city 市级 / county 县级")
    kind: FundKind = Field(
        description="transition 衔接资金 / work_relief 以工代赈 / east_west 东西部协作 / "
        "designated 定点帮扶 / social 社会帮扶"
    )
    name: Text200 = Field(min_length=1, description="资金名称")
    document_ref: Text100 | None = Field(None, description="指标文件文号")
    region_code: RegionCodeStr = Field(description="The county receiving it (12-digit code of a county) 县级区划代码")
    amount: PositiveMoney
    received_on: Day = Field(description="下达日期")
    note: Note = Field(description="Note 备注")


class FundUpdate(Input):
    name: Text200 = Field(min_length=1, description="Name of the fund 资金名称")
    document_ref: Text100 | None = Field(None, description="Number of the allocation document 指标文件文号")
    amount: PositiveMoney = Field(description="Never below what is already allocated 不得低于已分配金额")
    received_on: Day = Field(description="Day the fund was received 下达日期")
    note: Note = Field(description="Note 备注")


class FundOut(BaseModel):
    id: int = Field(description="Fund id 资金标识")
    year: int = Field(description="Budget year 资金年度")
    level: FundLevel = Field(description="Level of government that allocated it 资金级次")
    kind: FundKind = Field(description="Kind of fund 资金类型")
    name: str = Field(description="Name of the fund 资金名称")
    document_ref: str | None = Field(description="Number of the allocation document 指标文件文号")
    region_code: str = Field(description="The county receiving it (12-digit code) 县级区划代码")
    amount: Decimal = Field(description="Amount received, yuan 下达金额")
    allocated: Decimal = Field(description="Allocated to projects so far, yuan 已分配到项目金额")
    available: Decimal = Field(description="Not yet allocated (amount − allocated), yuan 可分配余额")
    disbursed: Decimal = Field(description="Paid out from this fund so far, yuan 已支付金额")
    received_on: Day = Field(description="Day the fund was received 下达日期")
    note: str | None = Field(description="Note 备注")
    version: int = Field(description=VERSION_DESCRIPTION)


class AllocationIn(Input):
    project_id: int = Field(ge=1, le=2**62, description="Project the money is allocated to, in the fund's county 项目")
    amount: PositiveMoney = Field(description="Amount allocated, yuan; at most what the fund has left 分配金额")
    allocated_on: Day = Field(description="下达到项目的日期")
    note: Note = Field(description="Note 备注")


class AllocationOut(BaseModel):
    id: int = Field(description="Allocation id 分配记录标识")
    fund_id: int = Field(description="Fund id 资金标识")
    project_id: int = Field(description="Project id 项目标识")
    region_code: str = Field(description="The project's region code 项目区划代码")
    amount: Decimal = Field(description="Amount allocated, yuan 分配金额")
    allocated_on: Day = Field(description="Day it was allocated to the project 下达到项目的日期")
    note: str | None = Field(description="Note 备注")
    created_at: datetime = Field(description="When recorded 录入时间")


class DisbursementIn(Input):
    fund_id: int = Field(
        ge=1, le=2**62, description="Fund paid from; it must have been allocated to the project 资金来源"
    )
    amount: PositiveMoney = Field(
        description="Amount paid, yuan; at most what the fund allocated to the project has left 支付金额"
    )
    paid_on: Day = Field(description="支付日期")
    voucher_ref: Text100 = Field(min_length=1, description="凭证号")
    item: SpendingItem = Field(description="What it paid for 支出事项 (the negative list is refused)")
    payee: Text200 | None = Field(None, description="Who was paid 收款方")
    note: Note = Field(description="Note 备注")


class DisbursementOut(BaseModel):
    id: int = Field(description="Disbursement id 支出记录标识")
    fund_id: int = Field(description="Fund paid from 资金标识")
    project_id: int = Field(description="Project id 项目标识")
    region_code: str = Field(description="The project's region code 项目区划代码")
    amount: Decimal = Field(description="Amount paid, yuan 支付金额")
    paid_on: Day = Field(description="Day paid 支付日期")
    voucher_ref: str = Field(description="Voucher number 凭证号")
    item: SpendingItem = Field(description="What it paid for 支出事项")
    payee: str | None = Field(description="Who was paid 收款方")
    note: str | None = Field(description="Note 备注")
    imported: bool = Field(
        description="True when it came from a finance-system import (negative-list items are "
        "then accepted and raised as findings) 是否导入"
    )
    created_at: datetime = Field(description="When recorded 录入时间")


class DisbursementImport(Input):
    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=5000,
        description="Rows of the finance system's books, each with project_id, fund_id, amount, paid_on, voucher_ref, "
        "item and optionally payee and note. Each row is checked on its own: a bad one is returned "
        "with its reason and never fails the others 逐行校验",
    )


class ImportRejected(BaseModel):
    row: int = Field(description="Number of the rejected row in `rows`, counting from 1 行号")
    field: str | None = Field(description="The field at fault, when one is 字段")
    code: str = Field(description="Machine-readable reason 错误代码")
    message: str = Field(description="The reason, in the request's language 原因")


class ImportResult(BaseModel):
    accepted: int = Field(description="Rows recorded 已导入行数")
    flagged: int = Field(description="Accepted, and raised as findings: negative-list items 负面清单")
    rejected: list[ImportRejected] = Field(description="Rows refused, each with its reason 被拒绝的行")
    disbursement_ids: list[int] = Field(description="Ids of the disbursements recorded 支出记录标识")
    finding_ids: list[int] = Field(description="Ids of the fund findings raised (negative-list items) 问题线索标识")


# ---- projects ---------------------------------------------------------------------------------


class Target(Input):
    indicator: Text200 = Field(min_length=1, description="绩效指标")
    target: Text100 = Field(min_length=1, description="指标值")
    unit: Text100 | None = Field(None, description="Unit of the target value 计量单位")


class ProjectFields(Input):
    name: Text200 = Field(min_length=1, description="项目名称")
    category: ProjectCategory = Field(description="Project category 项目类型")
    location: Text200 | None = Field(None, description="建设地点")
    implementing_unit: Text200 = Field(min_length=1, description="实施单位")
    content: Annotated[str | None, MULTILINE, Field(None, max_length=4000, description="建设内容及规模")]
    budget: Money = Field(description="计划投资 (元)")
    performance_targets: list[Target] = Field(default_factory=list, max_length=50, description="绩效目标")
    farmer_links: Annotated[str | None, Field(None, max_length=4000, description="联农带农机制")]
    planned_start: Day = Field(description="Planned start day 计划开工日期")
    planned_end: Day = Field(description="Planned completion day, not before the start 计划完工日期")

    @model_validator(mode="after")
    def _in_order(self):
        if self.planned_end < self.planned_start:
            raise ValueError("planned_end_before_start@planned_end")
        return self


class ProjectIn(ProjectFields):
    year: Year = Field(description="Year of the project library entry 项目年度")
    region_code: RegionCodeStr = Field(description="The township or village of the project 项目所在乡镇或村")
    proposed_on: Day | None = Field(None, description="申报日期 (default today)")


class ProjectUpdate(ProjectFields):
    pass


class StepIn(Input):
    status: ProjectStatus = Field(description="The next step (or cancelled) 下一环节")
    on: Day = Field(description="The day of the step 环节日期 (not before the previous step, not in the future)")
    note: Note = Field(description="Note on the step (e.g. the reason for cancelling) 备注")


class ProjectOut(BaseModel):
    id: int = Field(description="Project id 项目标识")
    year: int = Field(description="Project year 项目年度")
    name: str = Field(description="Project name 项目名称")
    category: ProjectCategory = Field(description="Project category 项目类型")
    region_code: str = Field(description="The township or village of the project 项目所在乡镇或村")
    location: str | None = Field(description="Construction site 建设地点")
    implementing_unit: str = Field(description="Implementing unit 实施单位")
    content: str | None = Field(description="Content and scale 建设内容及规模")
    budget: Decimal = Field(description="Planned investment, yuan 计划投资")
    performance_targets: list[dict] = Field(description="Performance targets: indicator, target and unit 绩效目标")
    farmer_links: str | None = Field(description="How the project links to farmers' income 联农带农机制")
    planned_start: Day = Field(description="Planned start day 计划开工日期")
    planned_end: Day = Field(description="Planned completion day 计划完工日期")
    status: ProjectStatus = Field(description="Current step of the lifecycle 项目状态")
    proposed_on: Day = Field(description="Day proposed 申报日期")
    reviewed_on: Day | None = Field(description="Day reviewed into the library 评审入库日期")
    approved_on: Day | None = Field(description="Day approved 批复日期")
    tendering_on: Day | None = Field(description="Day tendering began 招投标日期")
    started_on: Day | None = Field(description="Day construction started 开工日期")
    completed_on: Day | None = Field(description="Day completed 完工日期")
    accepted_on: Day | None = Field(description="Day accepted 验收日期")
    handed_over_on: Day | None = Field(description="Day the assets were handed over 资产移交日期")
    cancelled_on: Day | None = Field(description="Day cancelled 取消日期")
    cancel_reason: str | None = Field(description="Why it was cancelled 取消原因")
    history: list[dict] = Field(
        description="Every step taken: status, on (the step's day), by (user id), at (when recorded), note 项目进度记录"
    )
    next_steps: list[ProjectStatus] = Field(description="The statuses the project may go to next 可进行的下一环节")
    allocated: Decimal = Field(description="Funds allocated to the project, yuan 已下达资金")
    disbursed: Decimal = Field(description="Paid out for the project so far, yuan 已支付")
    version: int = Field(description=VERSION_DESCRIPTION)


class BeneficiaryIn(Input):
    household_id: int = Field(ge=1, le=2**62, description="The household that benefits 受益农户")
    benefit: Text200 = Field(min_length=1, description="What it receives 受益内容")
    amount: Money = Field(Decimal("0"), description="Its value (元)")
    labour_days: int = Field(0, ge=0, le=3660, description="以工代赈: days worked")
    labour_pay: Money = Field(Decimal("0"), description="以工代赈: labour pay received (元)")


class BeneficiaryOut(BaseModel):
    id: int = Field(description="Beneficiary id 受益记录标识")
    project_id: int = Field(description="Project id 项目标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="The household's village code 所属行政村")
    category: str | None = Field(description="The household's category now 户类型")
    benefit: str = Field(description="What it receives 受益内容")
    amount: Decimal = Field(description="Its value, yuan 受益金额")
    labour_days: int = Field(description="以工代赈: days worked 务工天数")
    labour_pay: Decimal = Field(description="以工代赈: labour pay received, yuan 劳务报酬")
    created_at: datetime = Field(description="When recorded 录入时间")


# ---- indicators -------------------------------------------------------------------------------


class ProjectShortfall(BaseModel):
    id: int = Field(description="Project id 项目标识")
    name: str = Field(description="Project name 项目名称")
    region_code: str = Field(description="The project's region code 项目区划代码")
    category: ProjectCategory = Field(description="Project category 项目类型")
    status: ProjectStatus = Field(description="Project status 项目状态")
    figures: dict[str, Any] = Field(
        description="The project's own figures for the indicator (e.g. allocated, disbursed, required) 项目数据"
    )


class Indicator(BaseModel):
    id: str = Field(
        description="industry_share.<level> | spending_progress | start_rate | labour_pay_share | management_fee_share"
    )
    value: Decimal | None = Field(description="A share (0–1), null when nothing to measure")
    target: Decimal = Field(description="The target share (0–1) 目标值")
    expected: Decimal | None = Field(None, description="Where the value should be by as_of on the way to the target")
    comparison: str = Field(description="at_least | at_most")
    status: IndicatorStatus = Field(description="Met, on track or behind 达标情况")
    numerator: Decimal = Field(description="Numerator of the share, yuan or projects 分子")
    denominator: Decimal = Field(description="Denominator of the share, yuan or projects 分母")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Further figures of the indicator (e.g. alarm for the start rate) 明细"
    )
    projects: list[ProjectShortfall] = Field(description="The projects that pull it down, the worst first")


class IndicatorSet(BaseModel):
    region: str = Field(description="Region code prefix the indicators cover 区划代码前缀")
    year: int = Field(description="Fund and project year 年度")
    as_of: Day = Field(description="The day judged by (China time) 截至日期")
    indicators: list[Indicator] = Field(description="The compliance indicators 监管指标")
