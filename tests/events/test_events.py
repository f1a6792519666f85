"""The events (issue 20): written by the database in the transaction of each change,
numbered in commit order, read after a number in the caller's regions, of the types its
role may see, without personal data."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from services.core.events.triggers import EVENT_TABLES, trigger_names
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, household, person

EVENTS = "/api/v1/events"


async def read_all(client, auth, user: str, **params) -> list[dict]:
    """Every event the user sees, page after page."""
    out, after = [], params.pop("after", 0)
    while True:
        r = await client.get(EVENTS, params={"after": after, "limit": 3, **params}, headers=auth(user))
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["items"]
        if not page["items"]:
            assert page["next_after"] == after
            return out
        assert page["next_after"] == page["items"][-1]["id"]
        after = page["next_after"]


async def test_a_new_household_is_told_without_personal_data(committing_client, auth):
    client = committing_client
    head = person("head", name="张大山", phone="13912345678")
    made = await create(client, auth, members=[head, person("spouse", male=False)], phone="13912345678")
    events = await read_all(client, auth, "county_staff.county")
    kinds = [(e["type"], e["object"]["type"]) for e in events]
    assert kinds.count(("household.created", "household")) == 1
    assert kinds.count(("person.created", "person")) == 2
    created = next(e for e in events if e["type"] == "household.created")
    assert created["object"]["id"] == str(made["id"]) and created["household_id"] == made["id"]
    assert created["region_code"] == VILLAGE and created["old_region_code"] is None
    assert created["data"]["status"] == "active" and created["data"]["member_count"] == 2
    text_of_all = json.dumps(events, ensure_ascii=False)
    for secret in ("张大山", head["id_number"], head["id_number"][-6:], "13912345678"):
        assert secret not in text_of_all
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_retried_post_takes_effect_once_and_tells_once(committing_client, auth):
    client = committing_client
    headers = auth("village_staff.village", **{"Idempotency-Key": "evt-retry-1"})
    body = household(members=[person("head")])
    first = await client.post("/api/v1/households", json=body, headers=headers)
    again = await client.post("/api/v1/households", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    events = await read_all(client, auth, "county_staff.county", types="household.created")
    assert [e["object"]["id"] for e in events] == [str(first.json()["id"])]


async def test_a_refused_write_tells_nothing(committing_client, auth):
    client = committing_client
    bad = household(members=[person("head"), person("head")])  # two heads: refused
    r = await client.post("/api/v1/households", json=bad, headers=auth("village_staff.village"))
    assert r.status_code == 422
    assert await read_all(client, auth, "county_staff.county") == []


async def test_regions_and_moves(committing_client, auth):
    client = committing_client
    here = await create(client, auth, members=[person("head"), person("child")])
    there = await create(client, auth, user="village_staff.village2", region=VILLAGE_2, members=[person("head")])
    await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE, members=[person("head")])
    child = next(m for m in here["members"] if m["relation"] == "child")
    after = (await client.get(EVENTS, headers=auth("county_staff.county"))).json()["next_after"]
    r = await client.post(
        f"/api/v1/persons/{child['id']}/move",
        json={"household_id": there["id"], "relation": "other"},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 200, r.text
    # The other county sees its own household only; ours sees none of it.
    other = await read_all(client, auth, "county_staff.other")
    assert {e["region_code"] for e in other} == {OTHER_COUNTY_VILLAGE}
    county = await read_all(client, auth, "county_staff.county")
    assert OTHER_COUNTY_VILLAGE not in {e["region_code"] for e in county}
    # The village the child left sees it go; the village it joined sees it come.
    for user in ("village_staff.village", "village_staff.village2"):
        moved = [
            e
            for e in await read_all(client, auth, user, after=after)
            if e["type"] == "person.moved" and e["object"]["id"] == str(child["id"])
        ]
        assert len(moved) == 1, user
        assert moved[0]["old_region_code"] == VILLAGE and moved[0]["region_code"] == VILLAGE_2
        assert moved[0]["data"]["household_id"] == there["id"]
    # Village 2 never saw the child's household being made.
    seen = await read_all(client, auth, "village_staff.village2")
    assert str(here["id"]) not in {e["object"]["id"] for e in seen if e["object"]["type"] == "household"}


async def test_types_the_role_may_not_see_are_refused(committing_client, auth):
    client = committing_client
    r = await client.get(
        EVENTS, params={"types": "payment.recorded"}, headers=auth("grid_worker.village", **{"Accept-Language": "zh"})
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "event_type_forbidden"
    assert problem["errors"][0]["field"] == "types"
    assert "payment.recorded" in problem["detail"] and "无权" in problem["detail"]
    # Unknown types and negative numbers are the caller's mistakes (422), not refusals.
    for params in ({"types": "household.exploded"}, {"after": "-1"}, {"after": "x"}):
        r = await client.get(EVENTS, params=params, headers=auth("county_staff.county"))
        assert r.status_code == 422, params
    assert (await client.get(EVENTS)).status_code == 401
    # A role that may see no events (the administrator) reads an empty stream.
    await create(client, auth, members=[person("head")])
    r = await client.get(EVENTS, headers=auth("admin.county"))
    assert r.status_code == 200 and r.json() == {"items": [], "next_after": 0}
    r = await client.get(EVENTS, params={"types": "household.created"}, headers=auth("admin.county"))
    assert r.status_code == 403


async def test_numbers_follow_the_commit_order(committing_client, auth, engine):
    """A transaction that changed a row first but commits last gets the larger number, so a
    reader that went on from the first number it saw still finds it."""
    await create(committing_client, auth, members=[person("head")])

    async def insert(conn, number: str) -> None:
        await conn.execute(
            text(
                "INSERT INTO households (household_no, region_code, category, flags, status, member_count, version) "
                "VALUES (:no, :region, 'ordinary', '{}', 'active', 0, 1)"
            ),
            {"no": number, "region": VILLAGE},
        )

    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await insert(first, "EVT-FIRST")  # changed first …
        await second.begin()
        await insert(second, "EVT-SECOND")
        await second.commit()  # … committed second
        seen = await read_all(committing_client, auth, "county_staff.county", types="household.created")
        last_seen = seen[-1]["id"]
        await first.commit()
    later = await read_all(committing_client, auth, "county_staff.county", types="household.created", after=last_seen)
    assert len(later) == 1 and later[0]["id"] > last_seen
    async with engine.connect() as conn:
        numbers = dict(
            (
                await conn.execute(
                    text(
                        "SELECT h.household_no, e.id FROM events e JOIN households h ON e.object_id = h.id::text "
                        "WHERE e.type = 'household.created' AND h.household_no LIKE 'EVT-%'"
                    )
                )
            ).all()
        )
    assert numbers["EVT-SECOND"] < numbers["EVT-FIRST"]


async def test_concurrent_writers_never_share_or_reorder_numbers(committing_client, auth):
    client = committing_client
    made = await asyncio.gather(*(create(client, auth, members=[person("head")]) for _ in range(8)))
    events = await read_all(client, auth, "county_staff.county", types="household.created")
    assert sorted(e["object"]["id"] for e in events) == sorted(str(h["id"]) for h in made)
    assert len({e["id"] for e in events}) == len(events)


async def test_every_event_table_has_its_triggers(engine):
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, t.tgname, t.tgenabled, t.tgdeferrable, t.tginitdeferred FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'events_%'"
                )
            )
        ).all()
    found = {(r.relname, r.tgname) for r in rows}
    assert found == {(table, name) for table in EVENT_TABLES for name in trigger_names(table)}
    assert all(r.tgenabled in ("O", b"O") and r.tgdeferrable and r.tginitdeferred for r in rows), rows


def test_the_migration_wrote_out_the_triggers_as_they_are():
    """The events revision's SQL, written out as literals, is what ``triggers`` generates now:
    a change to the functions needs a migration of its own."""
    import importlib.util

    from services.core.events import triggers
    from tests.conftest import ROOT

    (path,) = (ROOT / "migrations" / "versions").glob("*-e150af699206_events.py")
    spec = importlib.util.spec_from_file_location("events_revision", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CREATE_SQL == triggers.CREATE_SQL
    assert module.DROP_SQL == triggers.DROP_SQL


async def test_one_event_for_a_household_made_with_its_members(committing_client, auth):
    made = await create(committing_client, auth, members=[person("head"), person("spouse", male=False)])
    events = await read_all(committing_client, auth, "county_staff.county", types="household.created")
    changed = await read_all(committing_client, auth, "county_staff.county", types="household.changed")
    assert [e["object"]["id"] for e in events] == [str(made["id"])] and changed == []
    assert events[0]["data"]["member_count"] == 2 and events[0]["data"]["version"] == made["version"]
    # A later change is an event of its own, with the version the change made.
    r = await committing_client.patch(
        f"/api/v1/households/{made['id']}",
        json={"address": "石门镇白岩村三组"},
        headers=auth("county_staff.county", **{"If-Match": f'"household-{made["id"]}-v{made["version"]}"'}),
    )
    assert r.status_code == 200, r.text
    changed = await read_all(committing_client, auth, "county_staff.county", types="household.changed")
    assert len(changed) == 1 and changed[0]["data"]["version"] == r.json()["version"]
    assert "石门镇" not in json.dumps(changed, ensure_ascii=False)
