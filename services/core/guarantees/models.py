from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.labels import LabelledEnum


class Item(LabelledEnum):
    """两不愁三保障 + 饮水安全."""

    education = "education", "义务教育保障"
    medical = "medical", "基本医疗保障"
    housing = "housing", "住房安全保障"
    water = "water", "饮水安全"


class Status(LabelledEnum):
    """Status of one of the three guarantees or safe water 保障状况."""

    secure = "secure", "已保障"
    at_risk = "at_risk", "存在风险 / 未保障"  # must be cleared (动态清零)
    not_applicable = "not_applicable", "不适用"  # e.g. education with no school-age child
    unknown = "unknown", "未核实"  # not yet verified


class HouseholdGuarantees(RegionScoped, Versioned, Base):
    __tablename__ = "household_guarantees"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    education: Mapped[Status] = mapped_column(str_enum(Status, "g_education"), nullable=False, default=Status.unknown)
    medical: Mapped[Status] = mapped_column(str_enum(Status, "g_medical"), nullable=False, default=Status.unknown)
    housing: Mapped[Status] = mapped_column(str_enum(Status, "g_housing"), nullable=False, default=Status.unknown)
    water: Mapped[Status] = mapped_column(str_enum(Status, "g_water"), nullable=False, default=Status.unknown)
    # Unsafe-house grade from housing appraisal (C / D), when housing is at risk.
    housing_grade: Mapped[str | None] = mapped_column(String(1))
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)


class GuaranteeChange(RegionScoped, Base):
    """One changed item of the status, with who changed it and why."""

    __tablename__ = "guarantee_changes"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    item: Mapped[Item] = mapped_column(str_enum(Item, "guarantee_item"), nullable=False)
    old_status: Mapped[Status | None] = mapped_column(str_enum(Status, "old_status"))
    new_status: Mapped[Status] = mapped_column(str_enum(Status, "new_status"), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
