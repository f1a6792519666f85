"""The access matrix, generated: every /api/v1 route × every test user × a target inside and
outside the user's regions. The permissions a route needs are read from its OpenAPI
security scopes. A caller with them gets 2xx inside and 404 outside, indistinguishable from
a missing id. A caller without them gets 403 — or 404 when an object named in the path lies
outside the caller's regions, so that a 403 never tells what exists elsewhere.

A new route fails ``test_every_route_is_in_the_matrix`` until it is described here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.api.app import create_app
from services.api.conditional import ETAGGED
from services.core.accounts.models import ApiClient, User
from services.core.accounts.roles import PERMISSIONS, Permission
from services.core.accounts.security import hash_password
from services.core.settings import Settings
from services.core.timeutil import today as china_today
from tests.api.asset_helpers import asset_objects
from tests.api.fieldwork_helpers import campaign_body, fieldwork_objects, member_body
from tests.api.funds_helpers import funds_objects
from tests.api.ledger_helpers import ledger_objects, report_objects
from tests.api.monitoring_helpers import monitoring_objects
from tests.api.subscription_helpers import subscription_row
from tests.api.sync_helpers import settings_with_sources, sync_objects
from tests.conftest import _client
from tests.factories import OTHER_COUNTY_VILLAGE, USERS, VILLAGE, household, person

LAST_YEAR = china_today().year - 1
MISSING = 987654321


def _income(year=LAST_YEAR, quarter=1, with_period=True):
    body = {"wages": "100", "business": "0", "property": "0", "transfers": "0"}
    if with_period:
        body.update(year=year, quarter=quarter)
    return body


@dataclass
class Case:
    method: str
    path: str  # with {household_id} {person_id} {record_id} {code} {other_household_id} {member_id}
    permission: Permission | None  # None: a read
    body: object = None
    params: dict | None = None
    ok: int = 200
    # The body or query names the target (instead of the path).
    needs_if_match: str | None = None  # "household" | "person" | "income" | "guarantees" | "user" | "client"
    targetless: bool = False  # a list of the caller's own regions: no target to be outside of
    # Only a caller whose regions cover the target's whole province may (income lines). The
    # target is public, so a narrower caller holding the permission gets 403, never 404.
    province_wide: bool = False
    # The target is the village's county (sync runs, quarantine, sources): visible only to
    # callers at county level and above.
    county_level: bool = False
    # The target is a row of the village's county (sync policies): visible to every caller
    # within the county or above it, but only callers whose regions cover the county may
    # change it (403 for the narrower ones).
    county_wide: bool = False
    # Only system clients may (subscribing to events): every user gets 403.
    clients_only: bool = False
    # Checked by the handler, not declared as a scope (a system client needs none of it for
    # its own rows): a user without it gets 403, before anything is looked up.
    user_needs: Permission | None = None
    # A multipart body instead of JSON: the form's fields and its files (a spreadsheet upload).
    form: dict | None = None
    files: dict | None = None


def cases(t):
    """Requests aimed at target ``t`` (a dict of ids of a household in some village)."""
    return {
        "listHouseholds": Case("GET", "/api/v1/households", None, params={"region": t["village"]}),
        # ledgers out (tests/api/test_exports.py): each with the filters of its list
        "exportHouseholds": Case("GET", "/api/v1/households/export", None, params={"region": t["village"]}),
        "exportMonitoringCases": Case(
            "GET", "/api/v1/monitoring-cases/export", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "exportMeasures": Case(
            "GET", "/api/v1/measures/export", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "exportVisits": Case(
            "GET", "/api/v1/visits/export", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "exportFindings": Case(
            "GET", "/api/v1/findings/export", Permission.findings_read, params={"region": t["village"]}
        ),
        "exportProjects": Case(
            "GET", "/api/v1/projects/export", Permission.funds_read, params={"region": t["village"]}
        ),
        "exportPayments": Case(
            "GET", "/api/v1/payments/export", Permission.funds_read, params={"region": t["village"]}
        ),
        "exportClearingEntries": Case(
            "GET", "/api/v1/clearing-entries/export", Permission.ledgers_read, params={"region": t["village"]}
        ),
        "exportRectifications": Case(
            "GET", "/api/v1/rectifications/export", Permission.ledgers_read, params={"region": t["village"]}
        ),
        "exportCampaignVisits": Case("GET", "/api/v1/campaigns/{campaign_id}/visits/export", Permission.campaigns_read),
        "exportUnvisitedHouseholds": Case(
            "GET", "/api/v1/campaigns/{campaign_id}/unvisited/export", Permission.campaigns_read
        ),
        "exportOverdueFollowUps": Case(
            "GET", "/api/v1/follow-up/overdue/export", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "exportMissingIncome": Case(
            "GET",
            "/api/v1/follow-up/income-missing/export",
            Permission.registry_read,
            params={"region": t["village"], "year": LAST_YEAR, "quarter": 1},
        ),
        "createHousehold": Case(
            "POST",
            "/api/v1/households",
            Permission.households_write,
            body=household(region=t["village"], members=[person("head")]),
            ok=201,
        ),
        "getHousehold": Case("GET", "/api/v1/households/{household_id}", None),
        "updateHousehold": Case(
            "PATCH",
            "/api/v1/households/{household_id}",
            Permission.households_write,
            body={"address": "新地址"},
            needs_if_match="household",
        ),
        "getHouseholdHistory": Case("GET", "/api/v1/households/{household_id}/history", None),
        "addMember": Case(
            "POST",
            "/api/v1/households/{household_id}/members",
            Permission.households_write,
            body=person("child"),
            ok=201,
        ),
        "splitHousehold": Case(
            "POST",
            "/api/v1/households/{household_id}/split",
            Permission.households_write,
            body={"person_ids": [t["member_id"]], "head_person_id": t["member_id"]},
            ok=201,
        ),
        "mergeHousehold": Case(
            "POST",
            "/api/v1/households/{household_id}/merge",
            Permission.households_write,
            body={"household_id": t["other_household_id"]},
        ),
        "lookupPerson": Case("POST", "/api/v1/persons/lookup", None, body={"id_number": t["id_number"]}),
        "getPerson": Case("GET", "/api/v1/persons/{person_id}", None),
        "unmaskIdNumber": Case(
            "POST",
            "/api/v1/persons/{person_id}/id-number",
            Permission.registry_unmask,
            body={"reason": "核对低保申请材料"},
        ),
        "updatePerson": Case(
            "PATCH",
            "/api/v1/persons/{person_id}",
            Permission.households_write,
            body={"family_doctor": True},
            needs_if_match="person",
        ),
        "movePerson": Case(
            "POST",
            "/api/v1/persons/{member_id}/move",
            Permission.households_write,
            body={"household_id": t["other_household_id"], "relation": "other"},
        ),
        "recordDeath": Case(
            "POST",
            "/api/v1/persons/{member_id}/death",
            Permission.households_write,
            body={"date_of_death": str(china_today())},
        ),
        "listIncomeRecords": Case("GET", "/api/v1/households/{household_id}/income-records", None),
        "createIncomeRecord": Case(
            "POST",
            "/api/v1/households/{household_id}/income-records",
            Permission.income_write,
            body=_income(quarter=2),
            ok=201,
        ),
        "listIncomeYears": Case("GET", "/api/v1/households/{household_id}/income-years", None),
        "getIncomeRecord": Case("GET", "/api/v1/income-records/{record_id}", None),
        "updateIncomeRecord": Case(
            "PUT",
            "/api/v1/income-records/{record_id}",
            Permission.income_write,
            body=_income(with_period=False),
            needs_if_match="income",
        ),
        "deleteIncomeRecord": Case(
            "DELETE", "/api/v1/income-records/{record_id}", Permission.income_write, ok=204, needs_if_match="income"
        ),
        "getGuarantees": Case("GET", "/api/v1/households/{household_id}/guarantees", None),
        "updateGuarantees": Case(
            "PUT",
            "/api/v1/households/{household_id}/guarantees",
            Permission.guarantees_write,
            body={"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
            needs_if_match="guarantees",
        ),
        "listGuaranteeChanges": Case("GET", "/api/v1/households/{household_id}/guarantees/history", None),
        "listRegions": Case("GET", "/api/v1/regions", None, params={"parent": t["village"]}),
        "getRegion": Case("GET", "/api/v1/regions/{code}", None),
        # administration: accounts whose region prefix is the target village
        "listUsers": Case("GET", "/api/v1/admin/users", Permission.users_admin, targetless=True),
        "createUser": Case(
            "POST",
            "/api/v1/admin/users",
            Permission.users_admin,
            ok=201,
            body={
                "username": f"new.{t['village']}",
                "display_name": "新用户",
                "role": "grid_worker",
                "region_prefix": t["village"],
                "password": "Strong-Pass-2026",
            },
        ),
        "getUser": Case("GET", "/api/v1/admin/users/{user_id}", Permission.users_admin),
        "updateUser": Case(
            "PATCH",
            "/api/v1/admin/users/{user_id}",
            Permission.users_admin,
            body={"role": "village_staff"},
            needs_if_match="user",
        ),
        "resetPassword": Case(
            "POST",
            "/api/v1/admin/users/{user_id}/password",
            Permission.users_admin,
            body={"new_password": "Another-Pass-2026"},
            ok=204,
        ),
        "unlockUser": Case("POST", "/api/v1/admin/users/{user_id}/unlock", Permission.users_admin),
        "resetTotp": Case("POST", "/api/v1/admin/users/{user_id}/totp/reset", Permission.users_admin),
        "listClients": Case("GET", "/api/v1/admin/clients", Permission.clients_admin, targetless=True),
        "createClient": Case(
            "POST",
            "/api/v1/admin/clients",
            Permission.clients_admin,
            ok=201,
            body={"name": f"dept.{t['village']}", "permissions": ["persons:lookup"], "region_prefix": t["village"]},
        ),
        "getClient": Case("GET", "/api/v1/admin/clients/{client_id}", Permission.clients_admin),
        "updateClient": Case(
            "PATCH",
            "/api/v1/admin/clients/{client_id}",
            Permission.clients_admin,
            body={"description": "医保"},
            needs_if_match="client",
        ),
        "rotateClientSecret": Case("POST", "/api/v1/admin/clients/{client_id}/rotate", Permission.clients_admin),
        "revokeClient": Case("POST", "/api/v1/admin/clients/{client_id}/revoke", Permission.clients_admin),
        "listAuditEvents": Case("GET", "/api/v1/audit/events", Permission.audit_read, params={"region": t["village"]}),
        "getAuditEvent": Case("GET", "/api/v1/audit/events/{event_id}", Permission.audit_read),
        "listRevealCounts": Case("GET", "/api/v1/audit/reveals", Permission.audit_read, targetless=True),
        # The stream of the caller's own regions, of the types its role may see (none: empty).
        "listEvents": Case("GET", "/api/v1/events", None, targetless=True),
        # An offline upload: answered 200 whoever sends it; each item is refused or done on its own
        # (tests/events/test_batch.py), as its operation answers alone (this matrix).
        "uploadBatch": Case(
            "POST",
            "/api/v1/batch",
            None,
            body={"items": [{"client_id": "matrix-1", "kind": "clue", "body": {}}]},
            targetless=True,
        ),
        # A phone's sync of its own regions.
        "listChanges": Case(
            "GET", "/api/v1/changes", Permission.registry_read, params={"family": "households"}, targetless=True
        ),
        # Subscriptions: a system client's own; of users only the administrators of clients see
        # them (those of clients in their regions). {subscription_id} is the target client's.
        "createSubscription": Case(
            "POST", "/api/v1/subscriptions", None, body={"callback_url": "https://dept.example.cn/h"}, clients_only=True
        ),
        "listSubscriptions": Case(
            "GET", "/api/v1/subscriptions", None, targetless=True, user_needs=Permission.clients_admin
        ),
        "getSubscription": Case(
            "GET", "/api/v1/subscriptions/{subscription_id}", None, user_needs=Permission.clients_admin
        ),
        "updateSubscription": Case(
            "PATCH",
            "/api/v1/subscriptions/{subscription_id}",
            None,
            body={"status": "paused"},
            needs_if_match="subscription",
            user_needs=Permission.clients_admin,
        ),
        "deleteSubscription": Case(
            "DELETE", "/api/v1/subscriptions/{subscription_id}", None, ok=204, user_needs=Permission.clients_admin
        ),
        "listDeliveries": Case(
            "GET", "/api/v1/subscriptions/{subscription_id}/deliveries", None, user_needs=Permission.clients_admin
        ),
        "redeliver": Case(
            "POST",
            "/api/v1/subscriptions/{subscription_id}/redeliver",
            None,
            body={},
            user_needs=Permission.clients_admin,
        ),
        "replayEvents": Case(
            "POST",
            "/api/v1/subscriptions/{subscription_id}/replay",
            None,
            body={"from_event_id": 1},
            user_needs=Permission.clients_admin,
        ),
        # monitoring: {case_id} is at its verification visit, {assisting_case_id} identified (see
        # tests/api/monitoring_helpers.monitoring_objects). Steps the state does not allow answer 409 to
        # callers who may take them, which is all this matrix needs.
        "reportRiskClue": Case(
            "POST",
            "/api/v1/risk-clues",
            Permission.clues_report,
            ok=201,
            body={
                "household_id": t["household_id"],
                "channel": "visit",
                "risk_types": ["other"],
                "evidence": "走访发现",
            },
        ),
        "listRiskClues": Case("GET", "/api/v1/risk-clues", Permission.monitoring_read, params={"region": t["village"]}),
        "getRiskClue": Case("GET", "/api/v1/risk-clues/{clue_id}", Permission.monitoring_read),
        "dismissRiskClue": Case(
            "POST",
            "/api/v1/risk-clues/{clue_id}/dismissal",
            Permission.clues_handle,
            body={"reason": "不属实"},
            needs_if_match="clue",
        ),
        "openCaseFromClue": Case(
            "POST",
            "/api/v1/risk-clues/{clue_id}/case",
            Permission.clues_handle,
            body={"case_type": "marginal"},
            needs_if_match="clue",
        ),
        "listMonitoringCases": Case(
            "GET", "/api/v1/monitoring-cases", Permission.monitoring_read, params={"region": t["village"]}
        ),
        # follow-up (docs/follow-up.md)
        "assignHouseholdCadre": Case(
            "POST",
            "/api/v1/households/{household_id}/cadre-assignments",
            Permission.cases_assign,
            body={"cadre_user_id": t["cadre_id"]},
            ok=201,
        ),
        "listHouseholdCadres": Case(
            "GET", "/api/v1/households/{household_id}/cadre-assignments", Permission.monitoring_read
        ),
        "listCadreHouseholds": Case(
            "GET", "/api/v1/follow-up/cadres/{cadre_id}/households", Permission.monitoring_read
        ),
        "addFollowUpVisit": Case(
            "POST",
            "/api/v1/households/{household_id}/follow-up-visits",
            Permission.cases_assist,
            body={"visited_on": str(china_today()), "findings": "定期走访"},
            ok=201,
        ),
        "listFollowUpVisits": Case(
            "GET", "/api/v1/households/{household_id}/follow-up-visits", Permission.monitoring_read
        ),
        "listOverdueFollowUps": Case(
            "GET", "/api/v1/follow-up/overdue", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "listMissingIncome": Case(
            "GET",
            "/api/v1/follow-up/income-missing",
            Permission.registry_read,
            params={"region": t["village"], "year": LAST_YEAR, "quarter": 1},
        ),
        "listIncomeFlags": Case(
            "GET",
            "/api/v1/follow-up/income-flags",
            Permission.registry_read,
            params={"region": t["village"], "year": LAST_YEAR, "quarter": 1},
        ),
        "listOverdue": Case(
            "GET", "/api/v1/monitoring-cases/overdue", Permission.monitoring_read, params={"region": t["village"]}
        ),
        "getMonitoringCase": Case("GET", "/api/v1/monitoring-cases/{case_id}", Permission.monitoring_read),
        "listCaseTransitions": Case(
            "GET", "/api/v1/monitoring-cases/{case_id}/transitions", Permission.monitoring_read
        ),
        "checkElimination": Case(
            "GET", "/api/v1/monitoring-cases/{assisting_case_id}/elimination-check", Permission.monitoring_read
        ),
        "verifyCase": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/verification",
            Permission.cases_verify,
            body={"decision": "approve", "consent_signed": True, "findings": "属实"},
            needs_if_match="case",
        ),
        "villageReview": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/village-review",
            Permission.cases_village_review,
            body={"decision": "approve"},
            ok=409,
            needs_if_match="case",
        ),
        "noticeResult": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/notice-result",
            Permission.cases_village_review,
            body={"decision": "approve"},
            ok=409,
            needs_if_match="case",
        ),
        "townshipReview": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/township-review",
            Permission.cases_township_review,
            body={"decision": "approve"},
            ok=409,
            needs_if_match="case",
        ),
        "countyDecision": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/county-decision",
            Permission.cases_approve,
            body={"decision": "approve"},
            ok=409,
            needs_if_match="case",
        ),
        # The assisting case was identified 50 days ago: the elimination conditions refuse it (409).
        "proposeElimination": Case(
            "POST",
            "/api/v1/monitoring-cases/{assisting_case_id}/elimination-proposal",
            Permission.cases_assist,
            body={},
            ok=409,
            needs_if_match="assisting_case",
        ),
        "terminateCase": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/termination",
            Permission.cases_approve,
            body={"reason": "户已注销"},
            needs_if_match="case",
        ),
        "assignCadre": Case(
            "PUT",
            "/api/v1/monitoring-cases/{assisting_case_id}/cadre",
            Permission.cases_assign,
            body={"cadre_user_id": t["user_id"]},
            needs_if_match="assisting_case",
        ),
        "listMeasures": Case(
            "GET", "/api/v1/monitoring-cases/{assisting_case_id}/measures", Permission.monitoring_read
        ),
        "addMeasure": Case(
            "POST",
            "/api/v1/monitoring-cases/{assisting_case_id}/measures",
            Permission.cases_assist,
            ok=201,
            body={
                "category": "employment",
                "content": "推荐公益岗位",
                "responsible_unit": "县人社局",
                "start_on": str(china_today()),
            },
        ),
        "getMeasure": Case("GET", "/api/v1/measures/{measure_id}", Permission.monitoring_read),
        "updateMeasure": Case(
            "PUT",
            "/api/v1/measures/{measure_id}",
            Permission.cases_assist,
            needs_if_match="measure",
            body={
                "content": "危房改造",
                "responsible_unit": "县住建局",
                "start_on": str(china_today()),
                "status": "in_progress",
            },
        ),
        "listVisits": Case("GET", "/api/v1/monitoring-cases/{case_id}/visits", Permission.monitoring_read),
        "listCaseVisitBreaches": Case(
            "GET", "/api/v1/monitoring-cases/{assisting_case_id}/visit-breaches", Permission.monitoring_read
        ),
        "addVisit": Case(
            "POST",
            "/api/v1/monitoring-cases/{case_id}/visits",
            Permission.cases_assist,
            ok=201,
            body={"visited_on": str(china_today()), "findings": "了解情况"},
        ),
        # monitoring reports: income lines, uncovered households, statistics, notices, policy settings
        "listIncomeLines": Case("GET", "/api/v1/income-lines", None, targetless=True),
        "getIncomeLine": Case("GET", "/api/v1/income-lines/{line_year}/{province}", None, targetless=True),
        "putIncomeLine": Case(
            "PUT",
            "/api/v1/income-lines/{line_year}/{province}",
            Permission.policy_write,
            body={"amount": "6500.00"},
            needs_if_match="income_line",
            targetless=True,
            province_wide=True,
        ),
        "listUncoveredHouseholds": Case(
            "GET", "/api/v1/monitoring/uncovered-households", None, params={"region": t["village"], "year": LAST_YEAR}
        ),
        "raiseUncoveredClues": Case(
            "POST",
            "/api/v1/monitoring/uncovered-households/clues",
            Permission.clues_report,
            body={"region": t["village"], "year": LAST_YEAR},
        ),
        "listVisitBreaches": Case(
            "GET", "/api/v1/monitoring/visit-breaches", None, params={"region": t["village"], "year": LAST_YEAR}
        ),
        "getMonitoringStatistics": Case("GET", "/api/v1/monitoring/statistics", None, params={"region": t["village"]}),
        "getNoticeList": Case("GET", "/api/v1/monitoring/notices", None, params={"village": t["village"]}),
        "getEffectivePolicy": Case(
            "GET", "/api/v1/monitoring-policies/effective", None, params={"region": t["village"]}
        ),
        "listMonitoringPolicies": Case("GET", "/api/v1/monitoring-policies", None, targetless=True),
        "getMonitoringPolicy": Case("GET", "/api/v1/monitoring-policies/{policy_id}", None),
        "createMonitoringPolicy": Case(
            "POST",
            "/api/v1/monitoring-policies",
            Permission.policy_write,
            ok=201,
            body={"region_prefix": t["village"], "year": LAST_YEAR + 2, "values": {"plan_days": 8}},
        ),
        "updateMonitoringPolicy": Case(
            "PUT",
            "/api/v1/monitoring-policies/{policy_id}",
            Permission.policy_write,
            body={"values": {"plan_days": 9}},
            needs_if_match="policy",
        ),
        "deleteMonitoringPolicy": Case(
            "DELETE",
            "/api/v1/monitoring-policies/{policy_id}",
            Permission.policy_write,
            ok=204,
            needs_if_match="policy",
        ),
        # department sync: {source} serves only the target's county (tests/api/sync_helpers.py);
        # {run_id} finished, {quarantine_id} of that run, {finding_id} about the household's head
        "listSyncSources": Case("GET", "/api/v1/sync/sources", Permission.sync_read, targetless=True),
        "getSyncSource": Case("GET", "/api/v1/sync/sources/{source}", Permission.sync_read, county_level=True),
        "listSyncRuns": Case(
            "GET", "/api/v1/sync/runs", Permission.sync_read, params={"county": t["county"]}, county_level=True
        ),
        "getSyncRun": Case("GET", "/api/v1/sync/runs/{run_id}", Permission.sync_read, county_level=True),
        "createSyncRun": Case(
            "POST",
            "/api/v1/sync/runs",
            Permission.sync_run,
            ok=202,
            county_level=True,
            body={"source": t["source"], "county": t["county"]},
        ),
        # An empty file: the caller and the county pass every check, then the file is refused
        # (422 upload_empty) before anything is imported (tests/api/test_sheet_upload.py imports).
        "importSpreadsheet": Case(
            "POST",
            "/api/v1/sync/sources/{source}/imports",
            Permission.sync_run,
            ok=422,
            county_level=True,
            form={"county": t["county"]},
            files={"file": ("名单.csv", b"")},
        ),
        "listQuarantine": Case(
            "GET", "/api/v1/sync/quarantine", Permission.sync_read, params={"county": t["county"]}, county_level=True
        ),
        "getQuarantinedRecord": Case(
            "GET", "/api/v1/sync/quarantine/{quarantine_id}", Permission.sync_read, county_level=True
        ),
        "reprocessQuarantine": Case(
            "POST",
            "/api/v1/sync/quarantine/reprocess",
            Permission.sync_run,
            ok=202,
            county_level=True,
            body={"source": t["source"], "county": t["county"]},
        ),
        "listFindings": Case("GET", "/api/v1/findings", Permission.findings_read, params={"region": t["village"]}),
        "getFinding": Case("GET", "/api/v1/findings/{finding_id}", Permission.findings_read),
        "updateFinding": Case(
            "PATCH",
            "/api/v1/findings/{finding_id}",
            Permission.findings_handle,
            body={"status": "acknowledged", "note": "已核实"},
            needs_if_match="finding",
        ),
        # funds (tests/api/funds_helpers.funds_objects): a fund of the target's county (seen from county
        # level up), {project_id} proposed, {approved_project_id} with money of the fund
        "createFund": Case(
            "POST",
            "/api/v1/funds",
            Permission.funds_write,
            ok=201,
            county_level=True,
            body={
                "year": china_today().year,
                "level": "county",
                "kind": "transition",
                "name": "县级衔接资金",
                "region_code": f"{t['county']}000000",
                "amount": "1000.00",
                "received_on": str(china_today()),
            },
        ),
        "listFunds": Case(
            "GET", "/api/v1/funds", Permission.funds_read, params={"region": t["county"]}, county_level=True
        ),
        "getFund": Case("GET", "/api/v1/funds/{fund_id}", Permission.funds_read, county_level=True),
        "updateFund": Case(
            "PUT",
            "/api/v1/funds/{fund_id}",
            Permission.funds_write,
            county_level=True,
            needs_if_match="fund",
            body={"name": "更正", "amount": "2000000.00", "received_on": str(china_today())},
        ),
        "allocateFund": Case(
            "POST",
            "/api/v1/funds/{fund_id}/allocations",
            Permission.funds_write,
            ok=201,
            county_level=True,
            body={"project_id": t["approved_project_id"], "amount": "10.00", "allocated_on": str(china_today())},
        ),
        "listFundAllocations": Case(
            "GET", "/api/v1/funds/{fund_id}/allocations", Permission.funds_read, county_level=True
        ),
        # Rows naming projects out of scope are answered per row, like missing ones (test_scope_batch).
        "importDisbursements": Case(
            "POST",
            "/api/v1/disbursements/import",
            Permission.funds_write,
            targetless=True,
            body={
                "rows": [
                    {
                        "project_id": t["approved_project_id"],
                        "fund_id": t["fund_id"],
                        "amount": "1.00",
                        "paid_on": str(china_today()),
                        "voucher_ref": "导-1",
                        "item": "materials",
                    }
                ]
            },
        ),
        "getFundIndicators": Case(
            "GET", "/api/v1/fund-indicators", Permission.funds_read, params={"region": t["county"]}, county_level=True
        ),
        "getEffectiveFundPolicy": Case(
            "GET", "/api/v1/fund-policies/effective", Permission.funds_read, params={"region": t["village"]}
        ),
        "listFundPolicies": Case("GET", "/api/v1/fund-policies", Permission.funds_read, targetless=True),
        "getFundPolicy": Case("GET", "/api/v1/fund-policies/{fund_policy_id}", Permission.funds_read),
        "createFundPolicy": Case(
            "POST",
            "/api/v1/fund-policies",
            Permission.policy_write,
            ok=201,
            body={"region_prefix": t["village"], "year": LAST_YEAR + 3, "values": {"asset_idle_months": 8}},
        ),
        "updateFundPolicy": Case(
            "PUT",
            "/api/v1/fund-policies/{fund_policy_id}",
            Permission.policy_write,
            body={"values": {"asset_idle_months": 10}},
            needs_if_match="fund_policy",
        ),
        "deleteFundPolicy": Case(
            "DELETE",
            "/api/v1/fund-policies/{fund_policy_id}",
            Permission.policy_write,
            ok=204,
            needs_if_match="fund_policy",
        ),
        # {sync_policy_id}: an override of the cross-check thresholds for the village's county
        "getEffectiveSyncPolicy": Case(
            "GET", "/api/v1/sync-policies/effective", Permission.sync_read, params={"region": t["village"]}
        ),
        "listSyncPolicies": Case("GET", "/api/v1/sync-policies", Permission.sync_read, targetless=True),
        "getSyncPolicy": Case("GET", "/api/v1/sync-policies/{sync_policy_id}", Permission.sync_read, county_wide=True),
        "createSyncPolicy": Case(
            "POST",
            "/api/v1/sync-policies",
            Permission.sync_run,
            ok=201,
            county_wide=True,
            body={"region_prefix": t["county"], "year": LAST_YEAR + 3, "values": {"new_grant_months": 6}},
        ),
        "updateSyncPolicy": Case(
            "PUT",
            "/api/v1/sync-policies/{sync_policy_id}",
            Permission.sync_run,
            county_wide=True,
            body={"values": {"compulsory_age_to": 16}},
            needs_if_match="sync_policy",
        ),
        "deleteSyncPolicy": Case(
            "DELETE",
            "/api/v1/sync-policies/{sync_policy_id}",
            Permission.sync_run,
            ok=204,
            county_wide=True,
            needs_if_match="sync_policy",
        ),
        "createProject": Case(
            "POST",
            "/api/v1/projects",
            Permission.projects_write,
            ok=201,
            body={
                "year": china_today().year,
                "region_code": t["village"],
                "name": "产业路",
                "category": "infrastructure",
                "implementing_unit": "县交通局",
                "budget": "10.00",
                "planned_start": str(china_today()),
                "planned_end": str(china_today()),
            },
        ),
        "listProjects": Case("GET", "/api/v1/projects", Permission.funds_read, params={"region": t["village"]}),
        "getProject": Case("GET", "/api/v1/projects/{project_id}", Permission.funds_read),
        "updateProject": Case(
            "PUT",
            "/api/v1/projects/{project_id}",
            Permission.projects_write,
            needs_if_match="project",
            body={
                "name": "产业路（调整）",
                "category": "infrastructure",
                "implementing_unit": "县交通局",
                "budget": "20.00",
                "planned_start": str(china_today()),
                "planned_end": str(china_today()),
            },
        ),
        "advanceProject": Case(
            "POST",
            "/api/v1/projects/{project_id}/steps",
            Permission.projects_write,
            needs_if_match="project",
            body={"status": "reviewed", "on": str(china_today())},
        ),
        "addBeneficiary": Case(
            "POST",
            "/api/v1/projects/{project_id}/beneficiaries",
            Permission.projects_write,
            ok=201,
            body={"household_id": t["household_id"], "benefit": "分红"},
        ),
        "listBeneficiaries": Case("GET", "/api/v1/projects/{approved_project_id}/beneficiaries", Permission.funds_read),
        "recordDisbursement": Case(
            "POST",
            "/api/v1/projects/{approved_project_id}/disbursements",
            Permission.funds_write,
            ok=201,
            body={
                "fund_id": t["fund_id"],
                "amount": "1.00",
                "paid_on": str(china_today()),
                "voucher_ref": "记-2",
                "item": "materials",
            },
        ),
        "listProjectDisbursements": Case(
            "GET", "/api/v1/projects/{approved_project_id}/disbursements", Permission.funds_read
        ),
        "listProjectAllocations": Case(
            "GET", "/api/v1/projects/{approved_project_id}/allocations", Permission.funds_read
        ),
        # project assets (tests/api/asset_helpers.asset_objects): {accepted_project_id} is accepted,
        # {asset_id} an operating asset in use, {fund_finding_id} an open finding about it
        "registerAsset": Case(
            "POST",
            "/api/v1/projects/{accepted_project_id}/assets",
            Permission.assets_write,
            ok=201,
            body={
                "name": "蔬菜大棚",
                "asset_class": "operating",
                "value": "1000.00",
                "owner": "村集体",
                "handover_on": str(china_today()),
            },
        ),
        # field work (tests/api/fieldwork_helpers.fieldwork_objects): a roster member, a running campaign of
        # the village, a visit with a finding
        "createRosterMember": Case(
            "POST", "/api/v1/field-roster", Permission.campaigns_write, body=member_body(t["village"]), ok=201
        ),
        "listRosterMembers": Case(
            "GET", "/api/v1/field-roster", Permission.campaigns_read, params={"region": t["village"]}
        ),
        "listOfficerShortfalls": Case(
            "GET", "/api/v1/field-roster/shortfalls", Permission.campaigns_read, params={"region": t["village"]}
        ),
        "getRosterMember": Case("GET", "/api/v1/field-roster/{roster_member_id}", Permission.campaigns_read),
        "updateRosterMember": Case(
            "PATCH",
            "/api/v1/field-roster/{roster_member_id}",
            Permission.campaigns_write,
            body={"note": "驻村第一书记"},
            needs_if_match="roster_member",
        ),
        "recordAttendance": Case(
            "POST",
            "/api/v1/field-roster/{roster_member_id}/attendance",
            Permission.campaigns_write,
            body={"month": t["month"], "days": 5},
            ok=201,
        ),
        "getAttendance": Case("GET", "/api/v1/resident-attendance/{attendance_id}", Permission.campaigns_read),
        "updateAttendance": Case(
            "PATCH",
            "/api/v1/resident-attendance/{attendance_id}",
            Permission.campaigns_write,
            body={"days": 22},
            needs_if_match="attendance",
        ),
        "listAttendanceShortfalls": Case(
            "GET",
            "/api/v1/resident-attendance/shortfalls",
            Permission.campaigns_read,
            params={"region": t["village"], "month": t["month"]},
        ),
        "createCampaign": Case(
            "POST", "/api/v1/campaigns", Permission.campaigns_write, body=campaign_body(t["village"]), ok=201
        ),
        "listCampaigns": Case("GET", "/api/v1/campaigns", Permission.campaigns_read, params={"region": t["village"]}),
        "getCampaign": Case("GET", "/api/v1/campaigns/{campaign_id}", Permission.campaigns_read),
        "updateCampaign": Case(
            "PATCH",
            "/api/v1/campaigns/{campaign_id}",
            Permission.campaigns_write,
            body={"note": "两人一组进村入户"},
            needs_if_match="campaign",
        ),
        "assignCampaignTeam": Case(
            "POST",
            "/api/v1/campaigns/{campaign_id}/teams",
            Permission.campaigns_write,
            body={"village": t["village"], "member_ids": t["team_member_ids"]},
            ok=201,
        ),
        "listCampaignTeams": Case("GET", "/api/v1/campaigns/{campaign_id}/teams", Permission.campaigns_read),
        "recordCampaignVisit": Case(
            "POST",
            "/api/v1/campaigns/{campaign_id}/visits",
            Permission.campaigns_visit,
            body={"household_id": t["household_id"], "checks": ["income"]},
            ok=201,
        ),
        "listCampaignVisits": Case("GET", "/api/v1/campaigns/{campaign_id}/visits", Permission.campaigns_read),
        "updateCampaignVisit": Case(
            "PATCH",
            "/api/v1/campaign-visits/{campaign_visit_id}",
            Permission.campaigns_visit,
            body={"findings": "复核：墙体裂缝已加固"},
            needs_if_match="campaign_visit",
        ),
        "getCampaignVisit": Case("GET", "/api/v1/campaign-visits/{campaign_visit_id}", Permission.campaigns_read),
        "raiseClueFromVisit": Case(
            "POST",
            "/api/v1/campaign-visits/{campaign_visit_id}/clue",
            Permission.campaigns_visit,
            body={"risk_types": ["unsafe_housing"]},
            ok=201,
        ),
        "getCampaignProgress": Case("GET", "/api/v1/campaigns/{campaign_id}/progress", Permission.campaigns_read),
        "listUnvisitedHouseholds": Case("GET", "/api/v1/campaigns/{campaign_id}/unvisited", Permission.campaigns_read),
        "listAssets": Case("GET", "/api/v1/assets", Permission.funds_read, params={"region": t["village"]}),
        "getAsset": Case("GET", "/api/v1/assets/{asset_id}", Permission.funds_read),
        "updateAsset": Case(
            "PUT",
            "/api/v1/assets/{asset_id}",
            Permission.assets_write,
            needs_if_match="asset",
            body={"owner": "村集体", "custodian": "王管护", "status": "idle"},
        ),
        "disposeAsset": Case(
            "POST",
            "/api/v1/assets/{asset_id}/disposal",
            Permission.assets_write,
            needs_if_match="asset",
            body={"method": "scrapping", "reason": "损毁", "approval": "批1号", "disposed_on": str(china_today())},
        ),
        "recordAssetIncome": Case(
            "POST",
            "/api/v1/assets/{asset_id}/incomes",
            Permission.assets_write,
            ok=201,
            body={
                "received_on": str(china_today()),
                "amount": "100.00",
                "shares": [{"household_id": t["household_id"], "amount": "60.00"}],
            },
        ),
        "listAssetIncomes": Case("GET", "/api/v1/assets/{asset_id}/incomes", Permission.funds_read),
        "listFundFindings": Case(
            "GET", "/api/v1/fund-findings", Permission.funds_read, params={"region": t["village"]}
        ),
        "getFundFinding": Case("GET", "/api/v1/fund-findings/{fund_finding_id}", Permission.funds_read),
        "scanFundFindings": Case(
            "POST", "/api/v1/fund-findings/scan", Permission.assets_write, body={"region": t["village"]}
        ),
        # the ledgers (tests/api/ledger_helpers.ledger_objects): {clearing_entry_id} is open,
        # {rectification_id} being rectified, {requested_rectification_id} awaiting approval
        "openClearingEntry": Case(
            "POST",
            "/api/v1/clearing-entries",
            Permission.ledgers_write,
            ok=201,
            body={"household_id": t["household_id"], "kind": "housing", "description": "墙体开裂"},
        ),
        "listClearingEntries": Case(
            "GET", "/api/v1/clearing-entries", Permission.ledgers_read, params={"region": t["village"]}
        ),
        "getClearingEntry": Case("GET", "/api/v1/clearing-entries/{clearing_entry_id}", Permission.ledgers_read),
        "clearClearingEntry": Case(
            "POST",
            "/api/v1/clearing-entries/{clearing_entry_id}/closure",
            Permission.ledgers_write,
            needs_if_match="clearing_entry",
            body={"evidence": "已通自来水", "evidence_refs": ["照片-1"]},
        ),
        "scanClearingEntries": Case(
            "POST", "/api/v1/clearing-entries/scan", Permission.ledgers_write, body={"region": t["village"]}
        ),
        "getClearingReport": Case(
            "GET",
            "/api/v1/clearing-report",
            Permission.ledgers_read,
            params={"month": str(china_today())[:7], "region": t["village"]},
        ),
        "recordRectification": Case(
            "POST",
            "/api/v1/rectifications",
            Permission.ledgers_write,
            ok=201,
            body={
                "region_code": t["village"],
                "source": "audit",
                "title": "资产未登记",
                "description": "审计发现",
                "responsible_unit": "村委会",
            },
        ),
        "listRectifications": Case(
            "GET", "/api/v1/rectifications", Permission.ledgers_read, params={"region": t["village"]}
        ),
        "getRectification": Case("GET", "/api/v1/rectifications/{rectification_id}", Permission.ledgers_read),
        "addRectificationStep": Case(
            "POST",
            "/api/v1/rectifications/{rectification_id}/steps",
            Permission.ledgers_write,
            ok=201,
            body={"content": "已入户核实"},
        ),
        "requestRectificationClosure": Case(
            "POST",
            "/api/v1/rectifications/{rectification_id}/closure-request",
            Permission.ledgers_write,
            needs_if_match="rectification",
            body={"evidence": "已整改", "evidence_refs": ["验收单-2"]},
        ),
        "decideRectificationClosure": Case(
            "POST",
            "/api/v1/rectifications/{requested_rectification_id}/decision",
            Permission.ledgers_approve,
            needs_if_match="requested_rectification",
            body={"approve": True},
        ),
        "getRectificationReport": Case(
            "GET",
            "/api/v1/rectification-report",
            Permission.ledgers_read,
            params={"month": str(china_today())[:7], "region": t["village"]},
        ),
        # township reports (tests/reports): {report_id} a stored report kept in the village
        "getTownshipMonthlyReport": Case(
            "GET",
            "/api/v1/reports/monthly",
            Permission.ledgers_read,
            params={"month": str(china_today())[:7], "region": t["village"]},
        ),
        "getTownshipQuarterlyReport": Case(
            "GET",
            "/api/v1/reports/quarterly",
            Permission.ledgers_read,
            params={"quarter": f"{china_today().year}-Q{(china_today().month - 1) // 3 + 1}", "region": t["village"]},
        ),
        "listStoredReports": Case("GET", "/api/v1/reports", Permission.ledgers_read, params={"region": t["village"]}),
        "getStoredReport": Case("GET", "/api/v1/reports/{report_id}", Permission.ledgers_read),
    }


# The caller's own account and session: no regional object involved (tests/api/test_auth.py).
NOT_REGION_SCOPED = {"login", "whoAmI", "logout", "changePassword", "beginTotp", "confirmTotp"}
# Public disclosure (公告公示): no login, the same answer for everyone, whatever token is sent
# (tests/api/test_funds_public.py). Checked below: none of them asks for a token.
PUBLIC = {
    "listPublicProjects": ("/api/v1/public/projects", {"region": VILLAGE, "year": LAST_YEAR}),
    "getPublicProject": ("/api/v1/public/projects/987654321", None),
    "getPublicFundSummary": ("/api/v1/public/fund-allocations", {"region": VILLAGE, "year": LAST_YEAR}),
}
# Path parameters naming region-scoped rows (checked before a 403, see services/api/deps.py).
SCOPED_PATH_OBJECTS = (
    "{household_id}",
    "{person_id}",
    "{member_id}",
    "{record_id}",
    "{clue_id}",
    "{case_id}",
    "{assisting_case_id}",
    "{measure_id}",
    "{policy_id}",
    "{run_id}",
    "{quarantine_id}",
    "{finding_id}",
    "{fund_id}",
    "{project_id}",
    "{approved_project_id}",
    "{fund_policy_id}",
    "{accepted_project_id}",
    "{asset_id}",
    "{fund_finding_id}",
    "{sync_policy_id}",
    "{cadre_id}",
    "{roster_member_id}",
    "{attendance_id}",
    "{campaign_id}",
    "{campaign_visit_id}",
    "{clearing_entry_id}",
    "{rectification_id}",
    "{requested_rectification_id}",
    "{report_id}",
)
# Keys of a target that the fake targets below need besides ids.
FAKE = dict.fromkeys(
    (
        "village",
        "member_id",
        "other_household_id",
        "id_number",
        "household_id",
        "user_id",
        "cadre_id",
        "county",
        "source",
        "fund_id",
        "approved_project_id",
        "month",
        "team_member_ids",
    ),
    1,
)


@pytest.fixture
async def client(settings, db, tmp_path):
    """The app with department sources in both test counties (each target gets its own)."""
    app = create_app(settings_with_sources(settings, tmp_path), database=db)
    async with _client(app) as c:
        yield c


def _scopes() -> dict[str, set[str]]:
    spec = create_app(Settings(env="test")).openapi()
    return {
        op["operationId"]: {s for req in op.get("security", []) for scopes in req.values() for s in scopes}
        for item in spec["paths"].values()
        for op in item.values()
    }


def test_every_declared_permission_is_a_scope_in_the_spec():
    scopes = _scopes()
    for op, case in cases(FAKE).items():
        declared = {case.permission.value} if case.permission else set()
        assert declared <= scopes[op], f"{op}: the matrix expects {declared}, the route declares {scopes[op]}"


def test_every_route_is_in_the_matrix():
    app = create_app(Settings(env="test"))
    ops = {
        op["operationId"]
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for op in item.values()
    }
    assert ops - NOT_REGION_SCOPED - set(PUBLIC) == set(cases(FAKE)), (
        "describe new routes in tests/api/test_scope_matrix.py"
    )
    assert set(PUBLIC) <= ops


def test_public_operations_declare_no_security():
    spec = create_app(Settings(env="test")).openapi()
    public = {
        op["operationId"]: op for item in spec["paths"].values() for op in item.values() if op["operationId"] in PUBLIC
    }
    assert set(public) == set(PUBLIC)
    assert all(op["security"] == [] for op in public.values())  # an explicit "no token needed"
    # Every other /api/v1 operation but login asks for a token.
    others = [
        op
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for op in item.values()
        if op["operationId"] not in PUBLIC and op["operationId"] != "login"
    ]
    assert all(op.get("security") and {} not in op["security"] for op in others)


async def test_public_operations_answer_without_token(client, auth):
    """No token, a broken one, or any user's: the same answer (a missing project is 404 for all)."""
    for op, (path, params) in PUBLIC.items():
        answers = []
        for headers in (
            {},
            {"Authorization": "Bearer broken"},
            auth("village_staff.village"),
            auth("county_staff.other"),
        ):
            r = await client.get(path, params=params, headers=headers)
            assert r.status_code != 401 and "www-authenticate" not in r.headers, op
            answers.append((r.status_code, {k: v for k, v in r.json().items() if k not in STRIP}))
        assert all(a == answers[0] for a in answers), op
        assert answers[0][0] == (404 if op == "getPublicProject" else 200), (op, answers[0])


