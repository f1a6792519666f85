"""The direct handlers of the late follow-up visits and of the households missing a
quarter's income (``services.api.followup.listing``) answer exactly as the routes' FastAPI
handling does: each request goes twice to the same app, once as it comes and once with the
direct handler declining everything, and the two answers must be the same, byte for byte
(``tests.api.direct_twin``)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.api.followup import listing
from services.core.followup import service
from services.core.monitoring.models import MonitoringPolicyRow, Visit
from services.core.paging import encode_cursor
from tests.api.direct_twin import PAGING_QUERIES, both, same, taken
from tests.api.test_followup import _record, assign, eliminated_case, visit
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2

PATH = "/api/v1/follow-up/overdue"
PARSER = "services.api.followup.listing._overdue_query"

MISSING = "/api/v1/follow-up/income-missing"
MISSING_PARSER = "services.api.followup.listing._missing_query"

USERS = [
    "county_staff.county",
    "auditor.county",  # monitoring:read
    "assistance_cadre.village",
    "village_staff.village2",  # a village with months of its own
    "township_staff.township",
    "county_staff.other",  # another county: 404 for this county's regions
    "department_system.county",  # no monitoring:read: 403
    "admin.county",  # no monitoring:read: 403
]


@pytest.fixture(autouse=True)
def _on_a_fixed_day(today_is):
    today_is(date(2026, 7, 1))


@pytest.fixture
async def followed(client, auth, session, user_ids):
    """Formerly poor households in three villages and another county, one visited in March
    and one visited by phone (which does not count), an ordinary household whose risk was
    eliminated (on follow-up) and one eliminated long ago (not), a case visit in March,
    cadres assigned, and a village that visits in February from 2026 (a zone of its own)."""
    county, cadre = auth("county_staff.county"), auth("assistance_cadre.village")
    homes = [
        await create(client, auth, user="county_staff.county", region=region)
        for region in (VILLAGE, VILLAGE, VILLAGE_2, VILLAGE, VILLAGE, OTHER_TOWNSHIP_VILLAGE)
    ]
    other = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    cadre_id = user_ids["assistance_cadre.village"]
    for home in (homes[0], homes[1], homes[3]):
        await assign(client, county, home["id"], cadre_id, from_on="2026-01-05")
    await visit(client, cadre, homes[1]["id"], "2026-03-20")
    await visit(client, cadre, homes[3]["id"], "2026-03-20", mode="phone")
    eliminated = []
    for on in (date(2025, 10, 15), date(2024, 1, 10)):
        home = await create(client, auth, category="ordinary")
        eliminated.append((home, await eliminated_case(session, home, on)))
    home, case = eliminated[0]
    session.add(
        Visit(
            id=uuid.uuid4(),
            case_id=case.id,
            household_id=homes[4]["id"],
            region_code=homes[4]["region_code"],
            cadre_user_id=cadre_id,
            visited_on=date(2026, 3, 5),
            mode="in_person",
            findings="回头看",
            attachments=[],
        )
    )
    # The village visits in February, and its income is due 20 working days after the
    # quarter's end (the county's: 10).
    values = {"followup_visit_months": [2], "income_entry_days": 20}
    session.add(MonitoringPolicyRow(region_prefix=VILLAGE_2, year=2026, values=values))
    await session.flush()
    for quarter in (4, 1):  # Q4 2025 and Q1 2026 entered for one household
        await _record(client, county, homes[0]["id"], 2026 if quarter == 1 else 2025, quarter)
    return {"homes": homes, "other": other, "eliminated": [home for home, _ in eliminated], "cadre": cadre_id}


def _queries(followed) -> list[list[tuple[str, str]]]:
    cadre = str(followed["cadre"])
    first = str(followed["homes"][0]["id"])
    return [
        [],
        [("as_of", "2026-04-01")],
        [("as_of", "2026-03-31")],  # the due day itself: the November visit
        [("as_of", "2026-03-02")],  # the village of its own months: its February visit
        [("as_of", "2026-12-01")],
        [("as_of", "2025-12-01")],
        [("as_of", "2026-04-01"), ("limit", "1")],
        [("as_of", "2026-04-01"), ("limit", "2"), ("cursor", encode_cursor([int(first)]))],
        [("as_of", "2026-04-01"), ("region", VILLAGE)],
        [("as_of", "2026-04-01"), ("region", VILLAGE_2)],
        [("as_of", "2026-04-01"), ("region", "529901001")],
        [("as_of", "2026-04-01"), ("region", "5299")],
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],  # no such township: 404
        [("region", "52990")],  # malformed: 422 (left to FastAPI)
        [("as_of", "2026-04-01"), ("cadre_user_id", cadre)],
        [("as_of", "2026-04-01"), ("cadre_user_id", cadre), ("region", VILLAGE_2)],
        [("cadre_user_id", "999999999")],
        [("cadre_user_id", "0")],
        [("cadre_user_id", "x")],
        [("as_of", "2026-02-30")],
        [("as_of", "2026-4-1")],
        [("as_of", "1999-04-01")],  # valid, left to FastAPI
        [("as_of", "2026-04-01T00:00:00")],
        *PAGING_QUERIES,
        [("unknown", "1")],
        [("region", "529902"), ("cursor", "not-a-cursor")],
        [("as_of", "2026-04-01"), ("as_of", "2026-04-02")],
    ]


async def walked_both(client, monkeypatch, path: str, parser: str, base: list, headers: dict) -> list[int]:
    """The list's households, one a page, following each cursor, each page asked both ways
    and the same: by household id, every household once (checked)."""
    query, seen = [*base, ("limit", "1")], []
    for _ in range(100):  # a cursor that does not move on would page for ever
        direct, general = await both(client, monkeypatch, path, parser, query, headers)
        same((path, query), direct, general)
        assert direct.status_code == 200
        page = direct.json()
        seen += [item["household_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        query = [*base, ("limit", "1"), ("cursor", page["next_cursor"])]
    assert seen == sorted(set(seen)), (path, seen)
    return seen


async def compared(client, auth, monkeypatch, path: str, parser: str, queries: list) -> list:
    """Every query as every user of ``USERS``, and a page without a valid token, both ways
    and the same; the direct answers."""
    answers = []
    for user in USERS:
        headers = auth(user)
        for query in queries:
            direct, general = await both(client, monkeypatch, path, parser, query, headers)
            same((path, user, query), direct, general)
            answers.append(direct)
    for headers in ({}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic abc"}):
        direct, general = await both(client, monkeypatch, path, parser, [("limit", "2")], headers)
        same((path, headers), direct, general)
    return answers


async def test_the_direct_overdue_follow_ups_answer_like_fastapi(client, auth, followed, monkeypatch):
    queries = _queries(followed)
    assert sum(taken(listing._overdue_query, query) for query in queries) >= 18
    answers = await compared(client, auth, monkeypatch, PATH, PARSER, queries)
    listed = sum(len(r.json()["items"]) for r in answers if r.status_code == 200)
    assert listed > 50  # the answers compared are not all empty


async def test_the_direct_overdue_follow_ups_are_the_households_owed_a_visit(client, auth, followed):
    """What the direct way answers, checked on its own: the households owed March's visit on
    1 April, the zone of its own months with February's, and each household once."""
    homes, eliminated = followed["homes"], followed["eliminated"]
    r = await client.get(PATH, params={"as_of": "2026-04-01", "limit": 50}, headers=auth("county_staff.county"))
    assert r.status_code == 200
    items = {item["household_id"]: item for item in r.json()["items"]}
    owed = {homes[0]["id"], homes[2]["id"], homes[3]["id"], homes[5]["id"], eliminated[0]["id"]}
    assert owed <= set(items) and not {homes[1]["id"], homes[4]["id"], eliminated[1]["id"]} & set(items)
    assert items[homes[0]["id"]]["month"] == "2026-03-01" and items[homes[0]["id"]]["days_late"] == 1
    assert items[homes[2]["id"]]["month"] == "2026-02-01"  # the village's own months
    assert items[eliminated[0]["id"]]["reason"] == "eliminated"
    assert items[eliminated[0]["id"]]["eliminated_on"] == "2025-10-15"
    assert items[homes[0]["id"]]["cadre_user_id"] == followed["cadre"]
    assert followed["other"]["id"] not in items


