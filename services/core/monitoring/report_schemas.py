"""Request and response shapes of income lines, the uncovered-households rule, statistics,
notice lists and the policy settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from services.core.base import VERSION_DESCRIPTION
from services.core.households.schemas import Input
from services.core.labels import LabelledEnum
from services.core.monitoring.enums import CaseStatus, CaseType, NoticeKind, RiskType
from services.core.policy.monitoring import MonitoringPolicy
from services.core.policy.schemas import PolicyRowOut
from services.core.types import MULTILINE, Day, PositiveMoney

Year = Annotated[int, Field(ge=2000, le=2100)]
Note = Annotated[str, MULTILINE, StringConstraints(strip_whitespace=True, max_length=500)]
ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
RegionPrefix = Annotated[str, StringConstraints(pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]


# ---- income lines ----------------------------------------------------------------------


class IncomeLineIn(Input):
    amount: PositiveMoney = Field(
        description="监测标准: yearly per-capita net income (yuan, two decimals)", examples=["7300.00"]
    )
    note: Note | None = Field(None, description="Source, e.g. the province's notice 文件依据")


class IncomeLineOut(BaseModel):
    year: int = Field(description="Year of the line 年度")
    province_code: str = Field(description="Province: the first two digits of region codes 省级区划代码")
    amount: Decimal = Field(
        description="Monitoring income line of the year and province, yuan per person per year 监测标准"
    )
    note: str | None = Field(description="Source, e.g. the province's notice 文件依据")
    updated_by: int | None = Field(description="User who set it last 设置人")
    version: int = Field(description=VERSION_DESCRIPTION)
    updated_at: datetime = Field(description="When last changed 更新时间")


# ---- uncovered households ----------------------------------------------------------------


class UncoveredHousehold(BaseModel):
    id: int = Field(description="Household id 农户标识")
    household_no: str = Field(description="Household number 户编号")
    head_name: str | None = Field(description="Name of the household head 户主姓名")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    per_capita_net: Decimal | None = Field(
        description="人均纯收入 over the twelve months `period` (滚动12个月); when `income_complete` is false, over "
        "the quarters recorded only: shown, never judged. None when the latest quarter has no members"
    )
    line: Decimal = Field(description="监测标准 of the year and province")
    income_complete: bool = Field(
        description="The twelve months are complete (four quarters recorded): the household is below the line. "
        "False: a quarter is missing, so income cannot be judged (收入记录不全，无法判断) — listed so it "
        "is collected, never raised as a clue"
    )
    quarters: int = Field(description="Quarters recorded in the twelve months (4: complete)")
    period: str = Field(
        description="The twelve months, first and last quarter, e.g. 2025Q1–2025Q4", examples=["2025Q1–2025Q4"]
    )
    open_clue_id: int | None = Field(description="An open risk clue that already names the household (oldest)")


class UncoveredCluesIn(Input):
    year: Year | None = Field(None, description="Income year (default: last year, China time)")
    region: RegionPrefix | None = Field(None, description="Region code prefix (default: all your regions)")


class UncoveredCluesOut(BaseModel):
    year: int = Field(description="Income year the rule checked 收入年度")
    households: int = Field(description="Households the rule found below the line (complete twelve months only)")
    created: int = Field(description="New clues")
    merged: int = Field(description="Added to an open clue of the same household and risk")
    duplicate: int = Field(description="Already raised by an earlier run (same reference)")


# ---- statistics ------------------------------------------------------------------------------


class StatLevel(LabelledEnum):
    """Level of the rows of a statistics table 统计层级."""

    county = "county", "县"
    township = "township", "乡镇"
    village = "village", "村"


class CaseCounts(BaseModel):
    total: int = Field(description="Every case (final ones too)")
    by_status: dict[CaseStatus, int] = Field(description="Every case by current status 按状态")
    by_case_type: dict[CaseType, int] = Field(description="Open cases by case type 按监测类型（未结案）")
    by_risk_type: dict[RiskType, int] = Field(
        description="Open cases by risk type; a case counts once under each risk it carries 按风险类型（未结案）"
    )


class OverdueCounts(BaseModel):
    cases: int = Field(description="Open cases whose next deadline is before as_of 逾期监测对象")
    clues: int = Field(description="Open clues whose next deadline is before as_of 逾期线索")


class StatisticsRow(BaseModel):
    region_code: str | None = Field(
        description="Region code of the row; on the total row the region the table covers (null: every region) 区划代码"
    )
    name: str | None = Field(description="Region name; on the total row that of the region covered 区划名称")
    cases: CaseCounts = Field(description="Case counts 监测对象数量")
    open_clues: int = Field(description="待处理线索")
    identified: int = Field(description="Cases identified in the year 年内识别")
    eliminated: int = Field(description="Cases whose risk was eliminated in the year 年内风险消除")
    avg_days_to_identification: float | None = Field(
        description="Cases identified in the year: mean days from the first clue to identification 平均识别用时（天）"
    )
    overdue: OverdueCounts = Field(description="Overdue cases and clues 逾期数量")


class Statistics(BaseModel):
    region: str = Field(description="The region prefix the table covers")
    level: str = Field(description="Level of the rows: county, township or village 统计层级")
    year: int = Field(description="Year counted (identified, eliminated) 统计年度")
    as_of: Day = Field(description="Today (China time): the day overdue is counted on")
    items: list[StatisticsRow] = Field(description="One row per region at the level, by code")
    total: StatisticsRow = Field(description="The total over every row 合计")


# ---- notices ---------------------------------------------------------------------------------


class NoticeItem(BaseModel):
    """One line of a public notice. Deliberately nothing more: no ID numbers, phone numbers,
    bank accounts, health details or risk types."""

    household_no: str = Field(description="户编号")
    head_name: str | None = Field(description="户主姓名")
    member_count: int = Field(description="家庭人口")
    case_type: CaseType = Field(description="监测类型")
    notice_start: Day | None = Field(description="First day of the notice 公示开始日期")
    notice_end: Day | None = Field(description="Last day of the notice 公示结束日期")


class NoticeList(BaseModel):
    village: str = Field(description="Village code (12 digits) 行政村代码")
    village_name: str = Field(description="Village name 行政村名称")
    kind: NoticeKind = Field(description="Identification or risk-elimination notice 公示类型")
    as_of: Day = Field(description="The day the list is for (today, China time) 日期")
    items: list[NoticeItem] = Field(description="The cases in notice 公示名单")


# ---- policy settings ---------------------------------------------------------------------------


class EffectivePolicy(BaseModel):
    region: str = Field(description="The region code the policy is for 区划代码")
    year: int = Field(description="The year the policy is for 年度")
    policy: MonitoringPolicy = Field(
        description="The policy in force: defaults with every applicable override 生效的政策参数"
    )
    overrides: list[PolicyRowOut] = Field(
        description="The rows that applied, in order (wider region and older year first; later ones win)"
    )
