"""The direct handler of a campaign's households not yet visited
(``services.api.fieldwork.listing``) answers exactly as the route's FastAPI handling does:
each request goes twice to the same app, once as it comes and once with the direct handler
declining everything, and the two answers must be the same, byte for byte
(``tests.api.direct_twin``). Campaigns of a county, a village and another county, asked
by their own users and by others."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.api.fieldwork import listing
from services.core.fieldwork import campaigns as campaign_service
from services.core.households.models import Household
from services.core.paging import encode_cursor
from tests.api.direct_twin import PAGING_QUERIES, both, same, taken
from tests.api.fieldwork_helpers import campaign_body
from tests.api.test_households import create
from tests.api.world import MISSING
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2

CAMPAIGNS = "/api/v1/campaigns"
PARSER = "services.api.fieldwork.listing._query"

USERS = [
    "county_staff.county",
    "township_staff.township",
    "grid_worker.village",
    "village_staff.village2",
    "auditor.county",
    "county_staff.other",  # another county: its campaigns only
    "department_system.county",  # no campaigns:read: 403
    "admin.county",  # no campaigns:read: 403
]


async def _campaign(client, headers, prefix: str) -> int:
    r = await client.post(CAMPAIGNS, json=campaign_body(prefix), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _visit(client, headers, campaign: int, household: int) -> None:
    r = await client.post(
        f"{CAMPAIGNS}/{campaign}/visits", json={"household_id": household, "checks": ["income"]}, headers=headers
    )
    assert r.status_code == 201, r.text


@pytest.fixture
async def campaigns(client, auth, session):
    """Households in three villages of the county (one of them dissolved) and one in
    another county; a campaign of the county (two households visited), one of the village
    (one visited) and one of the other county."""
    county = auth("county_staff.county")
    homes = [
        await create(client, auth, user="county_staff.county", region=region)
        for region in (VILLAGE, VILLAGE, VILLAGE, VILLAGE, VILLAGE_2, VILLAGE_2, OTHER_TOWNSHIP_VILLAGE)
    ]
    other_home = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    await session.execute(update(Household).where(Household.id == homes[3]["id"]).values(status="dissolved"))
    ids = {
        "county": await _campaign(client, county, COUNTY),
        "village": await _campaign(client, auth("township_staff.township"), VILLAGE),
        "other": await _campaign(client, auth("county_staff.other"), OTHER_COUNTY_VILLAGE[:6]),
    }
    await _visit(client, county, ids["county"], homes[0]["id"])
    await _visit(client, county, ids["county"], homes[4]["id"])
    await _visit(client, county, ids["village"], homes[1]["id"])
    await _visit(client, auth("county_staff.other"), ids["other"], other_home["id"])
    return {"homes": homes, "other_home": other_home, "ids": ids}


def _queries(campaigns) -> list[list[tuple[str, str]]]:
    first = campaigns["homes"][0]["id"]
    return [
        [],
        [("region", VILLAGE)],
        [("region", VILLAGE_2)],
        [("region", TOWNSHIP)],
        [("region", COUNTY)],
        [("region", "5299")],
        [("region", OTHER_TOWNSHIP_VILLAGE)],  # outside the village's campaign: 422
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],  # no such township: 404
        [("region", "52990")],  # malformed: left to FastAPI
        [("limit", "1")],
        [("limit", "2"), ("cursor", encode_cursor([first]))],
        [("region", VILLAGE), ("limit", "1"), ("cursor", encode_cursor([first]))],
        *PAGING_QUERIES,
        [("unknown", "1")],
        [("region", VILLAGE), ("region", VILLAGE_2)],
        [("region", "529902"), ("cursor", "not-a-cursor")],
    ]


def _paths(campaigns) -> list[str]:
    ids = campaigns["ids"]
    campaign_ids = [str(ids["county"]), str(ids["village"]), str(ids["other"]), str(MISSING)]
    return [f"{CAMPAIGNS}/{c}/unvisited" for c in [*campaign_ids, "0", "01", "-1", "abc", str(2**62 + 1)]]


async def test_the_direct_unvisited_list_answers_like_fastapi(client, auth, campaigns, monkeypatch):
    queries = _queries(campaigns)
    assert sum(taken(listing._query, query) for query in queries) >= 14
    read = campaign_service.region_of
    found = []  # the campaigns the direct handler looked up: it did answer

    async def region_of(reader, campaign_id):
        found.append(campaign_id)
        return await read(reader, campaign_id)

    monkeypatch.setattr(campaign_service, "region_of", region_of)
    answers = []
    for user in USERS:
        headers = auth(user)
        for path in _paths(campaigns):
            for query in queries:
                direct, general = await both(client, monkeypatch, path, PARSER, query, headers)
                same((path, user, query), direct, general)
                answers.append(direct)
    path = _paths(campaigns)[0]
    for headers in ({}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic abc"}):
        direct, general = await both(client, monkeypatch, path, PARSER, [("limit", "2")], headers)
        same((path, headers), direct, general)
    listed = sum(len(r.json()["items"]) for r in answers if r.status_code == 200)
    codes = {r.json().get("code") for r in answers if r.status_code != 200}
    assert listed > 100  # the answers compared are not all empty
    assert len(found) >= 100 and set(campaigns["ids"].values()) <= set(found)
    assert {"campaign_not_found", "campaign_region_outside", "region_not_found"} <= codes, codes


async def test_the_direct_unvisited_list_is_the_households_left_to_visit(client, auth, campaigns):
    """What the direct way answers, checked on its own: active households of the campaign's
    region within the caller's, without a visit of that campaign, each once."""
    homes, ids = campaigns["homes"], campaigns["ids"]
    mine = {h["id"] for h in homes}
    county = await client.get(
        f"{CAMPAIGNS}/{ids['county']}/unvisited", params={"limit": 200}, headers=auth("county_staff.county")
    )
    assert county.status_code == 200, county.text
    listed = [item["household_id"] for item in county.json()["items"]]
    assert listed == sorted(set(listed))
    left = {homes[i]["id"] for i in (1, 2, 5, 6)}  # 0 and 4 visited, 3 dissolved
    assert left <= set(listed) and not {homes[i]["id"] for i in (0, 3, 4)} & set(listed)
    assert campaigns["other_home"]["id"] not in listed
    item = next(i for i in county.json()["items"] if i["household_id"] == homes[1]["id"])
    assert item == {
        "household_id": homes[1]["id"],
        "household_no": homes[1]["household_no"],
        "region_code": VILLAGE,
        "head_name": homes[1]["head_name"],
        "category": homes[1]["category"],
    }
    # The village's campaign, asked by the township: its village only, its own visits.
    village = await client.get(
        f"{CAMPAIGNS}/{ids['village']}/unvisited", params={"limit": 200}, headers=auth("township_staff.township")
    )
    got = {item["household_id"] for item in village.json()["items"]} & mine
    assert got == {homes[0]["id"], homes[2]["id"]}
    # Another county's campaign does not exist for this county, nor this one's for it.
    for user, campaign in (("county_staff.county", ids["other"]), ("county_staff.other", ids["county"])):
        r = await client.get(f"{CAMPAIGNS}/{campaign}/unvisited", headers=auth(user))
        assert r.status_code == 404 and r.json()["code"] == "campaign_not_found", r.text


