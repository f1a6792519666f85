"""What field work's routes take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator, model_validator

from services.core.base import VERSION_DESCRIPTION
from services.core.fieldwork.enums import CampaignStatus, Check, OfficerLevel, RosterRole
from services.core.households.enums import Category
from services.core.households.schemas import Input
from services.core.monitoring.schemas import Comment, Ident, RiskTypes
from services.core.types import Day, Moment, Name, Phone, RegionCodeStr, RegionPrefixStr, Text100, checked_text

# A month as ``YYYY-MM`` (China's calendar month).
MONTH_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, StringConstraints(pattern=MONTH_PATTERN), Field(examples=["2026-11"])]
# Checked item by item, so that a refusal names the photo (``photos.0``).
PhotoRef = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(checked_text)]
Checks = Annotated[list[Check], Field(min_length=1, max_length=len(Check))]


def _distinct(values: list) -> list:
    return sorted(set(values), key=list(Check).index)


def _period(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValueError("campaign_period_reversed@ends_on")


# ---- roster ----------------------------------------------------------------------------------


class RosterMemberIn(Input):
    name: Name = Field(description="Name 姓名")
    phone: Phone | None = Field(None, description="Mobile phone number, `1[3-9]` + 9 digits 联系电话")
    role: RosterRole = Field(description="What the member does 人员类别")
    region_code: RegionCodeStr = Field(
        description="The county, township or village the member covers (12-digit code) 负责区域"
    )
    user_id: Ident | None = Field(None, description="The member's user account, if any 关联用户账号")
    active_from: Day = Field(description="First day of service 到岗日期")
    active_until: Day | None = Field(None, description="Last day of service; null while serving 离岗日期")
    note: Comment | None = Field(None, description="Note 备注")

    @model_validator(mode="after")
    def _order(self) -> RosterMemberIn:
        if self.active_until is not None and self.active_until < self.active_from:
            raise ValueError("roster_period_reversed@active_until")
        return self


class RosterMemberUpdate(Input):
    """Only the fields sent change; `null` clears an optional one."""

    name: Name | None = Field(None, description="Name 姓名")
    phone: Phone | None = Field(None, description="Mobile phone number 联系电话")
    role: RosterRole | None = Field(None, description="What the member does 人员类别")
    region_code: RegionCodeStr | None = Field(None, description="The region the member covers 负责区域")
    user_id: Ident | None = Field(None, description="The member's user account 关联用户账号")
    active_from: Day | None = Field(None, description="First day of service 到岗日期")
    active_until: Day | None = Field(None, description="Last day of service 离岗日期")
    note: Comment | None = Field(None, description="Note 备注")

    @model_validator(mode="after")
    def _required_stay(self) -> RosterMemberUpdate:
        for name in ("name", "role", "region_code", "active_from"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"field_required@{name}")
        return self


class RosterMemberOut(BaseModel):
    id: int = Field(description="Roster member id 人员标识")
    name: str = Field(description="Name 姓名")
    phone: str | None = Field(
        description="Mobile phone: in full for roles that may see ID numbers (registry:unmask), "
        "else masked as 138****5678 联系电话（脱敏）"
    )
    role: RosterRole = Field(description="What the member does 人员类别")
    region_code: str = Field(description="The region covered 负责区域")
    user_id: int | None = Field(description="The member's user account 关联用户账号")
    active_from: date = Field(description="First day of service 到岗日期")
    active_until: date | None = Field(description="Last day of service; null while serving 离岗日期")
    note: str | None = Field(description="Note 备注")
    version: int = Field(description=VERSION_DESCRIPTION)
    created_at: datetime = Field(description="When recorded 录入时间")


class OfficerShortfallOut(BaseModel):
    region_code: str = Field(description="The region 区划代码")
    name: str = Field(description="Name of the region 区划名称")
    level: OfficerLevel = Field(description="Level of the region 层级")
    required: int = Field(description="Information officers the policy requires 应配备人数")
    active: int = Field(description="Information officers serving on the day 在岗人数")
    missing: int = Field(description="How many are missing 缺员人数")


# ---- attendance (驻村工作队) --------------------------------------------------------------------


class AttendanceIn(Input):
    month: Month = Field(description="The month, `YYYY-MM` 月份")
    days: int = Field(ge=0, le=31, description="Days spent in the village that month 在村天数")
    note: Comment | None = Field(None, description="Note (sign-in sheets, spot checks …) 备注")


class AttendanceUpdate(Input):
    """A correction of a month's record: only the fields sent change (the month is the record's: a
    wrong month is a new record)."""

    days: int | None = Field(None, ge=0, le=31, description="Days spent in the village that month 在村天数")
    note: Comment | None = Field(None, description="Note (sign-in sheets, spot checks …) 备注")

    @model_validator(mode="after")
    def _days_stay(self) -> AttendanceUpdate:
        if "days" in self.model_fields_set and self.days is None:
            raise ValueError("field_required@days")
        return self


class AttendanceOut(BaseModel):
    id: int = Field(description="Attendance record id 记录标识")
    member_id: int = Field(description="The roster member 驻村工作队员")
    region_code: str = Field(description="The member's village 驻村村")
    month: str = Field(description="The month, `YYYY-MM` 月份")
    days: int = Field(description="Days spent in the village 在村天数")
    required: int = Field(description="Days the policy requires that month 应在村天数")
    note: str | None = Field(description="Note 备注")
    version: int = Field(description=VERSION_DESCRIPTION)


class AttendanceShortfallOut(BaseModel):
    member_id: int = Field(description="The roster member 驻村工作队员")
    name: str = Field(description="Name 姓名")
    region_code: str = Field(description="The member's village 驻村村")
    month: str = Field(description="The month, `YYYY-MM` 月份")
    days: int | None = Field(description="Days recorded; null when nothing was recorded 在村天数（未填报为空）")
    required: int = Field(description="Days the policy requires 应在村天数")


# ---- campaigns ---------------------------------------------------------------------------------


class CampaignIn(Input):
    name: Text100 = Field(min_length=1, description="Name, e.g. 2026年大走访大排查 行动名称")
    region_prefix: RegionPrefixStr = Field(
        description="Where the campaign screens: a county (6 digits), township (9) or village (12) 排查范围"
    )
    starts_on: Day = Field(description="First day 开始日期")
    ends_on: Day = Field(description="Last day 结束日期")
    checks: Checks = Field(default_factory=lambda: list(Check), description="What each visit checks 排查内容")
    note: Comment | None = Field(None, description="Note 备注")

    _checks = field_validator("checks")(_distinct)

    @model_validator(mode="after")
    def _order(self) -> CampaignIn:
        _period(self.starts_on, self.ends_on)
        return self


class CampaignUpdate(Input):
    """Only the fields sent change."""

    name: Text100 | None = Field(None, min_length=1, description="Name 行动名称")
    starts_on: Day | None = Field(None, description="First day 开始日期")
    ends_on: Day | None = Field(None, description="Last day 结束日期")
    checks: Checks | None = Field(None, description="What each visit checks 排查内容")
    note: Comment | None = Field(None, description="Note 备注")

    @field_validator("checks")
    @classmethod
    def _checks(cls, value):
        return None if value is None else _distinct(value)

    @model_validator(mode="after")
    def _required_stay(self) -> CampaignUpdate:
        for name in ("name", "starts_on", "ends_on", "checks"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"field_required@{name}")
        _period(self.starts_on, self.ends_on)
        return self


class CampaignOut(BaseModel):
    id: int = Field(description="Campaign id 行动标识")
    name: str = Field(description="Name 行动名称")
    region_prefix: str = Field(description="Where the campaign screens 排查范围")
    starts_on: date = Field(description="First day 开始日期")
    ends_on: date = Field(description="Last day 结束日期")
    checks: list[Check] = Field(description="What each visit checks 排查内容")
    note: str | None = Field(description="Note 备注")
    status: CampaignStatus = Field(description="Where its period stands today (China time) 行动状态")
    created_by: int | None = Field(description="User who opened it 发起人")
    version: int = Field(description=VERSION_DESCRIPTION)
    created_at: datetime = Field(description="When opened 创建时间")


class TeamIn(Input):
    village: RegionCodeStr = Field(description="The village the team screens (12-digit code) 负责村")
    member_ids: list[Ident] = Field(
        min_length=1, max_length=10, description="Roster members of the team (the policy's size, seed: two) 组员"
    )


class TeamOut(BaseModel):
    id: int = Field(description="Team id 小组标识")
    campaign_id: int = Field(description="The campaign 行动标识")
    village: str = Field(description="The village 负责村")
    member_ids: list[int] = Field(description="Roster members 组员")
    created_at: datetime = Field(description="When assigned 分组时间")


class CampaignVisitIn(Input):
    household_id: Ident = Field(description="The household visited 农户标识")
    visited_at: Moment | None = Field(
        None,
        description="When (ISO 8601 with an offset; default now); its China date must be in the campaign's "
        "period 走访时间",
    )
    team_id: Ident | None = Field(None, description="The team that visited, if teams were assigned 走访小组")
    checks: Checks = Field(description="What was checked 排查内容")
    problems: list[Check] = Field(
        default_factory=list, max_length=len(Check), description="Checks that found a problem 发现问题的项目"
    )
    photos: list[PhotoRef] = Field(
        default_factory=list, max_length=20, description="References of photos kept elsewhere (ids, not uploads) 照片"
    )
    findings: Comment | None = Field(None, description="What was found 排查发现")

    _checks = field_validator("checks", "problems")(_distinct)

    @model_validator(mode="after")
    def _problems_checked(self) -> CampaignVisitIn:
        if not set(self.problems) <= set(self.checks):
            raise ValueError("visit_problem_unchecked@problems")
        return self


class VisitUpdate(Input):
    """A correction of a visit record: only the fields sent change, under the rules of a new record
    (the day in the campaign's period, checks among the campaign's, problems among those checked, the
    team of the household's village). The household is the record's: a wrong one is a new record."""

    visited_at: Moment | None = Field(
        None, description="When (ISO 8601 with an offset); its China date must be in the campaign's period 走访时间"
    )
    team_id: Ident | None = Field(None, description="The team that visited; null: none 走访小组")
    checks: Checks | None = Field(None, description="What was checked 排查内容")
    problems: list[Check] | None = Field(
        None, max_length=len(Check), description="Checks that found a problem 发现问题的项目"
    )
    photos: list[PhotoRef] | None = Field(
        None, max_length=20, description="References of photos kept elsewhere (ids, not uploads) 照片"
    )
    findings: Comment | None = Field(None, description="What was found; null clears it 排查发现")

    @field_validator("checks", "problems")
    @classmethod
    def _distinct_lists(cls, value):
        return None if value is None else _distinct(value)

    @model_validator(mode="after")
    def _required_stay(self) -> VisitUpdate:
        for name in ("visited_at", "checks", "problems", "photos"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"field_required@{name}")
        return self


class CampaignVisitOut(BaseModel):
    id: int = Field(description="Visit record id 走访记录标识")
    campaign_id: int = Field(description="The campaign 行动标识")
    household_id: int = Field(description="The household 农户标识")
    region_code: str = Field(description="The household's village 所在村")
    team_id: int | None = Field(description="The team 走访小组")
    visited_at: datetime = Field(description="When 走访时间")
    visited_on: date = Field(description="The China date of the visit 走访日期")
    checks: list[Check] = Field(description="What was checked 排查内容")
    problems: list[Check] = Field(description="Checks that found a problem 发现问题的项目")
    photos: list[str] = Field(description="Photo references 照片")
    findings: str | None = Field(description="What was found 排查发现")
    clue_id: int | None = Field(description="The risk clue raised from it, if any 转为的风险线索")
    recorded_by: int | None = Field(description="User who recorded it 录入人")
    version: int = Field(description=VERSION_DESCRIPTION)


class VisitClueIn(Input):
    risk_types: RiskTypes
    evidence: Comment | None = Field(None, description="What the clue says; default the visit's findings 线索内容")


class VisitClueOut(CampaignVisitOut):
    outcome: str = Field(
        description="What the clue intake did: created (a new clue), merged (into an open clue of the household) "
        "or duplicate 线索受理结果"
    )


class VillageProgress(BaseModel):
    region_code: str = Field(description="The village 村")
    name: str = Field(description="Name of the village 村名")
    households: int = Field(description="Households in the registry (active) 在册户数")
    visited: int = Field(description="Households visited 已走访户数")
    percent: float = Field(description="Visited share, percent with one decimal 走访率（%）")


class ProgressOut(BaseModel):
    campaign_id: int = Field(description="The campaign 行动标识")
    region: str = Field(description="The region the figures cover 统计范围")
    households: int = Field(description="Households in the registry (active) 在册户数")
    visited: int = Field(description="Households visited 已走访户数")
    percent: float = Field(description="Visited share, percent with one decimal 走访率（%）")
    villages: list[VillageProgress] = Field(description="Per village, by code 分村进度")


class UnvisitedOut(BaseModel):
    household_id: int = Field(description="The household 农户标识")
    household_no: str = Field(description="Household number 户编号")
    region_code: str = Field(description="Its village 所在村")
    head_name: str | None = Field(description="Head of household 户主")
    category: Category = Field(description="Household category 农户类别")
