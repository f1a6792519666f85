"""Request and response shapes of the clearing ledger and the rectification ledger."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from services.core.base import VERSION_DESCRIPTION
from services.core.guarantees.models import Item
from services.core.households.schemas import Input
from services.core.ledgers.enums import EntryOrigin, EntryStatus, ProblemSource, RectificationStatus
from services.core.types import MULTILINE, Day, RegionCodeStr, RegionPrefixStr, checked_text


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _not_in_future(value: date | None) -> date | None:
    from services.core.timeutil import today

    if value is not None and value > today():
        raise ValueError("date_in_future")
    return value


Line = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=200)]
Unit = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=100)]
# Each reference checked on its own, so that a refusal names its place (``evidence_refs.0``).
Ref = Annotated[
    str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=200), AfterValidator(checked_text)
]
LongText = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]
Note = Annotated[str, MULTILINE, BeforeValidator(_strip), StringConstraints(max_length=2000)]
PastDay = Annotated[Day, AfterValidator(_not_in_future)]
Ident = Annotated[int, Field(ge=1, le=2**62)]
Refs = Annotated[
    list[Ref],
    Field(
        min_length=1,
        max_length=20,
        description="References of the evidence (document numbers, photo or file ids, a visit's id) 佐证材料编号",
    ),
]


# ---------------------------------------------------------------- clearing ledger


class EntryIn(Input):
    """An item found at risk, recorded by hand (a visit, a self-declaration …)."""

    household_id: Ident = Field(description="Household whose item is at risk 农户标识")
    person_id: Ident | None = Field(
        None, description="The member concerned, when one is (a child, an uninsured person) 人员标识"
    )
    kind: Item = Field(description="Which item is at risk: education, medical, housing or water 问题类别")
    description: LongText = Field(description="What was found 问题描述")
    department: Unit | None = Field(
        None, description="Responsible department; default the policy's department of the item 责任部门"
    )


class EntryClosure(Input):
    """The item is cleared (清零), with its evidence."""

    evidence: LongText = Field(description="How the item was cleared 清零情况说明")
    evidence_refs: Refs
    closed_on: PastDay | None = Field(
        None, description="Day it was cleared (default today; not in the future) 清零日期"
    )


class EntryScanIn(Input):
    region: RegionPrefixStr | None = Field(None, description="Region prefix to scan (default: your regions) 区划前缀")


class EntryOut(BaseModel):
    id: int = Field(description="Entry id 台账标识")
    region_code: str = Field(description="Village of the household 村级区划代码")
    household_id: int = Field(description="Household 农户标识")
    person_id: int | None = Field(description="The member concerned, if any 人员标识")
    kind: Item = Field(description="Which item is at risk 问题类别")
    origin: EntryOrigin = Field(description="How the entry was opened 问题来源")
    finding_id: int | None = Field(description="The department cross-check finding that opened it, if any 比对发现标识")
    department: str = Field(description="Responsible department 责任部门")
    description: str = Field(description="What was found 问题描述")
    opened_on: date = Field(description="Day it was found 发现日期")
    deadline: date = Field(description="Day by which it must be cleared (policy's clearing_days) 清零时限")
    deadline_provisional: bool = Field(
        description="The deadline crosses a year whose official holiday schedule is not known yet 时限为暂定"
    )
    overdue: bool = Field(description="Still open after its deadline 是否超期")
    status: EntryStatus = Field(description="Open or cleared 清零状态")
    closed_on: date | None = Field(description="Day it was cleared 清零日期")
    evidence: str | None = Field(description="How it was cleared 清零情况说明")
    evidence_refs: list[str] = Field(description="References of the evidence 佐证材料编号")
    closed_by: int | None = Field(description="User who closed it 销号人")
    created_by: int | None = Field(description="User who recorded it; null: opened by the system 登记人")
    version: int = Field(description=VERSION_DESCRIPTION)


class EntryScanOut(BaseModel):
    region: str = Field(description="Region prefix scanned 区划前缀")
    opened: int = Field(description="Entries opened by this scan 本次新增")


class TownshipRow(BaseModel):
    township: str = Field(description="Township code (12 digits) 乡镇区划代码")
    name: str | None = Field(description="Township name 乡镇名称")
    opened: int = Field(description="Found in the month 本月新增")
    cleared: int = Field(description="Cleared in the month 本月清零")
    overdue: int = Field(description="Open past their deadline at the cut-off 截至统计日超期未清零")
    open: int = Field(description="Open at the cut-off 截至统计日未清零")


class MonthlyReport(BaseModel):
    month: str = Field(description="The month, YYYY-MM 月份")
    region: str = Field(description="Region prefix reported 区划前缀")
    cut_off: date = Field(
        description="Counts as they stood at the end of this day: the month's last day, or as_of when earlier 统计截止日"
    )
    townships: list[TownshipRow] = Field(description="One row per township 分乡镇")
    total: TownshipRow = Field(description="All townships together (township and name empty) 合计")


# ---------------------------------------------------------------- rectification ledger


class RectificationIn(Input):
    """A problem to rectify (问题整改)."""

    region_code: RegionCodeStr = Field(
        description="Region where the problem lies (a village, township or county) 区划代码"
    )
    source: ProblemSource = Field(description="Where it was found 问题来源")
    source_ref: Unit | None = Field(None, description="Reference of the source (report or notice number) 来源文号")
    title: Line = Field(description="The problem in one line 问题概述")
    description: LongText = Field(description="The problem 问题描述")
    responsible_unit: Unit = Field(description="Unit responsible for rectifying 责任单位")
    household_id: Ident | None = Field(None, description="The household concerned, if one is 农户标识")
    found_on: PastDay | None = Field(None, description="Day it was found (default today) 发现日期")


class RectificationStepIn(Input):
    content: LongText = Field(description="What was done 整改进展")
    refs: list[Ref] = Field(default_factory=list, max_length=20, description="References of the evidence 佐证材料编号")
    done_on: PastDay | None = Field(None, description="Day it was done (default today) 日期")


class ClosureRequestIn(Input):
    evidence: LongText = Field(description="How the problem was rectified 整改完成情况")
    evidence_refs: Refs


class DecisionIn(Input):
    approve: bool = Field(description="True approves the closure (销号); false sends it back 是否同意销号")
    note: Note | None = Field(None, description="Note of the decision 审批意见")


class StepOut(BaseModel):
    id: int = Field(description="Step id 进展标识")
    done_on: date = Field(description="Day 日期")
    content: str = Field(description="What was done 整改进展")
    refs: list[str] = Field(description="References of the evidence 佐证材料编号")
    recorded_by: int | None = Field(description="User who recorded it 记录人")


class RectificationOut(BaseModel):
    id: int = Field(description="Problem id 问题标识")
    region_code: str = Field(description="Region 区划代码")
    source: ProblemSource = Field(description="Where it was found 问题来源")
    source_ref: str | None = Field(description="Reference of the source 来源文号")
    title: str = Field(description="The problem in one line 问题概述")
    description: str = Field(description="The problem 问题描述")
    responsible_unit: str = Field(description="Unit responsible 责任单位")
    household_id: int | None = Field(description="Household concerned 农户标识")
    found_on: date = Field(description="Day found 发现日期")
    deadline: date = Field(description="Rectify by (policy's rectification_days) 整改时限")
    deadline_provisional: bool = Field(
        description="The deadline crosses a year whose official holiday schedule is not known yet 时限为暂定"
    )
    overdue: bool = Field(description="Not closed after its deadline 是否超期")
    status: RectificationStatus = Field(description="Status 整改状态")
    evidence: str | None = Field(description="Evidence given with the closure request 整改完成情况")
    evidence_refs: list[str] = Field(description="References of the evidence 佐证材料编号")
    closure_requested_by: int | None = Field(description="User who requested closure 申请销号人")
    closure_requested_on: date | None = Field(description="Day closure was requested 申请销号日期")
    approved_by: int | None = Field(description="Approver of the closure 审批人")
    decision_note: str | None = Field(description="Note of the last decision 审批意见")
    closed_on: date | None = Field(description="Day closed 销号日期")
    created_by: int | None = Field(description="User who recorded it 登记人")
    steps: list[StepOut] = Field(description="Progress, oldest first (only in a single problem's answer) 整改进展")
    version: int = Field(description=VERSION_DESCRIPTION)
