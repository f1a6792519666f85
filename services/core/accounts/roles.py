"""Roles and what each may do. Least privilege: a role has only the permissions listed.

The region scope (a code prefix) is separate from the role: a township staff member and a
county staff member have the same permissions over different regions.
"""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    grid_worker = "grid_worker"  # 网格员 / 防止返贫监测信息员
    assistance_cadre = "assistance_cadre"  # 帮扶责任人
    village_staff = "village_staff"  # 村干部
    township_staff = "township_staff"  # 乡镇工作人员
    county_staff = "county_staff"  # 县乡村振兴局工作人员
    county_approver = "county_approver"  # 县级审批人
    department_system = "department_system"  # 部门系统 (民政, 医保, 教育 …)
    auditor = "auditor"  # 审计 (read-only)
    admin = "admin"  # 系统管理员


class Permission(StrEnum):
    registry_read = "registry:read"
    households_write = "households:write"
    income_write = "income:write"
    guarantees_write = "guarantees:write"
    users_admin = "users:admin"
    audit_read = "audit:read"


_FIELD_STAFF = {Role.grid_worker, Role.village_staff, Role.township_staff, Role.county_staff}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    role: frozenset(perms)
    for role, perms in {
        Role.grid_worker: {Permission.registry_read, Permission.households_write, Permission.income_write,
                           Permission.guarantees_write},
        Role.assistance_cadre: {Permission.registry_read, Permission.income_write, Permission.guarantees_write},
        Role.village_staff: {Permission.registry_read, Permission.households_write, Permission.income_write,
                             Permission.guarantees_write},
        Role.township_staff: {Permission.registry_read, Permission.households_write, Permission.income_write,
                              Permission.guarantees_write},
        Role.county_staff: {Permission.registry_read, Permission.households_write, Permission.income_write,
                            Permission.guarantees_write},
        Role.county_approver: {Permission.registry_read},
        Role.department_system: {Permission.registry_read},
        Role.auditor: {Permission.registry_read, Permission.audit_read},
        Role.admin: {Permission.registry_read, Permission.users_admin},
    }.items()
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]
