"""The access matrix, generated: every /api/v1 route × every test user × a target inside and
outside the user's regions. Outside answers 404, indistinguishable from a missing id;
inside answers 2xx when the role has the permission and 403 when it does not.

A new route fails ``test_every_route_is_in_the_matrix`` until it is described here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from services.api.app import create_app
from services.core.accounts.roles import Permission, allows
from services.core.settings import Settings
from tests.factories import OTHER_COUNTY_VILLAGE, USERS, VILLAGE, household, person

LAST_YEAR = date.today().year - 1
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
    needs_if_match: str | None = None  # "household" | "person" | "income" | "guarantees"


def cases(t):
    """Requests aimed at target ``t`` (a dict of ids of a household in some village)."""
    return {
        "listHouseholds": Case("GET", "/api/v1/households", None, params={"region": t["village"]}),
        "createHousehold": Case("POST", "/api/v1/households", Permission.households_write,
                                body=household(region=t["village"], members=[person("head")]), ok=201),
        "getHousehold": Case("GET", "/api/v1/households/{household_id}", None),
        "updateHousehold": Case("PATCH", "/api/v1/households/{household_id}", Permission.households_write,
                                body={"address": "新地址"}, needs_if_match="household"),
        "getHouseholdHistory": Case("GET", "/api/v1/households/{household_id}/history", None),
        "addMember": Case("POST", "/api/v1/households/{household_id}/members", Permission.households_write,
                          body=person("child"), ok=201),
        "splitHousehold": Case("POST", "/api/v1/households/{household_id}/split", Permission.households_write,
                               body={"person_ids": [t["member_id"]], "head_person_id": t["member_id"]}, ok=201),
        "mergeHousehold": Case("POST", "/api/v1/households/{household_id}/merge", Permission.households_write,
                               body={"household_id": t["other_household_id"]}),
        "lookupPerson": Case("POST", "/api/v1/persons/lookup", None, body={"id_number": t["id_number"]}),
        "getPerson": Case("GET", "/api/v1/persons/{person_id}", None),
        "updatePerson": Case("PATCH", "/api/v1/persons/{person_id}", Permission.households_write,
                             body={"family_doctor": True}, needs_if_match="person"),
        "movePerson": Case("POST", "/api/v1/persons/{member_id}/move", Permission.households_write,
                           body={"household_id": t["other_household_id"], "relation": "other"}),
        "recordDeath": Case("POST", "/api/v1/persons/{member_id}/death", Permission.households_write,
                            body={"date_of_death": str(date.today())}),
        "listIncomeRecords": Case("GET", "/api/v1/households/{household_id}/income-records", None),
        "createIncomeRecord": Case("POST", "/api/v1/households/{household_id}/income-records", Permission.income_write,
                                   body=_income(quarter=2), ok=201),
        "listIncomeYears": Case("GET", "/api/v1/households/{household_id}/income-years", None),
        "getIncomeRecord": Case("GET", "/api/v1/income-records/{record_id}", None),
        "updateIncomeRecord": Case("PUT", "/api/v1/income-records/{record_id}", Permission.income_write,
                                   body=_income(with_period=False), needs_if_match="income"),
        "deleteIncomeRecord": Case("DELETE", "/api/v1/income-records/{record_id}", Permission.income_write, ok=204,
                                   needs_if_match="income"),
        "getGuarantees": Case("GET", "/api/v1/households/{household_id}/guarantees", None),
        "updateGuarantees": Case("PUT", "/api/v1/households/{household_id}/guarantees", Permission.guarantees_write,
                                 body={"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
                                 needs_if_match="guarantees"),
        "listGuaranteeChanges": Case("GET", "/api/v1/households/{household_id}/guarantees/history", None),
        "listRegions": Case("GET", "/api/v1/regions", None, params={"parent": t["village"]}),
        "getRegion": Case("GET", "/api/v1/regions/{code}", None),
        "listAuditEvents": Case("GET", "/api/v1/audit/events", Permission.audit_read, params={"region": t["village"]}),
        "getAuditEvent": Case("GET", "/api/v1/audit/events/{event_id}", Permission.audit_read),
    }


NOT_REGION_SCOPED = {"login", "whoAmI"}  # no regional object involved


def test_every_route_is_in_the_matrix():
    app = create_app(Settings(env="test"))
    ops = {op["operationId"] for path, item in app.openapi()["paths"].items() if path.startswith("/api/v1")
           for op in item.values()}
    fake = {k: 1 for k in ("village", "member_id", "other_household_id", "id_number")}
    assert ops - NOT_REGION_SCOPED == set(cases(fake)), "describe new routes in tests/api/test_scope_matrix.py"


async def _audit_event(db, village) -> int:
    from services.core.audit import AuditRecord, record

    session = db.session()
    try:
        ref = await record(session, AuditRecord(action="household.create", region_code=village))
        await session.commit()
    finally:
        await session.close()
    return ref.id


async def _make_target(client, auth, user, village, db):
    h = auth(user)
    head = person("head")
    hh = (await client.post("/api/v1/households", json=household(region=village, members=[head, person("spouse"), person("child")]),
                            headers=h)).json()
    other = (await client.post("/api/v1/households", json=household(region=village, members=[person("head")]), headers=h)).json()
    rec = (await client.post(f"/api/v1/households/{hh['id']}/income-records", json=_income(), headers=h)).json()
    return {
        "village": village, "household_id": hh["id"], "person_id": hh["members"][0]["id"],
        "member_id": hh["members"][2]["id"], "record_id": rec["id"], "code": village,
        "other_household_id": other["id"], "id_number": head["id_number"], "event_id": await _audit_event(db, village),
    }


def _visible(username: str, village: str) -> bool:
    return village.startswith(USERS[username][1])


async def _etag(client, kind, t, headers):
    path = {"household": f"/api/v1/households/{t['household_id']}", "person": f"/api/v1/persons/{t['person_id']}",
            "income": f"/api/v1/income-records/{t['record_id']}",
            "guarantees": f"/api/v1/households/{t['household_id']}/guarantees"}[kind]
    r = await client.get(path, headers=headers)
    return r.headers.get("etag", '"none"')


async def _send(client, case: Case, t, headers):
    path = case.path.format(**t)
    h = dict(headers)
    if case.needs_if_match:
        h["If-Match"] = await _etag(client, case.needs_if_match, t, headers)
    return await client.request(case.method, path, json=case.body, params=case.params, headers=h)


STRIP = ("request_id", "instance", "detail", "errors")


@pytest.mark.parametrize("target_village", [VILLAGE, OTHER_COUNTY_VILLAGE])
async def test_access_matrix(client, auth, db, target_village):
    creator = "county_staff.county" if target_village == VILLAGE else "county_staff.other"
    t = await _make_target(client, auth, creator, target_village, db)
    missing = {**t, **{k: MISSING for k in ("household_id", "person_id", "member_id", "record_id", "event_id")},
               "code": "529901001999", "village": "529901001999", "id_number": person("head")["id_number"]}
    failures = []
    for op in cases(t):
        for username, (role, _prefix) in USERS.items():
            headers = auth(username)
            case = cases(t)[op]
            savepoint = await db.connection.begin_nested()
            try:
                r = await _send(client, case, t, headers)
            finally:
                await savepoint.rollback()
            if _visible(username, target_village):
                expected = case.ok if case.permission is None or allows(role, case.permission) else 403
            else:
                expected = 404
            if r.status_code != expected:
                failures.append(f"{op} as {username} on {target_village}: {r.status_code} != {expected} {r.text[:160]}")
                continue
            if expected == 404:
                savepoint = await db.connection.begin_nested()
                try:
                    ghost = await _send(client, cases(missing)[op], missing, headers)
                finally:
                    await savepoint.rollback()
                a = {k: v for k, v in r.json().items() if k not in STRIP}
                b = {k: v for k, v in ghost.json().items() if k not in STRIP}
                if ghost.status_code != 404 or a != b:
                    failures.append(f"{op} as {username}: out-of-scope {a} differs from missing {ghost.status_code} {b}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} failures)"


async def test_requests_without_token_are_401(client):
    for op, case in cases({"village": VILLAGE, "household_id": 1, "person_id": 1, "member_id": 1, "record_id": 1,
                           "code": VILLAGE, "other_household_id": 2, "id_number": person("head")["id_number"]}).items():
        r = await client.request(case.method, case.path.format(household_id=1, person_id=1, member_id=1, record_id=1,
                                                               code=VILLAGE, event_id=1),
                                 json=case.body, params=case.params)
        assert r.status_code == 401, op
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith("application/problem+json")
