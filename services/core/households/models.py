from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, RegionScoped, Versioned, bigint_pk, str_enum
from services.core.households.enums import (
    Category,
    EducationLevel,
    Employment,
    HouseholdEventKind,
    HouseholdStatus,
    LabourCapacity,
    MembershipChange,
    PersonStatus,
    Relation,
    Schooling,
)

NAME = String(50, collation="C")  # prefix search on names uses a plain btree


class Household(RegionScoped, Versioned, Base):
    """农户: a registered household in a village."""

    __tablename__ = "households"

    id: Mapped[int] = bigint_pk()
    household_no: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False)
    category: Mapped[Category] = mapped_column(str_enum(Category, "category"), nullable=False)
    # Category before the household became 监测户, restored on risk elimination.
    previous_category: Mapped[Category | None] = mapped_column(str_enum(Category, "previous_category"))
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default=text("'{}'"))
    resettlement_site: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[HouseholdStatus] = mapped_column(
        str_enum(HouseholdStatus, "household_status"), nullable=False, default=HouseholdStatus.active
    )
    # Kept by the service on every membership change so lists need no join.
    head_name: Mapped[str | None] = mapped_column(NAME)
    member_count: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)

    __table_args__ = (
        Index("ix_households_region_code_id", "region_code", "id"),
        Index("ix_households_category_id", "category", "id"),
        Index("ix_households_flags", "flags", postgresql_using="gin"),
        # Active households per village (a campaign's progress, services.core.fieldwork): an
        # index-only count, without reading the rows.
        Index("ix_households_active_region_code", "region_code", postgresql_where=text("status = 'active'")),
    )


class Person(RegionScoped, Versioned, Base):
    """家庭成员: one person, a member of at most one household at a time."""

    __tablename__ = "persons"

    id: Mapped[int] = bigint_pk()
    # The normalised 18-character number, AES-GCM encrypted (services.core.crypto); lookups
    # and uniqueness go through the keyed hash; responses show the masked form.
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    id_masked: Mapped[str] = mapped_column(String(18), nullable=False)
    name: Mapped[str] = mapped_column(NAME, nullable=False, index=True)
    sex: Mapped[str] = mapped_column(String(6), nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, ForeignKey("regions.code"), nullable=False, index=True)
    relation: Mapped[Relation | None] = mapped_column(str_enum(Relation, "relation"))
    # health, disability_grade and illness as one encrypted JSON object
    # (services.core.households.sensitive); NULL reads as healthy, nothing recorded.
    health_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    labour_capacity: Mapped[LabourCapacity] = mapped_column(str_enum(LabourCapacity, "labour_capacity"), nullable=False)
    education_level: Mapped[EducationLevel | None] = mapped_column(str_enum(EducationLevel, "education_level"))
    schooling: Mapped[Schooling] = mapped_column(
        str_enum(Schooling, "schooling"), nullable=False, default=Schooling.not_in_school
    )
    school: Mapped[str | None] = mapped_column(String(100))
    medical_insurance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pension_insurance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    family_doctor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    employment: Mapped[Employment] = mapped_column(
        str_enum(Employment, "employment"), nullable=False, default=Employment.none
    )
    employment_place: Mapped[str | None] = mapped_column(String(100))
    employment_months: Mapped[int | None] = mapped_column(SmallInteger)
    employment_income: Mapped[Decimal | None] = mapped_column()
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[PersonStatus] = mapped_column(
        str_enum(PersonStatus, "person_status"), nullable=False, default=PersonStatus.alive
    )
    date_of_death: Mapped[date | None] = mapped_column(Date)


class Membership(RegionScoped, Base):
    """History of who belonged to which household, and why they joined or left."""

    __tablename__ = "memberships"

    id: Mapped[int] = bigint_pk()
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), nullable=False, index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    relation: Mapped[Relation | None] = mapped_column(str_enum(Relation, "membership_relation"))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    start_reason: Mapped[MembershipChange] = mapped_column(str_enum(MembershipChange, "start_reason"), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[MembershipChange | None] = mapped_column(str_enum(MembershipChange, "end_reason"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)


class HouseholdEvent(RegionScoped, Base):
    """Splits, merges and other changes of a household, for the history view."""

    __tablename__ = "household_events"

    id: Mapped[int] = bigint_pk()
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(RegionCode, nullable=False)
    kind: Mapped[HouseholdEventKind] = mapped_column(str_enum(HouseholdEventKind, "event_kind"), nullable=False)
    other_household_id: Mapped[int | None] = mapped_column(BigInteger)
    person_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False, server_default=text("'{}'"))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
