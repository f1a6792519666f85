"""Request and response shapes of the household registry (used by the API and the worker)."""
from __future__ import annotations

from datetime import date, datetime

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.core.households.enums import (
    Category,
    EducationLevel,
    Employment,
    Flag,
    Health,
    HouseholdStatus,
    LabourCapacity,
    PersonStatus,
    Relation,
    Schooling,
)
from services.core.types import CheckedText, Day, IdNumberStr, Money, Name, Phone, RegionCodeStr, Text100, Text200


class Input(CheckedText):
    """Inputs refuse unknown fields: ids, versions, regions of other objects, audit fields …"""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonFields(Input):
    name: Name = Field(description="姓名")
    health: Health = Field(Health.healthy, description="健康状况")
    disability_grade: int | None = Field(None, ge=1, le=4, description="残疾等级 1–4")
    illness: Text200 | None = Field(None, description="疾病名称 (sensitive)")
    labour_capacity: LabourCapacity = Field(description="劳动技能")
    education_level: EducationLevel | None = Field(None, description="文化程度")
    schooling: Schooling = Field(Schooling.not_in_school, description="在校生状况")
    school: Text100 | None = None
    medical_insurance: bool = Field(False, description="参加基本医疗保险")
    pension_insurance: bool = Field(False, description="参加城乡居民基本养老保险")
    family_doctor: bool = Field(False, description="家庭医生签约")
    employment: Employment = Field(Employment.none, description="务工就业情况")
    employment_place: Text100 | None = None
    employment_months: int | None = Field(None, ge=0, le=12, description="务工月数")
    employment_income: Money | None = Field(None, description="务工收入 (yuan)")
    phone: Phone | None = Field(None, description="联系电话")


class PersonCreate(PersonFields):
    id_number: IdNumberStr
    relation: Relation = Field(description="与户主关系")


class PersonUpdate(Input):
    """Partial update of a person. ``relation`` cannot be set to head here: change the head
    on the household. The ID number cannot be changed.

    A field left out keeps its value. Fields that always have a value (typed without
    ``| None``) may be left out but not sent as null: the default is never validated, an
    explicit null is refused (422) instead of reaching a NOT NULL column."""

    name: Name = None
    relation: Relation | None = None
    health: Health = None
    disability_grade: int | None = Field(None, ge=1, le=4)
    illness: Text200 | None = None
    labour_capacity: LabourCapacity = None
    education_level: EducationLevel | None = None
    schooling: Schooling = None
    school: Text100 | None = None
    medical_insurance: bool = None
    pension_insurance: bool = None
    family_doctor: bool = None
    employment: Employment = None
    employment_place: Text100 | None = None
    employment_months: int | None = Field(None, ge=0, le=12)
    employment_income: Money | None = None
    phone: Phone | None = None


def _unique_flags(flags: list[Flag]) -> list[Flag]:
    return sorted(set(flags), key=lambda f: f.value)


def _not_monitored(value: Category) -> Category:
    if value == Category.monitored:
        raise ValueError("category_monitored_reserved")
    return value


def _not_head(value: Relation) -> Relation:
    if value == Relation.head:
        raise ValueError("one_head")
    return value


# A household becomes 监测户 only through a monitoring case, never by an edit.
AssignableCategory = Annotated[Category, AfterValidator(_not_monitored)]
# The head is set on the household; members are given any other relation.
MemberRelation = Annotated[Relation, AfterValidator(_not_head)]


