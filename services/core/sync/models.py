"""Tables of department data: runs (the queue), cursors, staged records, quarantine,
findings and each source's circuit-breaker state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, PolicyOverrideRow, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.sync.enums import FindingStatus, QuarantineStatus, RunPhase, RunStatus, Severity, Trigger

SOURCE = String(64)
COUNTY = String(6, collation="C")


class SyncRun(Base):
    """One pull of one source for one county: the unit the workers claim (FOR UPDATE SKIP
    LOCKED) and the API reports. Counts are updated in the transaction of each page, so
    they always describe exactly what is committed."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        # The queue: what is ready to be claimed, oldest first.
        Index("ix_sync_runs_ready", "not_before", "id", postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_sync_runs_source_county", "source", "county", "id"),
        # At most one run waiting or running per source and county: a second request joins it.
        Index(
            "uq_sync_runs_active",
            "source",
            "county",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = bigint_pk()
    source: Mapped[str] = mapped_column(SOURCE, nullable=False)
    county: Mapped[str] = mapped_column(COUNTY, nullable=False)
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "run_status"), nullable=False, default=RunStatus.queued
    )
    phase: Mapped[RunPhase] = mapped_column(str_enum(RunPhase, "run_phase"), nullable=False, default=RunPhase.fetching)
    trigger: Mapped[Trigger] = mapped_column(str_enum(Trigger, "run_trigger"), nullable=False)
    requested_by: Mapped[int | None] = mapped_column(BigInteger)  # user id (None: schedule, CLI)
    file_name: Mapped[str | None] = mapped_column(String(255))  # spreadsheet imports
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    not_before: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    reconcile_started_at: Mapped[datetime | None] = mapped_column()
    clues_started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    fetched: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    staged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # new or changed
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    matched: Mapped[int | None] = mapped_column(Integer)
    unmatched: Mapped[int | None] = mapped_column(Integer)
    findings_opened: Mapped[int | None] = mapped_column(Integer)
    findings_resolved: Mapped[int | None] = mapped_column(Integer)
    findings_open: Mapped[int | None] = mapped_column(Integer)
    clues: Mapped[int | None] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # HTTP retries of pages
    # A complete roster (docs/rosters.md): the run declares that what it reads is the whole
    # enrolment of a year (参保名册, period "2026") or the whole school roster of a term
    # (学籍名册, period "2026秋") of the region ``roster_region`` (a code prefix). Only a run
    # that succeeded, with no more refused rows than the policy allows, is trusted.
    roster_period: Mapped[str | None] = mapped_column(String(32))
    roster_region: Mapped[str | None] = mapped_column(String(12, collation="C"))
    roster_records: Mapped[int | None] = mapped_column(Integer)  # rows of the roster read (staged or unchanged)
    roster_rejected: Mapped[int | None] = mapped_column(Integer)  # rows of the roster the normaliser refused


class RosterEntry(Base):
    """A record a roster run read (new, changed or unchanged): what makes absence from the
    roster mean something. Kept for the latest trusted roster of each source, county, region
    and period and for runs still going; older ones are pruned when a newer one succeeds."""

    __tablename__ = "sync_roster_entries"

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True)
    external_key: Mapped[str] = mapped_column(String(200), primary_key=True)


class SyncCursor(Base):
    """Where the pull of a source for a county stands, committed with the page it follows.
    ``run_id`` says which run wrote it; ``complete`` that the run has read everything."""

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(SOURCE, primary_key=True)
    county: Mapped[str] = mapped_column(COUNTY, primary_key=True)
    position: Mapped[dict | None] = mapped_column(JSONB)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now(), nullable=False)