async def test_the_direct_overdue_pages_follow_their_cursors(client, auth, followed, monkeypatch):
    """Paging through one at a time, both ways: the same pages, by household id, every
    household once, across the zones."""
    for user in ("county_staff.county", "township_staff.township", "assistance_cadre.village"):
        headers = auth(user)
        seen = await walked_both(client, monkeypatch, PATH, PARSER, [("as_of", "2026-04-01")], headers)
        assert seen, user
        whole = await client.get(PATH, params={"as_of": "2026-04-01", "limit": 100}, headers=headers)
        assert [item["household_id"] for item in whole.json()["items"]] == seen


def test_the_direct_overdue_list_takes_the_plain_queries_only():
    assert taken(listing._overdue_query, [("as_of", "2026-04-01"), ("cursor", encode_cursor([7])), ("limit", "9")])
    assert taken(listing._overdue_query, [("region", VILLAGE), ("cadre_user_id", "3")])
    for query in (
        [("limit", "0")],
        [("cursor", "not-a-cursor")],
        [("cursor", encode_cursor(["7"]))],
        [("region", "52990")],
        [("as_of", "2026-02-30")],
        [("cadre_user_id", "+3")],
        [("within_days", "7")],  # not a parameter of this list
        [("limit", "1"), ("limit", "2")],
    ):
        assert not taken(listing._overdue_query, query), query


