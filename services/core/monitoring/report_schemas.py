"""Request and response shapes of income lines, the uncovered-households rule, statistics,
notice lists and the policy settings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from services.core.types import MULTILINE

from services.core.types import Day, PositiveMoney
from services.core.households.schemas import Input
from services.core.monitoring.enums import CaseStatus, CaseType, NoticeKind, RiskType
from services.core.monitoring.policy import MonitoringPolicy

Year = Annotated[int, Field(ge=2000, le=2100)]
Note = Annotated[str, MULTILINE, StringConstraints(strip_whitespace=True, max_length=500)]
ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
# "" is every region (only for a caller whose own regions are everywhere).
PolicyPrefix = Annotated[str, StringConstraints(pattern=r"^(|\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]
RegionPrefix = Annotated[str, StringConstraints(pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]


# ---- income lines ----------------------------------------------------------------------

class IncomeLineIn(Input):
    amount: PositiveMoney = Field(description="监测标准: yearly per-capita net income (yuan, two decimals)",
                                  examples=["7300.00"])
    note: Note | None = Field(None, description="Source, e.g. the province's notice 文件依据")


class IncomeLineOut(BaseModel):
    year: int
    province_code: str = Field(description="Province: the first two digits of region codes 省级区划代码")
    amount: Decimal
    note: str | None
    updated_by: int | None
    version: int
    updated_at: datetime


# ---- uncovered households ----------------------------------------------------------------

class UncoveredHousehold(BaseModel):
    id: int
    household_no: str
    head_name: str | None
    region_code: str
    per_capita_net: Decimal | None = Field(
        description="人均纯收入 over the twelve months `period` (滚动12个月); when `income_complete` is false, over "
                    "the quarters recorded only: shown, never judged. None when the latest quarter has no members")
    line: Decimal = Field(description="监测标准 of the year and province")
    income_complete: bool = Field(
        description="The twelve months are complete (four quarters recorded): the household is below the line. "
                    "False: a quarter is missing, so income cannot be judged (收入记录不全，无法判断) — listed so it "
                    "is collected, never raised as a clue")
    quarters: int = Field(description="Quarters recorded in the twelve months (4: complete)")
    period: str = Field(description="The twelve months, first and last quarter, e.g. 2025Q1–2025Q4",
                        examples=["2025Q1–2025Q4"])
    open_clue_id: int | None = Field(description="An open risk clue that already names the household (oldest)")


class UncoveredCluesIn(Input):
    year: Year | None = Field(None, description="Income year (default: last year, China time)")
    region: RegionPrefix | None = Field(None, description="Region code prefix (default: all your regions)")


class UncoveredCluesOut(BaseModel):
    year: int
    households: int = Field(description="Households the rule found below the line (complete twelve months only)")
    created: int = Field(description="New clues")
    merged: int = Field(description="Added to an open clue of the same household and risk")
    duplicate: int = Field(description="Already raised by an earlier run (same reference)")


# ---- statistics ------------------------------------------------------------------------------

class StatLevel(StrEnum):
    county = "county"  # 县
    township = "township"  # 乡镇
    village = "village"  # 村


class CaseCounts(BaseModel):
    total: int = Field(description="Every case (final ones too)")
    by_status: dict[CaseStatus, int] = Field(description="Every case by current status 按状态")
    by_case_type: dict[CaseType, int] = Field(description="Open cases by case type 按监测类型（未结案）")
    by_risk_type: dict[RiskType, int] = Field(
        description="Open cases by risk type; a case counts once under each risk it carries 按风险类型（未结案）")


class OverdueCounts(BaseModel):
    cases: int = Field(description="Open cases whose next deadline is before as_of 逾期监测对象")
    clues: int = Field(description="Open clues whose next deadline is before as_of 逾期线索")


class StatisticsRow(BaseModel):
    region_code: str | None
    name: str | None
    cases: CaseCounts
    open_clues: int = Field(description="待处理线索")
    identified: int = Field(description="Cases identified in the year 年内识别")
    eliminated: int = Field(description="Cases whose risk was eliminated in the year 年内风险消除")
    avg_days_to_identification: float | None = Field(
        description="Cases identified in the year: mean days from the first clue to identification 平均识别用时（天）")
    overdue: OverdueCounts


class Statistics(BaseModel):
    region: str = Field(description="The region prefix the table covers")
    level: str
    year: int
    as_of: Day = Field(description="Today (China time): the day overdue is counted on")
    items: list[StatisticsRow] = Field(description="One row per region at the level, by code")
    total: StatisticsRow


# ---- notices ---------------------------------------------------------------------------------

class NoticeItem(BaseModel):
    """One line of a public notice. Deliberately nothing more: no ID numbers, phone numbers,
    bank accounts, health details or risk types."""

    household_no: str = Field(description="户编号")
    head_name: str | None = Field(description="户主姓名")
    member_count: int = Field(description="家庭人口")
    case_type: CaseType = Field(description="监测类型")
    notice_start: Day | None
    notice_end: Day | None


class NoticeList(BaseModel):
    village: str
    village_name: str
    kind: NoticeKind
    as_of: Day
    items: list[NoticeItem]


# ---- policy settings ---------------------------------------------------------------------------

class PolicyRowIn(Input):
    region_prefix: PolicyPrefix = Field(description="Region code prefix the override is for, within your regions")
    year: Year = Field(description="In force from this year on")
    values: dict[str, Any] = Field(description="Fields of the monitoring policy to override (see "
                                               "MonitoringPolicy); each validated")
    note: Note | None = None


class PolicyRowUpdate(Input):
    values: dict[str, Any]
    note: Note | None = None


class PolicyRowOut(BaseModel):
    id: int
    region_prefix: str
    year: int
    values: dict[str, Any]
    note: str | None
    updated_by: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    deadlines_refreshed: int | None = Field(
        None, description="After a change: open cases and clues whose stored deadlines were recomputed")


class EffectivePolicy(BaseModel):
    region: str
    year: int
    policy: MonitoringPolicy
    overrides: list[PolicyRowOut] = Field(description="The rows that applied, in order (wider region and "
                                                      "older year first; later ones win)")