async def _audit_event(db, village) -> int:
    from services.core.audit import AuditRecord, record

    session = db.session()
    try:
        ref = await record(session, AuditRecord(action="household.create", region_code=village))
        await session.commit()
    finally:
        await session.close()
    return ref.id


async def _make_target(client, auth, db, settings, user, village):
    h = auth(user)
    head = person("head")
    hh = (
        await client.post(
            "/api/v1/households",
            json=household(region=village, members=[head, person("spouse"), person("child")]),
            headers=h,
        )
    ).json()
    other = (
        await client.post("/api/v1/households", json=household(region=village, members=[person("head")]), headers=h)
    ).json()
    rec = (await client.post(f"/api/v1/households/{hh['id']}/income-records", json=_income(), headers=h)).json()
    line = await client.put(
        f"/api/v1/income-lines/{LAST_YEAR}/52", json={"amount": "6000.00"}, headers=auth("county_staff.province")
    )
    assert line.status_code == 201, line.text
    policy = await client.post(
        "/api/v1/monitoring-policies",
        headers=h,
        json={"region_prefix": village, "year": LAST_YEAR, "values": {"plan_days": 7}},
    )
    assert policy.status_code == 201, policy.text
    thresholds = await client.post(
        "/api/v1/sync-policies",
        headers=h,
        json={"region_prefix": village[:6], "year": LAST_YEAR, "values": {"new_grant_months": 9}},
    )
    assert thresholds.status_code == 201, thresholds.text
    session = db.session()
    account = User(
        username=f"target.{village}",
        display_name="目标",
        password_hash=hash_password("Target-Pass-2026"),
        role="grid_worker",
        region_prefix=village,
    )
    system = ApiClient(name=f"target.{village}", permissions=["persons:lookup"], region_prefix=village)
    session.add_all([account, system])
    await session.flush()
    subscription = subscription_row(system.id, village)
    session.add(subscription)
    await session.commit()
    monitoring = await monitoring_objects(client, h, db, hh["id"], other["id"])
    sync = await sync_objects(db, settings, village, hh)
    funds = await funds_objects(client, h, village, hh["id"])
    assets = await asset_objects(db, village)
    fieldwork = await fieldwork_objects(client, h, village, hh["id"], other["id"])
    ledgers = await ledger_objects(db, village, hh["id"])
    return {
        **ledgers,
        **await report_objects(db, village),
        **monitoring,
        **fieldwork,
        **sync,
        **funds,
        **assets,
        "user_id": account.id,
        "cadre_id": account.id,
        "client_id": system.id,
        "subscription_id": subscription.id,
        "village": village,
        "household_id": hh["id"],
        "person_id": hh["members"][0]["id"],
        "member_id": hh["members"][2]["id"],
        "record_id": rec["id"],
        "code": village,
        "other_household_id": other["id"],
        "id_number": head["id_number"],
        "event_id": await _audit_event(db, village),
        "line_year": LAST_YEAR,
        "province": "52",
        "policy_id": policy.json()["id"],
        "sync_policy_id": thresholds.json()["id"],
    }


