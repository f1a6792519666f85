"""Persons: lookup by ID number, updates with ETags, moves, deaths, history."""

from datetime import timedelta

from services.core.timeutil import today as china_today
from tests.api.test_households import create
from tests.factories import VILLAGE_2, code_of, household, person


async def test_lookup_by_id_number_in_body(client, auth):
    member = person("head")
    body = await create(client, auth, members=[member])
    r = await client.post(
        "/api/v1/persons/lookup", json={"id_number": member["id_number"].lower()}, headers=auth("grid_worker.village")
    )
    assert r.status_code == 200
    assert r.json()["id"] == body["members"][0]["id"]
    assert r.headers["etag"] == f'"person-{body["members"][0]["id"]}-v1"'


async def test_lookup_out_of_scope_is_identical_to_unknown(client, auth):
    member = person("head")
    await create(client, auth, members=[member], region=VILLAGE_2, user="county_staff.county")
    hidden = await client.post(
        "/api/v1/persons/lookup", json={"id_number": member["id_number"]}, headers=auth("village_staff.village")
    )
    unknown = await client.post(
        "/api/v1/persons/lookup", json={"id_number": person("head")["id_number"]}, headers=auth("village_staff.village")
    )
    assert hidden.status_code == unknown.status_code == 404
    strip = lambda p: {k: v for k, v in p.items() if k not in ("request_id", "detail")}  # noqa: E731
    assert strip(hidden.json()) == strip(unknown.json())
    assert member["id_number"] not in hidden.text
    assert hidden.json()["detail"] == unknown.json()["detail"]


async def test_lookup_with_bad_number_is_422(client, auth):
    r = await client.post(
        "/api/v1/persons/lookup", json={"id_number": "110105194912310021"}, headers=auth("grid_worker.village")
    )
    assert (r.status_code, r.json()["field"], r.json()["errors"][0]["code"]) == (
        422,
        "id_number",
        "id_number_check_digit",
    )


