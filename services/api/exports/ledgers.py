"""The ledgers (台账): which columns each export has, under which Chinese header, from the
rows the list endpoint shows (the same body functions, so the same masking: an ID number
is the list's masked one, health details only where the list shows them).

Adding a ledger is one declaration here and one route in ``router`` (see docs/ledgers-out.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.exports.writer import Column, Ledger, field, label_of
from services.core.fieldwork.enums import Check
from services.core.followup.rules import FollowUpReason
from services.core.funds.enums import ProjectCategory, ProjectStatus, SpendingItem
from services.core.guarantees.models import Item
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.ledgers.enums import EntryOrigin, EntryStatus, ProblemSource, RectificationStatus
from services.core.monitoring.enums import (
    CaseStatus,
    CaseType,
    EliminationWay,
    MeasureCategory,
    MeasureStatus,
    RiskType,
    VisitMode,
)
from services.core.sync.enums import FindingStatus, Severity


def _labels(kind: Any):
    label = label_of(kind)
    return lambda values: [label(v) for v in values or ()]


def _nested(outer: str, inner: str):
    return lambda row: (row.get(outer) or {}).get(inner)


HOUSEHOLDS = Ledger(
    "households",
    "农户台账",
    (
        Column("农户标识", field("id")),
        Column("户编号", field("household_no")),
        Column("所属行政村代码", field("region_code")),
        Column("户类型", field("category", label_of(Category))),
        Column("标识", field("flags", _labels(Flag))),
        Column("户主姓名", field("head_name")),
        Column("家庭人口数", field("member_count")),
        Column("农户状态", field("status", label_of(HouseholdStatus))),
    ),
)

CASES = Ledger(
    "monitoring-cases",
    "监测对象台账",
    (
        Column("监测对象标识", field("id")),
        Column("农户标识", field("household_id")),
        Column("所属行政村代码", field("region_code")),
        Column("监测类型", field("case_type", label_of(CaseType))),
        Column("风险类型", field("risk_types", _labels(RiskType))),
        Column("当前环节", field("status", label_of(CaseStatus))),
        Column("首次发现风险日期", field("first_clue_on")),
        Column("立案日期", field("opened_on")),
        Column("识别日期", field("identified_on")),
        Column("帮扶责任人", field("cadre_user_id")),
        Column("制定一户一策日期", field("plan_on")),
        Column("最近走访日期", field("last_visit_on")),
        Column("风险消除日期", field("eliminated_on")),
        Column("消除方式", field("elimination_way", label_of(EliminationWay))),
        Column("结案日期", field("closed_on")),
        Column("最近时限", lambda row: (row.get("next_deadline") or {}).get("due")),
    ),
)

MEASURES = Ledger(
    "measures",
    "帮扶措施台账",
    (
        Column("措施标识", field("id")),
        Column("监测对象标识", field("case_id")),
        Column("农户标识", field("household_id")),
        Column("所属行政村代码", field("region_code")),
        Column("帮扶措施类别", field("category", label_of(MeasureCategory))),
        Column("措施内容", field("content")),
        Column("责任单位", field("responsible_unit")),
        Column("制定日期", field("planned_on")),
        Column("开始日期", field("start_on")),
        Column("结束日期", field("end_on")),
        Column("实施状态", field("status", label_of(MeasureStatus))),
        Column("帮扶成效", field("result")),
        Column("涉及金额（元）", field("amount")),
    ),
)

VISITS = Ledger(
    "visits",
    "走访台账",
    (
        Column("走访记录标识", field("id")),
        Column("监测对象标识", field("case_id")),
        Column("农户标识", field("household_id")),
        Column("所属行政村代码", field("region_code")),
        Column("走访人", field("cadre_user_id")),
        Column("走访日期", field("visited_on")),
        Column("走访方式", field("mode", label_of(VisitMode))),
        Column("走访情况", field("findings")),
        Column("附件数", lambda row: len(row.get("attachments") or ())),
    ),
)

FINDINGS = Ledger(
    "findings",
    "比对发现问题台账",
    (
        Column("问题标识", field("id")),
        Column("比对规则", field("rule_id")),
        Column("问题说明", field("explanation")),
        Column("严重程度", field("severity", label_of(Severity))),
        Column("处理状态", field("status", label_of(FindingStatus))),
        Column("数据源", field("source")),
        Column("区划代码", field("region_code")),
        Column("姓名", _nested("person", "name")),
        Column("身份证号（脱敏）", _nested("person", "id_number")),
        Column("户编号", _nested("household", "household_no")),
        Column("首次发现时间", field("first_seen_at")),
        Column("最近发现时间", field("last_seen_at")),
        Column("解决时间", field("resolved_at")),
        Column("处理说明", field("note")),
    ),
)

PROJECTS = Ledger(
    "projects",
    "项目库台账",
    (
        Column("项目标识", field("id")),
        Column("项目年度", field("year")),
        Column("项目名称", field("name")),
        Column("项目类型", field("category", label_of(ProjectCategory))),
        Column("项目所在区划代码", field("region_code")),
        Column("建设地点", field("location")),
        Column("实施单位", field("implementing_unit")),
        Column("建设内容及规模", field("content")),
        Column("计划投资（元）", field("budget")),
        Column("已下达资金（元）", field("allocated")),
        Column("已支付（元）", field("disbursed")),
        Column("联农带农机制", field("farmer_links")),
        Column("计划开工日期", field("planned_start")),
        Column("计划完工日期", field("planned_end")),
        Column("项目状态", field("status", label_of(ProjectStatus))),
        Column("开工日期", field("started_on")),
        Column("完工日期", field("completed_on")),
        Column("验收日期", field("accepted_on")),
    ),
)

PAYMENTS = Ledger(
    "payments",
    "资金支出台账",
    (
        Column("支出记录标识", field("id")),
        Column("项目标识", field("project_id")),
        Column("资金标识", field("fund_id")),
        Column("项目区划代码", field("region_code")),
        Column("支付金额（元）", field("amount")),
        Column("支付日期", field("paid_on")),
        Column("凭证号", field("voucher_ref")),
        Column("支出事项", field("item", label_of(SpendingItem))),
        Column("收款方", field("payee")),
        Column("备注", field("note")),
        Column("财务系统导入", field("imported")),
    ),
)

CLEARING = Ledger(
    "clearing-entries",
    "清零台账",
    (
        Column("台账标识", field("id")),
        Column("所属行政村代码", field("region_code")),
        Column("农户标识", field("household_id")),
        Column("人员标识", field("person_id")),
        Column("问题类别", field("kind", label_of(Item))),
        Column("问题来源", field("origin", label_of(EntryOrigin))),
        Column("比对发现标识", field("finding_id")),
        Column("责任部门", field("department")),
        Column("问题描述", field("description")),
        Column("发现日期", field("opened_on")),
        Column("清零时限", field("deadline")),
        Column("时限为暂定", field("deadline_provisional")),
        Column("是否超期", field("overdue")),
        Column("清零状态", field("status", label_of(EntryStatus))),
        Column("清零日期", field("closed_on")),
        Column("清零情况说明", field("evidence")),
        Column("佐证材料编号", field("evidence_refs")),
        Column("销号人", field("closed_by")),
        Column("登记人", field("created_by")),
    ),
)

RECTIFICATIONS = Ledger(
    "rectifications",
    "问题整改台账",
    (
        Column("问题标识", field("id")),
        Column("区划代码", field("region_code")),
        Column("问题来源", field("source", label_of(ProblemSource))),
        Column("来源文号", field("source_ref")),
        Column("问题概述", field("title")),
        Column("问题描述", field("description")),
        Column("责任单位", field("responsible_unit")),
        Column("农户标识", field("household_id")),
        Column("发现日期", field("found_on")),
        Column("整改时限", field("deadline")),
        Column("时限为暂定", field("deadline_provisional")),
        Column("是否超期", field("overdue")),
        Column("整改状态", field("status", label_of(RectificationStatus))),
        Column("整改完成情况", field("evidence")),
        Column("佐证材料编号", field("evidence_refs")),
        Column("申请销号人", field("closure_requested_by")),
        Column("申请销号日期", field("closure_requested_on")),
        Column("审批人", field("approved_by")),
        Column("审批意见", field("decision_note")),
        Column("销号日期", field("closed_on")),
        Column("登记人", field("created_by")),
    ),
)

CAMPAIGN_VISITS = Ledger(
    "campaign-visits",
    "排查走访台账",
    (
        Column("走访记录标识", field("id")),
        Column("行动标识", field("campaign_id")),
        Column("农户标识", field("household_id")),
        Column("所在村区划代码", field("region_code")),
        Column("走访小组", field("team_id")),
        Column("走访时间", field("visited_at")),
        Column("走访日期", field("visited_on")),
        Column("排查内容", field("checks", _labels(Check))),
        Column("发现问题的项目", field("problems", _labels(Check))),
        Column("照片", field("photos")),
        Column("排查发现", field("findings")),
        Column("转为的风险线索", field("clue_id")),
        Column("录入人", field("recorded_by")),
    ),
)

UNVISITED = Ledger(
    "unvisited-households",
    "未走访农户台账",
    (
        Column("农户标识", field("household_id")),
        Column("户编号", field("household_no")),
        Column("所属行政村代码", field("region_code")),
        Column("户主姓名", field("head_name")),
        Column("户类型", field("category", label_of(Category))),
    ),
)


def _month(row: Mapping[str, Any]) -> str | None:
    month = row.get("month")
    return None if month is None else f"{month.year:04d}-{month.month:02d}"


OVERDUE_FOLLOW_UPS = Ledger(
    "overdue-follow-ups",
    "定期走访逾期台账",
    (
        Column("农户标识", field("household_id")),
        Column("户编号", field("household_no")),
        Column("户主姓名", field("head_name")),
        Column("所属行政村代码", field("region_code")),
        Column("跟踪原因", field("reason", label_of(FollowUpReason))),
        Column("风险消除日期", field("eliminated_on")),
        Column("走访月份", _month),
        Column("应走访截止日期", field("due")),
        Column("逾期天数", field("days_late")),
        Column("截止日期为暂定", field("provisional")),
        Column("帮扶责任人", field("cadre_user_id")),
        Column("最近走访日期", field("last_visit_on")),
    ),
)

MISSING_INCOME = Ledger(
    "missing-income",
    "季度收入未录入台账",
    (
        Column("农户标识", field("household_id")),
        Column("户编号", field("household_no")),
        Column("户主姓名", field("head_name")),
        Column("所属行政村代码", field("region_code")),
        Column("户类型", field("category", label_of(Category))),
        Column("季度", field("quarter")),
        Column("录入截止日期", field("deadline")),
        Column("截止日期为暂定", field("provisional")),
        Column("帮扶责任人", field("cadre_user_id")),
    ),
)
