"""A person while the generator builds a household (``Member``), and the stored values of
core's enums that the generator writes: relations, health, labour capacity, schooling,
employment, categories and flags, guarantee statuses."""

from __future__ import annotations

from datetime import date

from services.core.guarantees.models import Status
from services.core.households.enums import (
    Category,
    EducationLevel,
    Employment,
    Flag,
    Health,
    HouseholdEventKind,
    HouseholdStatus,
    LabourCapacity,
    MembershipChange,
    PersonStatus,
    Relation,
    Schooling,
)


class Member:
    """One person while a household is being built."""

    __slots__ = (
        "able",
        "age",
        "birth_date",
        "disability_grade",
        "education_level",
        "employment",
        "employment_income",
        "employment_months",
        "employment_place",
        "family_doctor",
        "health",
        "id_number",
        "illness",
        "labour",
        "male",
        "medical_insurance",
        "name",
        "pension_insurance",
        "phone",
        "relation",
        "school",
        "schooling",
        "sex",
    )
    # values as stored (enums by their value)
    relation: str
    male: bool
    sex: str
    age: int
    birth_date: date
    id_number: str
    name: str
    health: str
    disability_grade: int | None
    illness: str | None
    labour: str
    able: bool
    education_level: str
    schooling: str
    school: str | None
    medical_insurance: bool
    pension_insurance: bool
    family_doctor: bool
    employment: str
    employment_place: str | None
    employment_months: int | None
    employment_income: int | None
    phone: str | None


GRADE_CUM = (0.12, 0.35, 0.65)  # disability grade 1: 12 %, 2: 23 %, 3: 30 %, 4: 35 %
PWP_POSTS = ("护林员", "保洁员", "护路员", "水管员", "村级信息员")

HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT = (
    Relation.head.value,
    Relation.spouse.value,
    Relation.child.value,
    Relation.child_in_law.value,
    Relation.grandchild.value,
    Relation.parent.value,
)
HEALTHY, CHRONIC, SERIOUS, DISABLED = (
    Health.healthy.value,
    Health.chronic_illness.value,
    Health.serious_illness.value,
    Health.disabled.value,
)
L_SKILLED, L_ORDINARY, L_WEAK, L_LOST, L_NONE = (
    LabourCapacity.skilled.value,
    LabourCapacity.ordinary.value,
    LabourCapacity.weak.value,
    LabourCapacity.lost.value,
    LabourCapacity.none.value,
)
CAN_WORK = frozenset({L_SKILLED, L_ORDINARY, L_WEAK})
NO_LABOUR = frozenset({L_LOST, L_NONE})
NO_LABOUR_OR_WEAK = frozenset({L_LOST, L_NONE, L_WEAK})
EDU_NONE, EDU_PRIMARY, EDU_JUNIOR, EDU_SENIOR, EDU_COLLEGE, PRESCHOOL_AGE = (
    EducationLevel.none.value,
    EducationLevel.primary.value,
    EducationLevel.junior_secondary.value,
    EducationLevel.senior_secondary.value,
    EducationLevel.college.value,
    EducationLevel.preschool_age.value,
)
(NOT_IN_SCHOOL, PRESCHOOL, PRIMARY, JUNIOR, SENIOR, VOCATIONAL, UNIVERSITY, DROPPED_OUT, SUSPENDED) = (
    s.value
    for s in (
        Schooling.not_in_school,
        Schooling.preschool,
        Schooling.primary,
        Schooling.junior_secondary,
        Schooling.senior_secondary,
        Schooling.vocational,
        Schooling.university,
        Schooling.dropped_out,
        Schooling.suspended,
    )
)
STUDYING = frozenset({PRESCHOOL, PRIMARY, JUNIOR, SENIOR, VOCATIONAL, UNIVERSITY, SUSPENDED})
NONE_EMPLOYMENT, LOCAL, MIGRANT, PWP, SELF = (
    Employment.none.value,
    Employment.local.value,
    Employment.migrant.value,
    Employment.public_welfare_post.value,
    Employment.self_employed.value,
)
LIFTED, MONITORED, ORDINARY = Category.lifted_out.value, Category.monitored.value, Category.ordinary.value
F_RELOCATED, F_DIBAO, F_TEKUN, F_DISABLED, F_SERIOUS, F_ZERO = (
    f.value
    for f in (
        Flag.relocated,
        Flag.dibao,
        Flag.tekun,
        Flag.disabled,
        Flag.serious_illness,
        Flag.zero_employment,
    )
)
ALIVE = PersonStatus.alive.value
ACTIVE = HouseholdStatus.active.value
REGISTERED = MembershipChange.registered.value
CREATED = HouseholdEventKind.created.value
SECURE, AT_RISK, NA = Status.secure.value, Status.at_risk.value, Status.not_applicable.value
