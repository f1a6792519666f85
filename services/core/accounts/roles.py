"""Roles and what each may do. Least privilege: a role has only the permissions listed.

The region scope (a code prefix) is separate from the role: a township staff member and a
county staff member have the same permissions over different regions. System clients
(department systems) carry their own list of permissions, chosen from ``CLIENT_GRANTABLE``.

Each route declares the permissions it needs as OAuth2 scopes (``Annotated[Caller, services.api.deps.Needs(...)]``),
so the OpenAPI document states them per operation and the access-matrix test reads them
from there. The README's security section shows this table.
"""

from __future__ import annotations

from services.core.labels import LabelledEnum


class Role(LabelledEnum):
    """A user's role 角色."""

    grid_worker = "grid_worker", "网格员 / 防止返贫监测信息员"
    assistance_cadre = "assistance_cadre", "帮扶责任人"
    village_staff = "village_staff", "村干部"
    township_staff = "township_staff", "乡镇工作人员"
    county_staff = "county_staff", "县乡村振兴局工作人员"
    county_approver = "county_approver", "县级审批人"
    department_system = "department_system", "部门系统（民政、医保、教育等）"
    auditor = "auditor", "审计人员（只读）"
    admin = "admin", "系统管理员"


class Permission(LabelledEnum):
    """A permission (OAuth2 scope) 权限."""

    registry_read = (
        "registry:read",
        "Read households, persons, income and guarantees; ID numbers masked 读取农户信息（脱敏）",
    )
    persons_lookup = "persons:lookup", "Find a person by ID number 按身份证号查询人员"
    # health and disability details in responses (audited)
    registry_health = "registry:health", "See health and disability details (each read audited) 查看健康、残疾信息"
    # a full ID number, on request with a reason (audited)
    registry_unmask = "registry:unmask", "See a full ID number, with a reason (audited) 查看完整身份证号"
    households_write = "households:write", "Register and change households and persons 维护农户、人员信息"
    income_write = "income:write", "Record income 录入收入"
    guarantees_write = "guarantees:write", "Record the three guarantees and safe water 录入“三保障”和饮水安全"
    audit_read = "audit:read", "Query the audit trail 查询审计日志"
    users_admin = "users:admin", "Manage user accounts and roles 管理用户和角色"
    clients_admin = "clients:admin", "Manage system clients 管理系统接入方"
    # clues, cases, measures, visits, deadlines, statistics
    monitoring_read = (
        "monitoring:read",
        "Read risk clues, monitoring cases, measures, visits and statistics 查看监测帮扶信息",
    )
    clues_report = "clues:report", "Report a risk clue 上报风险线索"  # report a risk clue (any of the three channels)
    # dismiss a clue or turn it into a case
    clues_handle = "clues:handle", "Dismiss a clue or open a case from it 处理风险线索"
    cases_verify = "cases:verify", "Record the household verification visit 入户核实"
    cases_village_review = "cases:village-review", "Village democratic review and public notice 村级民主评议和公示"
    cases_township_review = "cases:township-review", "Township review 乡镇审核"
    # county approval of identification and of elimination; termination
    cases_approve = "cases:approve", "County approval of identification and risk elimination 县级审批"
    # measures, visits, proposing risk elimination
    cases_assist = "cases:assist", "Record measures and visits, propose risk elimination 落实帮扶措施、走访"
    cases_assign = "cases:assign", "Name a case's assistance cadre 明确帮扶责任人"
    # income lines and the monitoring policy's figures
    policy_write = "policy:write", "Set income lines and the monitoring policy's figures 设置监测标准和政策参数"
    # department sources, sync runs, quarantined records (a county's)
    sync_read = "sync:read", "Read department sources, sync runs and quarantined records 查看部门数据同步情况"
    # queue a sync run, re-process quarantined records
    sync_run = "sync:run", "Queue a department sync run, re-process quarantine 发起部门数据同步"
    # what the department cross-checks found in the caller's regions
    findings_read = "findings:read", "Read the findings of department cross-checks 查看部门比对发现的问题"
    findings_handle = "findings:handle", "Acknowledge, resolve or reopen a finding 处理比对发现的问题"
    # funds, projects, beneficiaries, assets, indicators, fund findings
    funds_read = (
        "funds:read",
        "Read funds, projects, assets and the compliance indicators 查看资金、项目、资产和监管指标",
    )
    # funds, allocations to projects, disbursements (imports too)
    funds_write = "funds:write", "Record funds, allocations and disbursements 管理资金下达和支出"
    # the project library: projects, their lifecycle, beneficiaries
    projects_write = "projects:write", "Manage the project library and project lifecycle 管理项目库和项目实施"
    # register project assets, their status and disposal, income and its distribution
    assets_write = (
        "assets:write",
        "Register project assets, their income and its distribution 管理扶贫项目资产和收益分配",
    )
    # field work (docs/field-work.md): the roster, screening campaigns, village-based teams
    campaigns_read = (
        "campaigns:read",
        "Read the field roster, screening campaigns, their progress and the teams' attendance "
        "查看信息员名册、大走访大排查和驻村考勤",
    )
    # open and change campaigns, assign their teams, keep the roster and the attendance
    campaigns_write = (
        "campaigns:write",
        "Open screening campaigns, assign teams, keep the roster and attendance 组织大走访大排查、管理名册和驻村考勤",
    )
    # record a household visited in a campaign, turn its finding into a risk clue
    campaigns_visit = "campaigns:visit", "Record campaign visits to households 录入入户排查情况"

    # the monthly clearing ledger and the rectification ledger (月清零台账, 问题整改台账)
    ledgers_read = (
        "ledgers:read",
        "Read the clearing and rectification ledgers, their monthly reports and the township reports "
        "查看清零和整改台账及乡镇月报季报",
    )
    # open and clear clearing-ledger entries; record problems, their steps and closure requests
    ledgers_write = (
        "ledgers:write",
        "Record and clear ledger items; record problems, progress and closure requests 登记台账、清零、整改",
    )
    # approve or refuse a closure someone else requested (销号审批)
    ledgers_approve = "ledgers:approve", "Approve the closure of a rectified problem 整改销号审批"


