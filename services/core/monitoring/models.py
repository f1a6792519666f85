from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, PolicyOverrideRow, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.households.enums import Category
from services.core.monitoring.enums import (
    FINAL,
    Action,
    CaseStatus,
    CaseType,
    Channel,
    ClueStatus,
    DeadlineKind,
    EliminationWay,
    MeasureCategory,
    MeasureStatus,
    VisitMode,
)

RISKS = ARRAY(String(32))
_FINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(FINAL))


class RiskClue(RegionScoped, Versioned, Base):
    """线索: a household named as at risk. Reports of the same risk for the same household
    while the clue is open are merged into it (``ClueReport`` keeps each one)."""

    __tablename__ = "risk_clues"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    risk_types: Mapped[list[str]] = mapped_column(RISKS, nullable=False)
    # The channels of its reports, first channel first.
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    status: Mapped[ClueStatus] = mapped_column(
        str_enum(ClueStatus, "clue_status"), nullable=False, default=ClueStatus.open
    )
    first_reported_on: Mapped[date] = mapped_column(Date, nullable=False)
    report_count: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    next_deadline: Mapped[date | None] = mapped_column(Date)
    next_deadline_kind: Mapped[DeadlineKind | None] = mapped_column(str_enum(DeadlineKind, "clue_deadline_kind"))
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Deadlines met late: [{kind, due, met_on}] — recorded, never corrected.
    deadline_breaches: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_cases.id"))
    dismissal_reason: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[int | None] = mapped_column(BigInteger)
    handled_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_risk_clues_region_code_id", "region_code", "id"),
        Index("ix_risk_clues_household_open", "household_id", postgresql_where=text("status = 'open'")),
        Index("ix_risk_clues_deadline_open", "next_deadline", "id", postgresql_where=text("status = 'open'")),
        Index("ix_risk_clues_case_id", "case_id"),
    )


class ClueReport(RegionScoped, Base):
    """One report of a risk: who, through which channel, with what evidence."""

    __tablename__ = "clue_reports"

    id: Mapped[int] = bigint_pk()
    clue_id: Mapped[int] = mapped_column(ForeignKey("risk_clues.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"), nullable=False)
    risk_types: Mapped[list[str]] = mapped_column(RISKS, nullable=False)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)
    attachments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    reported_on: Mapped[date] = mapped_column(Date, nullable=False)
    reporter_user_id: Mapped[int | None] = mapped_column(BigInteger)
    reporter_client_id: Mapped[int | None] = mapped_column(BigInteger)
    # Self-declarations: who in the household declared (name, phone) when no cadre did.
    declarant_name: Mapped[str | None] = mapped_column(String(50))
    declarant_phone: Mapped[str | None] = mapped_column(String(20))
    # Department screening: the department or rule, and its own reference (re-sends of the
    # same reference are recognised).
    source: Mapped[str | None] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        Index(
            "uq_clue_reports_source_external_ref",
            "source",
            "external_ref",
            unique=True,
            postgresql_where=text("external_ref IS NOT NULL"),
        ),
    )


class MonitoringCase(RegionScoped, Versioned, Base):
    """监测对象: one household's way from identification through assistance to risk
    elimination. A new risk after elimination opens a new case (``reopened_from_id``)."""

    __tablename__ = "monitoring_cases"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    case_type: Mapped[CaseType] = mapped_column(str_enum(CaseType, "case_type"), nullable=False)
    risk_types: Mapped[list[str]] = mapped_column(RISKS, nullable=False)
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "case_status"), nullable=False, default=CaseStatus.verification
    )
    first_clue_on: Mapped[date] = mapped_column(Date, nullable=False)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    consent_on: Mapped[date | None] = mapped_column(Date)  # 承诺授权书 signed
    notice_start: Mapped[date | None] = mapped_column(Date)
    notice_end: Mapped[date | None] = mapped_column(Date)
    identified_on: Mapped[date | None] = mapped_column(Date)
    category_before: Mapped[Category | None] = mapped_column(str_enum(Category, "category_before"))
    cadre_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cadre_assigned_on: Mapped[date | None] = mapped_column(Date)
    plan_on: Mapped[date | None] = mapped_column(Date)  # first measure recorded
    last_visit_on: Mapped[date | None] = mapped_column(Date)  # last visit that counts
    elimination_proposed_on: Mapped[date | None] = mapped_column(Date)
    eliminated_on: Mapped[date | None] = mapped_column(Date)
    elimination_way: Mapped[EliminationWay | None] = mapped_column(str_enum(EliminationWay, "elimination_way"))
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    next_deadline: Mapped[date | None] = mapped_column(Date)
    next_deadline_kind: Mapped[DeadlineKind | None] = mapped_column(str_enum(DeadlineKind, "case_deadline_kind"))
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Deadlines met late or missed: [{kind, due, met_on}] — recorded, never corrected.
    deadline_breaches: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    reopened_from_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_cases.id"))

    __table_args__ = (
        Index("ix_monitoring_cases_region_code_id", "region_code", "id"),
        Index("ix_monitoring_cases_household_id", "household_id"),
        # One open case per household: a new risk joins it; after elimination a new case.
        Index(
            "uq_monitoring_cases_open_household",
            "household_id",
            unique=True,
            postgresql_where=text(f"status NOT IN ({_FINAL_SQL})"),
        ),
        # Region and status carried in the index: the statistics count the open cases past
        # their deadline per area from the index alone (an index-only scan; migration
        # 7c2e9a4d1b60).
        Index(
            "ix_monitoring_cases_deadline",
            "next_deadline",
            "id",
            postgresql_where=text("next_deadline IS NOT NULL"),
            postgresql_include=["region_code", "status"],
        ),
        Index("ix_monitoring_cases_status_id", "status", "id"),
    )


