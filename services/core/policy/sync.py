"""The thresholds of the department cross-check rules (``services.core.sync.rules``), per
region and year, like the monitoring and funds policies: the defaults are the seeds' figures
(docs/domain.md), table ``sync_policies`` holds overrides per region prefix from a year on,
resolved by ``services.core.policy.overrides`` (a county's row wins over its province's, a
later year over an earlier one).

A reconciliation resolves the policy of the county it runs for, in the current year, and
passes every field to the rules' SQL as a bind parameter of the same name (``params``):
``:compulsory_age_from``, ``:large_cost_fixed_yuan`` (JSON text of the per-category dict) …
A rule lists the fields it reads in ``Rule.thresholds``. A new threshold is a field here
with its default, and its name in the rule's SQL; nothing else changes.

Readings and defaults are explained in ``docs/department-rules.md``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.core.households.enums import Category
from services.core.labels import LabelledEnum
from services.core.policy.overrides import PolicyTable, effective
from services.core.sync.enums import HouseGrade, KeyGroup, StudentStatus
from services.core.sync.models import SyncPolicyRow

Yuan = Annotated[Decimal, Field(ge=0, le=10_000_000, max_digits=12, decimal_places=2)]
Share = Annotated[Decimal, Field(gt=0, le=10, max_digits=6, decimal_places=4)]


class IncomeBasis(LabelledEnum):
    """Which yearly income the large-medical-cost share is taken of 收入口径."""

    total = "total", "上年度家庭总收入"  # wages + business + property + transfers of the year
    net = "net", "家庭纯收入"  # the year's net income (after production costs and eligible spending)


def _per_category(value: str | None) -> Any:
    return lambda: {c: (None if value is None else Decimal(value)) for c in Category}


class SyncPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # 大额医疗支出 [001 §五.1; docs/domain.md]: a household's out-of-pocket medical costs of a year
    # above a fixed amount (5,000–20,000 yuan by county) … None switches that test off for
    # the category; a category left out of an override gets the default (an override of
    # these dicts replaces the whole dict: name every category that differs).
    large_cost_fixed_yuan: dict[Category, Yuan | None] = Field(
        default_factory=_per_category("10000"),
        description="Large medical costs: a household's out-of-pocket costs of a year above this amount, yuan, per "
        "household category (null: test off) 大额医疗支出固定标准",
    )
    # … or above this share of the household's income of the previous complete year
    # (当年就医自负费用超过上年度家庭总收入: 1.0 of the total income) …
    large_cost_income_share: dict[Category, Share | None] = Field(
        default_factory=_per_category("1.0"),
        description="Large medical costs: or above this share of the household's income of the previous complete "
        "year, per category (null: test off) 医疗自负费用占上年度收入比例",
    )
    # … counted as total income (the seed's 家庭总收入) or net income.
    large_cost_income_basis: IncomeBasis = Field(
        IncomeBasis.total, description="Whether that income is total income or net income 收入口径"
    )
    # 控辍保学: compulsory education covers ages 6 to 15 (nine years), the age taken on
    # 1 September of the term's school year.
    compulsory_age_from: int = Field(
        6,
        ge=3,
        le=25,
        description="Compulsory education from this age (on 1 September of the school year) 义务教育起始年龄",
    )
    compulsory_age_to: int = Field(15, ge=3, le=25, description="Compulsory education up to this age 义务教育截止年龄")
    # Student statuses that count as out of school (休学 may be added by a county).
    out_of_school_statuses: list[StudentStatus] = Field(
        default_factory=lambda: [StudentStatus.dropped_out],
        min_length=1,
        description="Student statuses that count as out of school 视为失学辍学的学籍状态",
    )
    # A student record of a compulsory stage (小学, 初中) for someone older than this on
    # 1 September of the term's school year contradicts itself (a data-quality check).
    compulsory_stage_max_age: int = Field(
        25,
        ge=10,
        le=120,
        description="A primary or junior-secondary student record for someone older than this contradicts itself "
        "义务教育阶段最大合理年龄",
    )
    # 住建: appraisal grades that make a house unsafe (危房: C 局部危险, D 整体危险; seed 004
    # §11 发现一户、保障一户), unless renovated.
    unsafe_house_grades: list[HouseGrade] = Field(
        default_factory=lambda: [HouseGrade.c, HouseGrade.d],
        min_length=1,
        description="Appraisal grades of an unsafe house (C, D) 危房鉴定等级",
    )
    # 新纳入低保、特困: a grant that started within this many months is "new" (the civil
    # affairs office has just means-tested the household; the monitoring has not caught up).
    new_grant_months: int = Field(
        12,
        ge=1,
        le=60,
        description="A 低保 or 特困 grant that started within this many months counts as new 新纳入低保特困月数",
    )
    # Registry check (provincial data-quality check): a living person under this age
    # (today) with employment records is a child employed (未满16周岁务工: the legal
    # working age of 16).
    child_employment_age: int = Field(
        16,
        ge=10,
        le=18,
        description="A living person under this age with employment "
        "records is a child employed (legal working age "
        "16) 未成年务工年龄",
    )
    # 完整名册 (docs/rosters.md): a declared roster (参保名册, 学籍名册) is trusted only if the
    # rows it refused (quarantined, so their people unknown) are at most this share of its
    # rows; 0: a roster with any refused row judges nobody absent.
    roster_refused_share: Decimal = Field(
        Decimal("0.01"),
        ge=0,
        le=1,
        max_digits=6,
        decimal_places=4,
        description="A declared roster is trusted only if the rows it refused are at most this share of its rows "
        "完整名册最高拒收比例",
    )
    # 家庭医生签约服务重点人群: whose missing contract is a finding. Seed 004 §10 extends the key
    # groups to 农村低保对象、特困人员、监测对象; seed 000 keeps 脱贫人口 among them.
    family_doctor_groups: list[KeyGroup] = Field(
        default_factory=lambda: list(KeyGroup),
        description="Key groups whose missing family doctor contract is a finding 家庭医生签约重点人群",
    )

    @field_validator("large_cost_fixed_yuan", "large_cost_income_share", mode="after")
    @classmethod
    def _every_category(cls, value: dict, info) -> dict:
        default = cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return {c: value.get(c, default[c]) for c in Category}

    @model_validator(mode="after")
    def _ages(self) -> SyncPolicy:
        if self.compulsory_age_from > self.compulsory_age_to:
            raise ValueError("compulsory_age_from must not be above compulsory_age_to")
        return self

    def large_cost_on(self) -> bool:
        """Whether any category has a large-cost threshold left."""
        return any(
            v is not None for v in (*self.large_cost_fixed_yuan.values(), *self.large_cost_income_share.values())
        )


FIELDS = frozenset(SyncPolicy.model_fields)


def params(policy: SyncPolicy) -> dict[str, Any]:
    """Every field as a bind parameter of its name: numbers and texts as they are, lists as
    arrays, dicts as JSON text (``CAST(:name AS jsonb) ->> key``)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(policy, name)
        if isinstance(value, dict):
            value = json.dumps({str(k): (None if v is None else str(v)) for k, v in value.items()})
        elif isinstance(value, list):
            value = [str(v) for v in value]
        elif isinstance(value, StrEnum):
            value = value.value
        out[name] = value
    return out


TABLE = PolicyTable(SyncPolicyRow, SyncPolicy)


def county_region(county: str) -> str:
    """The 12-digit region code of a 6-digit county code (the policy's region)."""
    return county + "000000"


async def policy_for(session, county: str, year: int) -> SyncPolicy:
    """The sync policy in force in ``county`` (6 digits) in ``year``."""
    policy, _rows = await effective(session, county_region(county), year, TABLE)
    return policy