# The scopes of the OAuth2 scheme describe each permission with its label.
DESCRIPTIONS: dict[Permission, str] = {permission: permission.label for permission in Permission}

_READ = {Permission.registry_read, Permission.persons_lookup}
_FIELD_WRITE = {Permission.households_write, Permission.income_write, Permission.guarantees_write}
_FIELD_MONITORING = {
    Permission.monitoring_read,
    Permission.clues_report,
    Permission.cases_verify,
    Permission.cases_assist,
}
# Those who follow up department findings in their regions (cadres, village and township staff).
_FINDINGS = {Permission.findings_read, Permission.findings_handle}
# Field work: those who visit record visits in their regions; townships and counties organise.
_FIELD_VISIT = {Permission.campaigns_read, Permission.campaigns_visit}
_FIELD_ORGANISE = _FIELD_VISIT | {Permission.campaigns_write}
# Those who keep the ledgers of their regions (village, township and county staff).
_LEDGERS = {Permission.ledgers_read, Permission.ledgers_write}
_FUNDS = {Permission.funds_read, Permission.funds_write, Permission.projects_write, Permission.assets_write}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    role: frozenset(perms)
    for role, perms in {
        # Grid workers see the findings of their village (they check them on the spot); the
        # cadres and staff who follow them up also acknowledge and resolve them.
        Role.grid_worker: _READ
        | _FIELD_WRITE
        | _FIELD_MONITORING
        | _FIELD_VISIT
        | {Permission.registry_health, Permission.findings_read},
        Role.assistance_cadre: _READ
        | _FIELD_MONITORING
        | _FINDINGS
        | _FIELD_VISIT
        | {Permission.ledgers_read}
        | {Permission.registry_health, Permission.income_write, Permission.guarantees_write},
        Role.village_staff: _READ
        | _FIELD_WRITE
        | _FIELD_MONITORING
        | _FINDINGS
        | _FIELD_VISIT
        | _LEDGERS
        | {
            Permission.registry_health,
            Permission.registry_unmask,
            Permission.clues_handle,
            Permission.cases_village_review,
            Permission.funds_read,
            Permission.assets_write,
        },
        # Townships propose and follow their projects; villages keep the assets handed to them.
        Role.township_staff: _READ
        | _FIELD_WRITE
        | _FIELD_MONITORING
        | _FINDINGS
        | _FIELD_ORGANISE
        | _LEDGERS
        | {
            Permission.registry_health,
            Permission.registry_unmask,
            Permission.clues_handle,
            Permission.cases_township_review,
            Permission.cases_assign,
            Permission.funds_read,
            Permission.projects_write,
        },
        # The county runs the department syncs (its sources, runs and quarantine are a county's)
        # and manages the transition funds, the project library and the assets.
        Role.county_staff: _READ
        | _FIELD_WRITE
        | _FIELD_MONITORING
        | _FINDINGS
        | _FUNDS
        | _FIELD_ORGANISE
        | _LEDGERS
        | {
            Permission.registry_health,
            Permission.registry_unmask,
            Permission.clues_handle,
            Permission.cases_assign,
            Permission.policy_write,
            Permission.sync_read,
            Permission.sync_run,
        },
        Role.county_approver: _READ
        | {
            Permission.registry_health,
            Permission.monitoring_read,
            Permission.cases_approve,
            Permission.findings_read,
            Permission.funds_read,
            Permission.campaigns_read,
            Permission.ledgers_read,
            Permission.ledgers_approve,
        },
        # A department system's own permissions are set per client (see CLIENT_GRANTABLE);
        # this is what a user account of that role (if any) gets.
        Role.department_system: {Permission.persons_lookup, Permission.clues_report},
        Role.auditor: {
            Permission.registry_read,
            Permission.audit_read,
            Permission.monitoring_read,
            Permission.findings_read,
            Permission.sync_read,
            Permission.funds_read,
            Permission.campaigns_read,
            Permission.ledgers_read,
        },
        # Separation of duties (等保 三权分立): the administrator manages accounts, not people's data.
        Role.admin: {Permission.users_admin, Permission.clients_admin},
    }.items()
}

# What a system client may be given. Never administration, audit or unmasking.
CLIENT_GRANTABLE: frozenset[Permission] = frozenset(
    {Permission.persons_lookup, Permission.registry_read, Permission.clues_report}
)


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]