def _visible(username: str, village: str, county_level: bool = False) -> bool:
    return (village[:6] if county_level else village).startswith(USERS[username][1])


async def _etag(client, kind, t, headers):
    path = {
        "household": f"/api/v1/households/{t['household_id']}",
        "person": f"/api/v1/persons/{t['person_id']}",
        "income": f"/api/v1/income-records/{t['record_id']}",
        "guarantees": f"/api/v1/households/{t['household_id']}/guarantees",
        "user": f"/api/v1/admin/users/{t['user_id']}",
        "client": f"/api/v1/admin/clients/{t['client_id']}",
        "subscription": f"/api/v1/subscriptions/{t['subscription_id']}",
        "clue": f"/api/v1/risk-clues/{t['clue_id']}",
        "case": f"/api/v1/monitoring-cases/{t['case_id']}",
        "assisting_case": f"/api/v1/monitoring-cases/{t['assisting_case_id']}",
        "measure": f"/api/v1/measures/{t['measure_id']}",
        "income_line": f"/api/v1/income-lines/{t['line_year']}/{t['province']}",
        "policy": f"/api/v1/monitoring-policies/{t['policy_id']}",
        "finding": f"/api/v1/findings/{t['finding_id']}",
        "fund": f"/api/v1/funds/{t['fund_id']}",
        "project": f"/api/v1/projects/{t['project_id']}",
        "fund_policy": f"/api/v1/fund-policies/{t['fund_policy_id']}",
        "sync_policy": f"/api/v1/sync-policies/{t['sync_policy_id']}",
        "asset": f"/api/v1/assets/{t['asset_id']}",
        "roster_member": f"/api/v1/field-roster/{t['roster_member_id']}",
        "attendance": f"/api/v1/resident-attendance/{t['attendance_id']}",
        "campaign": f"/api/v1/campaigns/{t['campaign_id']}",
        "campaign_visit": f"/api/v1/campaign-visits/{t['campaign_visit_id']}",
        "clearing_entry": f"/api/v1/clearing-entries/{t['clearing_entry_id']}",
        "rectification": f"/api/v1/rectifications/{t['rectification_id']}",
        "requested_rectification": f"/api/v1/rectifications/{t['requested_rectification_id']}",
    }[kind]
    r = await client.get(path, headers=headers)
    return r.headers.get("etag", '"none"')


