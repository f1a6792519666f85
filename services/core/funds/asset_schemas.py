"""Request and response shapes of project assets, their income and fund findings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.core.base import VERSION_DESCRIPTION
from services.core.funds.enums import AssetClass, AssetStatus, DisposalMethod, FundFindingRule, FundFindingStatus
from services.core.households.schemas import Input
from services.core.labels import LiteralLabels
from services.core.types import MULTILINE, Day, Money, PositiveMoney, RegionCodeStr, RegionPrefixStr


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
# The statuses an update may set (disposal is its own step), with AssetStatus's labels.
_OPERATIONAL = (AssetStatus.in_use, AssetStatus.idle, AssetStatus.damaged)
OperationalStatus = Annotated[
    Literal["in_use", "idle", "damaged"], LiteralLabels({s.value: s.label for s in _OPERATIONAL})
]


class AssetIn(Input):
    name: Text200 = Field(description="资产名称")
    asset_class: AssetClass = Field(description="operating 经营性, public_welfare 公益性, household 到户类")
    value: Value = Field(description="资产价值 (元)")
    owner: Text200 = Field(description="所有权人")
    custodian: OptText200 | None = Field(None, description="管护人 / 管护主体")
    household_id: Ident | None = Field(
        None,
        description="The household a household-class asset belongs to "
        "(required for that class, not allowed for the others)",
    )
    region_code: RegionCodeStr | None = Field(
        None, description="The asset's village; the project's region by default, and within it"
    )
    handover_on: Day = Field(description="移交日期: not before the project's acceptance, not in the future")
    note: Note | None = Field(None, description="Note 备注")

    _future = field_validator("handover_on")(_not_in_future)

    @model_validator(mode="after")
    def _household(self) -> AssetIn:
        if self.asset_class == AssetClass.household and self.household_id is None:
            raise ValueError("asset_household_required@household_id")
        if self.asset_class != AssetClass.household and self.household_id is not None:
            raise ValueError("asset_household_forbidden@household_id")
        return self


class AssetUpdate(Input):
    owner: Text200 = Field(description="所有权人")
    custodian: OptText200 | None = Field(None, description="管护人 (null: none)")
    status: OperationalStatus = Field(description="in_use 在用, idle 闲置, damaged 损毁 (disposal: POST …/disposal)")
    note: Note | None = Field(None, description="Note 备注")


class DisposalIn(Input):
    method: DisposalMethod = Field(
        description="auction 拍卖, transfer 转让, conversion 转换用途, suspension 停用, write_off 核销, scrapping 报废"
    )
    reason: LongText = Field(description="处置原因")
    approval: Text200 = Field(description="批准文号")
    disposed_on: Day = Field(description="处置日期: not before the handover, not in the future")

    _future = field_validator("disposed_on")(_not_in_future)


class ShareIn(Input):
    household_id: Ident = Field(description="Household receiving a share 分配农户")
    amount: Amount = Field(description="Share paid to the household, yuan 分配金额")


class IncomeIn(Input):
    received_on: Day = Field(description="收益日期: not before the handover, not in the future")
    amount: Amount = Field(description="收益金额")
    note: Note | None = Field(None, description="Note 备注")
    shares: list[ShareIn] = Field(
        default_factory=list,
        max_length=2000,
        description="Distribution to households 收益分配 (together at most the amount)",
    )

    _future = field_validator("received_on")(_not_in_future)


class AssetOut(BaseModel):
    id: int = Field(description="Asset id 资产标识")
    project_id: int = Field(description="The project that formed the asset 形成资产的项目")
    region_code: str = Field(description="Region code of the asset: its village, or the project's region 所在区划")
    name: str = Field(description="Asset name 资产名称")
    asset_class: AssetClass = Field(description="Asset class 资产类别")
    value: Decimal = Field(description="Value, yuan 资产价值")
    owner: str = Field(description="Owner 所有权人")
    custodian: str | None = Field(description="Custodian; null when none 管护人")
    household_id: int | None = Field(description="The household a household-class asset belongs to 到户资产所属农户")
    handover_on: Day = Field(description="Day handed over 移交日期")
    status: AssetStatus = Field(description="Current status 资产状态")
    disposal_method: DisposalMethod | None = Field(description="How it was disposed of 处置方式")
    disposal_reason: str | None = Field(description="Why it was disposed of 处置原因")
    disposal_approval: str | None = Field(description="Approval document of the disposal 批准文号")
    disposed_on: Day | None = Field(description="Day disposed of 处置日期")
    last_income_on: Day | None = Field(description="Day of the last income recorded 最近收益日期")
    note: str | None = Field(description="Note 备注")
    version: int = Field(description=VERSION_DESCRIPTION)
    created_at: datetime = Field(description="When registered 登记时间")
    updated_at: datetime = Field(description="When last changed 更新时间")


class ShareOut(BaseModel):
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="The household's village code 所属行政村")
    category: str = Field(description="The household's category when paid: lifted_out, monitored, ordinary")
    amount: Decimal = Field(description="Share paid, yuan 分配金额")


class IncomeOut(BaseModel):
    id: int = Field(description="Income id 收益记录标识")
    asset_id: int = Field(description="Asset id 资产标识")
    region_code: str = Field(description="Region code of the asset: its village, or the project's region 所在区划")
    received_on: Day = Field(description="Day received 收益日期")
    amount: Decimal = Field(description="Income received, yuan 收益金额")
    distributed: Decimal = Field(description="Distributed to households in total, yuan 已分配金额")
    priority_distributed: Decimal = Field(description="To lifted-out (脱贫户) and monitored (监测户) households")
    priority_share: Decimal | None = Field(
        description="priority_distributed / distributed (4 places); null when nothing was distributed"
    )
    note: str | None = Field(description="Note 备注")
    created_at: datetime = Field(description="When recorded 录入时间")
    shares: list[ShareOut] = Field(description="Shares to households in your regions")


class FundFindingOut(BaseModel):
    id: int = Field(description="Fund finding id 问题标识")
    rule_id: FundFindingRule = Field(description="The rule that found it 规则")
    status: FundFindingStatus = Field(description="Open or resolved 状态")
    region_code: str = Field(description="Region code of the project or asset 区划代码")
    project_id: int | None = Field(description="The project concerned 项目标识")
    asset_id: int | None = Field(description="The asset concerned 资产标识")
    disbursement_id: int | None = Field(description="The disbursement concerned (negative-list items) 支出记录标识")
    values: dict[str, Any] = Field(
        description="The figures the rule found (amount, item, months without income …) 问题数据"
    )
    first_seen_at: datetime = Field(description="When first found 首次发现时间")
    last_seen_at: datetime = Field(description="When last found 最近发现时间")
    resolved_at: datetime | None = Field(description="When resolved (no longer found) 解决时间")
    version: int = Field(description=VERSION_DESCRIPTION)


class ScanIn(Input):
    region: RegionPrefixStr | None = Field(None, description="Region prefix to scan (default: all your regions)")
    as_of: Day | None = Field(None, description="The day to judge by (default today, China time)")

    _future = field_validator("as_of")(_not_in_future)


class ScanCount(BaseModel):
    found: int = Field(description="Open after the scan")
    new: int = Field(description="Opened by this scan (first seen, or found again after being resolved)")
    resolved: int = Field(description="Resolved: no longer found")


class ScanOut(BaseModel):
    region: str = Field(description="Region code prefix scanned 区划代码前缀")
    as_of: Day = Field(description="The day judged by 截至日期")
    rules: dict[str, ScanCount] = Field(description="Counts per rule 各规则结果")
