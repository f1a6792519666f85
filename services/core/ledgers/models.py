"""The clearing ledger (月清零台账) and the rectification ledger (问题整改台账)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.guarantees.models import Item
from services.core.ledgers.enums import EntryOrigin, EntryStatus, ProblemSource, RectificationStatus


class ClearingEntry(RegionScoped, Versioned, Base):
    """One item of the three guarantees or safe water found at risk for a household (发现一户、
    保障一户): who must clear it, by when, and the evidence it was cleared (动态清零). At most one
    open entry per household and item (``uq``): what the system already knows is not opened twice."""

    __tablename__ = "clearing_entries"
    __table_args__ = (
        Index("ix_clearing_entries_region", "region_code", "id"),
        Index("ix_clearing_entries_kind", "kind", "region_code"),
        Index("ix_clearing_entries_status", "status", "region_code"),
        Index("ix_clearing_entries_overdue", "deadline", postgresql_where=text("status = 'open'")),
        Index("ix_clearing_entries_household", "household_id"),
        Index("ix_clearing_entries_opened", "opened_on", "region_code"),
        Index("ix_clearing_entries_closed", "closed_on", "region_code"),
        Index(
            "uq_clearing_entries_open_item",
            "household_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        CheckConstraint("status <> 'cleared' OR closed_on IS NOT NULL", name="cleared_has_day"),
    )

    id: Mapped[int] = bigint_pk()
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    kind: Mapped[Item] = mapped_column(str_enum(Item, "clearing_kind"), nullable=False)
    origin: Mapped[EntryOrigin] = mapped_column(str_enum(EntryOrigin, "entry_origin"), nullable=False)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("sync_findings.id"))
    department: Mapped[str] = mapped_column(String(60), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[EntryStatus] = mapped_column(
        str_enum(EntryStatus, "entry_status"), nullable=False, default=EntryStatus.open
    )
    closed_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Rectification(RegionScoped, Versioned, Base):
    """A problem found by an inspection, audit, assessment or the system itself, to be
    rectified by a unit by a deadline (问题整改). Closed (销号) only when a second person with
    the approver's role approves the closure someone else requested."""

    __tablename__ = "rectifications"
    __table_args__ = (
        Index("ix_rectifications_region", "region_code", "id"),
        Index("ix_rectifications_status", "status", "region_code"),
        Index("ix_rectifications_source", "source", "region_code"),
        Index("ix_rectifications_overdue", "deadline", postgresql_where=text("status <> 'closed'")),
        Index("ix_rectifications_found", "found_on", "region_code"),
        Index("ix_rectifications_closed", "closed_on", "region_code"),
        CheckConstraint("status <> 'closed' OR closed_on IS NOT NULL", name="closed_has_day"),
    )

    id: Mapped[int] = bigint_pk()
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    source: Mapped[ProblemSource] = mapped_column(str_enum(ProblemSource, "problem_source"), nullable=False)
    source_ref: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    responsible_unit: Mapped[str] = mapped_column(String(100), nullable=False)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    found_on: Mapped[date] = mapped_column(Date, nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[RectificationStatus] = mapped_column(
        str_enum(RectificationStatus, "rectification_status"), nullable=False, default=RectificationStatus.open
    )
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    closure_requested_by: Mapped[int | None] = mapped_column(BigInteger)
    closure_requested_on: Mapped[date | None] = mapped_column(Date)
    approved_by: Mapped[int | None] = mapped_column(BigInteger)
    decision_note: Mapped[str | None] = mapped_column(Text)
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class RectificationStep(RegionScoped, Base):
    """One step of a rectification's progress (整改进展), with its evidence."""

    __tablename__ = "rectification_steps"

    id: Mapped[int] = bigint_pk()
    rectification_id: Mapped[int] = mapped_column(ForeignKey("rectifications.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    done_on: Mapped[date] = mapped_column(Date, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    refs: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
