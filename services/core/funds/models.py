"""Tables of funds, allocations, disbursements, projects, beneficiaries, assets, asset
income and its distribution, fund findings and the funds policy's overrides.

Every row that belongs to a place carries its ``region_code`` (the fund's county, the
project's village or township, the asset's village, the household's village), so the region
scope filters it without a join. Money is NUMERIC(14, 2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, PolicyOverrideRow, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.funds.enums import (
    AssetClass,
    AssetStatus,
    DisposalMethod,
    FundFindingRule,
    FundFindingStatus,
    FundKind,
    FundLevel,
    ProjectCategory,
    ProjectStatus,
    SpendingItem,
)


def _positive(name: str) -> CheckConstraint:
    return CheckConstraint(f"{name} > 0", name=f"{name}_positive")


class Fund(RegionScoped, Versioned, Base):
    """Money of one level and kind that a county receives for a year (a 指标文件)."""

    __tablename__ = "funds"
    __table_args__ = (
        Index("ix_funds_region_year", "region_code", "year", "id"),
        _positive("amount"),
    )

    id: Mapped[int] = bigint_pk()
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    level: Mapped[FundLevel] = mapped_column(str_enum(FundLevel, "fund_level"), nullable=False)
    kind: Mapped[FundKind] = mapped_column(str_enum(FundKind, "fund_kind"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    document_ref: Mapped[str | None] = mapped_column(String(100))  # 文号
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)  # the county
    amount: Mapped[Decimal] = mapped_column(nullable=False)
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Project(RegionScoped, Versioned, Base):
    """One project of the library (项目库) and where it is in its lifecycle."""

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_year_region", "year", "region_code", "id"),
        Index("ix_projects_region", "region_code", "id"),
        CheckConstraint("planned_end >= planned_start", name="planned_in_order"),
    )

    id: Mapped[int] = bigint_pk()
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[ProjectCategory] = mapped_column(str_enum(ProjectCategory, "project_category"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    location: Mapped[str | None] = mapped_column(String(200))  # 建设地点, as published
    implementing_unit: Mapped[str] = mapped_column(String(200), nullable=False)  # 实施单位 / 责任单位
    content: Mapped[str | None] = mapped_column(Text)  # 建设内容及规模
    budget: Mapped[Decimal] = mapped_column(nullable=False)  # 计划投资
    # [{"indicator": "带动脱贫户增收", "target": "120", "unit": "户"}]
    performance_targets: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    farmer_links: Mapped[str | None] = mapped_column(Text)  # 联农带农机制
    planned_start: Mapped[date] = mapped_column(Date, nullable=False)
    planned_end: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[ProjectStatus] = mapped_column(
        str_enum(ProjectStatus, "project_status"), nullable=False, default=ProjectStatus.proposed
    )
    proposed_on: Mapped[date] = mapped_column(Date, nullable=False)
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    approved_on: Mapped[date | None] = mapped_column(Date)
    tendering_on: Mapped[date | None] = mapped_column(Date)
    started_on: Mapped[date | None] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    handed_over_on: Mapped[date | None] = mapped_column(Date)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # [{"status", "on", "by", "at", "note"}], the steps as taken
    history: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Allocation(RegionScoped, Base):
    """Money of a fund given to a project (资金下达到项目). ``region_code`` is the project's."""

    __tablename__ = "fund_allocations"
    __table_args__ = (
        Index("ix_fund_allocations_fund", "fund_id", "id"),
        Index("ix_fund_allocations_project", "project_id", "fund_id"),
        Index("ix_fund_allocations_region", "region_code", "id"),
        _positive("amount"),
    )

    id: Mapped[int] = bigint_pk()
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    amount: Mapped[Decimal] = mapped_column(nullable=False)
    allocated_on: Mapped[date] = mapped_column(Date, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class Disbursement(RegionScoped, Base):
    """Money paid out of a fund for a project (资金支出), with its voucher."""

    __tablename__ = "fund_disbursements"
    __table_args__ = (
        Index("ix_fund_disbursements_project", "project_id", "paid_on"),
        Index("ix_fund_disbursements_fund", "fund_id", "project_id"),
        Index("ix_fund_disbursements_region", "region_code", "id"),
        _positive("amount"),
    )

    id: Mapped[int] = bigint_pk()
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    amount: Mapped[Decimal] = mapped_column(nullable=False)
    paid_on: Mapped[date] = mapped_column(Date, nullable=False)
    voucher_ref: Mapped[str] = mapped_column(String(100), nullable=False)  # 凭证号
    item: Mapped[SpendingItem] = mapped_column(str_enum(SpendingItem, "spending_item"), nullable=False)
    payee: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    imported: Mapped[bool] = mapped_column(nullable=False, default=False)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


# Running totals of a project's money per fund year, for the compliance indicators as of
# today; kept by triggers on ``fund_allocations``, ``fund_disbursements`` and ``funds``
# (``services.core.funds.totals``, which says what each column holds). ``region_code`` is
# the rows' (the project's). A table without a class: nothing writes it but the triggers.
fund_project_totals = Table(
    "fund_project_totals",
    Base.metadata,
    Column("region_code", RegionCode, primary_key=True),
    Column("project_id", BigInteger, primary_key=True),
    Column("year", SmallInteger, primary_key=True),  # the fund's
    Column("allocated", BigInteger, nullable=False),  # money in whole fen (totals.py)
    *(Column(f"alloc_{lv.value}_{k.value}", BigInteger, nullable=False) for lv in FundLevel for k in FundKind),
    *(Column(f"paid_{k.value}", BigInteger, nullable=False) for k in FundKind),
    Column("labour_pay", BigInteger, nullable=False),
    Column("management_fee", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),  # allocations and payments counted
    Column("last_on", Date),  # the latest day counted (never lowered)
)


class Beneficiary(RegionScoped, Base):
    """A household a project benefits (联农带农) and what it receives; for 以工代赈 the
    labour its members gave and were paid. ``region_code`` is the household's."""

    __tablename__ = "project_beneficiaries"
    __table_args__ = (
        UniqueConstraint("project_id", "household_id"),
        Index("ix_project_beneficiaries_household", "household_id"),
        Index("ix_project_beneficiaries_region", "region_code", "id"),
    )

    id: Mapped[int] = bigint_pk()
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    benefit: Mapped[str] = mapped_column(String(200), nullable=False)  # what it receives
    amount: Mapped[Decimal] = mapped_column(nullable=False, default=Decimal("0"))  # its value
    labour_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    labour_pay: Mapped[Decimal] = mapped_column(nullable=False, default=Decimal("0"))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class Asset(RegionScoped, Versioned, Base):
    """An asset a project formed (扶贫项目资产), registered from an accepted project."""

    __tablename__ = "project_assets"
    __table_args__ = (
        Index("ix_project_assets_region", "region_code", "id"),
        Index("ix_project_assets_project", "project_id"),
        Index("ix_project_assets_household", "household_id"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint(
            "status <> 'disposed' OR (disposal_method IS NOT NULL AND disposal_reason IS NOT NULL "
            "AND disposal_approval IS NOT NULL AND disposed_on IS NOT NULL)",
            name="disposal_recorded",
        ),
    )

    id: Mapped[int] = bigint_pk()
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    asset_class: Mapped[AssetClass] = mapped_column(str_enum(AssetClass, "asset_class"), nullable=False)
    value: Mapped[Decimal] = mapped_column(nullable=False)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)  # 所有权人
    custodian: Mapped[str | None] = mapped_column(String(200))  # 管护人 / 管护主体
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))  # 到户类: whose
    handover_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[AssetStatus] = mapped_column(
        str_enum(AssetStatus, "asset_status"), nullable=False, default=AssetStatus.in_use
    )
    disposal_method: Mapped[DisposalMethod | None] = mapped_column(str_enum(DisposalMethod, "disposal_method"))
    disposal_reason: Mapped[str | None] = mapped_column(Text)
    disposal_approval: Mapped[str | None] = mapped_column(String(200))  # 批准文号
    disposed_on: Mapped[date | None] = mapped_column(Date)
    last_income_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class AssetIncome(RegionScoped, Base):
    """Income an asset earned (资产收益) and how much of it went to households."""

    __tablename__ = "asset_incomes"
    __table_args__ = (
        Index("ix_asset_incomes_asset", "asset_id", "received_on"),
        Index("ix_asset_incomes_region", "region_code", "id"),
        _positive("amount"),
        CheckConstraint("distributed <= amount", name="distributed_within_amount"),
    )

    id: Mapped[int] = bigint_pk()
    asset_id: Mapped[int] = mapped_column(ForeignKey("project_assets.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(nullable=False)
    distributed: Mapped[Decimal] = mapped_column(nullable=False, default=Decimal("0"))
    priority_distributed: Mapped[Decimal] = mapped_column(nullable=False, default=Decimal("0"))  # to 脱贫户/监测户
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class IncomeShare(RegionScoped, Base):
    """One household's share of an asset's income. ``region_code`` is the household's;
    ``category`` is the household's category when it was paid."""

    __tablename__ = "asset_income_shares"
    __table_args__ = (
        UniqueConstraint("income_id", "household_id"),
        Index("ix_asset_income_shares_household", "household_id"),
        _positive("amount"),
    )

    id: Mapped[int] = bigint_pk()
    income_id: Mapped[int] = mapped_column(ForeignKey("asset_incomes.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    amount: Mapped[Decimal] = mapped_column(nullable=False)


class FundFinding(RegionScoped, Versioned, Base):
    """What a funds or assets check found: one row per rule and subject (``fingerprint``).
    A later check that no longer finds it resolves it; found again, it opens again."""

    __tablename__ = "fund_findings"
    __table_args__ = (
        UniqueConstraint("fingerprint"),
        Index("ix_fund_findings_region", "region_code", "id"),
        Index("ix_fund_findings_rule", "rule_id", "status"),
    )

    id: Mapped[int] = bigint_pk()
    fingerprint: Mapped[str] = mapped_column(String(200), nullable=False)
    rule_id: Mapped[FundFindingRule] = mapped_column(str_enum(FundFindingRule, "fund_finding_rule"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("project_assets.id"))
    disbursement_id: Mapped[int | None] = mapped_column(ForeignKey("fund_disbursements.id"))
    values: Mapped[dict] = mapped_column(JSONB, nullable=False)
    status: Mapped[FundFindingStatus] = mapped_column(
        str_enum(FundFindingStatus, "fund_finding_status"), nullable=False, default=FundFindingStatus.open
    )
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column()


class FundPolicyRow(PolicyOverrideRow, Versioned, Base):
    """Overrides of the funds policy (``services.core.policy.funds``) for a region prefix
    ("" = everywhere), in force from ``year`` on."""

    __tablename__ = "fund_policies"
    __table_args__ = (UniqueConstraint("region_prefix", "year"),)