async def test_update_needs_current_etag(client, auth):
    body = await create(client, auth)
    pid = body["members"][2]["id"]
    h = auth("village_staff.village")
    r = await client.patch(f"/api/v1/persons/{pid}", json={"schooling": "primary"}, headers=h)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (428, "precondition_required", "If-Match")
    etag = (await client.get(f"/api/v1/persons/{pid}", headers=h)).headers["etag"]
    r = await client.patch(f"/api/v1/persons/{pid}", json={"schooling": "primary"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["schooling"] == "primary"
    assert r.headers["etag"] != etag
    stale = await client.patch(
        f"/api/v1/persons/{pid}", json={"schooling": "dropped_out"}, headers={**h, "If-Match": etag}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
    assert r.headers["etag"] in stale.json()["detail"]
    again = await client.get(f"/api/v1/persons/{pid}", headers=h)
    assert again.json()["schooling"] == "primary"


async def test_update_refuses_head_change_and_id_number(client, auth):
    body = await create(client, auth)
    child = body["members"][2]
    h = auth("village_staff.village")
    etag = (await client.get(f"/api/v1/persons/{child['id']}", headers=h)).headers["etag"]
    r = await client.patch(f"/api/v1/persons/{child['id']}", json={"relation": "head"}, headers={**h, "If-Match": etag})
    assert (r.status_code, code_of(r)) == (422, "one_head")
    r = await client.patch(
        f"/api/v1/persons/{child['id']}", json={"id_number": "11010519491231002X"}, headers={**h, "If-Match": etag}
    )
    assert (r.status_code, r.json()["errors"][0]["code"]) == (422, "extra_forbidden")


async def test_role_without_write_permission_gets_403_inside_scope(client, auth):
    body = await create(client, auth)
    pid = body["members"][0]["id"]
    for user in ("auditor.village", "county_approver.county", "assistance_cadre.village", "admin.county"):
        r = await client.patch(f"/api/v1/persons/{pid}", json={"name": "改名"}, headers={**auth(user), "If-Match": "*"})
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), user


async def test_move_member_between_households_keeps_history(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    b = await create(client, auth)
    child = a["members"][2]
    r = await client.post(
        f"/api/v1/persons/{child['id']}/move", json={"household_id": b["id"], "relation": "grandchild"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["household_id"] == b["id"] and r.json()["relation"] == "grandchild"
    a2 = (await client.get(f"/api/v1/households/{a['id']}", headers=h)).json()
    b2 = (await client.get(f"/api/v1/households/{b['id']}", headers=h)).json()
    assert a2["member_count"] == 2 and b2["member_count"] == 4
    assert a2["version"] > a["version"]
    history = (await client.get(f"/api/v1/households/{a['id']}/history", headers=h)).json()
    left = [m for m in history["memberships"] if m["person_id"] == child["id"]]
    assert left[0]["end_reason"] == "moved" and left[0]["ended_at"]
    history_b = (await client.get(f"/api/v1/households/{b['id']}/history", headers=h)).json()
    joined = [m for m in history_b["memberships"] if m["person_id"] == child["id"]]
    assert joined[0]["start_reason"] == "moved" and joined[0]["ended_at"] is None


async def test_move_failures(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    b = await create(client, auth)
    other = await create(client, auth, region=VILLAGE_2, user="county_staff.county")
    head, child = a["members"][0], a["members"][2]
    cases = [
        (head["id"], {"household_id": b["id"], "relation": "other"}, 409, "head_cannot_leave"),
        (child["id"], {"household_id": a["id"], "relation": "child"}, 409, "same_household"),
        (child["id"], {"household_id": other["id"], "relation": "child"}, 404, "household_not_found"),
        (child["id"], {"household_id": b["id"], "relation": "head"}, 422, "one_head"),
        (other["members"][0]["id"], {"household_id": b["id"], "relation": "child"}, 404, "person_not_found"),
    ]
    for pid, body, status, code in cases:
        r = await client.post(f"/api/v1/persons/{pid}/move", json=body, headers=h)
        assert (r.status_code, code_of(r)) == (status, code), (body, r.text)


async def test_move_with_stale_if_match_is_refused(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    b = await create(client, auth)
    child = a["members"][2]
    r = await client.post(
        f"/api/v1/persons/{child['id']}/move",
        json={"household_id": b["id"], "relation": "child"},
        headers={**h, "If-Match": '"person-1-v99"'},
    )
    assert r.status_code == 412


async def test_death_removes_member_and_cannot_repeat(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    spouse = a["members"][1]
    r = await client.post(
        f"/api/v1/persons/{spouse['id']}/death", json={"date_of_death": str(china_today())}, headers=h
    )
    assert r.status_code == 200
    assert r.json()["status"] == "deceased" and r.json()["household_id"] is None
    assert (await client.get(f"/api/v1/households/{a['id']}", headers=h)).json()["member_count"] == 2
    r = await client.post(
        f"/api/v1/persons/{spouse['id']}/death", json={"date_of_death": str(china_today())}, headers=h
    )
    assert (r.status_code, r.json()["code"]) == (409, "person_deceased")
    tomorrow = str(china_today() + timedelta(days=2))
    r = await client.post(f"/api/v1/persons/{a['members'][2]['id']}/death", json={"date_of_death": tomorrow}, headers=h)
    assert (r.status_code, r.json()["errors"][0]["code"]) == (422, "date_in_future")
    # The deceased person is still on record but cannot be registered again.
    r = await client.post("/api/v1/households", json=household(members=[person("head")]), headers=h)
    assert r.status_code == 201


async def test_add_member_and_duplicate(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    baby = person("grandchild", born=china_today() - timedelta(days=40), name="张小宝")
    r = await client.post(f"/api/v1/households/{a['id']}/members", json=baby, headers=h)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/households/{a['id']}/members", json=baby, headers=h)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "id_number_duplicate_in", "id_number")
    r = await client.post(f"/api/v1/households/{a['id']}/members", json=person("head"), headers=h)
    assert (r.status_code, code_of(r)) == (422, "one_head")
