"""The household list's direct handler (``services.api.households.listing``) answers exactly
as the route's FastAPI handling does: each request is sent twice to the same app, once as
it comes (the direct handler takes it on where it can) and once with the direct handler
declining everything, and the two answers must be the same, byte for byte."""

import pytest

from services.api.households import listing
from services.core.paging import encode_cursor
from tests.api.direct_twin import PAGING_QUERIES, both, same, taken
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2, person

PARSER = "services.api.households.listing._query"


def _taken(query: list[tuple[str, str]]) -> bool:
    return taken(listing._query, query)


async def _both(client, monkeypatch, query, headers):
    return await both(client, monkeypatch, "/api/v1/households", PARSER, query, headers)


_same = same


@pytest.fixture
async def registry(client, auth):
    county = "county_staff.county"
    made = []
    for i in range(7):
        made.append(
            await create(
                client,
                auth,
                user=county,
                category=("ordinary", "lifted_out", "monitored")[i % 3] if i % 3 != 2 else "ordinary",
                flags=[["dibao"], ["dibao", "disabled"], ["serious_illness"], [], ["tekun", "dibao"]][i % 5],
                members=[person("head", name=f"欧阳{i}"), person("child", name=f"王_{i}%")],
                region=(VILLAGE, VILLAGE_2, OTHER_TOWNSHIP_VILLAGE)[i % 3],
            )
        )
    await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    return made


USERS = [
    "county_staff.county",  # registry:health
    "auditor.county",  # registry:read without registry:health: no health flags
    "grid_worker.village",
    "village_staff.village",
    "township_staff.township",
    "county_staff.other",
    "department_system.county",  # no registry:read: 403
    "admin.county",
]

QUERIES: list[list[tuple[str, str]]] = [
    [],
    [("limit", "2")],
    [("limit", "1"), ("region", VILLAGE)],
    [("region", "5299")],
    [("region", "529901")],
    [("region", "529901001")],
    [("region", "529902")],  # another county: 404 for most
    [("region", "529901009")],  # no such township: 404
    [("region", "52990")],  # malformed: 422 (left to FastAPI)
    [("category", "ordinary")],
    [("category", "lifted_out"), ("limit", "3")],
    [("category", "rich")],
    [("flags", "dibao")],
    [("flags", "dibao"), ("flags", "tekun")],
    [("flags", "disabled")],  # health: 403 without registry:health
    [("flags", "dibao"), ("flags", "serious_illness")],
    [("flags", "nope")],
    [("status", "dissolved")],
    [("status", "active"), ("category", "ordinary"), ("flags", "dibao"), ("region", VILLAGE)],
    [("status", "")],
    [("name", "欧阳")],
    [("name", "王_")],  # wildcards are literal
    [("name", "%")],
    [("name", "欧阳1"), ("region", VILLAGE_2)],
    [("name", "")],
    [("name", "x" * 51)],
    [("name", "a\x01")],
    [("income_below", "7100"), ("income_year", "2025")],
    [("income_below", "7100.50"), ("income_year", "2025"), ("flags", "dibao")],
    [("income_below", "7100")],
    [("income_year", "2025")],
    [("income_below", "7100.123"), ("income_year", "2025")],
    [("income_below", "7100"), ("income_year", "1999")],
    *PAGING_QUERIES,
    [("cursor", encode_cursor([0])), ("limit", "2")],
    [("unknown", "1")],
    [("region", "529902"), ("cursor", "not-a-cursor")],  # 404 before 422
    [("flags", "disabled"), ("cursor", "bad")],
]


async def test_direct_list_answers_like_fastapi(client, auth, registry, monkeypatch):
    assert sum(map(_taken, QUERIES)) >= 20  # the valid ones go the direct way
    for user in USERS:
        headers = auth(user)
        for query in QUERIES:
            direct, general = await _both(client, monkeypatch, query, headers)
            _same((user, query), direct, general)
    for headers in ({}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic abc"}):
        direct, general = await _both(client, monkeypatch, [("limit", "2")], headers)
        _same(headers, direct, general)


async def test_direct_pages_follow_their_cursors(client, auth, registry, monkeypatch):
    """Paging through with each cursor given out: the same pages, and every household once."""
    for user in ("county_staff.county", "auditor.county", "grid_worker.village", "township_staff.township"):
        headers = auth(user)
        query: list[tuple[str, str]] = [("limit", "2")]
        seen = []
        while True:
            direct, general = await _both(client, monkeypatch, query, headers)
            _same((user, query), direct, general)
            assert direct.status_code == 200
            page = direct.json()
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            query = [("limit", "2"), ("cursor", page["next_cursor"])]
        assert seen == sorted(set(seen)) and seen


async def test_the_direct_handler_takes_the_plain_queries_only():
    assert _taken([("limit", "50"), ("cursor", encode_cursor([7])), ("region", VILLAGE), ("flags", "dibao")])
    assert _taken([("name", "欧阳"), ("income_below", "1.5"), ("income_year", "2024"), ("status", "dissolved")])
    for query in (
        [("limit", "0")],
        [("limit", "501")],
        [("cursor", "not-a-cursor")],
        [("region", "52990")],
        [("income_below", "1")],
        [("category", "rich")],
        [("other", "1")],
        [("limit", "1"), ("limit", "2")],
    ):
        assert not _taken(query), query


async def test_direct_list_shows_health_flags_to_registry_health_only(client, auth, registry):
    shown = await client.get("/api/v1/households", params={"limit": 50}, headers=auth("county_staff.county"))
    hidden = await client.get("/api/v1/households", params={"limit": 50}, headers=auth("auditor.county"))
    assert any("disabled" in item["flags"] for item in shown.json()["items"])
    assert (
        not any({"disabled", "serious_illness"} & set(item["flags"]) for item in hidden.json()["items"])
        and hidden.json()["items"]
    )


@pytest.mark.parametrize("direct", [True, False])
async def test_the_token_is_checked_once_per_request(client, auth, registry, monkeypatch, direct):
    """The list's dependencies (the permission and the rate limit) each ask for the caller:
    the token's signature and its account are checked once, through either handling."""
    from services.api import deps

    if not direct:
        monkeypatch.setattr(PARSER, lambda request: (_ for _ in ()).throw(listing.Declined()))
    checked = []
    read = deps.read_token

    def counting(*args, **kwargs):
        checked.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(deps, "read_token", counting)
    response = await client.get("/api/v1/households", headers=auth("county_staff.county"))
    assert response.status_code == 200
    assert len(checked) == 1