class HouseholdCreate(Input):
    region_code: RegionCodeStr = Field(description="Village code (12 digits) 所属行政村")
    household_no: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$",
                                     description="户编号; generated when omitted")
    category: AssignableCategory = Field(Category.ordinary, description="户类型: lifted_out 脱贫户 / ordinary 一般农户")
    flags: list[Flag] = Field(default_factory=list, description="标识: relocated 易地扶贫搬迁, dibao 低保, tekun 特困 …")
    resettlement_site: Text200 | None = Field(None, description="安置点 (relocated households)")
    address: Text200 | None = None
    phone: Phone | None = None
    members: list[PersonCreate] = Field(min_length=1, max_length=30)

    _flags = field_validator("flags")(_unique_flags)

    @model_validator(mode="after")
    def _checks(self) -> "HouseholdCreate":
        if sum(1 for m in self.members if m.relation == Relation.head) != 1:
            raise ValueError("one_head@members")
        ids = [m.id_number for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("id_number_repeated@members")
        if Flag.relocated in self.flags and not self.resettlement_site:
            raise ValueError("flags_resettlement@resettlement_site")
        return self


class HouseholdUpdate(Input):
    # Left out: unchanged; null is refused (see PersonUpdate).
    category: AssignableCategory = None
    flags: list[Flag] | None = None
    resettlement_site: Text200 | None = None
    address: Text200 | None = None
    phone: Phone | None = None
    region_code: RegionCodeStr | None = Field(None, description="Move the household to another village (搬迁)")
    head_person_id: int | None = Field(None, description="Make this member the head (变更户主)")
    former_head_relation: MemberRelation = Field(Relation.other, description="Relation of the former head afterwards")

    _flags = field_validator("flags")(lambda v: None if v is None else _unique_flags(v))


class MoveRequest(Input):
    household_id: int = Field(description="Target household 迁入户")
    relation: MemberRelation = Field(description="Relation to the target household's head")


class SplitRequest(Input):
    """分户: some members leave to form a new household."""

    person_ids: list[int] = Field(min_length=1, max_length=30)
    head_person_id: int = Field(description="Head of the new household (one of person_ids)")
    remaining_head_person_id: int | None = Field(
        None, description="New head of the old household, needed when its head leaves"
    )
    household_no: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$")
    region_code: RegionCodeStr | None = Field(None, description="Village of the new household (default: the same)")
    category: AssignableCategory | None = Field(None, description="Default: the old household's category")
    address: Text200 | None = None
    relations: dict[int, Relation] = Field(
        default_factory=dict, description="Relation of each leaving member to the new head (default: other)"
    )

    @model_validator(mode="after")
    def _checks(self) -> "SplitRequest":
        if self.head_person_id not in self.person_ids:
            raise ValueError("one_head@head_person_id")
        if len(set(self.person_ids)) != len(self.person_ids):
            raise ValueError("id_number_repeated@person_ids")
        return self


class MergeRequest(Input):
    """合户: every member of ``household_id`` joins this household, which keeps its head."""

    household_id: int = Field(description="The household that is merged in and dissolved")
    relations: dict[int, Relation] = Field(default_factory=dict, description="Relation of each incoming member")


class DeathRequest(Input):
    date_of_death: Day

    @field_validator("date_of_death")
    @classmethod
    def _past(cls, value: date) -> date:
        from services.core.timeutil import today

        if value > today():
            raise ValueError("date_in_future")
        return value


class PersonLookup(Input):
    id_number: IdNumberStr


class UnmaskRequest(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)] = Field(
        description="Why the complete number is needed (recorded in the audit trail) 查看事由"
    )


# ---- responses -------------------------------------------------------------------------

class PersonOut(BaseModel):
    id: int
    id_number: str = Field(description="Masked: only the first 6 characters (the address code) shown, "
                                       "110105************ 脱敏显示. The complete number: unmaskIdNumber")
    name: str
    sex: str
    birth_date: date | None = Field(description="出生日期. Only for roles that may reveal the ID number "
                                                "(registry:unmask); null for every other role, which sees "
                                                "`birth_year`: a full date beside the masked number would "
                                                "give most of the number back")
    birth_year: int = Field(description="出生年份. For every role")
    household_id: int | None
    region_code: str
    relation: Relation | None
    health: Health | None = Field(None, description="健康状况. Present only for roles that may see health "
                                                   "details (registry:health)")
    disability_grade: int | None = Field(None, description="残疾等级. Present only with registry:health")
    illness: str | None = Field(None, description="疾病名称. Present only with registry:health")
    labour_capacity: LabourCapacity
    education_level: EducationLevel | None
    schooling: Schooling
    school: str | None
    medical_insurance: bool
    pension_insurance: bool
    family_doctor: bool
    employment: Employment
    employment_place: str | None
    employment_months: int | None
    employment_income: str | None = Field(description="Yuan, two decimals, as a string")
    phone: str | None
    status: PersonStatus
    date_of_death: Day | None
    version: int


class UnmaskedIdNumber(BaseModel):
    person_id: int
    id_number: str = Field(description="The complete ID number 完整身份证号码")


class HouseholdSummary(BaseModel):
    id: int
    household_no: str
    region_code: str
    category: Category
    flags: list[Flag]
    head_name: str | None
    member_count: int
    status: HouseholdStatus
    version: int


class HouseholdDetail(HouseholdSummary):
    previous_category: Category | None
    resettlement_site: str | None
    address: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    members: list[PersonOut]


class MembershipOut(BaseModel):
    person_id: int
    person_name: str
    relation: Relation | None
    started_at: datetime
    start_reason: str
    ended_at: datetime | None
    end_reason: str | None


class HouseholdEventOut(BaseModel):
    kind: str
    other_household_id: int | None
    person_ids: list[int]
    note: str | None
    actor_id: int | None
    at: datetime


class HouseholdHistory(BaseModel):
    household_id: int
    memberships: list[MembershipOut]
    events: list[HouseholdEventOut]