async def test_the_direct_unvisited_pages_follow_their_cursors(client, auth, campaigns, monkeypatch):
    """Paging through one at a time, both ways: the same pages, by household id, each once,
    and the same households as one page of all."""
    path = f"{CAMPAIGNS}/{campaigns['ids']['county']}/unvisited"
    for user in ("county_staff.county", "township_staff.township", "grid_worker.village"):
        headers = auth(user)
        query, seen = [("limit", "1")], []
        for _ in range(100):  # a cursor that does not move on would page for ever
            direct, general = await both(client, monkeypatch, path, PARSER, query, headers)
            same((path, user, query), direct, general)
            page = direct.json()
            seen += [item["household_id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            query = [("limit", "1"), ("cursor", page["next_cursor"])]
        assert seen and seen == sorted(set(seen)), (user, seen)
        whole = await client.get(path, params={"limit": 200}, headers=headers)
        assert [item["household_id"] for item in whole.json()["items"]] == seen


def test_the_direct_unvisited_list_takes_the_plain_queries_only():
    assert taken(listing._query, [("region", VILLAGE), ("cursor", encode_cursor([7])), ("limit", "9")])
    for query in (
        [("limit", "0")],
        [("cursor", "not-a-cursor")],
        [("cursor", encode_cursor(["7"]))],
        [("region", "52990")],
        [("as_of", "2026-04-01")],  # not a parameter of this list
        [("limit", "1"), ("limit", "2")],
    ):
        assert not taken(listing._query, query), query
