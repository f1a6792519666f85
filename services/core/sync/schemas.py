"""Request and response shapes of the sync and findings API."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints
from services.core.types import MULTILINE

from services.core.households.schemas import Input
from services.core.sync.config import NAME
from services.core.sync.enums import (
    FindingStatus,
    QuarantineStatus,
    RunPhase,
    RunStatus,
    Severity,
    SourceKind,
    Trigger,
)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


SourceName = Annotated[str, StringConstraints(pattern=NAME), Field(description="The source's name 数据源名称")]
CountyCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$"), Field(description="County code, 6 digits 县级区划代码")]
Note = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]


# ---- sources ------------------------------------------------------------------------------

class RunSummary(BaseModel):
    id: int
    status: RunStatus
    phase: RunPhase
    trigger: Trigger
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None


class SourceCounty(BaseModel):
    county: str
    last_run: RunSummary | None = Field(description="The county's newest run (queued, running or finished) 最近一次同步")


class Breaker(BaseModel):
    state: Literal["closed", "open", "half_open"] = Field(
        description="closed: runs start; open: runs wait until `open_until` (a queued run stays queued); "
                    "half_open: the cool-down is over and the next run tries 熔断状态")
    consecutive_failures: int
    open_until: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None


class SourceOut(BaseModel):
    name: str
    kind: SourceKind
    title: str
    pulls: bool = Field(description="Pulled over HTTP; false: spreadsheet imports only (`guardline sync import`)")
    spreadsheet_only: bool
    every_hours: float | None = Field(description="The schedule: a run every so many hours; null: on request only")
    counties: list[SourceCounty] = Field(description="The counties of yours the source serves, each with its last run")
    breaker: Breaker


# ---- runs ---------------------------------------------------------------------------------

class RunIn(Input):
    source: SourceName
    county: CountyCode


class RunCounts(BaseModel):
    pages: int
    fetched: int
    staged: int = Field(description="New or changed records 新增或变更")
    unchanged: int
    quarantined: int
    retries: int = Field(description="Pages fetched again after an error")
    matched: int | None = Field(description="Matched in the registry by ID number (after reconciliation)")
    unmatched: int | None
    findings_opened: int | None
    findings_resolved: int | None
    findings_open: int | None
    clues: int | None = Field(description="Risk clues raised (channel: department screening)")


class RunRoster(BaseModel):
    period: str | None = Field(description="The enrolment year (参保名册, e.g. 2026) or school term (学籍名册, e.g. "
                                           "2026秋) the run is the complete roster of; null until a page names it "
                                           "名册期间")
    region: str = Field(description="The region code prefix the roster covers 名册覆盖区划")
    records: int | None = Field(description="Rows of the roster read (new, changed or unchanged) 名册记录数")
    refused: int | None = Field(description="Rows of the roster the normaliser refused (quarantined); above the "
                                            "policy's share the roster is not trusted 拒收记录数")


class RunOut(BaseModel):
    id: int
    source: str
    county: str
    status: RunStatus
    phase: RunPhase
    trigger: Trigger
    requested_by: int | None = Field(description="The user who asked; null: the schedule or the command line")
    file_name: str | None
    created_at: datetime
    not_before: datetime = Field(description="Not claimed before this time (a retry waits)")
    started_at: datetime | None
    heartbeat_at: datetime | None = Field(description="Last sign of life of the worker running it")
    finished_at: datetime | None
    worker: str | None
    attempts: int
    error_code: str | None
    error_message: str | None
    counts: RunCounts = Field(description="Committed so far: they move while the run is running 进度")
    roster: RunRoster | None = Field(
        description="Set when the run is declared a complete roster: then, once it has succeeded, a person the roster "
                    "leaves out is absent (应保尽保, 控辍保学). A failed run declares nothing 完整名册声明")


class RunQueuedOut(RunOut):
    created: bool = Field(description="true: queued now (202); false: the run already queued or running for this "
                                      "source and county, which the request joined (200)")
    breaker_open_until: datetime | None = Field(
        description="Set when the source's circuit breaker is open: the run waits in the queue until then")
    notice: str | None = Field(description="What the client should know (the breaker), in the request's language")


# ---- quarantine ---------------------------------------------------------------------------

class ReprocessIn(Input):
    source: SourceName
    county: CountyCode


class QuarantineOut(BaseModel):
    id: int
    source: str
    county: str
    reason: str = Field(description="Why the normaliser refused it, e.g. id_number.check_digit, missing.start_date")
    field: str | None
    detail: str | None
    location: str | None = Field(description="Spreadsheet row or page")
    external_key: str | None
    status: QuarantineStatus
    first_run_id: int
    last_run_id: int
    created_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    raw: dict[str, Any] | list[Any] | str | None = Field(
        description="The record as the department sent it, every ID number masked; null for roles that may not "
                    "see health details (a payload may be a medical claim) 原始记录（身份证号脱敏）")


# ---- findings -----------------------------------------------------------------------------

class FindingPerson(BaseModel):
    id: int
    id_number: str = Field(description="Masked: first 6 and last 4 characters 脱敏显示")
    name: str


class FindingHousehold(BaseModel):
    id: int
    household_no: str


class SourceRecord(BaseModel):
    source: str | None
    external_key: str | None


class FindingOut(BaseModel):
    id: int
    rule_id: str
    severity: Severity
    explanation: str = Field(description="What the rule found, in the request's language (Accept-Language)")
    health: bool = Field(description="Tells a person's health (only for roles that see health details)")
    status: FindingStatus
    source: str
    county: str
    region_code: str
    person: FindingPerson | None
    household: FindingHousehold | None
    records: list[SourceRecord] = Field(description="The department records that produced it 来源记录")
    values: dict[str, Any] = Field(description="The values that triggered the rule")
    first_seen_at: datetime
    last_seen_at: datetime
    first_run_id: int
    last_run_id: int
    resolved_at: datetime | None
    resolved_by: int | None = Field(description="Who resolved it; null with resolved_at: the condition went away")
    note: str | None
    clue_id: int | None
    version: int


class FindingUpdate(Input):
    status: FindingStatus = Field(description="acknowledged 已知悉 | resolved 已处理 | open 重新打开")
    note: Note | None = Field(None, description="Required to resolve: what was done 处理说明")