async def _send(client, case: Case, t, headers):
    path = case.path.format(**t)
    h = dict(headers)
    if case.needs_if_match:
        h["If-Match"] = await _etag(client, case.needs_if_match, t, headers)
    return await client.request(
        case.method, path, json=case.body, params=case.params, data=case.form, files=case.files, headers=h
    )


STRIP = ("request_id", "instance", "detail", "errors")


@pytest.mark.parametrize("target_village", [VILLAGE, OTHER_COUNTY_VILLAGE])
async def test_access_matrix(client, auth, db, settings, target_village):
    creator = "county_staff.county" if target_village == VILLAGE else "county_staff.other"
    t = await _make_target(client, auth, db, settings, creator, target_village)
    scopes = _scopes()
    missing = {
        **t,
        **dict.fromkeys(
            (
                "household_id",
                "person_id",
                "member_id",
                "record_id",
                "event_id",
                "user_id",
                "client_id",
                "subscription_id",
                "clue_id",
                "case_id",
                "assisting_case_id",
                "policy_id",
                "run_id",
                "quarantine_id",
                "finding_id",
                "fund_id",
                "project_id",
                "approved_project_id",
                "fund_policy_id",
                "accepted_project_id",
                "asset_id",
                "fund_finding_id",
                "sync_policy_id",
                "cadre_id",
                "roster_member_id",
                "attendance_id",
                "campaign_id",
                "campaign_visit_id",
                "clearing_entry_id",
                "rectification_id",
                "requested_rectification_id",
                "report_id",
            ),
            MISSING,
        ),
        "measure_id": "00000000-0000-4000-8000-000000000000",
        "source": "no-such-source",
        "county": "529903",
        "code": "529901001999",
        "village": "529901001999",
        "id_number": person("head")["id_number"],
    }
    failures = []
    described = cases(t)
    for op, case in described.items():
        for username, (role, prefix) in USERS.items():
            headers = auth(username)
            savepoint = await db.connection.begin_nested()
            try:
                r = await _send(client, case, t, headers)
            finally:
                await savepoint.rollback()
            visible = case.targetless or _visible(username, target_village, case.county_level)
            if case.county_wide:
                visible = t["county"].startswith(prefix) or prefix.startswith(t["county"])
            if scopes[op] <= {p.value for p in PERMISSIONS[role]}:
                expected = case.ok if visible else 404
                if case.province_wide and not (len(prefix) <= 2 and t["province"].startswith(prefix)):
                    expected = 403
                if case.county_wide and case.method != "GET" and visible and not t["county"].startswith(prefix):
                    expected = 403
            elif not visible and any(name in case.path for name in SCOPED_PATH_OBJECTS):
                expected = 404
            else:
                expected = 403
            if case.clients_only or (case.user_needs is not None and case.user_needs not in PERMISSIONS[role]):
                expected = 403
            if r.status_code != expected:
                failures.append(f"{op} as {username} on {target_village}: {r.status_code} != {expected} {r.text[:160]}")
                continue
            if r.is_success and ("etag" in r.headers) != (op in ETAGGED):  # the contract's ETag (conditional.py)
                failures.append(
                    f"{op}: answers {'with' if 'etag' in r.headers else 'without'} an ETag, "
                    f"services/api/conditional.ETAGGED says otherwise"
                )
            if expected == 404:
                savepoint = await db.connection.begin_nested()
                try:
                    ghost = await _send(client, cases(missing)[op], missing, headers)
                finally:
                    await savepoint.rollback()
                a = {k: v for k, v in r.json().items() if k not in STRIP}
                b = {k: v for k, v in ghost.json().items() if k not in STRIP}
                if ghost.status_code != 404 or a != b:
                    failures.append(
                        f"{op} as {username}: out-of-scope {a} differs from missing {ghost.status_code} {b}"
                    )
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} failures)"