def _missing_queries(followed) -> list[list[tuple[str, str]]]:
    first = str(followed["homes"][0]["id"])
    return [
        [],
        [("year", "2026"), ("quarter", "1")],
        [("year", "2025"), ("quarter", "4")],
        [("quarter", "4")],
        [("year", "2025")],
        [("year", "2026"), ("quarter", "2")],  # not due on 1 July: 422
        [("year", "2026"), ("quarter", "1"), ("as_of", "2026-04-15")],  # due in the county, not in the village
        [("year", "2026"), ("quarter", "1"), ("as_of", "2026-04-10")],  # due nowhere yet: 422
        [("as_of", "2026-04-15")],
        [("as_of", "2026-02-01")],
        [("year", "2026"), ("quarter", "1"), ("region", VILLAGE)],
        [("year", "2026"), ("quarter", "1"), ("region", VILLAGE_2), ("as_of", "2026-04-15")],
        [("region", "5299")],
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],  # no such township: 404
        [("region", "52990")],
        [("year", "2026"), ("quarter", "1"), ("limit", "1")],
        [("year", "2026"), ("quarter", "1"), ("limit", "2"), ("cursor", encode_cursor([int(first)]))],
        [("year", "1999")],  # left to FastAPI (422)
        [("year", "2101")],
        [("year", "02026")],
        [("quarter", "5")],
        [("quarter", "0")],
        [("quarter", "+1")],
        [("as_of", "2026-13-01")],
        *PAGING_QUERIES,
        [("unknown", "1")],
        [("cadre_user_id", "5")],  # not a parameter of this list: FastAPI ignores it
        [("region", "529902"), ("cursor", "not-a-cursor")],
    ]


async def test_the_direct_missing_income_list_answers_like_fastapi(client, auth, followed, monkeypatch):
    queries = _missing_queries(followed)
    assert sum(taken(listing._missing_query, query) for query in queries) >= 18
    answers = await compared(client, auth, monkeypatch, MISSING, MISSING_PARSER, queries)
    listed = sum(len(r.json()["items"]) for r in answers if r.status_code == 200)
    not_due = sum(r.status_code == 422 and r.json().get("code") == "income_quarter_not_due" for r in answers)
    assert listed > 50 and not_due >= 5  # pages with households, and quarters not yet due, compared