class SourceState(Base):
    """A source's circuit breaker, shared by every worker: after ``failure_threshold`` runs
    or pages failing in a row it opens until ``open_until``; then one run may try."""

    __tablename__ = "sync_source_states"

    source: Mapped[str] = mapped_column(SOURCE, primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    open_until: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class DeptRecord(Base):
    """A department record as last received (staging): normalised fields in ``data``, the
    payload as received encrypted in ``raw_enc`` (it holds full ID numbers), and
    ``raw_hash`` to skip a record that has not changed."""

    __tablename__ = "dept_records"
    __table_args__ = (
        # No other index: a reconciliation reads a source's records whole (hash joins), and
        # every index is paid for on each staged page.
        UniqueConstraint("source", "external_key"),
    )

    id: Mapped[int] = bigint_pk()
    source: Mapped[str] = mapped_column(SOURCE, nullable=False)
    external_key: Mapped[str] = mapped_column(String(200), nullable=False)
    county: Mapped[str] = mapped_column(COUNTY, nullable=False)
    record_type: Mapped[str] = mapped_column(String(32), nullable=False)
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    id_masked: Mapped[str] = mapped_column(String(18), nullable=False)
    name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)  # from the ID number
    data: Mapped[dict] = mapped_column(JSONB, nullable=False)
    raw_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    raw_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    first_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    changed_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class QuarantinedRecord(Base):
    """A record the normaliser refused, with why; never lost, listed and re-processed
    (``reprocess``) once the source or the mapping is mended. The same payload received
    again is the same row (``raw_hash``)."""

    __tablename__ = "sync_quarantine"
    __table_args__ = (
        UniqueConstraint("source", "raw_hash"),
        Index("ix_sync_quarantine_list", "county", "status", "id"),
    )

    id: Mapped[int] = bigint_pk()
    source: Mapped[str] = mapped_column(SOURCE, nullable=False)
    county: Mapped[str] = mapped_column(COUNTY, nullable=False)
    first_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    external_key: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(64), nullable=False)  # error code, e.g. id_number.check_digit
    field: Mapped[str | None] = mapped_column(String(64))  # canonical field at fault
    detail: Mapped[str | None] = mapped_column(Text)  # the value's shape, never a full ID number
    location: Mapped[str | None] = mapped_column(String(64))  # spreadsheet row, page number
    # The ID number of a record refused for it (id_number.*), masked like dept_records.id_masked.
    id_masked: Mapped[str | None] = mapped_column(String(18))
    raw_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    raw_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    status: Mapped[QuarantineStatus] = mapped_column(
        str_enum(QuarantineStatus, "quarantine_status"), nullable=False, default=QuarantineStatus.open
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column()


class Finding(RegionScoped, Versioned, Base):
    """What a reconciliation rule found about a person or household. One row per rule and
    subject (``fingerprint``): a rerun updates ``last_seen_at``; a run that no longer finds
    it resolves it; found again later, it opens again."""

    __tablename__ = "sync_findings"
    __table_args__ = (
        UniqueConstraint("fingerprint"),
        Index("ix_sync_findings_region", "region_code", "id"),
        Index("ix_sync_findings_scope", "rule_id", "source", "county", postgresql_where=text("status <> 'resolved'")),
        Index("ix_sync_findings_household", "household_id"),
        Index("ix_sync_findings_person", "person_id"),
        CheckConstraint("status <> 'resolved' OR resolved_at IS NOT NULL", name="resolved_has_time"),
    )

    id: Mapped[int] = bigint_pk()
    fingerprint: Mapped[str] = mapped_column(String(300), nullable=False)
    rule_id: Mapped[str] = mapped_column(String(64), nullable=False)
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "severity"), nullable=False)
    source: Mapped[str] = mapped_column(SOURCE, nullable=False)  # the source whose run evaluates it
    county: Mapped[str] = mapped_column(COUNTY, nullable=False)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    records: Mapped[list] = mapped_column(JSONB, nullable=False)  # [{source, external_key}]
    values: Mapped[dict] = mapped_column(JSONB, nullable=False)  # what triggered it
    health: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # tells a person's health
    status: Mapped[FindingStatus] = mapped_column(
        str_enum(FindingStatus, "finding_status"), nullable=False, default=FindingStatus.open
    )
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    first_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)  # None with resolved_at: the condition went away
    note: Mapped[str | None] = mapped_column(Text)
    clue_id: Mapped[int | None] = mapped_column(ForeignKey("risk_clues.id"))
    # Clues raised anew after reopening (the reconciliation's merge): 0 while it has its first.
    clue_round: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0, server_default=text("0"))


class SyncPolicyRow(PolicyOverrideRow, Versioned, Base):
    """Overrides of the cross-check rules' thresholds (``services.core.policy.sync``) for a
    region prefix ("" = everywhere), in force from ``year`` on."""

    __tablename__ = "sync_policies"
    __table_args__ = (UniqueConstraint("region_prefix", "year"),)