async def test_requests_without_token_are_401(client):
    ids = {
        "household_id": 1,
        "person_id": 1,
        "member_id": 1,
        "record_id": 1,
        "user_id": 1,
        "client_id": 1,
        "subscription_id": 1,
        "event_id": 1,
        "code": VILLAGE,
        "clue_id": 1,
        "case_id": 1,
        "assisting_case_id": 1,
        "measure_id": "00000000-0000-4000-8000-000000000000",
        "line_year": LAST_YEAR,
        "province": "52",
        "policy_id": 1,
        "run_id": 1,
        "quarantine_id": 1,
        "finding_id": 1,
        "source": "civil-affairs",
        "county": "529901",
        "fund_id": 1,
        "project_id": 1,
        "approved_project_id": 1,
        "fund_policy_id": 1,
        "accepted_project_id": 1,
        "asset_id": 1,
        "fund_finding_id": 1,
        "sync_policy_id": 1,
        "cadre_id": 1,
        "roster_member_id": 1,
        "attendance_id": 1,
        "campaign_id": 1,
        "campaign_visit_id": 1,
        "clearing_entry_id": 1,
        "rectification_id": 1,
        "requested_rectification_id": 1,
        "report_id": 1,
    }
    for op, case in cases(
        {
            "village": VILLAGE,
            "other_household_id": 2,
            "id_number": person("head")["id_number"],
            "month": "2026-11",
            "team_member_ids": [1, 2],
            **ids,
        }
    ).items():
        r = await client.request(
            case.method, case.path.format(**ids), json=case.body, params=case.params, data=case.form, files=case.files
        )
        assert r.status_code == 401, op
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith("application/problem+json")
