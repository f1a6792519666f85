"""The change feed (``GET /api/v1/changes``): a first sync of everything in the caller's
regions, then each object that changed since the token, once, as it is now, and tombstones
for objects that left the regions; never a change missed, never health details."""

from __future__ import annotations

import json

from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, person

CHANGES = "/api/v1/changes"


async def sync(client, auth, user: str, family: str, since: str | None = None, limit: int = 2) -> tuple[list, str]:
    """Every item of one sync (all pages), and the token to keep."""
    items: list = []
    while True:
        params = {"family": family, "limit": limit, **({"since": since} if since else {})}
        r = await client.get(CHANGES, params=params, headers=auth(user))
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["family"] == family
        items += page["items"]
        since = page["next"]
        if not page["more"]:
            return items, since


async def test_a_village_syncs_everything_then_what_changed(committing_client, auth):
    client = committing_client
    mine = [await create(client, auth, members=[person("head"), person("child")]) for _ in range(3)]
    other = await create(client, auth, user="village_staff.village2", region=VILLAGE_2, members=[person("head")])
    await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE, members=[person("head")])

    items, token = await sync(client, auth, "village_staff.village", "households")
    assert sorted(int(i["id"]) for i in items) == sorted(h["id"] for h in mine)
    assert all(i["change"] == "upsert" and i["data"]["region_code"] == VILLAGE for i in items)
    assert items[0]["data"]["members"] and "health" not in json.dumps(items)

    # Nothing changed: nothing new, the same token works again.
    assert (await sync(client, auth, "village_staff.village", "households", token))[0] == []

    # Offline for a while: a new household, a change, and a child moving to village 2.
    new = await create(client, auth, members=[person("head")])
    changed = mine[0]
    r = await client.patch(
        f"/api/v1/households/{changed['id']}",
        json={"address": "三组"},
        headers=auth("village_staff.village", **{"If-Match": f'"household-{changed["id"]}-v{changed["version"]}"'}),
    )
    assert r.status_code == 200, r.text
    child = next(m for m in mine[1]["members"] if m["relation"] == "child")
    r = await client.post(
        f"/api/v1/persons/{child['id']}/move",
        json={"household_id": other["id"], "relation": "other"},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 200, r.text

    items, token2 = await sync(client, auth, "village_staff.village", "households", token)
    by_id = {int(i["id"]): i for i in items}
    assert set(by_id) == {new["id"], changed["id"], mine[1]["id"]}  # each once; the other county's never
    assert by_id[changed["id"]]["data"]["address"] == "三组"
    assert by_id[mine[1]["id"]]["data"]["member_count"] == 1
    # Persons: the child left the village (a tombstone) and arrived in village 2.
    people, _ = await sync(client, auth, "village_staff.village", "persons", token_of(token, "persons"))
    assert {"id": str(child["id"]), "change": "removed", "data": None} in people
    there, _ = await sync(client, auth, "village_staff.village2", "persons")
    assert any(p["id"] == str(child["id"]) and p["change"] == "upsert" for p in there)
    # And after that sync, nothing more.
    assert (await sync(client, auth, "village_staff.village", "households", token2))[0] == []


def token_of(token: str, family: str) -> str:
    """The same position in another family's feed (a phone keeps one token per family)."""
    from services.api.events.feed import decode_token, encode_token

    event, _ = decode_token("households", token)
    return encode_token(family, event)


async def test_bad_tokens_and_families(committing_client, auth):
    client = committing_client
    headers = auth("county_staff.county", **{"Accept-Language": "zh"})
    _, token = await sync(client, auth, "county_staff.county", "households")
    for since in ("garbage", "eyJmIjoiaG91c2Vob2xkcyJ9", token + "x"):
        r = await client.get(CHANGES, params={"family": "households", "since": since}, headers=headers)
        assert r.status_code == 422, since
        assert r.json()["errors"][0]["field"] == "since"
    r = await client.get(CHANGES, params={"family": "persons", "since": token}, headers=headers)
    assert r.status_code == 422 and "令牌" in r.json()["detail"]  # another family's token
    assert (await client.get(CHANGES, params={"family": "farms"}, headers=headers)).status_code == 422
    assert (await client.get(CHANGES, headers=headers)).status_code == 422  # family is required
    r = await client.get(CHANGES, params={"family": "cases"}, headers=auth("department_system.county"))
    assert r.status_code == 403
    assert (await client.get(CHANGES, params={"family": "households"})).status_code == 401


async def test_monitoring_families_answer_for_monitoring_roles(committing_client, auth):
    client = committing_client
    for family in ("cases", "measures", "visits"):
        items, token = await sync(client, auth, "assistance_cadre.village", family)
        assert items == [] and token
