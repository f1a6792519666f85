from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from services.core.base import VERSION_DESCRIPTION
from services.core.households.schemas import Input
from services.core.types import Money


class IncomeFields(Input):
    wages: Money = Field(description="工资性收入")
    business: Money = Field(description="生产经营性收入")
    property: Money = Field(description="财产性收入")
    transfers: Money = Field(description="转移性收入 (incl. policy payments)")
    details: dict[str, dict[str, Money]] = Field(
        default_factory=dict,
        description='Detail items per part, e.g. {"transfers": {"pensions": "600.00", "dibao": "900.00"}}',
    )
    production_costs: Money = Field(Decimal("0"), description="生产经营性支出")
    eligible_spending: Money = Field(Decimal("0"), description="合规自付支出 (medical, schooling)")


class IncomeCreate(IncomeFields):
    year: int = Field(ge=2000, le=2100, description="Year of the income 年度")
    quarter: int = Field(ge=1, le=4, description="Quarter 1–4; one record per household and quarter 季度")


class IncomeUpdate(IncomeFields):
    pass


class IncomeRecordOut(BaseModel):
    id: int = Field(description="Income record id 收入记录标识")
    household_id: int = Field(description="Household id 农户标识")
    year: int = Field(description="Year 年度")
    quarter: int = Field(description="Quarter 1–4 季度")
    wages: Decimal = Field(description="Wage income of the quarter, yuan 工资性收入")
    business: Decimal = Field(description="Production and business income, yuan 生产经营性收入")
    property: Decimal = Field(description="Property income, yuan 财产性收入")
    transfers: Decimal = Field(description="Transfer income (incl. policy payments), yuan 转移性收入")
    details: dict[str, dict[str, Decimal]] = Field(description="Detail items per income part, yuan 收入明细")
    production_costs: Decimal = Field(description="Production and business costs, yuan 生产经营性支出")
    eligible_spending: Decimal = Field(
        description="Eligible out-of-pocket spending (medical, schooling), yuan 合规自付支出"
    )
    member_count: int = Field(description="Members when recorded")
    net_income: Decimal = Field(description="家庭纯收入, computed by the server")
    per_capita_net: Decimal = Field(description="人均纯收入, computed by the server")
    version: int = Field(description=VERSION_DESCRIPTION)
    created_at: datetime = Field(description="When recorded 录入时间")
    updated_at: datetime = Field(description="When last changed 更新时间")


class IncomeYearOut(BaseModel):
    household_id: int = Field(description="Household id 农户标识")
    year: int = Field(description="Year 年度")
    quarters: int = Field(description="How many quarters are recorded")
    wages: Decimal = Field(description="Wage income of the recorded quarters, yuan 工资性收入")
    business: Decimal = Field(description="Production and business income, yuan 生产经营性收入")
    property: Decimal = Field(description="Property income, yuan 财产性收入")
    transfers: Decimal = Field(description="Transfer income, yuan 转移性收入")
    production_costs: Decimal = Field(description="Production and business costs, yuan 生产经营性支出")
    eligible_spending: Decimal = Field(description="Eligible out-of-pocket spending, yuan 合规自付支出")
    member_count: int = Field(
        description="Household size of the latest recorded quarter, used for the per-capita figure 家庭人口数"
    )
    net_income: Decimal = Field(description="Net income of the recorded quarters, yuan 家庭纯收入")
    per_capita_net: Decimal = Field(description="Per-capita net income of the recorded quarters, yuan 人均纯收入")
