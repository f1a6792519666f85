"""Request and response shapes of the sync and findings API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from services.core.base import VERSION_DESCRIPTION
from services.core.households.schemas import Input
from services.core.labels import LiteralLabels
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
from services.core.types import MULTILINE


def _strip(value):
    return value.strip() if isinstance(value, str) else value


SourceName = Annotated[str, StringConstraints(pattern=NAME), Field(description="The source's name 数据源名称")]
CountyCode = Annotated[
    str, StringConstraints(pattern=r"^\d{6}$"), Field(description="County code, 6 digits 县级区划代码")
]
Note = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]


# ---- sources ------------------------------------------------------------------------------


class RunSummary(BaseModel):
    id: int = Field(description="Sync run id 同步任务标识")
    status: RunStatus = Field(description="Queued, running, succeeded or failed 运行状态")
    phase: RunPhase = Field(description="Where the run is: fetching, reconciling, raising clues or done 运行阶段")
    trigger: Trigger = Field(description="What started the run 触发方式")
    created_at: datetime = Field(description="When queued 创建时间")
    started_at: datetime | None = Field(description="When a worker started it 开始时间")
    finished_at: datetime | None = Field(description="When it ended 结束时间")
    error_code: str | None = Field(description="Machine-readable error of a failed run 错误代码")


class SourceCounty(BaseModel):
    county: str = Field(description="County code, 6 digits 县级区划代码")
    last_run: RunSummary | None = Field(
        description="The county's newest run (queued, running or finished) 最近一次同步"
    )


BreakerState = Annotated[
    Literal["closed", "open", "half_open"],
    LiteralLabels(
        {"closed": "关闭（正常运行）", "open": "打开（熔断，暂停运行）", "half_open": "半开（冷却结束，试运行）"}
    ),
]


class Breaker(BaseModel):
    state: BreakerState = Field(
        description="closed: runs start; open: runs wait until `open_until` (a queued run stays queued); "
        "half_open: the cool-down is over and the next run tries 熔断状态"
    )
    consecutive_failures: int = Field(description="Runs or pages that failed in a row 连续失败次数")
    open_until: datetime | None = Field(description="While open, when the next run may try 熔断截止时间")
    last_success_at: datetime | None = Field(description="When a run or page last succeeded 最近成功时间")
    last_failure_at: datetime | None = Field(description="When a run or page last failed 最近失败时间")
    last_error: str | None = Field(description="The last error 最近错误")


class SourceOut(BaseModel):
    name: str = Field(description="The source's name 数据源名称")
    kind: SourceKind = Field(description="What its records are 数据源类型")
    title: str = Field(description="Title for people, e.g. 县民政局低保数据 数据源标题")
    pulls: bool = Field(description="Pulled over HTTP; false: spreadsheet imports only (`guardline sync import`)")
    spreadsheet_only: bool = Field(
        description="True when the source is fed only by spreadsheet imports (the opposite of `pulls`) 仅表格导入"
    )
    every_hours: float | None = Field(description="The schedule: a run every so many hours; null: on request only")
    counties: list[SourceCounty] = Field(description="The counties of yours the source serves, each with its last run")
    breaker: Breaker = Field(description="The source's circuit breaker, shared by every worker 熔断器")


# ---- runs ---------------------------------------------------------------------------------


class RunIn(Input):
    source: SourceName
    county: CountyCode


class RunCounts(BaseModel):
    pages: int = Field(description="Pages fetched 页数")
    fetched: int = Field(description="Records fetched 拉取记录数")
    staged: int = Field(description="New or changed records 新增或变更")
    unchanged: int = Field(description="Records the same as last received 未变更记录数")
    quarantined: int = Field(description="Records the normaliser refused (kept in quarantine) 隔离记录数")
    retries: int = Field(description="Pages fetched again after an error")
    matched: int | None = Field(description="Matched in the registry by ID number (after reconciliation)")
    unmatched: int | None = Field(
        description="Records whose ID number is not in the registry (after reconciliation) 未匹配记录数"
    )
    findings_opened: int | None = Field(description="Findings opened by the reconciliation 新增问题数")
    findings_resolved: int | None = Field(
        description="Findings resolved by the reconciliation (condition gone) 已解决问题数"
    )
    findings_open: int | None = Field(description="Findings of the source and county open afterwards 待处理问题数")
    clues: int | None = Field(description="Risk clues raised (channel: department screening)")


class RunRoster(BaseModel):
    period: str | None = Field(
        description="The enrolment year (参保名册, e.g. 2026) or school term (学籍名册, e.g. "
        "2026秋) the run is the complete roster of; null until a page names it "
        "名册期间"
    )
    region: str = Field(description="The region code prefix the roster covers 名册覆盖区划")
    records: int | None = Field(description="Rows of the roster read (new, changed or unchanged) 名册记录数")
    refused: int | None = Field(
        description="Rows of the roster the normaliser refused (quarantined); above the "
        "policy's share the roster is not trusted 拒收记录数"
    )


class RunOut(BaseModel):
    id: int = Field(description="Sync run id 同步任务标识")
    source: str = Field(description="The source's name 数据源名称")
    county: str = Field(description="County code, 6 digits 县级区划代码")
    status: RunStatus = Field(description="Queued, running, succeeded or failed 运行状态")
    phase: RunPhase = Field(description="Where the run is 运行阶段")
    trigger: Trigger = Field(description="What started the run 触发方式")
    requested_by: int | None = Field(description="The user who asked; null: the schedule or the command line")
    file_name: str | None = Field(description="The spreadsheet's file name (spreadsheet imports) 导入文件名")
    created_at: datetime = Field(description="When queued 创建时间")
    not_before: datetime = Field(description="Not claimed before this time (a retry waits)")
    started_at: datetime | None = Field(description="When a worker started it 开始时间")
    heartbeat_at: datetime | None = Field(description="Last sign of life of the worker running it")
    finished_at: datetime | None = Field(description="When it ended 结束时间")
    worker: str | None = Field(description="The worker that ran it (host and process) 执行进程")
    attempts: int = Field(description="How many times a worker took it up 尝试次数")
    error_code: str | None = Field(description="Machine-readable error of a failed run 错误代码")
    error_message: str | None = Field(description="The error of a failed run 错误信息")
    counts: RunCounts = Field(description="Committed so far: they move while the run is running 进度")
    roster: RunRoster | None = Field(
        description="Set when the run is declared a complete roster: then, once it has succeeded, a person the roster "
        "leaves out is absent (应保尽保, 控辍保学). A failed run declares nothing 完整名册声明"
    )


class RunQueuedOut(RunOut):
    created: bool = Field(
        description="true: queued now (202); false: the run already queued or running for this "
        "source and county, which the request joined (200)"
    )
    breaker_open_until: datetime | None = Field(
        description="Set when the source's circuit breaker is open: the run waits in the queue until then"
    )
    notice: str | None = Field(description="What the client should know (the breaker), in the request's language")


# ---- quarantine ---------------------------------------------------------------------------


class ReprocessIn(Input):
    source: SourceName
    county: CountyCode


class QuarantineOut(BaseModel):
    id: int = Field(description="Quarantined record id 隔离记录标识")
    source: str = Field(description="The source's name 数据源名称")
    county: str = Field(description="County code, 6 digits 县级区划代码")
    reason: str = Field(description="Why the normaliser refused it, e.g. id_number.check_digit, missing.start_date")
    field: str | None = Field(description="The field at fault 字段")
    detail: str | None = Field(description="More about the reason 详情")
    location: str | None = Field(description="Spreadsheet row or page")
    external_key: str | None = Field(description="The department's key of the record, when it has one 来源记录编号")
    status: QuarantineStatus = Field(description="Open, or reprocessed (passed on a later try and staged) 状态")
    first_run_id: int = Field(description="The run that first refused it 首次出现的同步任务")
    last_run_id: int = Field(description="The run that last refused it 最近出现的同步任务")
    created_at: datetime = Field(description="When first quarantined 创建时间")
    last_seen_at: datetime = Field(description="When last seen 最近出现时间")
    resolved_at: datetime | None = Field(description="When it passed on a later try 解决时间")
    raw: dict[str, Any] | list[Any] | str | None = Field(
        description="The record as the department sent it, every ID number masked; null for roles that may not "
        "see health details (a payload may be a medical claim) 原始记录（身份证号脱敏）"
    )


# ---- findings -----------------------------------------------------------------------------


class FindingPerson(BaseModel):
    id: int = Field(description="Person id 人员标识")
    id_number: str = Field(description="Masked: first 6 and last 4 characters 脱敏显示")
    name: str = Field(description="Name 姓名")


class FindingHousehold(BaseModel):
    id: int = Field(description="Household id 农户标识")
    household_no: str = Field(description="Household number 户编号")


class SourceRecord(BaseModel):
    source: str | None = Field(description="The source's name 数据源名称")
    external_key: str | None = Field(description="The department's key of the record 来源记录编号")


class FindingOut(BaseModel):
    id: int = Field(description="Finding id 问题标识")
    rule_id: str = Field(
        description="The cross-check rule that produced it (e.g. not_insured, large_medical_cost) 比对规则"
    )
    severity: Severity = Field(description="Severity 严重程度")
    explanation: str = Field(description="What the rule found, in the request's language (Accept-Language)")
    health: bool = Field(description="Tells a person's health (only for roles that see health details)")
    status: FindingStatus = Field(description="Open, acknowledged or resolved 处理状态")
    source: str = Field(description="The source whose records produced it 数据源名称")
    county: str = Field(description="County code, 6 digits 县级区划代码")
    region_code: str = Field(
        description="Region code of the person or household concerned; the county's code when neither is known 区划代码"
    )
    person: FindingPerson | None = Field(description="The person concerned, if any 涉及人员")
    household: FindingHousehold | None = Field(description="The household concerned, if any 涉及农户")
    records: list[SourceRecord] = Field(description="The department records that produced it 来源记录")
    values: dict[str, Any] = Field(description="The values that triggered the rule")
    first_seen_at: datetime = Field(description="When first found 首次发现时间")
    last_seen_at: datetime = Field(description="When last found 最近发现时间")
    first_run_id: int = Field(description="The run that first found it 首次发现的同步任务")
    last_run_id: int = Field(description="The run that last found it 最近发现的同步任务")
    resolved_at: datetime | None = Field(description="When resolved 解决时间")
    resolved_by: int | None = Field(description="Who resolved it; null with resolved_at: the condition went away")
    note: str | None = Field(description="Note on acknowledging or resolving it 处理说明")
    clue_id: int | None = Field(description="The risk clue it raised, for risk findings 风险线索标识")
    version: int = Field(description=VERSION_DESCRIPTION)


class FindingUpdate(Input):
    status: FindingStatus = Field(description="acknowledged 已知悉 | resolved 已处理 | open 重新打开")
    note: Note | None = Field(None, description="Required to resolve: what was done 处理说明")
