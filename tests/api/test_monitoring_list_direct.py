"""The direct handlers of the risk clue and monitoring case lists
(``services.api.monitoring.listing``) answer exactly as the routes' FastAPI handling does:
each request goes twice to the same app, once as it comes and once with the direct handler
declining everything, and the two answers must be the same, byte for byte
(``tests.api.direct_twin``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.api.monitoring import listing
from services.core.monitoring.models import MonitoringCase, RiskClue
from services.core.paging import encode_cursor
from tests.api.direct_twin import PAGING_QUERIES, both, same, taken
from tests.api.monitoring_helpers import open_case, report
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2

CLUES = "/api/v1/risk-clues"
CASES = "/api/v1/monitoring-cases"
PARSERS = {
    CLUES: "services.api.monitoring.listing._clue_query",
    CASES: "services.api.monitoring.listing._case_query",
}

USERS = [
    "county_staff.county",  # sees health risk types
    "auditor.county",  # monitoring:read without health: illness and disability hidden, 403 as filters
    "grid_worker.village",
    "village_staff.village2",
    "township_staff.township",
    "county_staff.other",  # another county: 404 for this county's regions and households
    "department_system.county",  # no monitoring:read: 403
    "admin.county",
]


@pytest.fixture
async def monitoring(client, auth, db):
    """Households in three villages and another county; clues through two channels, open,
    converted and dismissed; cases of each type; one case and one clue with stored
    deadlines and breaches (written directly: the API would take months to make them)."""
    county = auth("county_staff.county")
    households = []
    for region in (VILLAGE, VILLAGE_2, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2, VILLAGE):
        households.append(await create(client, auth, user="county_staff.county", region=region))
    other = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    risks = (["illness"], ["disaster"], ["unsafe_housing", "disability"], ["income_below_line"], ["disaster"])
    clues = []
    for i, household in enumerate(households[:5]):
        channel = ("visit", "self_declaration")[i % 2]
        clues.append(await report(client, county, household["id"], risks[i], channel=channel))
    for clue, case_type in zip(clues[:3], ("marginal", "unstable_lifted_out", "sudden_hardship"), strict=True):
        await open_case(client, county, clue["id"], case_type=case_type)
    await report(client, auth("county_staff.other"), other["id"], ["disaster"])
    session = db.session()
    try:
        start = date(2025, 3, 3)
        breaches = [{"kind": "identification", "due": "2025-04-02", "met_on": "2025-04-09"}]
        session.add(
            MonitoringCase(
                household_id=households[5]["id"],
                region_code=VILLAGE,
                case_type="marginal",
                risk_types=["illness", "unsafe_water"],
                status="assisting",
                first_clue_on=start,
                opened_on=start,
                identified_on=start + timedelta(days=30),
                category_before="lifted_out",
                next_deadline=start + timedelta(days=60),
                next_deadline_kind="monthly_visit",
                deadline_provisional=True,
                deadline_breaches=breaches,
            )
        )
        session.add(
            RiskClue(
                household_id=households[5]["id"],
                region_code=VILLAGE,
                risk_types=["accident"],
                channels=["department_screening"],
                status="open",
                first_reported_on=start,
                next_deadline=start + timedelta(days=5),
                next_deadline_kind="clue_acceptance",
                deadline_breaches=breaches,
            )
        )
        await session.commit()
    finally:
        await session.close()
    return {"households": households, "other": other}


def _queries(households, other) -> list[list[tuple[str, str]]]:
    h, o = str(households[0]["id"]), str(other["id"])
    return [
        [],
        [("limit", "2")],
        [("limit", "1"), ("region", VILLAGE)],
        [("region", "5299")],
        [("region", "529901")],
        [("region", "529901001")],
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],  # no such township: 404
        [("region", "52990")],  # malformed: 422 (left to FastAPI)
        [("region", "5299010010001")],
        [("household_id", h)],
        [("household_id", h), ("region", VILLAGE_2)],
        [("household_id", o)],  # another county's household: 404 for this county
        [("household_id", "999999999")],
        [("household_id", "0")],
        [("household_id", "x")],
        [("household_id", str(2**62 + 1))],
        [("risk_type", "disaster")],
        [("risk_type", "illness")],  # health: 403 without registry:health
        [("risk_type", "disability"), ("region", "529902")],  # 403 before 404
        [("risk_type", "nope")],
        [("status", "open")],
        [("status", "converted"), ("limit", "1")],
        [("status", "assisting")],
        [("status", "verification"), ("region", VILLAGE)],
        [("status", "")],
        [("channel", "visit")],
        [("channel", "self_declaration"), ("risk_type", "disaster")],
        [("channel", "fax")],
        [("case_type", "marginal")],
        [("case_type", "sudden_hardship"), ("risk_type", "unsafe_housing")],
        [("case_type", "other")],
        [("cadre_user_id", "5")],
        [("cadre_user_id", "-5")],
        *PAGING_QUERIES,
        [("unknown", "1")],
        [("region", "529902"), ("cursor", "not-a-cursor")],
        [("risk_type", "illness"), ("household_id", o)],
    ]


@pytest.mark.parametrize("path", [CLUES, CASES])
async def test_direct_lists_answer_like_fastapi(client, auth, monitoring, monkeypatch, path):
    queries = _queries(monitoring["households"], monitoring["other"])
    parse = listing._clue_query if path == CLUES else listing._case_query
    assert sum(taken(parse, query) for query in queries) >= 20  # the valid ones go the direct way
    for user in USERS:
        headers = auth(user)
        for query in queries:
            direct, general = await both(client, monkeypatch, path, PARSERS[path], query, headers)
            same((path, user, query), direct, general)
    for headers in ({}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic abc"}):
        direct, general = await both(client, monkeypatch, path, PARSERS[path], [("limit", "2")], headers)
        same((path, headers), direct, general)


@pytest.mark.parametrize("path", [CLUES, CASES])
async def test_direct_pages_follow_their_cursors(client, auth, monitoring, monkeypatch, path):
    """Paging through with each cursor given out: the same pages, newest first, every item once."""
    totals = {}
    for user in ("county_staff.county", "auditor.county", "township_staff.township", "grid_worker.village"):
        headers = auth(user)
        query: list[tuple[str, str]] = [("limit", "2")]
        seen = []
        while True:
            direct, general = await both(client, monkeypatch, path, PARSERS[path], query, headers)
            same((path, user, query), direct, general)
            assert direct.status_code == 200
            page = direct.json()
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            query = [("limit", "2"), ("cursor", page["next_cursor"])]
        assert seen == sorted(set(seen), reverse=True) and seen
        totals[user] = len(seen)
    assert totals["county_staff.county"] == totals["auditor.county"] > totals["grid_worker.village"]


async def test_direct_items_show_stored_deadlines_and_hide_health_risks(client, auth, monitoring):
    for path in (CLUES, CASES):
        shown = (await client.get(path, params={"limit": 50}, headers=auth("county_staff.county"))).json()["items"]
        hidden = (await client.get(path, params={"limit": 50}, headers=auth("auditor.county"))).json()["items"]
        assert any({"illness", "disability"} & set(item["risk_types"]) for item in shown), path
        assert hidden and not any({"illness", "disability"} & set(item["risk_types"]) for item in hidden), path
        stored = [item for item in shown if item["deadline_breaches"]]
        assert len(stored) == 1 and stored[0]["deadline_breaches"][0]["met_on"] == "2025-04-09", path
        assert stored[0]["next_deadline"]["due"] in ("2025-05-02", "2025-03-08"), path
    cases = (await client.get(CASES, params={"status": "assisting"}, headers=auth("county_staff.county"))).json()
    assert [a["action"] for a in cases["items"][0]["allowed_actions"]]


async def test_the_direct_handlers_take_the_plain_queries_only():
    assert taken(listing._case_query, [("limit", "50"), ("cursor", encode_cursor([7])), ("region", VILLAGE)])
    assert taken(listing._case_query, [("case_type", "marginal"), ("cadre_user_id", "3"), ("status", "assisting")])
    assert taken(listing._clue_query, [("channel", "visit"), ("risk_type", "illness"), ("household_id", "9")])
    for query in (
        [("limit", "0")],
        [("cursor", "not-a-cursor")],
        [("region", "52990")],
        [("household_id", "+9")],
        [("status", "nope")],
        [("other", "1")],
        [("limit", "1"), ("limit", "2")],
    ):
        assert not taken(listing._case_query, query), query
        assert not taken(listing._clue_query, query), query
    assert not taken(listing._clue_query, [("case_type", "marginal")])  # not a clue filter
    assert not taken(listing._case_query, [("channel", "visit")])


def test_a_row_of_the_read_pool_shows_its_json_as_the_engine_decodes_it():
    """The read pool's plain connections give a JSON column as its text, the engine's
    connections (the tests' hot reads) decoded: the item is the same."""
    from services.api.monitoring.bodies import case_item, clue_item
    from services.core.accounts.roles import Role
    from services.core.accounts.security import Caller

    caller = Caller(user_id=1, username="auditor", role=Role.auditor, region_prefix="5299")
    breaches = [{"due": "2025-04-02", "kind": "identification", "met_on": "2025-04-09"}]
    row = {
        "id": 3,
        "household_id": 4,
        "region_code": VILLAGE,
        "channels": ["visit"],
        "status": "assisting",
        "first_reported_on": date(2025, 3, 3),
        "report_count": 1,
        "deadline_breaches": breaches,
        "case_id": None,
        "dismissal_reason": None,
        "handled_by": None,
        "handled_at": None,
        "risk_types": ["illness", "disaster"],
        "next_deadline": None,
        "next_deadline_kind": None,
        "deadline_provisional": False,
        **dict.fromkeys(("case_type", "first_clue_on", "opened_on", "consent_on", "notice_start", "notice_end")),
        **dict.fromkeys(("identified_on", "category_before", "cadre_user_id", "cadre_assigned_on", "plan_on")),
        **dict.fromkeys(("last_visit_on", "elimination_proposed_on", "eliminated_on", "elimination_way")),
        **dict.fromkeys(("closed_on", "closed_reason", "reopened_from_id", "created_at", "updated_at")),
    }
    as_text = {**row, "deadline_breaches": '[{"due": "2025-04-02", "kind": "identification", "met_on": "2025-04-09"}]'}
    for item in (clue_item, case_item):
        assert item(as_text, caller) == item(row, caller)
        assert item(as_text, caller)["deadline_breaches"] == breaches
        assert item(row, caller)["risk_types"] == ["disaster"]  # an auditor does not see illness


OVERDUE = "/api/v1/monitoring-cases/overdue"
OVERDUE_PARSER = "services.api.monitoring.listing._overdue_query"


def _overdue_queries(other_household_id: int) -> list[list[tuple[str, str]]]:
    return [
        [],
        [("within_days", "7")],
        [("within_days", "30"), ("limit", "1")],
        [("within_days", "366")],
        [("within_days", "367")],  # 422 (left to FastAPI)
        [("within_days", "-1")],
        [("within_days", "07")],
        [("as_of", "2025-04-01")],
        [("as_of", "2025-04-01"), ("within_days", "40")],
        [("as_of", "2025-04-01"), ("within_days", "30")],  # the day before the stored case's deadline
        [("as_of", "2025-03-07")],  # the day before the stored clue's deadline
        [("as_of", "2025-03-08"), ("subject", "clue")],  # its day
        [("as_of", "2025-02-30")],
        [("as_of", "2025-4-1")],
        [("as_of", "2025-04-01T00:00:00")],
        [("kind", "identification"), ("within_days", "366")],
        [("kind", "clue_acceptance"), ("within_days", "366")],
        [("kind", "monthly_visit")],
        [("kind", "nope")],
        [("subject", "case"), ("within_days", "366")],
        [("subject", "clue"), ("within_days", "366")],
        [("subject", "other")],
        [("cadre_user_id", "5")],
        [("cadre_user_id", "5"), ("subject", "clue")],
        [("cadre_user_id", "0")],
        [("region", VILLAGE), ("within_days", "366")],
        [("region", "529901")],
        [("region", "529902")],  # another county: 404 for most
        [("region", "529901009")],
        [("region", "52990")],
        [("limit", "0")],
        [("limit", "500"), ("within_days", "366")],
        [("cursor", encode_cursor(["2025-04-01", "case", 1])), ("within_days", "366")],
        [("cursor", encode_cursor(["2025-03-08", "clue", 0])), ("within_days", "366")],
        [("cursor", encode_cursor(["2025-03-08", "a", 0])), ("within_days", "366"), ("limit", "1")],
        [("cursor", encode_cursor(["2025-03-08", "z", 0]))],
        [("cursor", encode_cursor(["2025-13-08", "case", 1]))],
        [("cursor", encode_cursor([1]))],
        [("cursor", "not-a-cursor")],
        [("unknown", "1")],
        [("region", "529902"), ("cursor", "not-a-cursor")],
        [("household_id", str(other_household_id))],  # not a filter of this list: FastAPI ignores it
    ]


async def test_direct_overdue_list_answers_like_fastapi(client, auth, monitoring, monkeypatch):
    queries = _overdue_queries(monitoring["other"]["id"])
    assert sum(taken(listing._overdue_query, query) for query in queries) >= 20
    for user in USERS:
        headers = auth(user)
        for query in queries:
            direct, general = await both(client, monkeypatch, OVERDUE, OVERDUE_PARSER, query, headers)
            same((OVERDUE, user, query), direct, general)
    for headers in ({}, {"Authorization": "Bearer x.y.z"}):
        direct, general = await both(client, monkeypatch, OVERDUE, OVERDUE_PARSER, [], headers)
        same((OVERDUE, headers), direct, general)


async def test_direct_overdue_pages_follow_their_cursors(client, auth, monitoring, monkeypatch):
    for user in ("county_staff.county", "township_staff.township"):
        headers = auth(user)
        base = [("within_days", "366"), ("limit", "2")]
        query = base
        seen = []
        while True:
            direct, general = await both(client, monkeypatch, OVERDUE, OVERDUE_PARSER, query, headers)
            same((OVERDUE, user, query), direct, general)
            assert direct.status_code == 200
            page = direct.json()
            seen += [(item["due"], item["subject"], item["id"]) for item in page["items"]]
            if page["next_cursor"] is None:
                break
            query = [*base, ("cursor", page["next_cursor"])]
        assert seen == sorted(set(seen)) and {subject for _, subject, _ in seen} == {"case", "clue"}, seen