async def test_the_direct_missing_income_pages_follow_their_cursors(client, auth, followed, monkeypatch):
    homes = followed["homes"]
    for user in ("county_staff.county", "township_staff.township", "village_staff.village"):
        base = [("year", "2026"), ("quarter", "1")]
        seen = await walked_both(client, monkeypatch, MISSING, MISSING_PARSER, base, auth(user))
        assert seen and homes[0]["id"] not in seen, (user, seen)
    county = await client.get(MISSING, params={"year": 2026, "quarter": 1}, headers=auth("county_staff.county"))
    items = {item["household_id"]: item for item in county.json()["items"]}
    assert homes[1]["id"] in items and homes[0]["id"] not in items
    assert items[homes[2]["id"]]["deadline"] > items[homes[1]["id"]]["deadline"]  # the village's own days


def test_the_direct_missing_income_list_takes_the_plain_queries_only():
    assert taken(listing._missing_query, [("year", "2026"), ("quarter", "1"), ("cursor", encode_cursor([7]))])
    assert taken(listing._missing_query, [("region", VILLAGE), ("as_of", "2026-04-15"), ("limit", "9")])
    for query in (
        [("year", "1999")],
        [("quarter", "5")],
        [("quarter", "01")],
        [("cursor", encode_cursor(["7"]))],
        [("region", "52990")],
        [("flag", "fell")],
        [("year", "2026"), ("year", "2025")],
    ):
        assert not taken(listing._missing_query, query), query


CADRE_PARSER = "services.api.followup.listing._cadre_query"


def _cadre_paths(followed, user_ids) -> list[str]:
    ids = [followed["cadre"], user_ids["township_staff.township"], user_ids["county_staff.other"], 987654321]
    return [f"/api/v1/follow-up/cadres/{i}/households" for i in [*ids, "0", "01", "abc", 2**62 + 1]]


async def test_the_direct_cadre_households_answer_like_fastapi(client, auth, followed, user_ids, monkeypatch):
    first = followed["homes"][0]["id"]
    queries = [
        [],
        [("limit", "1")],
        [("limit", "2"), ("cursor", encode_cursor([first]))],
        *PAGING_QUERIES,
        [("region", VILLAGE)],  # not a parameter of this list: FastAPI ignores it
        [("unknown", "1")],
    ]
    assert sum(taken(listing._cadre_query, query) for query in queries) >= 5
    checked = []  # the cadres the direct handler looked up: it did answer
    check = service.check_cadre

    async def check_cadre(reader, user_id):
        checked.append(user_id)
        await check(reader, user_id)

    monkeypatch.setattr(service, "check_cadre", check_cadre)
    answers = []
    for user in USERS:
        headers = auth(user)
        for path in _cadre_paths(followed, user_ids):
            for query in queries:
                direct, general = await both(client, monkeypatch, path, CADRE_PARSER, query, headers)
                same((path, user, query), direct, general)
                answers.append(direct)
    listed = sum(len(r.json()["items"]) for r in answers if r.status_code == 200)
    codes = {r.json().get("code") for r in answers if r.status_code >= 400}
    assert listed > 50 and {"user_not_found", "cursor_invalid"} <= codes, (listed, codes)
    assert followed["cadre"] in checked and user_ids["county_staff.other"] in checked


async def test_the_direct_cadre_households_are_the_cadres_own(client, auth, followed, user_ids, monkeypatch):
    """The cadre's three households now, by id, walked a page at a time both ways; another
    county's user is not found."""
    homes, cadre = followed["homes"], followed["cadre"]
    path = f"/api/v1/follow-up/cadres/{cadre}/households"
    for user in ("county_staff.county", "assistance_cadre.village", "township_staff.township"):
        seen = await walked_both(client, monkeypatch, path, CADRE_PARSER, [], auth(user))
        assert seen == sorted(h["id"] for h in (homes[0], homes[1], homes[3])), (user, seen)
    page = await client.get(path, headers=auth("county_staff.county"))
    item = page.json()["items"][0]
    assert item == {
        "household_id": homes[0]["id"],
        "household_no": homes[0]["household_no"],
        "head_name": homes[0]["head_name"],
        "region_code": homes[0]["region_code"],
        "category": homes[0]["category"],
        "from_on": "2026-01-05",
    }
    other = await client.get(
        f"/api/v1/follow-up/cadres/{user_ids['county_staff.other']}/households", headers=auth("county_staff.county")
    )
    assert other.status_code == 404 and other.json()["code"] == "user_not_found"
    theirs = await client.get(path, headers=auth("county_staff.other"))
    assert theirs.status_code == 404 and theirs.json()["code"] == "user_not_found"


