"""Households split (分户) and merge (合户), with the history kept."""

from tests.api.test_households import create
from tests.factories import VILLAGE_2, code_of, person


async def test_split_creates_household_and_records_both_sides(client, auth):
    h = auth("village_staff.village")
    members = [
        person("head", name="张父"),
        person("spouse", name="王母"),
        person("child", name="张子", male=True),
        person("child_in_law", name="李媳", male=False),
    ]
    a = await create(client, auth, members=members)
    son, wife = a["members"][2]["id"], a["members"][3]["id"]
    r = await client.post(
        f"/api/v1/households/{a['id']}/split",
        json={"person_ids": [son, wife], "head_person_id": son, "relations": {str(wife): "spouse"}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["head_name"] == "张子" and new["member_count"] == 2
    assert {m["relation"] for m in new["members"]} == {"head", "spouse"}
    assert new["category"] == a["category"]
    old = (await client.get(f"/api/v1/households/{a['id']}", headers=h)).json()
    assert old["member_count"] == 2
    events = (await client.get(f"/api/v1/households/{a['id']}/history", headers=h)).json()["events"]
    assert events[-1]["kind"] == "split_from" and events[-1]["other_household_id"] == new["id"]
    assert sorted(events[-1]["person_ids"]) == sorted([son, wife])
    new_events = (await client.get(f"/api/v1/households/{new['id']}/history", headers=h)).json()["events"]
    assert new_events[0]["kind"] == "split_off"
    # New household has its own guarantees status
    g = await client.get(f"/api/v1/households/{new['id']}/guarantees", headers=h)
    assert g.status_code == 200


async def test_split_failures(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    b = await create(client, auth)
    head, spouse, child = (m["id"] for m in a["members"])
    cases = [
        ({"person_ids": [head, spouse, child], "head_person_id": head}, 409, "split_needs_remaining"),
        ({"person_ids": [head], "head_person_id": head}, 409, "head_cannot_leave"),
        ({"person_ids": [child], "head_person_id": spouse}, 422, "one_head"),
        ({"person_ids": [b["members"][2]["id"]], "head_person_id": b["members"][2]["id"]}, 422, "person_not_member"),
        ({"person_ids": [child], "head_person_id": child, "region_code": VILLAGE_2}, 404, "region_not_found"),
    ]
    for body, status, code in cases:
        r = await client.post(f"/api/v1/households/{a['id']}/split", json=body, headers=h)
        assert (r.status_code, code_of(r)) == (status, code), (body, r.text)
    # nothing was half-done
    assert (await client.get(f"/api/v1/households/{a['id']}", headers=h)).json()["member_count"] == 3


async def test_split_with_head_leaving_names_new_head(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    head, spouse, _child = (m["id"] for m in a["members"])
    r = await client.post(
        f"/api/v1/households/{a['id']}/split",
        json={"person_ids": [head], "head_person_id": head, "remaining_head_person_id": spouse},
        headers=h,
    )
    assert r.status_code == 201
    old = (await client.get(f"/api/v1/households/{a['id']}", headers=h)).json()
    assert old["head_name"] == "王芳"


async def test_merge_moves_everyone_and_dissolves_source(client, auth):
    h = auth("village_staff.village")
    a = await create(client, auth)
    b = await create(client, auth, members=[person("head", name="赵老"), person("spouse", name="钱婆")])
    r = await client.post(
        f"/api/v1/households/{a['id']}/merge",
        json={"household_id": b["id"], "relations": {str(b["members"][0]["id"]): "parent"}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["member_count"] == 5 and merged["head_name"] == a["head_name"]
    assert sum(1 for m in merged["members"] if m["relation"] == "head") == 1
    gone = (await client.get(f"/api/v1/households/{b['id']}", headers=h)).json()
    assert gone["status"] == "dissolved" and gone["member_count"] == 0
    listed = (await client.get("/api/v1/households", headers=h)).json()["items"]
    assert b["id"] not in [x["id"] for x in listed]
    dissolved = (await client.get("/api/v1/households", params={"status": "dissolved"}, headers=h)).json()["items"]
    assert [x["id"] for x in dissolved] == [b["id"]]
    r = await client.post(f"/api/v1/households/{a['id']}/merge", json={"household_id": b["id"]}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "household_dissolved")
    r = await client.post(f"/api/v1/households/{a['id']}/merge", json={"household_id": a["id"]}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "merge_same_household")
    etag = (await client.get(f"/api/v1/households/{b['id']}", headers=h)).headers["etag"]
    r = await client.patch(f"/api/v1/households/{b['id']}", json={"address": "x"}, headers={**h, "If-Match": etag})
    assert (r.status_code, r.json()["code"]) == (409, "household_dissolved")


async def test_merge_out_of_scope_source_is_404(client, auth):
    a = await create(client, auth)
    other = await create(client, auth, region=VILLAGE_2, user="county_staff.county")
    r = await client.post(
        f"/api/v1/households/{a['id']}/merge", json={"household_id": other["id"]}, headers=auth("village_staff.village")
    )
    assert (r.status_code, r.json()["code"]) == (404, "household_not_found")
    still = await client.get(f"/api/v1/households/{other['id']}", headers=auth("county_staff.county"))
    assert still.json()["status"] == "active"


async def test_patch_household_head_and_relocation(client, auth):
    h = auth("township_staff.township")
    a = await create(client, auth)
    etag = (await client.get(f"/api/v1/households/{a['id']}", headers=h)).headers["etag"]
    spouse = a["members"][1]["id"]
    r = await client.patch(
        f"/api/v1/households/{a['id']}",
        json={
            "head_person_id": spouse,
            "former_head_relation": "spouse",
            "region_code": VILLAGE_2,
            "flags": ["relocated"],
            "resettlement_site": "县城安置区",
        },
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["head_name"] == "王芳" and body["region_code"] == VILLAGE_2
    assert all(m["region_code"] == VILLAGE_2 for m in body["members"])
    # The village it left no longer sees it.
    r = await client.get(f"/api/v1/households/{a['id']}", headers=auth("village_staff.village"))
    assert r.status_code == 404
    r = await client.get(f"/api/v1/households/{a['id']}/guarantees", headers=auth("village_staff.village2"))
    assert r.status_code == 200


async def test_monitored_category_cannot_be_edited_away(client, auth, session):
    from sqlalchemy import update

    from services.core.households.models import Household

    h = auth("township_staff.township")
    a = await create(client, auth)
    await session.execute(
        update(Household).where(Household.id == a["id"]).values(category="monitored", version=Household.version + 1)
    )
    await session.flush()
    etag = (await client.get(f"/api/v1/households/{a['id']}", headers=h)).headers["etag"]
    r = await client.patch(
        f"/api/v1/households/{a['id']}", json={"category": "ordinary"}, headers={**h, "If-Match": etag}
    )
    assert (r.status_code, r.json()["code"]) == (409, "category_monitored_reserved")
    r = await client.patch(f"/api/v1/households/{a['id']}", json={"address": "新址"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["category"] == "monitored"
