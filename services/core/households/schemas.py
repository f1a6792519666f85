"""Request and response shapes of the household registry (used by the API and the worker)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.core.base import VERSION_DESCRIPTION
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
    school: Text100 | None = Field(None, description="School or college attended, for pupils and students 就读学校")
    medical_insurance: bool = Field(False, description="参加基本医疗保险")
    pension_insurance: bool = Field(False, description="参加城乡居民基本养老保险")
    family_doctor: bool = Field(False, description="家庭医生签约")
    employment: Employment = Field(Employment.none, description="务工就业情况")
    employment_place: Text100 | None = Field(None, description="Where the person works (place or employer) 务工地点")
    employment_months: int | None = Field(None, ge=0, le=12, description="务工月数")
    employment_income: Money | None = Field(None, description="务工收入 (yuan)")
    phone: Phone | None = Field(None, description="联系电话")


class PersonCreate(PersonFields):
    id_number: IdNumberStr = Field(
        description="National ID number, 18 characters with a valid GB 11643 check "
        "character (15-digit numbers are refused); sex and birth date are "
        "taken from it 身份证号码"
    )
    relation: Relation = Field(description="与户主关系")


def _left_out(description: str) -> Any:
    """A field that may be left out (it stays unset: its ``None`` default is never validated)
    but not sent as null. Typed ``Any`` so that the field keeps its non-null type, which is
    what a value it has when set is."""
    return Field(None, description=description)


class PersonUpdate(Input):
    """Partial update of a person. ``relation`` cannot be set to head here: change the head
    on the household. The ID number cannot be changed.

    A field left out keeps its value. Fields that always have a value (typed without
    ``| None``) may be left out but not sent as null: the default is never validated, an
    explicit null is refused (422) instead of reaching a NOT NULL column."""

    name: Name = _left_out("Full name 姓名")
    relation: Relation | None = Field(
        None, description="Relation to the household head; not `head` (change the head on the household) 与户主关系"
    )
    health: Health = _left_out("Health status 健康状况")
    disability_grade: int | None = Field(None, ge=1, le=4, description="Disability grade 1–4 残疾等级")
    illness: Text200 | None = Field(None, description="Name of the illness (sensitive) 疾病名称")
    labour_capacity: LabourCapacity = _left_out("Labour capacity 劳动技能")
    education_level: EducationLevel | None = Field(None, description="Highest education level 文化程度")
    schooling: Schooling = _left_out("Schooling status 在校生状况")
    school: Text100 | None = Field(None, description="School or college attended 就读学校")
    medical_insurance: bool = _left_out("Enrolled in basic medical insurance 参加基本医疗保险")
    pension_insurance: bool = _left_out(
        "Enrolled in the urban and rural residents' basic pension 参加城乡居民基本养老保险"
    )
    family_doctor: bool = _left_out("Has a family doctor contract 家庭医生签约")
    employment: Employment = _left_out("Employment situation 务工就业情况")
    employment_place: Text100 | None = Field(None, description="Where the person works 务工地点")
    employment_months: int | None = Field(None, ge=0, le=12, description="Months worked in the year, 0–12 务工月数")
    employment_income: Money | None = Field(None, description="Income from work in the year, yuan 务工收入")
    phone: Phone | None = Field(None, description="Mobile phone number, `1[3-9]` + 9 digits 联系电话")


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
    household_no: str | None = Field(
        None, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$", description="户编号; generated when omitted"
    )
    category: AssignableCategory = Field(Category.ordinary, description="户类型: lifted_out 脱贫户 / ordinary 一般农户")
    flags: list[Flag] = Field(
        default_factory=list, description="标识: relocated 易地扶贫搬迁, dibao 低保, tekun 特困 …"
    )
    resettlement_site: Text200 | None = Field(None, description="安置点 (relocated households)")
    address: Text200 | None = Field(None, description="Address of the household 家庭住址")
    phone: Phone | None = Field(None, description="Contact phone of the household 联系电话")
    members: list[PersonCreate] = Field(
        min_length=1,
        max_length=30,
        description="The members, exactly one of them with relation `head`; ID numbers must not repeat 家庭成员",
    )

    _flags = field_validator("flags")(_unique_flags)

    @model_validator(mode="after")
    def _checks(self) -> HouseholdCreate:
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
    category: AssignableCategory = _left_out(
        "Household category; `monitored` cannot be set here (a "
        "household becomes 监测户 only through a monitoring case) "
        "户类型"
    )
    flags: list[Flag] | None = Field(None, description="Flags, replacing the current list 标识")
    resettlement_site: Text200 | None = Field(
        None, description="Resettlement site, required when the household is flagged `relocated` 安置点"
    )
    address: Text200 | None = Field(None, description="Address of the household 家庭住址")
    phone: Phone | None = Field(None, description="Contact phone of the household 联系电话")
    region_code: RegionCodeStr | None = Field(None, description="Move the household to another village (搬迁)")
    head_person_id: int | None = Field(None, description="Make this member the head (变更户主)")
    former_head_relation: MemberRelation = Field(Relation.other, description="Relation of the former head afterwards")

    _flags = field_validator("flags")(lambda v: None if v is None else _unique_flags(v))


class MoveRequest(Input):
    household_id: int = Field(description="Target household 迁入户")
    relation: MemberRelation = Field(description="Relation to the target household's head")


class SplitRequest(Input):
    """分户: some members leave to form a new household."""

    person_ids: list[int] = Field(
        min_length=1, max_length=30, description="Members who leave to form the new household 分出的成员"
    )
    head_person_id: int = Field(description="Head of the new household (one of person_ids)")
    remaining_head_person_id: int | None = Field(
        None, description="New head of the old household, needed when its head leaves"
    )
    household_no: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        pattern=r"^[0-9A-Za-z-]+$",
        description="Household number of the new household; generated when omitted 新户编号",
    )
    region_code: RegionCodeStr | None = Field(None, description="Village of the new household (default: the same)")
    category: AssignableCategory | None = Field(None, description="Default: the old household's category")
    address: Text200 | None = Field(None, description="Address of the new household 新户住址")
    relations: dict[int, Relation] = Field(
        default_factory=dict, description="Relation of each leaving member to the new head (default: other)"
    )

    @model_validator(mode="after")
    def _checks(self) -> SplitRequest:
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
    date_of_death: Day = Field(description="Date of death, not in the future 死亡日期")

    @field_validator("date_of_death")
    @classmethod
    def _past(cls, value: date) -> date:
        from services.core.timeutil import today

        if value > today():
            raise ValueError("date_in_future")
        return value


class PersonLookup(Input):
    id_number: IdNumberStr = Field(description="The complete ID number to look for 身份证号码")


class UnmaskRequest(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)] = Field(
        description="Why the complete number is needed (recorded in the audit trail) 查看事由"
    )


# ---- responses -------------------------------------------------------------------------


class PersonOut(BaseModel):
    id: int = Field(description="Person id 人员标识")
    id_number: str = Field(
        description="Masked: only the first 6 characters (the address code) shown, "
        "110105************ 脱敏显示. The complete number: unmaskIdNumber"
    )
    name: str = Field(description="Full name 姓名")
    sex: str = Field(description="`male` or `female`, from the ID number's sequence digit 性别")
    birth_date: date | None = Field(
        description="出生日期. Only for roles that may reveal the ID number "
        "(registry:unmask); null for every other role, which sees "
        "`birth_year`: a full date beside the masked number would "
        "give most of the number back"
    )
    birth_year: int = Field(description="出生年份. For every role")
    household_id: int | None = Field(
        description="Household the person belongs to; null after leaving the registry 所属农户"
    )
    region_code: str = Field(description="Village code (12 digits) of the person's household 所属行政村")
    relation: Relation | None = Field(description="Relation to the household head 与户主关系")
    health: Health | None = Field(
        None, description="健康状况. Present only for roles that may see health details (registry:health)"
    )
    disability_grade: int | None = Field(None, description="残疾等级. Present only with registry:health")
    illness: str | None = Field(None, description="疾病名称. Present only with registry:health")
    labour_capacity: LabourCapacity = Field(description="Labour capacity 劳动技能")
    education_level: EducationLevel | None = Field(description="Highest education level 文化程度")
    schooling: Schooling = Field(description="Schooling status 在校生状况")
    school: str | None = Field(description="School or college attended 就读学校")
    medical_insurance: bool = Field(description="Enrolled in basic medical insurance 参加基本医疗保险")
    pension_insurance: bool = Field(
        description="Enrolled in the urban and rural residents' basic pension 参加城乡居民基本养老保险"
    )
    family_doctor: bool = Field(description="Has a family doctor contract 家庭医生签约")
    employment: Employment = Field(description="Employment situation 务工就业情况")
    employment_place: str | None = Field(description="Where the person works 务工地点")
    employment_months: int | None = Field(description="Months worked in the year 务工月数")
    employment_income: str | None = Field(description="Yuan, two decimals, as a string")
    phone: str | None = Field(description="Mobile phone number 联系电话")
    status: PersonStatus = Field(description="Alive or deceased 人员状态")
    date_of_death: Day | None = Field(description="Date of death, when deceased 死亡日期")
    version: int = Field(description=VERSION_DESCRIPTION)


class UnmaskedIdNumber(BaseModel):
    person_id: int = Field(description="Person id 人员标识")
    id_number: str = Field(description="The complete ID number 完整身份证号码")


class HouseholdSummary(BaseModel):
    id: int = Field(description="Household id 农户标识")
    household_no: str = Field(description="Household number 户编号")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    category: Category = Field(description="Household category 户类型")
    flags: list[Flag] = Field(
        description="Flags; `disabled` and `serious_illness` are shown only to roles with registry:health 标识"
    )
    head_name: str | None = Field(description="Name of the household head 户主姓名")
    member_count: int = Field(description="Number of current members 家庭人口数")
    status: HouseholdStatus = Field(description="Active, or dissolved by a merge or split 农户状态")
    version: int = Field(description=VERSION_DESCRIPTION)


class HouseholdDetail(HouseholdSummary):
    previous_category: Category | None = Field(
        description="Category before the household became 监测户, restored when "
        "its case ends; null otherwise 纳入监测前户类型"
    )
    resettlement_site: str | None = Field(description="Resettlement site of a relocated household 安置点")
    address: str | None = Field(description="Address 家庭住址")
    phone: str | None = Field(description="Contact phone 联系电话")
    created_at: datetime = Field(description="When the household was registered 登记时间")
    updated_at: datetime = Field(description="When the household was last changed 更新时间")
    members: list[PersonOut] = Field(description="Current members 家庭成员")


class MembershipOut(BaseModel):
    person_id: int = Field(description="Person id 人员标识")
    person_name: str = Field(description="Name of the person 姓名")
    relation: Relation | None = Field(description="Relation to the head during this membership 与户主关系")
    started_at: datetime = Field(description="When the person joined the household 加入时间")
    start_reason: str = Field(
        description="Why the person joined: a MembershipChange value (registered, added, moved, split, merged) 加入原因"
    )
    ended_at: datetime | None = Field(description="When the person left; null while still a member 离开时间")
    end_reason: str | None = Field(
        description="Why the person left: a MembershipChange value (moved, split, merged, removed, deceased) 离开原因"
    )


class HouseholdEventOut(BaseModel):
    kind: str = Field(
        description="What happened: a HouseholdEventKind value (created, split_off, split_from, "
        "merged_in, merged_into, updated) 事件类型"
    )
    other_household_id: int | None = Field(description="The other household of a split or merge 关联农户")
    person_ids: list[int] = Field(description="Persons concerned (e.g. the members who left in a split) 涉及人员")
    note: str | None = Field(description="Note 备注")
    actor_id: int | None = Field(description="User who made the change 操作人")
    at: datetime = Field(description="When it happened 时间")


class HouseholdHistory(BaseModel):
    household_id: int = Field(description="Household id 农户标识")
    memberships: list[MembershipOut] = Field(description="Every membership, past and current 成员变动记录")
    events: list[HouseholdEventOut] = Field(description="Household events, oldest first 农户变动事件")
