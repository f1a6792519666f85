"""Field work's tables: the roster, screening campaigns with their teams and visits, and the
village-based teams' monthly attendance."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.fieldwork.enums import RosterRole


class RosterMember(RegionScoped, Versioned, Base):
    """A person of the field roster (信息员、网格员、驻村工作队员 …) and the region they cover:
    a county, a township or a village, by its 12-digit code."""

    __tablename__ = "field_roster"

    id: Mapped[int] = bigint_pk()
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[RosterRole] = mapped_column(str_enum(RosterRole, "roster_role"), nullable=False)
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    active_from: Mapped[date] = mapped_column(Date, nullable=False)
    active_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_field_roster_region_code_role", "region_code", "role"),)


class Campaign(Versioned, Base):
    """A screening campaign (大走访、大排查) of a region prefix over a period.

    Not ``RegionScoped``: a county's campaign is seen by the townships and villages in it (they
    do the visits), so its rows are filtered by ``service.visible_to`` like a policy's."""

    __tablename__ = "field_campaigns"

    id: Mapped[int] = bigint_pk()
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    checks: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class CampaignTeam(RegionScoped, Base):
    """A team (两人一组) assigned a village of a campaign."""

    __tablename__ = "field_campaign_teams"

    id: Mapped[int] = bigint_pk()
    campaign_id: Mapped[int] = mapped_column(ForeignKey("field_campaigns.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    member_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (Index("ix_field_campaign_teams_campaign_id_region_code", "campaign_id", "region_code"),)


class CampaignVisit(RegionScoped, Versioned, Base):
    """One household visited in a campaign: who, when, what was checked and found (corrected
    with If-Match: ``version``)."""

    __tablename__ = "field_campaign_visits"

    id: Mapped[int] = bigint_pk()
    campaign_id: Mapped[int] = mapped_column(ForeignKey("field_campaigns.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("field_campaign_teams.id"))
    visited_at: Mapped[datetime] = mapped_column(nullable=False)
    visited_on: Mapped[date] = mapped_column(Date, nullable=False)  # China date of visited_at
    checks: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    problems: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default=text("'{}'"))
    photos: Mapped[list[str]] = mapped_column(ARRAY(String(200)), nullable=False, server_default=text("'{}'"))
    findings: Mapped[str | None] = mapped_column(Text)
    clue_id: Mapped[int | None] = mapped_column(ForeignKey("risk_clues.id"))
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # One record per household and campaign; progress counts them per village.
        UniqueConstraint("campaign_id", "household_id"),
        Index("ix_field_campaign_visits_campaign_id_region_code", "campaign_id", "region_code"),
    )


class ResidentAttendance(RegionScoped, Versioned, Base):
    """Days a village-based team member (驻村工作队员) spent in the village in a month."""

    __tablename__ = "resident_attendance"

    id: Mapped[int] = bigint_pk()
    member_id: Mapped[int] = mapped_column(ForeignKey("field_roster.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    month: Mapped[date] = mapped_column(Date, nullable=False)  # the month's first day
    days: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("member_id", "month"),
        Index("ix_resident_attendance_region_code_month", "region_code", "month"),
    )