class MonitoringCaseCount(RegionScoped, Base):
    """Running counts of cases per village for statistics, kept by a trigger on
    ``monitoring_cases`` (``services.core.monitoring.counts``)."""

    __tablename__ = "monitoring_case_counts"

    region_code: Mapped[str] = mapped_column(RegionCode, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)
    days: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CaseTransition(RegionScoped, Base):
    """One step of a case: who, when, what was decided, comment and attachments."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = bigint_pk()
    case_id: Mapped[int] = mapped_column(ForeignKey("monitoring_cases.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    action: Mapped[Action] = mapped_column(str_enum(Action, "case_action"), nullable=False)
    from_status: Mapped[CaseStatus | None] = mapped_column(str_enum(CaseStatus, "from_status"))
    to_status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, "to_status"), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_client_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (Index("ix_case_transitions_case_id_id", "case_id", "id"),)


class Measure(RegionScoped, Versioned, Base):
    """帮扶措施 (一户一策). The id may be generated by a mobile client, so that uploading
    the same measure again (after working offline) changes nothing."""

    __tablename__ = "assistance_measures"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("monitoring_cases.id"), nullable=False, index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    category: Mapped[MeasureCategory] = mapped_column(str_enum(MeasureCategory, "measure_category"), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    responsible_unit: Mapped[str] = mapped_column(String(100), nullable=False)
    # The day the measure was decided (paper first, entered later): it makes the plan.
    planned_on: Mapped[date] = mapped_column(Date, nullable=False)
    start_on: Mapped[date] = mapped_column(Date, nullable=False)
    end_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[MeasureStatus] = mapped_column(str_enum(MeasureStatus, "measure_status"), nullable=False)
    result: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column()
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)


class Visit(RegionScoped, Base):
    """走访: a cadre's visit to a monitored household. Client-generated id, like measures."""

    __tablename__ = "case_visits"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("monitoring_cases.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False, index=True)
    cadre_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    visited_on: Mapped[date] = mapped_column(Date, nullable=False)
    mode: Mapped[VisitMode] = mapped_column(str_enum(VisitMode, "visit_mode"), nullable=False)
    findings: Mapped[str] = mapped_column(Text, nullable=False)
    attachments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        Index("ix_case_visits_case_id_visited_on", "case_id", "visited_on"),
        # The follow-up list counts a case's visits as the household's (docs/follow-up.md).
        Index("ix_case_visits_household_id_visited_on", "household_id", "visited_on"),
        Index("ix_case_visits_visited_on", "visited_on"),
    )


class VisitBreach(RegionScoped, Base):
    """A calendar month of assistance that ended without the policy's visits (每月走访):
    recorded once per case and month (unique), when the month is found to have passed
    (``cases.record_missed_visits``). Never corrected: a visit entered later for that month
    does not erase it (``made`` is what was recorded when the breach was). The case's visit
    deadline then moves on, so the missed month does not keep the case on the overdue list;
    counties report on these rows (``GET /api/v1/monitoring/visit-breaches``)."""

    __tablename__ = "case_visit_breaches"

    id: Mapped[int] = bigint_pk()
    case_id: Mapped[int] = mapped_column(ForeignKey("monitoring_cases.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    cadre_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the case's cadre then
    month: Mapped[date] = mapped_column(Date, nullable=False)  # the month's first day
    required: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    made: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # counted visits recorded for the month
    recorded_on: Mapped[date] = mapped_column(Date, nullable=False)  # the day the breach was found
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        UniqueConstraint("case_id", "month"),
        Index("ix_case_visit_breaches_region_code_month", "region_code", "month"),
    )


class IncomeLine(Versioned, Base):
    """监测标准: the monitoring income line (per capita, per year) of a province. Public
    figures, not region-scoped data."""

    __tablename__ = "income_lines"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2, collation="C"), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)


class MonitoringPolicyRow(PolicyOverrideRow, Versioned, Base):
    """Overrides of the monitoring policy (``services.core.policy.monitoring``) for a region
    prefix ("" = everywhere), in force from ``year`` on."""

    __tablename__ = "monitoring_policies"
    __table_args__ = (UniqueConstraint("region_prefix", "year"),)


class CalendarDay(Base):
    """A day of the official schedule entered by the operator (for a year the
    ``chinese-calendar`` package does not know yet)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    name: Mapped[str | None] = mapped_column(String(50))


class CalendarYear(Base):
    """A year whose whole schedule has been entered (its deadlines are no longer provisional)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    entered_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
