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
from services.core.types import Day, IdNumberStr, MULTILINE, Money, Name, Phone, Text100


def _strip(value):
    return value.strip() if isinstance(value, str) else value


LongText = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]
Comment = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(max_length=2000)]
Ident = Annotated[int, Field(ge=1, le=2**62)]


class Attachment(Input):
    """A reference to a document kept elsewhere (scan of the consent form, meeting minutes,
    notice photo …): its name and the storage reference."""

    name: Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=100)]
    ref: Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=500)]


Attachments = Annotated[list[Attachment], Field(default_factory=list, max_length=20)]
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
    id_number: IdNumberStr | None = Field(None, description="A living member's ID number, when the reporter does not "
                                                            "know the household (a self-declaration app)")
    channel: Channel = Field(description="发现途径: self_declaration 农户自主申报, visit 干部走访排查, "
                                         "department_screening 部门筛查预警")
    risk_types: RiskTypes
    evidence: LongText = Field(description="线索内容: what was seen or reported")
    attachments: Attachments
    reported_on: Day | None = Field(None, description="When the risk was reported (default today, China time)")
    declarant_name: Name | None = Field(None, description="Self-declaration: who in the household declared")
    declarant_phone: Phone | None = None
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Department screening: the department or rule (e.g. civil_affairs)")
    external_ref: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="The source's own reference; a re-sent reference is recognised, not duplicated")

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
    comment: Comment | None = None
    effective_on: Day | None = Field(None, description="The day the clue was accepted (default today)")

    @field_validator("effective_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class ClueReportOut(BaseModel):
    id: int
    channel: Channel
    risk_types: list[RiskType]
    evidence: str
    attachments: list[Attachment]
    reported_on: Day
    reporter_user_id: int | None
    reporter_client_id: int | None
    declarant_name: str | None
    source: str | None
    external_ref: str | None
    created_at: datetime


class DeadlineOut(BaseModel):
    kind: DeadlineKind
    due: Day
    provisional: bool = Field(description="Computed over a year whose official holiday schedule is not known yet")


class ClueOut(BaseModel):
    id: int
    household_id: int
    region_code: str
    risk_types: list[RiskType]
    channels: list[Channel]
    status: ClueStatus
    first_reported_on: Day
    report_count: int
    next_deadline: DeadlineOut | None
    deadlines: list[DeadlineOut] | None = Field(None, description="Every pending deadline (on the single clue's page)")
    deadline_breaches: list[dict] = Field(description="Deadlines met late or missed: kind, due, met_on")
    case_id: int | None
    dismissal_reason: str | None
    handled_by: int | None
    handled_at: datetime | None
    reports: list[ClueReportOut] | None = Field(None, description="Only on the single clue's page")
    outcome: str | None = Field(None, description="On reporting: created, merged (into an open clue of the same "
                                                  "household and risk) or duplicate (the source's reference was known)")


# ---------------------------------------------------------------- case steps

class StepIn(Input):
    comment: Comment | None = None
    attachments: Attachments
    effective_on: Day | None = Field(
        None, description="The day the step took place (paper first, entered later); default today, never in "
                          "the future nor before the previous step")

    @field_validator("effective_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class VerificationIn(StepIn):
    decision: Decision = Field(description="approve: risk confirmed; reject: not confirmed")
    consent_signed: bool = Field(False, description="Identification: the household signed the consent and "
                                                    "authorisation to check its data (承诺授权书)")
    findings: LongText


class VillageReviewIn(StepIn):
    decision: Decision
    notice_start: Day | None = Field(None, description="On approval: first day of the public notice (default: the step's day)")
    notice_end: Day | None = Field(None, description="Last day of the notice (default: the shortest allowed)")

    @model_validator(mode="after")
    def _order(self):
        if self.notice_start and self.notice_end and self.notice_end < self.notice_start:
            raise ValueError("notice_end_before_start@notice_end")
        return self


class NoticeResultIn(StepIn):
    decision: Decision = Field(description="approve: no objection upheld; reject: an objection was upheld")


class ReviewIn(StepIn):
    decision: Decision


class CountyDecisionIn(StepIn):
    decision: Decision
    case_type: CaseType | None = Field(None, description="Identification: the type decided (default: as opened)")
    way: EliminationWay | None = Field(None, description="Risk elimination: 帮扶消除 or 自然消除 (required then)")


class ProposalIn(StepIn):
    pass


class TerminationIn(StepIn):
    reason: LongText


class CadreIn(Input):
    cadre_user_id: Ident = Field(description="User id of the assistance cadre (帮扶责任人)")
    assigned_on: Day | None = None

    @field_validator("assigned_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class TransitionOut(BaseModel):
    id: int
    action: Action
    from_status: CaseStatus | None
    to_status: CaseStatus
    comment: str | None
    attachments: list[Attachment]
    details: dict
    effective_on: Day
    actor_user_id: int | None
    actor_client_id: int | None
    at: datetime


class CaseOut(BaseModel):
    id: int
    household_id: int
    region_code: str
    case_type: CaseType
    risk_types: list[RiskType]
    status: CaseStatus
    first_clue_on: Day
    opened_on: Day
    consent_on: Day | None
    notice_start: Day | None
    notice_end: Day | None
    identified_on: Day | None
    category_before: str | None
    cadre_user_id: int | None
    cadre_assigned_on: Day | None
    plan_on: Day | None
    last_visit_on: Day | None
    elimination_proposed_on: Day | None
    eliminated_on: Day | None
    elimination_way: EliminationWay | None
    closed_on: Day | None
    closed_reason: str | None
    next_deadline: DeadlineOut | None
    deadlines: list[DeadlineOut] | None = Field(None, description="Every pending deadline (on the single case's page)")
    deadline_breaches: list[dict] = Field(
        description="Deadlines met late or missed: kind, due, met_on (null: missed — a month of assistance "
                    "without its visits, with required and made)")
    reopened_from_id: int | None
    allowed_actions: list[dict] = Field(description="What may be done next, and with which permission")
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- measures and visits

def _measure_dates(measure):
    if measure.end_on is not None and measure.end_on < measure.start_on:
        raise ValueError("end_before_start@end_on")
    if measure.status == MeasureStatus.completed and not measure.result:
        raise ValueError("measure_result_required@result")
    return measure


class MeasureIn(Input):
    id: uuid.UUID | None = Field(None, description="Client-generated id: uploading the same measure again "
                                                   "changes nothing (offline mobile clients)")
    category: MeasureCategory
    content: LongText
    responsible_unit: Text100 = Field(min_length=1, description="责任单位")
    planned_on: Day | None = Field(None, description="The day the measure was decided (default today; never in "
                                                      "the future): the first one makes the household's plan")
    start_on: Day
    end_on: Day | None = None
    status: MeasureStatus = MeasureStatus.planned
    result: Comment | None = None
    amount: Money | None = Field(None, description="Money involved, if any (yuan)")

    @field_validator("planned_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)

    _dates = model_validator(mode="after")(lambda self: _measure_dates(self))


class MeasureUpdate(Input):
    content: LongText
    responsible_unit: Text100 = Field(min_length=1)
    start_on: Day
    end_on: Day | None = None
    status: MeasureStatus
    result: Comment | None = None
    amount: Money | None = None

    _dates = model_validator(mode="after")(lambda self: _measure_dates(self))


class MeasureOut(BaseModel):
    id: uuid.UUID
    case_id: int
    household_id: int
    region_code: str
    category: MeasureCategory
    content: str
    responsible_unit: str
    planned_on: Day
    start_on: Day
    end_on: Day | None
    status: MeasureStatus
    result: str | None
    amount: str | None
    recorded_by: int | None
    created_at: datetime
    updated_at: datetime


class VisitIn(Input):
    id: uuid.UUID | None = Field(None, description="Client-generated id (see measures)")
    visited_on: Day
    mode: VisitMode = VisitMode.in_person
    findings: LongText
    attachments: Attachments
    cadre_user_id: Ident | None = Field(None, description="Who visited (default: the caller)")

    @field_validator("visited_on")
    @classmethod
    def _past(cls, value):
        return _not_in_future(value)


class VisitOut(BaseModel):
    id: uuid.UUID
    case_id: int
    household_id: int
    region_code: str
    cadre_user_id: int
    visited_on: Day
    mode: VisitMode
    findings: str
    attachments: list[Attachment]
    recorded_by: int | None
    created_at: datetime


class UnmetCondition(BaseModel):
    field: str = Field(description="measures, identified_on, guarantees, members, income or income[<quarter>] "
                                   "(the twelve months ending with that quarter)")
    code: str
    message: str


class EliminationCheckOut(BaseModel):
    case_id: int
    status: CaseStatus = Field(description="The case's status: the check is the one its next step of the "
                                           "elimination (proposal, verification, review, notice, township, county) "
                                           "must pass")
    on: Day
    met: bool
    unmet: list[UnmetCondition] = Field(description="Every unmet condition (风险消除条件), the list a refused step "
                                                    "answers with (409 elimination_conditions_unmet)")


class VisitBreachOut(BaseModel):
    id: int
    case_id: int
    household_id: int
    region_code: str
    cadre_user_id: int | None = Field(description="The case's cadre when the breach was recorded")
    month: Day = Field(description="The month without its visits (its first day) 未按月走访的月份")
    required: int = Field(description="Visits the policy required in the month")
    made: int = Field(description="Counted visits recorded for the month when the breach was recorded")
    recorded_on: Day


class OverdueItem(BaseModel):
    subject: str = Field(description="case or clue")
    id: int
    household_id: int
    head_name: str | None
    region_code: str
    status: str
    deadline_kind: DeadlineKind
    due: Day
    days_late: int = Field(description="Days past the deadline on the list's day (negative: days left)")
    provisional: bool
    cadre_user_id: int | None
