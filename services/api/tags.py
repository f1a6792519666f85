"""The operation tags of the API document, defined once: routers name them by constant.

Tag names are ASCII identifiers (a generated client makes a module of each: ``api/households``);
the Chinese name is shown by the docs through ``x-displayName`` and opens the description."""

from __future__ import annotations

from enum import Enum


def _tag(name: str, chinese: str, description: str) -> dict[str, str]:
    return {"name": name, "x-displayName": f"{name} {chinese}", "description": f"{chinese}. {description}"}


# What a route's ``tags=`` takes: a list of names held in a module constant is declared so
# (a list is invariant, so ``list[str]`` would not do).
Tags = list[str | Enum]

AUTH = "auth"
REGIONS = "regions"
HOUSEHOLDS = "households"
PERSONS = "persons"
INCOME = "income"
GUARANTEES = "guarantees"
RISK_CLUES = "risk-clues"
MONITORING_CASES = "monitoring-cases"
ASSISTANCE = "assistance"
MONITORING_REPORTS = "monitoring-reports"
FOLLOW_UP = "follow-up"
MONITORING_POLICY = "monitoring-policy"
SYNC = "sync"
SYNC_POLICY = "sync-policy"
FINDINGS = "findings"
FUNDS = "funds"
FUNDS_POLICY = "funds-policy"
COMPLIANCE_INDICATORS = "compliance-indicators"
PROJECTS = "projects"
ASSETS = "assets"
FUND_FINDINGS = "fund-findings"
CLEARING = "clearing-ledger"
RECTIFICATION = "rectification-ledger"
REPORTS = "reports"
PUBLIC_DISCLOSURE = "public-disclosure"
FIELD_ROSTER = "field-roster"
CAMPAIGNS = "campaigns"
EVENTS = "events"
OFFLINE = "offline"
AUDIT = "audit"
ADMIN = "admin"
HEALTH = "health"

TAGS = [
    _tag(AUTH, "登录", "Log in and see who you are."),
    _tag(REGIONS, "区划", "Administrative divisions (统计用区划代码)."),
    _tag(HOUSEHOLDS, "农户", "Households, members, splits and merges."),
    _tag(PERSONS, "人员", "Persons: look up by ID number, change, move, record death."),
    _tag(INCOME, "收入", "Quarterly income and yearly totals (per-capita net income)."),
    _tag(GUARANTEES, "三保障和饮水安全", "Education, medical care, housing and water."),
    _tag(
        RISK_CLUES, "风险线索", "Risk clues from the three channels, merged while open, dismissed or turned into cases."
    ),
    _tag(
        MONITORING_CASES,
        "监测对象",
        "Identification, assistance and risk elimination as a state machine, with the policy's deadlines.",
    ),
    _tag(ASSISTANCE, "帮扶措施和走访", "One household, one plan: measures, visits, the assistance cadre."),
    _tag(
        FOLLOW_UP,
        "跟踪帮扶",
        "Everyone followed, not only open cases: responsible cadres, scheduled visits of formerly poor and eliminated "
        "households, quarterly income collection.",
    ),
    _tag(
        MONITORING_REPORTS,
        "监测统计",
        "Statistics by region level, public notice lists, households the monitoring misses (应纳未纳).",
    ),
    _tag(
        MONITORING_POLICY,
        "监测标准和政策参数",
        "Income lines per year and province, the monitoring policy's figures per region and year.",
    ),
    _tag(
        SYNC,
        "部门数据同步",
        "Department sources (民政, 医保, 教育 …), sync runs and their progress, quarantined records; queue a run.",
    ),
    _tag(SYNC_POLICY, "部门比对规则参数", "Cross-check thresholds per region and year."),
    _tag(
        FINDINGS,
        "部门比对发现",
        "What cross-checking department data with the registry found: acknowledge, resolve, reopen.",
    ),
    _tag(
        CLEARING,
        "三保障和饮水安全月清零台账",
        "Items of the three guarantees and safe water found at risk, their departments, deadlines and clearing; "
        "the monthly report by township (月清零、月调度、月通报).",
    ),
    _tag(
        RECTIFICATION,
        "问题整改台账",
        "Problems found by inspections, audits, assessments or the system: steps, evidence, two-person closure.",
    ),
    _tag(
        REPORTS,
        "乡镇月报季报",
        "Township monthly and quarterly reports, computed on demand and stored by the schedule (JSON or XLSX).",
    ),
    _tag(FUNDS, "衔接资金", "Funds, their allocations to projects and imported disbursements."),
    _tag(FUNDS_POLICY, "资金项目政策参数", "The funds policy's figures per region and year."),
    _tag(COMPLIANCE_INDICATORS, "资金项目监管指标", "Compliance indicators of funds and projects."),
    _tag(PROJECTS, "项目库", "Projects: steps, beneficiaries, disbursements and allocations."),
    _tag(ASSETS, "扶贫项目资产", "Assets the projects built: registration, disposal, income."),
    _tag(FUND_FINDINGS, "资金和资产监管发现", "What the scan of funds and assets found."),
    _tag(
        PUBLIC_DISCLOSURE, "公告公示", "Projects and fund allocations as published, without login (no personal data)."
    ),
    _tag(
        FIELD_ROSTER,
        "信息员名册和驻村考勤",
        "Information officers, grid workers and village-based team members; regions short of officers; "
        "the teams' days in the village.",
    ),
    _tag(
        CAMPAIGNS,
        "大走访大排查",
        "Screening campaigns: teams of two, household visits, progress per village, households not yet visited, "
        "findings turned into risk clues.",
    ),
    _tag(
        EVENTS,
        "事件",
        "What changed, in commit order, for systems that keep in step with Guardline (no personal data).",
    ),
    _tag(
        OFFLINE,
        "离线同步",
        "For phones that work offline: what changed in their village since the last sync, and the upload of "
        "what was recorded offline, answered item by item.",
    ),
    _tag(AUDIT, "审计", "The audit trail, for auditors (append-only, hash-chained)."),
    _tag(ADMIN, "系统管理", "User accounts, roles and system clients (administrators only)."),
    _tag(HEALTH, "运行状态", "Liveness and readiness probes."),
]
