"""Request and response shapes of project assets, their income and fund findings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints, field_validator, model_validator

from services.core.funds.enums import AssetClass, AssetStatus, DisposalMethod, FundFindingStatus, FundFindingRule
from services.core.households.schemas import Input
from services.core.types import Day, MULTILINE, Money, PositiveMoney, RegionCodeStr, RegionPrefixStr


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _not_in_future(value: date | None) -> date | None:
    from services.core.timeutil import today

    if value is not None and value > today():
        raise ValueError("date_in_future")
    return value


Text200 = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=200)]
OptText200 = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=200)]
Note = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(max_length=2000)]
LongText = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]
Ident = Annotated[int, Field(ge=1, le=2**62)]
CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    """Stored and answered with two places ("200" is "200.00")."""
    return value.quantize(CENT)


Amount = Annotated[PositiveMoney, AfterValidator(_cents)]
Value = Annotated[Money, AfterValidator(_cents)]
# What PUT may set: disposal is its own step.
OperationalStatus = Literal["in_use", "idle", "damaged"]


class AssetIn(Input):
    name: Text200 = Field(description="资产名称")
    asset_class: AssetClass = Field(description="operating 经营性, public_welfare 公益性, household 到户类")
    value: Value = Field(description="资产价值 (元)")
    owner: Text200 = Field(description="所有权人")
    custodian: OptText200 | None = Field(None, description="管护人 / 管护主体")
    household_id: Ident | None = Field(None, description="The household a household-class asset belongs to "
                                                         "(required for that class, not allowed for the others)")
    region_code: RegionCodeStr | None = Field(None, description="The asset's village; the project's region by "
                                                                "default, and within it")
    handover_on: Day = Field(description="移交日期: not before the project's acceptance, not in the future")
    note: Note | None = None

    _future = field_validator("handover_on")(_not_in_future)

    @model_validator(mode="after")
    def _household(self) -> "AssetIn":
        if self.asset_class == AssetClass.household and self.household_id is None:
            raise ValueError("asset_household_required@household_id")
        if self.asset_class != AssetClass.household and self.household_id is not None:
            raise ValueError("asset_household_forbidden@household_id")
        return self


class AssetUpdate(Input):
    owner: Text200 = Field(description="所有权人")
    custodian: OptText200 | None = Field(None, description="管护人 (null: none)")
    status: OperationalStatus = Field(description="in_use 在用, idle 闲置, damaged 损毁 (disposal: POST …/disposal)")
    note: Note | None = None


class DisposalIn(Input):
    method: DisposalMethod = Field(description="auction 拍卖, transfer 转让, conversion 转换用途, suspension 停用, "
                                              "write_off 核销, scrapping 报废")
    reason: LongText = Field(description="处置原因")
    approval: Text200 = Field(description="批准文号")
    disposed_on: Day = Field(description="处置日期: not before the handover, not in the future")

    _future = field_validator("disposed_on")(_not_in_future)


class ShareIn(Input):
    household_id: Ident
    amount: Amount


class IncomeIn(Input):
    received_on: Day = Field(description="收益日期: not before the handover, not in the future")
    amount: Amount = Field(description="收益金额")
    note: Note | None = None
    shares: list[ShareIn] = Field(default_factory=list, max_length=2000,
                                  description="Distribution to households 收益分配 (together at most the amount)")

    _future = field_validator("received_on")(_not_in_future)


class AssetOut(BaseModel):
    id: int
    project_id: int
    region_code: str
    name: str
    asset_class: AssetClass
    value: Decimal
    owner: str
    custodian: str | None
    household_id: int | None
    handover_on: Day
    status: AssetStatus
    disposal_method: DisposalMethod | None
    disposal_reason: str | None
    disposal_approval: str | None
    disposed_on: Day | None
    last_income_on: Day | None
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ShareOut(BaseModel):
    household_id: int
    region_code: str
    category: str = Field(description="The household's category when paid: lifted_out, monitored, ordinary")
    amount: Decimal


class IncomeOut(BaseModel):
    id: int
    asset_id: int
    region_code: str
    received_on: Day
    amount: Decimal
    distributed: Decimal
    priority_distributed: Decimal = Field(description="To lifted-out (脱贫户) and monitored (监测户) households")
    priority_share: Decimal | None = Field(description="priority_distributed / distributed (4 places); null when "
                                                       "nothing was distributed")
    note: str | None
    created_at: datetime
    shares: list[ShareOut] = Field(description="Shares to households in your regions")


class FundFindingOut(BaseModel):
    id: int
    rule_id: FundFindingRule
    status: FundFindingStatus
    region_code: str
    project_id: int | None
    asset_id: int | None
    disbursement_id: int | None
    values: dict[str, Any]
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    version: int


class ScanIn(Input):
    region: RegionPrefixStr | None = Field(None, description="Region prefix to scan (default: all your regions)")
    as_of: Day | None = Field(None, description="The day to judge by (default today, China time)")

    _future = field_validator("as_of")(_not_in_future)


class ScanCount(BaseModel):
    found: int = Field(description="Open after the scan")
    new: int = Field(description="Opened by this scan (first seen, or found again after being resolved)")
    resolved: int = Field(description="Resolved: no longer found")


class ScanOut(BaseModel):
    region: str
    as_of: Day
    rules: dict[str, ScanCount]
