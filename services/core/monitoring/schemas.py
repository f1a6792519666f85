"""Request and response shapes of monitoring (used by the API and the worker)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, field_validator, model_validator

from services.core.households.schemas import Input
from services.core.monitoring.enums import (
    Action,
    CaseStatus,
    CaseType,
    Channel,
    ClueStatus,
    DeadlineKind,
    Decision,
    EliminationWay,
    MeasureCategory,
    MeasureStatus,
    RiskType,
    VisitMode,
)
from services.core.types import MULTILINE, Day, IdNumberStr, Money, Name, Phone, Text100


def _strip(value):
    return value.strip() if isinstance(value, str) else value


LongText = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]
Comment = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(max_length=2000)]
Ident = Annotated[int, Field(ge=1, le=2**62)]


class Attachment(Input):
    """A reference to a document kept elsewhere (scan of the consent form, meeting minutes,
    notice photo …): its name and the storage reference."""

    name: Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=100)] = Field(
        description='Name of the document, e.g. "承诺授权书.pdf" 附件名称'
    )
    ref: Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=500)] = Field(
        description="Where the document is stored (a storage key or URL of the document system) 存储位置"
    )


# Each field gives ``default_factory=list`` itself, where the type checker sees it.
Attachments = Annotated[list[Attachment], Field(max_length=20)]
RiskTypes = Annotated[list[RiskType], Field(min_length=1, max_length=5, description="风险类型 (up to five)")]


def _distinct_risks(value: list[RiskType]) -> list[RiskType]:
    return sorted(set(value), key=list(RiskType).index)


def _not_in_future(value: date | None) -> date | None:
    from services.core.timeutil import today

    if value is not None and value > today():
        raise ValueError("date_in_future")
    return value


# ---------------------------------------------------------------- clues


@dataclass(frozen=True)
class Reporter:
    """Who reports or acts: a user or a system client."""

    user_id: int | None
    client_id: int | None


class ClueIn(Input):
    household_id: Ident | None = Field(None, description="The household; or give a member's `id_number` instead")
    id_number: IdNumberStr | None = Field(
        None,
        description="A living member's ID number, when the reporter does not "
        "know the household (a self-declaration app)",
    )
    channel: Channel = Field(
        description="发现途径: self_declaration 农户自主申报, visit 干部走访排查, department_screening 部门筛查预警"
    )
    risk_types: RiskTypes
    evidence: LongText = Field(description="线索内容: what was seen or reported")
    attachments: Attachments = Field(default_factory=list, description="Supporting documents (up to 20) 附件")
    reported_on: Day | None = Field(None, description="When the risk was reported (default today, China time)")
    declarant_name: Name | None = Field(None, description="Self-declaration: who in the household declared")
    declarant_phone: Phone | None = Field(None, description="Self-declaration: phone of the declarant 申报人电话")
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Department screening: the department or rule (e.g. civil_affairs)"
    )
    external_ref: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="The source's own reference; a re-sent reference is recognised, not duplicated"
    )

    _risks = field_validator("risk_types")(_distinct_risks)

    @field_validator("reported_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.household_id is None) == (self.id_number is None):
            raise ValueError("household_or_id_number@household_id")
        if self.external_ref is not None and self.source is None:
            raise ValueError("source_required@source")
        return self


class ClueDismissal(Input):
    reason: LongText = Field(description="排除理由")


class CaseFromClue(Input):
    case_type: CaseType = Field(description="监测类型")
    comment: Comment | None = Field(None, description="Comment recorded with the opening of the case 备注")
    effective_on: Day | None = Field(None, description="The day the clue was accepted (default today)")

    @field_validator("effective_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class ClueReportOut(BaseModel):
    id: int = Field(description="Report id 上报记录标识")
    channel: Channel = Field(description="How the risk was discovered 发现途径")
    risk_types: list[RiskType] = Field(description="Risk types reported 风险类型")
    evidence: str = Field(description="What was seen or reported 线索内容")
    attachments: list[Attachment] = Field(description="Supporting documents 附件")
    reported_on: Day = Field(description="Day the risk was reported 上报日期")
    reporter_user_id: int | None = Field(description="User who reported; null for a system client 上报人")
    reporter_client_id: int | None = Field(
        description="System client (department system) that reported; null for a user 上报系统"
    )
    declarant_name: str | None = Field(description="Self-declaration: who in the household declared 申报人")
    source: str | None = Field(description="Department screening: the department or rule 数据来源")
    external_ref: str | None = Field(description="The source's own reference 来源编号")
    created_at: datetime = Field(description="When the report was recorded 录入时间")


class DeadlineOut(BaseModel):
    kind: DeadlineKind = Field(description="Which deadline 时限类型")
    due: Day = Field(description="Last day to meet it (China time) 截止日期")
    provisional: bool = Field(description="Computed over a year whose official holiday schedule is not known yet")


class ClueOut(BaseModel):
    id: int = Field(description="Risk clue id 线索标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    risk_types: list[RiskType] = Field(description="Every risk type reported, without repeats 风险类型")
    channels: list[Channel] = Field(description="Channels of its reports, first channel first 发现途径")
    status: ClueStatus = Field(description="Open, dismissed or converted into a case 线索状态")
    first_reported_on: Day = Field(description="Day of the first report 首次上报日期")
    report_count: int = Field(description="Number of reports: the first and those merged into the clue 上报次数")
    next_deadline: DeadlineOut | None = Field(description="The earliest pending deadline; null when none 最近时限")
    deadlines: list[DeadlineOut] | None = Field(None, description="Every pending deadline (on the single clue's page)")
    deadline_breaches: list[dict] = Field(description="Deadlines met late or missed: kind, due, met_on")
    case_id: int | None = Field(description="The monitoring case the clue was converted into 监测对象（案件）")
    dismissal_reason: str | None = Field(description="Why the clue was dismissed 排除理由")
    handled_by: int | None = Field(description="User who dismissed or converted the clue 处理人")
    handled_at: datetime | None = Field(description="When the clue was dismissed or converted 处理时间")
    reports: list[ClueReportOut] | None = Field(None, description="Only on the single clue's page")
    outcome: str | None = Field(
        None,
        description="On reporting: created, merged (into an open clue of the same "
        "household and risk) or duplicate (the source's reference was known)",
    )


# ---------------------------------------------------------------- case steps


class StepIn(Input):
    comment: Comment | None = Field(None, description="Comment on the step 意见")
    attachments: Attachments = Field(
        default_factory=list, description="Documents of the step: minutes, notice photo, consent form … (up to 20) 附件"
    )
    effective_on: Day | None = Field(
        None,
        description="The day the step took place (paper first, entered later); default today, never in "
        "the future nor before the previous step",
    )

    @field_validator("effective_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class VerificationIn(StepIn):
    decision: Decision = Field(description="approve: risk confirmed; reject: not confirmed")
    consent_signed: bool = Field(
        False,
        description="Identification: the household signed the consent and authorisation to check its data (承诺授权书)",
    )
    findings: LongText = Field(description="What the verification visit found 核实情况")


class VillageReviewIn(StepIn):
    decision: Decision = Field(
        description="approve: passes the democratic review and starts the public notice; reject: not passed 评议结果"
    )
    notice_start: Day | None = Field(
        None, description="On approval: first day of the public notice (default: the step's day)"
    )
    notice_end: Day | None = Field(None, description="Last day of the notice (default: the shortest allowed)")

    @model_validator(mode="after")
    def _order(self):
        if self.notice_start and self.notice_end and self.notice_end < self.notice_start:
            raise ValueError("notice_end_before_start@notice_end")
        return self


class NoticeResultIn(StepIn):
    decision: Decision = Field(description="approve: no objection upheld; reject: an objection was upheld")


class ReviewIn(StepIn):
    decision: Decision = Field(description="approve: passes the township review; reject: sent back 审核结果")


class CountyDecisionIn(StepIn):
    decision: Decision = Field(
        description="approve: identified (or risk eliminated); reject: not identified (or elimination refused) 审批结果"
    )
    case_type: CaseType | None = Field(None, description="Identification: the type decided (default: as opened)")
    way: EliminationWay | None = Field(None, description="Risk elimination: 帮扶消除 or 自然消除 (required then)")


class ProposalIn(StepIn):
    pass


class TerminationIn(StepIn):
    reason: LongText = Field(description="Why the case ends (household dissolved, every member deceased …) 终止原因")


class CadreIn(Input):
    cadre_user_id: Ident = Field(description="User id of the assistance cadre (帮扶责任人)")
    assigned_on: Day | None = Field(
        None, description="Day the cadre was assigned (default today; never in the future) 明确日期"
    )

    @field_validator("assigned_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class TransitionOut(BaseModel):
    id: int = Field(description="Transition id 流转记录标识")
    action: Action = Field(description="What was done 操作")
    from_status: CaseStatus | None = Field(description="Status before; null when the case was opened 原状态")
    to_status: CaseStatus = Field(description="Status after 新状态")
    comment: str | None = Field(description="Comment given 意见")
    attachments: list[Attachment] = Field(description="Documents of the step 附件")
    details: dict = Field(description="Details of the step (decision, case type, way, clue id …) 详情")
    effective_on: Day = Field(description="Day the step took place 办理日期")
    actor_user_id: int | None = Field(description="User who acted; null for a system client 操作人")
    actor_client_id: int | None = Field(description="System client that acted; null for a user 操作系统")
    at: datetime = Field(description="When it was recorded 录入时间")


class CaseOut(BaseModel):
    id: int = Field(description="Monitoring case id 监测对象（案件）标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    case_type: CaseType = Field(description="Monitoring type 监测类型")
    risk_types: list[RiskType] = Field(description="Risk types (up to five) 风险类型")
    status: CaseStatus = Field(description="Current step 当前环节")
    first_clue_on: Day = Field(
        description="Day of the first risk clue: the identification deadline counts from it 首条线索日期"
    )
    opened_on: Day = Field(description="Day the case was opened from the clue 立案日期")
    consent_on: Day | None = Field(
        description="Day the household signed the consent and authorisation 签署承诺授权书日期"
    )
    notice_start: Day | None = Field(description="First day of the current or last public notice 公示开始日期")
    notice_end: Day | None = Field(description="Last day of the current or last public notice 公示结束日期")
    identified_on: Day | None = Field(description="Day of the county's identification decision 识别日期")
    category_before: str | None = Field(description="Household category before it became 监测户 纳入监测前户类型")
    cadre_user_id: int | None = Field(description="The assistance cadre (user id) 帮扶责任人")
    cadre_assigned_on: Day | None = Field(description="Day the cadre was assigned 明确帮扶责任人日期")
    plan_on: Day | None = Field(
        description="Day the first measure was decided (the one-household-one-plan) 制定一户一策日期"
    )
    last_visit_on: Day | None = Field(
        description="Day of the last visit that counts for the monthly visits 最近走访日期"
    )
    elimination_proposed_on: Day | None = Field(description="Day risk elimination was proposed 提出风险消除日期")
    eliminated_on: Day | None = Field(description="Day the county approved risk elimination 风险消除日期")
    elimination_way: EliminationWay | None = Field(description="How the risk was eliminated 消除方式")
    closed_on: Day | None = Field(description="Day the case ended (eliminated, rejected or terminated) 结案日期")
    closed_reason: str | None = Field(description="Reason the case was terminated 终止原因")
    next_deadline: DeadlineOut | None = Field(description="The earliest pending deadline; null when none 最近时限")
    deadlines: list[DeadlineOut] | None = Field(None, description="Every pending deadline (on the single case's page)")
    deadline_breaches: list[dict] = Field(
        description="Deadlines met late or missed: kind, due, met_on (null: missed — a month of assistance "
        "without its visits, with required and made)"
    )
    reopened_from_id: int | None = Field(
        description="The earlier, eliminated case of the household that this new case follows 前一监测案件"
    )
    allowed_actions: list[dict] = Field(description="What may be done next, and with which permission")
    created_at: datetime = Field(description="When the case was recorded 录入时间")
    updated_at: datetime = Field(description="When last changed 更新时间")


# ---------------------------------------------------------------- measures and visits


def _measure_dates(measure):
    if measure.end_on is not None and measure.end_on < measure.start_on:
        raise ValueError("end_before_start@end_on")
    if measure.status == MeasureStatus.completed and not measure.result:
        raise ValueError("measure_result_required@result")
    return measure


class MeasureIn(Input):
    id: uuid.UUID | None = Field(
        None,
        description="Client-generated id: uploading the same measure again changes nothing (offline mobile clients)",
    )
    category: MeasureCategory = Field(description="Measure category 帮扶措施类别")
    content: LongText = Field(description="What the measure is 措施内容")
    responsible_unit: Text100 = Field(min_length=1, description="责任单位")
    planned_on: Day | None = Field(
        None,
        description="The day the measure was decided (default today; never in "
        "the future): the first one makes the household's plan",
    )
    start_on: Day = Field(description="Start day 开始日期")
    end_on: Day | None = Field(None, description="End day, not before the start 结束日期")
    status: MeasureStatus = Field(MeasureStatus.planned, description="Progress of the measure 实施状态")
    result: Comment | None = Field(None, description="Result; required when completed 帮扶成效")
    amount: Money | None = Field(None, description="Money involved, if any (yuan)")

    @field_validator("planned_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)

    _dates = model_validator(mode="after")(lambda self: _measure_dates(self))


class MeasureUpdate(Input):
    content: LongText = Field(description="What the measure is 措施内容")
    responsible_unit: Text100 = Field(min_length=1, description="Responsible unit 责任单位")
    start_on: Day = Field(description="Start day 开始日期")
    end_on: Day | None = Field(None, description="End day, not before the start 结束日期")
    status: MeasureStatus = Field(description="Progress of the measure 实施状态")
    result: Comment | None = Field(None, description="Result; required when completed 帮扶成效")
    amount: Money | None = Field(None, description="Money involved, if any, yuan 涉及金额")

    _dates = model_validator(mode="after")(lambda self: _measure_dates(self))


class MeasureOut(BaseModel):
    id: uuid.UUID = Field(description="Measure id (a UUID, possibly generated by the client) 措施标识")
    case_id: int = Field(description="Monitoring case id 监测对象（案件）标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    category: MeasureCategory = Field(description="Measure category 帮扶措施类别")
    content: str = Field(description="What the measure is 措施内容")
    responsible_unit: str = Field(description="Responsible unit 责任单位")
    planned_on: Day = Field(description="Day the measure was decided 制定日期")
    start_on: Day = Field(description="Start day 开始日期")
    end_on: Day | None = Field(description="End day 结束日期")
    status: MeasureStatus = Field(description="Progress of the measure 实施状态")
    result: str | None = Field(description="Result 帮扶成效")
    amount: str | None = Field(description="Money involved, yuan, two decimals as a string 涉及金额")
    recorded_by: int | None = Field(description="User who recorded it 录入人")
    created_at: datetime = Field(description="When recorded 录入时间")
    updated_at: datetime = Field(description="When last changed 更新时间")


class VisitIn(Input):
    id: uuid.UUID | None = Field(None, description="Client-generated id (see measures)")
    visited_on: Day = Field(description="Day of the visit, not in the future 走访日期")
    mode: VisitMode = Field(VisitMode.in_person, description="How the household was visited 走访方式")
    findings: LongText = Field(description="What the visit found 走访情况")
    attachments: Attachments = Field(
        default_factory=list, description="Documents or photos of the visit (up to 20) 附件"
    )
    cadre_user_id: Ident | None = Field(None, description="Who visited (default: the caller)")

    @field_validator("visited_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class VisitOut(BaseModel):
    id: uuid.UUID = Field(description="Visit id (a UUID, possibly generated by the client) 走访记录标识")
    case_id: int = Field(description="Monitoring case id 监测对象（案件）标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    cadre_user_id: int = Field(description="Who visited 走访人")
    visited_on: Day = Field(description="Day of the visit 走访日期")
    mode: VisitMode = Field(description="How the household was visited 走访方式")
    findings: str = Field(description="What the visit found 走访情况")
    attachments: list[Attachment] = Field(description="Documents or photos of the visit 附件")
    recorded_by: int | None = Field(description="User who recorded it 录入人")
    created_at: datetime = Field(description="When recorded 录入时间")


class UnmetCondition(BaseModel):
    field: str = Field(
        description="measures, identified_on, guarantees, members, income or income[<quarter>] "
        "(the twelve months ending with that quarter)"
    )
    code: str = Field(description="Machine-readable code of the unmet condition 条件代码")
    message: str = Field(description="The condition explained, in the request's language 说明")


class EliminationCheckOut(BaseModel):
    case_id: int = Field(description="Monitoring case id 监测对象（案件）标识")
    status: CaseStatus = Field(
        description="The case's status: the check is the one its next step of the "
        "elimination (proposal, verification, review, notice, township, county) "
        "must pass"
    )
    on: Day = Field(description="Day the conditions were checked for 核查日期")
    met: bool = Field(description="True when every condition of risk elimination is met 是否满足风险消除条件")
    unmet: list[UnmetCondition] = Field(
        description="Every unmet condition (风险消除条件), the list a refused step "
        "answers with (409 elimination_conditions_unmet)"
    )


class VisitBreachOut(BaseModel):
    id: int = Field(description="Breach id 记录标识")
    case_id: int = Field(description="Monitoring case id 监测对象（案件）标识")
    household_id: int = Field(description="Household id 农户标识")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    cadre_user_id: int | None = Field(description="The case's cadre when the breach was recorded")
    month: Day = Field(description="The month without its visits (its first day) 未按月走访的月份")
    required: int = Field(description="Visits the policy required in the month")
    made: int = Field(description="Counted visits recorded for the month when the breach was recorded")
    recorded_on: Day = Field(description="Day the breach was found 发现日期")


class OverdueItem(BaseModel):
    subject: str = Field(description="case or clue")
    id: int = Field(description="Id of the case or clue 标识")
    household_id: int = Field(description="Household id 农户标识")
    head_name: str | None = Field(description="Name of the household head 户主姓名")
    region_code: str = Field(description="Village code (12 digits) 所属行政村")
    status: str = Field(description="Status of the case or clue 状态")
    deadline_kind: DeadlineKind = Field(description="Which deadline 时限类型")
    due: Day = Field(description="Last day to meet it 截止日期")
    days_late: int = Field(description="Days past the deadline on the list's day (negative: days left)")
    provisional: bool = Field(
        description="Computed over a year whose official holiday schedule is not known yet 是否暂定"
    )
    cadre_user_id: int | None = Field(description="The case's assistance cadre; null for a clue 帮扶责任人")