FLAGS = "/api/v1/follow-up/income-flags"
FLAGS_PARSER = "services.api.followup.listing._flags_query"


@pytest.fixture
async def flagged(client, auth, session):
    """Households of two villages with complete years of income from 2024 to mid-2026: some
    under the watch line, some whose income fell, some steady; one with a single quarter; and
    a village that watches under a line of its own (a zone of its own)."""
    county = auth("county_staff.county")
    wages = {"low": "6000.00", "fell": "12000.00", "steady": "9000.00"}
    homes = {}
    for region in (VILLAGE, VILLAGE_2):
        for kind, amount in wages.items():
            home = await create(client, auth, user="county_staff.county", region=region)
            homes[(region, kind)] = home
            for year, quarters in ((2024, range(1, 5)), (2025, range(1, 5)), (2026, range(1, 3))):
                for quarter in quarters:
                    paid = "10500.50" if kind == "fell" and year > 2024 else amount
                    await _record(client, county, home["id"], year, quarter, paid)
    single = await create(client, auth, user="county_staff.county", region=VILLAGE)
    await _record(client, county, single["id"], 2025, 4, "100.00")
    for year in (2025, 2026):
        values = {"income_watch_per_capita": "40000"}
        session.add(MonitoringPolicyRow(region_prefix=VILLAGE_2, year=year, values=values))
    await session.flush()
    return homes


async def test_the_direct_income_flags_answer_like_fastapi(client, auth, flagged, monkeypatch):
    first = flagged[(VILLAGE, "low")]["id"]
    queries = [
        [],
        [("year", "2025"), ("quarter", "4")],
        [("year", "2026"), ("quarter", "1")],
        [("year", "2025")],
        [("quarter", "3")],
        [("flag", "fell")],
        [("flag", "below_watch_line"), ("year", "2025"), ("quarter", "4")],
        [("flag", "rose")],  # not a flag: left to FastAPI
        [("region", VILLAGE)],
        [("region", VILLAGE_2), ("year", "2025"), ("quarter", "4")],
        [("region", "5299")],
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],  # no such township: 404
        [("region", "52990")],
        [("year", "1999")],
        [("quarter", "5")],
        [("limit", "1")],
        [("limit", "2"), ("cursor", encode_cursor([first]))],
        *PAGING_QUERIES,
        [("unknown", "1")],
        [("flag", "fell"), ("flag", "below_watch_line")],
    ]
    assert sum(taken(listing._flags_query, query) for query in queries) >= 14
    answers = await compared(client, auth, monkeypatch, FLAGS, FLAGS_PARSER, queries)
    listed = sum(len(r.json()["items"]) for r in answers if r.status_code == 200)
    assert listed > 50  # the answers compared are not all empty


async def test_the_direct_income_flags_page_through_both_zones(client, auth, flagged, monkeypatch):
    """A page at a time, both ways: each household once, the same as one page of all; the
    village with a watch line of its own flags its steady household too."""
    for user in ("county_staff.county", "township_staff.township"):
        headers = auth(user)
        seen = await walked_both(
            client, monkeypatch, FLAGS, FLAGS_PARSER, [("year", "2025"), ("quarter", "4")], headers
        )
        whole = await client.get(FLAGS, params={"year": 2025, "quarter": 4, "limit": 100}, headers=headers)
        assert [item["household_id"] for item in whole.json()["items"]] == seen
        assert flagged[(VILLAGE_2, "steady")]["id"] in seen and flagged[(VILLAGE, "steady")]["id"] not in seen
        assert {flagged[(VILLAGE, "low")]["id"], flagged[(VILLAGE, "fell")]["id"]} <= set(seen), (user, seen)
