"""The township reports generated on schedule (乡镇月报、季报): each as it was generated."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, bigint_pk, str_enum
from services.core.reports.enums import ReportKind


class GeneratedReport(RegionScoped, Base):
    """One township's monthly or quarterly report as generated (``figures`` as they were
    then); served as stored ever after. One per township, kind and period (``uq``): the
    schedule generates it once, however many workers run."""

    __tablename__ = "generated_reports"
    __table_args__ = (
        UniqueConstraint("kind", "region_code", "period", name="uq_generated_reports_period"),
        Index("ix_generated_reports_region", "region_code", "id"),
        Index("ix_generated_reports_kind", "kind", "period", "region_code"),
    )

    id: Mapped[int] = bigint_pk()
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "report_kind"), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)  # 2026-10 or 2026-Q3
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    cut_off: Mapped[date] = mapped_column(Date, nullable=False)
    figures: Mapped[dict] = mapped_column(JSONB, nullable=False)
    generated_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    generated_by: Mapped[int | None] = mapped_column(BigInteger)
