from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, Versioned, bigint_pk


class IncomeRecord(RegionScoped, Versioned, Base):
    """收入: one household's income for one quarter, as collected on the paper ledger.

    The four parts are entered; net and per-capita figures are computed by the server.
    ``details`` holds the detail items of each part (pensions, 低保金, …)."""

    __tablename__ = "income_records"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    quarter: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    wages: Mapped[Decimal] = mapped_column(nullable=False)  # 工资性收入
    business: Mapped[Decimal] = mapped_column(nullable=False)  # 生产经营性收入
    property: Mapped[Decimal] = mapped_column(nullable=False)  # 财产性收入
    transfers: Mapped[Decimal] = mapped_column(nullable=False)  # 转移性收入
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    production_costs: Mapped[Decimal] = mapped_column(nullable=False)  # 生产经营性支出
    eligible_spending: Mapped[Decimal] = mapped_column(nullable=False)  # 合规自付支出
    member_count: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    net_income: Mapped[Decimal] = mapped_column(nullable=False)  # 家庭纯收入
    per_capita_net: Mapped[Decimal] = mapped_column(nullable=False)  # 人均纯收入
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("household_id", "year", "quarter"),)


class IncomeYear(RegionScoped, Base):
    """Yearly totals of a household, kept by the service whenever a quarter changes, so
    "per-capita income below X in year Y" is an index range scan."""

    __tablename__ = "income_years"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    quarters: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    wages: Mapped[Decimal] = mapped_column(nullable=False)
    business: Mapped[Decimal] = mapped_column(nullable=False)
    property: Mapped[Decimal] = mapped_column(nullable=False)
    transfers: Mapped[Decimal] = mapped_column(nullable=False)
    production_costs: Mapped[Decimal] = mapped_column(nullable=False)
    eligible_spending: Mapped[Decimal] = mapped_column(nullable=False)
    member_count: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    net_income: Mapped[Decimal] = mapped_column(nullable=False)
    per_capita_net: Mapped[Decimal] = mapped_column(nullable=False)

    __table_args__ = (Index("ix_income_years_year_per_capita_net", "year", "per_capita_net"),)
