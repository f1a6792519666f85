from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from services.core.households.schemas import Input
from services.core.types import Money


class IncomeFields(Input):
    wages: Money = Field(description="工资性收入")
    business: Money = Field(description="生产经营性收入")
    property: Money = Field(description="财产性收入")
    transfers: Money = Field(description="转移性收入 (incl. policy payments)")
    details: dict[str, dict[str, Money]] = Field(
        default_factory=dict,
        description="Detail items per part, e.g. {\"transfers\": {\"pensions\": \"600.00\", \"dibao\": \"900.00\"}}",
    )
    production_costs: Money = Field(Decimal("0"), description="生产经营性支出")
    eligible_spending: Money = Field(Decimal("0"), description="合规自付支出 (medical, schooling)")


class IncomeCreate(IncomeFields):
    year: int = Field(ge=2000, le=2100)
    quarter: int = Field(ge=1, le=4)


class IncomeUpdate(IncomeFields):
    pass


class IncomeRecordOut(BaseModel):
    id: int
    household_id: int
    year: int
    quarter: int
    wages: Decimal
    business: Decimal
    property: Decimal
    transfers: Decimal
    details: dict[str, dict[str, Decimal]]
    production_costs: Decimal
    eligible_spending: Decimal
    member_count: int = Field(description="Members when recorded")
    net_income: Decimal = Field(description="家庭纯收入, computed by the server")
    per_capita_net: Decimal = Field(description="人均纯收入, computed by the server")
    version: int
    created_at: datetime
    updated_at: datetime


class IncomeYearOut(BaseModel):
    household_id: int
    year: int
    quarters: int = Field(description="How many quarters are recorded")
    wages: Decimal
    business: Decimal
    property: Decimal
    transfers: Decimal
    production_costs: Decimal
    eligible_spending: Decimal
    member_count: int
    net_income: Decimal
    per_capita_net: Decimal


class IncomeYearDetail(BaseModel):
    year: int
    quarters: list[IncomeRecordOut]
    totals: IncomeYearOut | None
