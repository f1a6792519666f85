"""Mass assignment: a client cannot write what the server owns.

For every operation of the OpenAPI document that takes a JSON body, a valid body is sent
with one extra field at a time — ids, regions, versions, audit fields, status, an unknown
name — at the top level and inside each nested object (``members[0]``). Each must be
refused with 422 problem+json naming that field, and the database must not change at all
(every table's rows, versions included, are compared before and after).

Which fields are legitimate is read from the request schema in the document (a household
is created *with* a ``region_code``; a move names its target ``household_id``), so the
forbidden ones are the list below minus those. A new write operation fails
``test_every_write_operation_has_a_valid_body`` until it gets a valid body in ``VALID``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services.api.app import create_app
from services.core.settings import Settings
from services.core.timeutil import today as china_today
from tests.api.asset_helpers import asset_objects
from tests.api.fieldwork_helpers import campaign_body, fieldwork_objects, member_body
from tests.api.funds_helpers import funds_objects
from tests.api.ledger_helpers import ledger_objects
from tests.api.monitoring_helpers import monitoring_objects
from tests.api.sync_helpers import sync_objects
from tests.api.world import World, income_body, make_world
from tests.dbstate import changed_tables, fingerprint
from tests.factories import VILLAGE, VILLAGE_2, household, person

DOCUMENT = create_app(Settings(env="test")).openapi()
WRITER = "county_staff.county"


def server_owned(w: World) -> dict[str, object]:
    """Fields a client may never set, with plausible values (the refusal must be about the
    field, not about its value)."""
    return {
        "id": w.home["id"],
        "region_code": VILLAGE_2,
        "household_id": w.neighbour["id"],
        "version": 7,
        "created_at": "2020-01-01T00:00:00+08:00",
        "updated_at": "2020-01-01T00:00:00+08:00",
        "created_by": 1,
        "actor_id": 1,
        "id_hash": "ab" * 32,
        "status": "dissolved",
        "is_admin_override": True,  # a name nothing knows
    }


@dataclass
class Valid:
    path: dict[str, int]  # path parameters
    body: dict
    ok: int = 200
    user: str = WRITER
    if_match: bool = False  # an action sent with POST that needs If-Match
    headers: dict | None = None  # a system client's (instead of ``user``'s)


ADMIN = "admin.county"


# operationId -> a valid request against the world, answered ``ok`` for WRITER.
VALID: dict[str, Callable[[World], Valid]] = {
    "createHousehold": lambda w: Valid({}, household(region=VILLAGE, members=[person("head"), person("child")]), 201),
    "updateHousehold": lambda w: Valid({"household_id": w.home["id"]}, {"address": "新地址"}),
    "addMember": lambda w: Valid({"household_id": w.home["id"]}, person("child", name="张小红", male=False), 201),
    "splitHousehold": lambda w: Valid(
        {"household_id": w.home["id"]},
        {"person_ids": [w.member("home", 2)], "head_person_id": w.member("home", 2)},
        201,
    ),
    "mergeHousehold": lambda w: Valid({"household_id": w.home["id"]}, {"household_id": w.neighbour["id"]}),
    "lookupPerson": lambda w: Valid({}, {"id_number": w.home_id_number}),
    "updatePerson": lambda w: Valid({"person_id": w.member("home", 2)}, {"family_doctor": True}),
    "movePerson": lambda w: Valid(
        {"person_id": w.member("home", 2)}, {"household_id": w.neighbour["id"], "relation": "other"}
    ),
    "recordDeath": lambda w: Valid({"person_id": w.member("home", 2)}, {"date_of_death": str(china_today())}),
    "createIncomeRecord": lambda w: Valid({"household_id": w.home["id"]}, income_body(quarter=2), 201),
    "updateIncomeRecord": lambda w: Valid(
        {"record_id": w.record["id"]}, {k: v for k, v in income_body().items() if k not in ("year", "quarter")}
    ),
    "updateGuarantees": lambda w: Valid(
        {"household_id": w.home["id"]},
        {"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
    ),
    "unmaskIdNumber": lambda w: Valid({"person_id": w.member("home", 0)}, {"reason": "核对身份"}),
    "changePassword": lambda w: Valid(
        {}, {"current_password": "Test-Password-1", "new_password": "Brand-New-7x!"}, 204, user="grid_worker.county"
    ),
    # No setup under way: the body is right, the state is not (409), which is enough here.
    "confirmTotp": lambda w: Valid({}, {"code": "123456"}, 409, user=ADMIN),
    "createUser": lambda w: Valid(
        {},
        {
            "username": "new.user",
            "display_name": "新用户",
            "role": "grid_worker",
            "region_prefix": VILLAGE,
            "password": "Strong-Pass-2026",
        },
        201,
        user=ADMIN,
    ),
    "updateUser": lambda w: Valid({"user_id": w.accounts["grid_worker.village"]}, {"display_name": "新名"}, user=ADMIN),
    "resetPassword": lambda w: Valid(
        {"user_id": w.accounts["grid_worker.village"]}, {"new_password": "Another-Pass-2026"}, 204, user=ADMIN
    ),
    "createClient": lambda w: Valid(
        {}, {"name": "civil.affairs", "permissions": ["persons:lookup"], "region_prefix": "529901"}, 201, user=ADMIN
    ),
    "updateClient": lambda w: Valid({"client_id": w.client["id"]}, {"description": "医保局"}, user=ADMIN),
    # monitoring (w.monitoring: see tests/api/monitoring_helpers.monitoring_objects)
    "reportRiskClue": lambda w: Valid(
        {}, {"household_id": w.home["id"], "channel": "visit", "risk_types": ["other"], "evidence": "走访发现"}, 201
    ),
    "dismissRiskClue": lambda w: Valid({"clue_id": w.monitoring["clue_id"]}, {"reason": "不属实"}, if_match=True),
    "openCaseFromClue": lambda w: Valid({"clue_id": w.monitoring["clue_id"]}, {"case_type": "marginal"}, if_match=True),
    "verifyCase": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]},
        {"decision": "approve", "consent_signed": True, "findings": "属实"},
        if_match=True,
    ),
    # The case is at its verification visit: the bodies are right, the state is not (409).
    "villageReview": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]}, {"decision": "approve"}, 409, user="village_staff.village", if_match=True
    ),
    "noticeResult": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]}, {"decision": "approve"}, 409, user="village_staff.village", if_match=True
    ),
    "townshipReview": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]},
        {"decision": "approve"},
        409,
        user="township_staff.township",
        if_match=True,
    ),
    "countyDecision": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]}, {"decision": "approve"}, 409, user="county_approver.county", if_match=True
    ),
    # The assisting case does not meet the elimination conditions (identified 50 days ago):
    # the valid proposal is refused with 409, after the body has been checked.
    "proposeElimination": lambda w: Valid(
        {"case_id": w.monitoring["assisting_case_id"]}, {"comment": "收入稳定"}, ok=409, if_match=True
    ),
    "terminateCase": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]}, {"reason": "户已注销"}, user="county_approver.county", if_match=True
    ),
    "assignCadre": lambda w: Valid(
        {"case_id": w.monitoring["assisting_case_id"]}, {"cadre_user_id": w.accounts["assistance_cadre.village"]}
    ),
    "addMeasure": lambda w: Valid(
        {"case_id": w.monitoring["assisting_case_id"]},
        {
            "category": "employment",
            "content": "推荐公益岗位",
            "responsible_unit": "县人社局",
            "start_on": str(china_today()),
        },
        201,
    ),
    "updateMeasure": lambda w: Valid(
        {"measure_id": w.monitoring["measure_id"]},
        {
            "content": "危房改造",
            "responsible_unit": "县住建局",
            "start_on": str(china_today()),
            "status": "in_progress",
        },
    ),
    # an offline upload: its items are the operations above, each checked as sent alone
    "uploadBatch": lambda w: Valid({}, {"items": [{"client_id": "mass-1", "kind": "clue", "body": {}}]}),
    "addVisit": lambda w: Valid(
        {"case_id": w.monitoring["case_id"]}, {"visited_on": str(china_today()), "findings": "了解情况"}, 201
    ),
    # follow-up (docs/follow-up.md)
    "assignHouseholdCadre": lambda w: Valid(
        {"household_id": w.home["id"]}, {"cadre_user_id": w.accounts["assistance_cadre.village"]}, 201
    ),
    "addFollowUpVisit": lambda w: Valid(
        {"household_id": w.home["id"]}, {"visited_on": str(china_today()), "findings": "定期走访"}, 201
    ),
    # monitoring reports and policy settings
    "putIncomeLine": lambda w: Valid(
        {"year": w.line["year"], "province_code": "52"}, {"amount": "6100.00"}, user="county_staff.province"
    ),
    "raiseUncoveredClues": lambda w: Valid({}, {"year": w.line["year"], "region": VILLAGE}),
    "createMonitoringPolicy": lambda w: Valid(
        {}, {"region_prefix": VILLAGE, "year": w.line["year"], "values": {"plan_days": 8}}, 201
    ),
    "updateMonitoringPolicy": lambda w: Valid({"policy_id": w.policy["id"]}, {"values": {"plan_days": 9}}),
    # department sync (w.sync: see tests/api/sync_helpers.sync_objects)
    "createSyncRun": lambda w: Valid({}, {"source": "civil-affairs", "county": "529901"}, 202),
    "reprocessQuarantine": lambda w: Valid({}, {"source": "civil-affairs", "county": "529901"}, 202),
    "updateFinding": lambda w: Valid(
        {"finding_id": w.sync["finding_id"]}, {"status": "resolved", "note": "已补缴医保"}
    ),
    # funds and projects (w.funds: see tests/api/funds_helpers.funds_objects)
    "createFund": lambda w: Valid(
        {},
        {
            "year": china_today().year,
            "level": "county",
            "kind": "transition",
            "name": "县级衔接资金",
            "region_code": "529901000000",
            "amount": "1000.00",
            "received_on": str(china_today()),
        },
        201,
    ),
    "updateFund": lambda w: Valid(
        {"fund_id": w.funds["fund_id"]}, {"name": "更正", "amount": "2000000.00", "received_on": str(china_today())}
    ),
    "allocateFund": lambda w: Valid(
        {"fund_id": w.funds["fund_id"]},
        {"project_id": w.funds["approved_project_id"], "amount": "10.00", "allocated_on": str(china_today())},
        201,
    ),
    "importDisbursements": lambda w: Valid(
        {},
        {
            "rows": [
                {
                    "project_id": w.funds["approved_project_id"],
                    "fund_id": w.funds["fund_id"],
                    "amount": "1.00",
                    "paid_on": str(china_today()),
                    "voucher_ref": "导-1",
                    "item": "materials",
                }
            ]
        },
    ),
    "createFundPolicy": lambda w: Valid(
        {}, {"region_prefix": VILLAGE, "year": w.line["year"], "values": {"asset_idle_months": 8}}, 201
    ),
    "updateFundPolicy": lambda w: Valid(
        {"fund_policy_id": w.funds["fund_policy_id"]}, {"values": {"asset_idle_months": 10}}
    ),
    # the cross-check thresholds (a county's: cross-checks run per county)
    "createSyncPolicy": lambda w: Valid(
        {}, {"region_prefix": VILLAGE[:6], "year": w.line["year"], "values": {"new_grant_months": 6}}, 201
    ),
    "updateSyncPolicy": lambda w: Valid({"sync_policy_id": w.sync_policy_id}, {"values": {"new_grant_months": 18}}),
    "createProject": lambda w: Valid(
        {},
        {
            "year": china_today().year,
            "region_code": VILLAGE,
            "name": "产业路",
            "category": "infrastructure",
            "implementing_unit": "县交通局",
            "budget": "10.00",
            "planned_start": str(china_today()),
            "planned_end": str(china_today()),
            "performance_targets": [{"indicator": "受益户", "target": "30"}],
        },
        201,
    ),
    "updateProject": lambda w: Valid(
        {"project_id": w.funds["project_id"]},
        {
            "name": "产业路",
            "category": "infrastructure",
            "implementing_unit": "县交通局",
            "budget": "20.00",
            "planned_start": str(china_today()),
            "planned_end": str(china_today()),
        },
    ),
    "advanceProject": lambda w: Valid(
        {"project_id": w.funds["project_id"]}, {"status": "reviewed", "on": str(china_today())}, if_match=True
    ),
    "addBeneficiary": lambda w: Valid(
        {"project_id": w.funds["project_id"]}, {"household_id": w.neighbour["id"], "benefit": "分红"}, 201
    ),
    "recordDisbursement": lambda w: Valid(
        {"project_id": w.funds["approved_project_id"]},
        {
            "fund_id": w.funds["fund_id"],
            "amount": "1.00",
            "paid_on": str(china_today()),
            "voucher_ref": "记-2",
            "item": "materials",
        },
        201,
    ),
    # project assets (w.assets: see tests/api/asset_helpers.asset_objects)
    "registerAsset": lambda w: Valid(
        {"project_id": w.assets["accepted_project_id"]},
        {
            "name": "蔬菜大棚",
            "asset_class": "operating",
            "value": "1000.00",
            "owner": "村集体",
            "handover_on": str(china_today()),
        },
        201,
    ),
    "updateAsset": lambda w: Valid({"asset_id": w.assets["asset_id"]}, {"owner": "村集体", "status": "idle"}),
    "disposeAsset": lambda w: Valid(
        {"asset_id": w.assets["asset_id"]},
        {"method": "write_off", "reason": "灭失", "approval": "批1号", "disposed_on": str(china_today())},
        if_match=True,
    ),
    "recordAssetIncome": lambda w: Valid(
        {"asset_id": w.assets["asset_id"]},
        {
            "received_on": str(china_today()),
            "amount": "100.00",
            "shares": [{"household_id": w.home["id"], "amount": "60.00"}],
        },
        201,
    ),
    "scanFundFindings": lambda w: Valid({}, {"region": VILLAGE}),
    # field work (w.fieldwork: see tests/api/fieldwork_helpers.fieldwork_objects)
    "createRosterMember": lambda w: Valid({}, member_body(VILLAGE), 201),
    "updateRosterMember": lambda w: Valid({"roster_member_id": w.fieldwork["roster_member_id"]}, {"note": "第一书记"}),
    "recordAttendance": lambda w: Valid(
        {"roster_member_id": w.fieldwork["roster_member_id"]}, {"month": w.fieldwork["month"], "days": 21}, 201
    ),
    "updateAttendance": lambda w: Valid({"attendance_id": w.fieldwork["attendance_id"]}, {"note": "已核对签到表"}),
    "updateCampaignVisit": lambda w: Valid(
        {"campaign_visit_id": w.fieldwork["campaign_visit_id"]}, {"findings": "复核：墙体裂缝已加固"}
    ),
    "createCampaign": lambda w: Valid({}, campaign_body(VILLAGE[:9]), 201),
    "updateCampaign": lambda w: Valid({"campaign_id": w.fieldwork["campaign_id"]}, {"name": "冬季大排查"}),
    "assignCampaignTeam": lambda w: Valid(
        {"campaign_id": w.fieldwork["campaign_id"]},
        {"village": VILLAGE, "member_ids": w.fieldwork["team_member_ids"]},
        201,
    ),
    "recordCampaignVisit": lambda w: Valid(
        {"campaign_id": w.fieldwork["campaign_id"]},
        {"household_id": w.home["id"], "checks": ["income", "water"], "problems": ["water"], "findings": "水量不足"},
        201,
    ),
    "raiseClueFromVisit": lambda w: Valid(
        {"campaign_visit_id": w.fieldwork["campaign_visit_id"]}, {"risk_types": ["unsafe_housing"]}, 201
    ),
    # the ledgers (w.ledgers: see tests/api/ledger_helpers.ledger_objects)
    "openClearingEntry": lambda w: Valid(
        {}, {"household_id": w.home["id"], "kind": "housing", "description": "墙体开裂"}, 201
    ),
    "clearClearingEntry": lambda w: Valid(
        {"clearing_entry_id": w.ledgers["clearing_entry_id"]},
        {"evidence": "已通自来水", "evidence_refs": ["照片-1"]},
        if_match=True,
    ),
    "scanClearingEntries": lambda w: Valid({}, {"region": VILLAGE}),
    "recordRectification": lambda w: Valid(
        {},
        {
            "region_code": VILLAGE,
            "source": "audit",
            "title": "资产未登记",
            "description": "审计发现",
            "responsible_unit": "村委会",
        },
        201,
    ),
    "addRectificationStep": lambda w: Valid(
        {"rectification_id": w.ledgers["rectification_id"]}, {"content": "已入户核实"}, 201
    ),
    "requestRectificationClosure": lambda w: Valid(
        {"rectification_id": w.ledgers["rectification_id"]},
        {"evidence": "已整改", "evidence_refs": ["验收单-2"]},
        if_match=True,
    ),
    "decideRectificationClosure": lambda w: Valid(
        {"rectification_id": w.ledgers["requested_rectification_id"]},
        {"approve": True},
        user="county_approver.county",
        if_match=True,
    ),
    # events: subscriptions are a system client's; the county's administrator manages them too
    "createSubscription": lambda w: Valid(
        {},
        {"types": ["household.created"], "callback_url": "https://dept.example.cn/h2"},
        201,
        headers=w.subscription["headers"],
    ),
    "updateSubscription": lambda w: Valid({"subscription_id": w.subscription["id"]}, {"status": "paused"}, user=ADMIN),
    "redeliver": lambda w: Valid({"subscription_id": w.subscription["id"]}, {}, user=ADMIN),
    "replayEvents": lambda w: Valid({"subscription_id": w.subscription["id"]}, {"from_event_id": 1}, user=ADMIN),
}


# ---- the document ---------------------------------------------------------------------


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = DOCUMENT["components"]["schemas"][name]
    for key in ("anyOf", "oneOf"):  # ``X | None``: the object alternative
        if key in schema:
            objects = [_resolve(s) for s in schema[key] if _resolve(s).get("type") in ("object", "array")]
            if objects:
                return objects[0]
    return schema


def write_operations() -> Iterator[tuple[str, str, str, dict]]:
    """(operationId, method, path, body schema) of every operation with a JSON body."""
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield op["operationId"], method.upper(), path, _resolve(content["application/json"]["schema"])


WRITES = {op_id: (method, path, schema) for op_id, method, path, schema in write_operations()}


def objects_in(body: dict, schema: dict, where: str = "") -> Iterator[tuple[str, dict, set[str]]]:
    """Every object of the body that the schema describes field by field: (its location,
    the object itself, its legitimate field names). Free-form maps (``relations``,
    ``details``) have no field names to protect and are not entered."""
    props = schema.get("properties")
    if props is None:
        return
    yield where, body, set(props)
    for name, value in body.items():
        sub = _resolve(props.get(name, {}))
        if isinstance(value, dict):
            yield from objects_in(value, sub, f"{where}{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield from objects_in(value[0], _resolve(sub.get("items", {})), f"{where}{name}[0].")


# ---- tests ------------------------------------------------------------------------------


def test_every_write_operation_has_a_valid_body():
    missing = set(WRITES) - set(VALID)
    assert not missing, f"give {sorted(missing)} a valid request in VALID (tests/api/test_mass_assignment.py)"
    assert not set(VALID) - set(WRITES), "VALID names operations that take no JSON body any more"


def test_the_legitimate_fields_come_from_the_document():
    """The exceptions the issue names, read from the schemas rather than listed here."""

    def legit(op_id):
        return set(WRITES[op_id][2]["properties"])

    assert "region_code" in legit("createHousehold") and "region_code" in legit("updateHousehold")
    assert "region_code" in legit("splitHousehold") and "household_id" in legit("movePerson")
    assert "household_id" in legit("mergeHousehold") and "region_code" not in legit("updatePerson")


async def _current_etag(client, headers: dict, path: str) -> str:
    """The ETag of what a write changes: of its own path, or of the nearest path above it
    that has one (``/risk-clues/1`` for ``/risk-clues/1/dismissal``)."""
    while path.count("/") > 3:
        r = await client.get(path, headers=headers)
        if r.status_code == 200 and "etag" in r.headers:
            return r.headers["etag"]
        path = path.rsplit("/", 1)[0]
    return '"none"'


async def _send(client, auth, op_id: str, valid: Valid, body: dict):
    method, path, _ = WRITES[op_id]
    headers = dict(valid.headers) if valid.headers is not None else auth(valid.user)
    path = path.format(**valid.path)
    if method in ("PUT", "PATCH") or valid.if_match:
        headers["If-Match"] = await _current_etag(client, headers, path)
    return await client.request(method, path, json=body, headers=headers)


async def full_world(client, auth, db, settings) -> World:
    """The world with every kind of object a write operation of ``VALID`` may name."""
    world = await make_world(client, auth)
    world.monitoring = await monitoring_objects(client, auth(WRITER), db, world.home["id"], world.neighbour["id"])
    world.sync = await sync_objects(db, settings, VILLAGE, world.home)
    world.funds = await funds_objects(client, auth(WRITER), VILLAGE, world.home["id"])
    world.assets = await asset_objects(db, VILLAGE)
    world.fieldwork = await fieldwork_objects(client, auth(WRITER), VILLAGE, world.home["id"], world.neighbour["id"])
    world.ledgers = await ledger_objects(db, VILLAGE, world.home["id"])
    thresholds = await client.post(
        "/api/v1/sync-policies",
        headers=auth(WRITER),
        json={"region_prefix": VILLAGE[:6], "year": world.line["year"] - 1, "values": {"new_grant_months": 9}},
    )
    assert thresholds.status_code == 201, thresholds.text
    world.sync_policy_id = thresholds.json()["id"]
    world.subscription = await subscription_objects(db, settings, world.client)
    return world


async def subscription_objects(db, settings, client: dict) -> dict:
    """A subscription of the world's system client, and headers with a token of that client
    allowed to read the registry (so that it may subscribe to household events)."""
    from sqlalchemy import text

    from services.core.accounts.roles import Permission, Role
    from services.core.accounts.security import Caller, issue_token
    from tests.api.subscription_helpers import subscription_row

    # A token's grants must be the client's own: let it read the registry.
    await db.connection.execute(
        text("UPDATE api_clients SET permissions = array_append(permissions, 'registry:read') WHERE id = :id"),
        {"id": client["id"]},
    )
    session = db.session()
    subscription = subscription_row(client["id"], client["region_prefix"])
    session.add(subscription)
    await session.commit()
    caller = Caller(
        None,
        client["name"],
        Role.department_system,
        client["region_prefix"],
        client_id=client["id"],
        granted=frozenset({Permission.registry_read, *(Permission(p) for p in client["permissions"])}),
    )
    token, _ = issue_token(settings, caller)
    return {"id": subscription.id, "headers": {"Authorization": f"Bearer {token}"}}


@pytest.mark.parametrize("op_id", sorted(VALID))
async def test_server_owned_fields_are_refused_and_nothing_changes(op_id, client, auth, db, settings):
    world = await full_world(client, auth, db, settings)
    _, _, schema = WRITES[op_id]
    valid = VALID[op_id](world)

    # The valid body itself is accepted, so the refusals below are about the extra field.
    savepoint = await db.connection.begin_nested()
    try:
        r = await _send(client, auth, op_id, valid, valid.body)
        assert r.status_code == valid.ok, f"the valid request of {op_id} fails: {r.status_code} {r.text[:300]}"
    finally:
        await savepoint.rollback()

    failures = []
    injected = 0
    for where, obj, legitimate in list(objects_in(valid.body, schema)):
        for name, value in server_owned(world).items():
            if name in legitimate:
                continue
            injected += 1
            before = await fingerprint(db.connection)
            obj[name] = value
            try:
                r = await _send(client, auth, op_id, valid, valid.body)
            finally:
                del obj[name]
            label = f"{op_id} with {where}{name}"
            if r.status_code != 422 or not r.headers.get("content-type", "").startswith("application/problem+json"):
                failures.append(f"{label}: {r.status_code} {r.text[:200]}")
                continue
            fields = [e["field"] for e in r.json().get("errors", [])]
            if fields != [f"{where}{name}"] or r.json().get("field") != f"{where}{name}":
                failures.append(f"{label}: the problem names {fields}, not {where}{name}")
            changed = changed_tables(before, await fingerprint(db.connection))
            if changed:
                failures.append(f"{label}: tables changed: {changed}")
    assert injected, f"{op_id}: every server-owned field is legitimate here?"
    assert not failures, "\n".join(failures)


async def test_an_extra_field_is_refused_even_with_an_invalid_body(client, auth, db):
    """The refusal does not depend on the rest of the body being right: both faults are named."""
    world = await make_world(client, auth)
    before = await fingerprint(db.connection)
    r = await client.post(
        f"/api/v1/households/{world.home['id']}/merge", json={"household_id": "x", "version": 3}, headers=auth(WRITER)
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"household_id", "version"}
    assert await fingerprint(db.connection) == before
