"""Follow-up of everyone, not only open cases (docs/follow-up.md): who is responsible for a
household (帮扶责任人, with its history) and the scheduled follow-up visits (定期走访) of
formerly poor households and of households whose risk was eliminated."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, bigint_pk, str_enum
from services.core.monitoring.enums import VisitMode


class CadreAssignment(RegionScoped, Base):
    """帮扶责任人: a cadre responsible for a household from ``from_on`` until ``to_on`` (None:
    still). A household has at most one current assignment (unique index); a reassignment
    ends the current one on the new one's first day, so the history has no gap and no
    overlap. Rows are never deleted."""

    __tablename__ = "household_cadres"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    cadre_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    from_on: Mapped[date] = mapped_column(Date, nullable=False)
    to_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    assigned_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        Index("ix_household_cadres_household_id_from_on", "household_id", "from_on"),
        Index("uq_household_cadres_current", "household_id", unique=True, postgresql_where=text("to_on IS NULL")),
        # A cadre's households (the current ones), paged by household.
        Index(
            "ix_household_cadres_cadre_current", "cadre_user_id", "household_id", postgresql_where=text("to_on IS NULL")
        ),
    )


class FollowUpVisit(RegionScoped, Base):
    """定期走访: a cadre's visit to a household on follow-up (a formerly poor household, or one
    whose risk was eliminated), without an open case. Client-generated id, like case visits:
    uploading the same visit again (after working offline) changes nothing."""

    __tablename__ = "followup_visits"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    cadre_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    visited_on: Mapped[date] = mapped_column(Date, nullable=False)
    mode: Mapped[VisitMode] = mapped_column(str_enum(VisitMode, "followup_visit_mode"), nullable=False)
    findings: Mapped[str] = mapped_column(Text, nullable=False)
    attachments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        Index("ix_followup_visits_household_id_visited_on", "household_id", "visited_on"),
        # The overdue list reads one scheduled month's visits.
        Index("ix_followup_visits_visited_on", "visited_on"),
    )
