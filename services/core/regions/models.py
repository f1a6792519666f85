from __future__ import annotations

from sqlalchemy import ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, synonym

from services.core.base import Base, RegionCode, RegionScoped


class Region(RegionScoped, Base):
    """An administrative division (统计用区划代码): province → city → county → township → village."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(RegionCode, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(RegionCode, ForeignKey("regions.code"), index=True)

    # The scope filter compares every scoped table's ``region_code``.
    region_code = synonym("code")
