"""Scope beyond the path: ids in bodies, in lists of ids (batches), in nested fields and in
query strings. Something outside the caller's regions is answered exactly as something
that does not exist — same status, same body but for the request id and the echoed id —
and a batch that names one such id is refused whole: nothing is written.

``tests/api/test_scope_matrix.py`` covers the ids in paths, route by route and role by role.
"""

from __future__ import annotations

import re

import pytest

from services.api.app import create_app
from services.core.settings import Settings
from tests.api.fieldwork_helpers import campaign_body
from tests.api.world import MISSING, World, make_world
from tests.dbstate import changed_tables, fingerprint
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, household, person

DOCUMENT = create_app(Settings(env="test")).openapi()
# (``ratelimit``: what is left of the caller's own quota, one less on the second request)
VARYING_HEADERS = {"x-request-id", "content-length", "date", "ratelimit"}


def _normalised(response, ids) -> tuple:
    """Status, headers and body, without the request id and the path (``instance``), and
    with the id the request asked about replaced in the messages that echo it."""

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k not in ("request_id", "instance")}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for ident in ids:
                value = re.sub(rf"(?<![0-9]){re.escape(ident)}(?![0-9])", "<id>", value)
        return value

    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in VARYING_HEADERS)
    return response.status_code, headers, scrub(response.json())


def _spellings(ident) -> list[str]:
    """How an id may be echoed: as sent, and a region prefix (a string) as its 12-digit code."""
    if isinstance(ident, str) and len(ident) < 12:
        return [ident.ljust(12, "0"), ident]
    return [str(ident)]


def assert_same_answer(hidden, missing, hidden_id, missing_id, status: int = 404):
    """The answer about something out of scope is the answer about something that does not exist."""
    assert hidden.status_code == status, hidden.text
    assert _normalised(hidden, _spellings(hidden_id)) == _normalised(missing, _spellings(missing_id)), (
        hidden.text,
        missing.text,
    )


class Recorder:
    """Sends a request and proves it wrote nothing."""

    def __init__(self, client, db):
        self.client, self.db = client, db

    async def unchanged(self, method: str, path: str, **kw):
        before = await fingerprint(self.db.connection)
        r = await self.client.request(method, path, **kw)
        changed = changed_tables(before, await fingerprint(self.db.connection))
        assert not changed, f"{method} {path} answered {r.status_code} but changed {changed}"
        return r


@pytest.fixture
async def world(client, auth) -> World:
    return await make_world(client, auth)


@pytest.fixture
def send(client, db) -> Recorder:
    return Recorder(client, db)


# Callers and a person each of them cannot see: another county's, and for village users a
# person of the neighbouring village in the same township.
OUT_OF_SCOPE = [
    ("county_staff.county", "foreign"),
    ("township_staff.township", "foreign"),
    ("village_staff.village", "foreign"),
    ("village_staff.village", "village2"),
    ("grid_worker.village", "village2"),
]


# ---- batches: split with a list of person ids ---------------------------------------------


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
@pytest.mark.parametrize("first", [True, False], ids=["hidden-first", "hidden-last"])
async def test_split_naming_a_hidden_person_is_refused_whole(world, send, auth, username, where, first):
    h = auth(username)
    child, stranger = world.member("home", 2), world.member(where, 1)
    path = f"/api/v1/households/{world.home['id']}/split"

    def body(other):
        ids = [other, child] if first else [child, other]
        return {"person_ids": ids, "head_person_id": child}

    hidden = await send.unchanged("POST", path, json=body(stranger), headers=h)
    missing = await send.unchanged("POST", path, json=body(MISSING), headers=h)
    assert_same_answer(hidden, missing, stranger, MISSING)
    assert hidden.json()["field"] == f"person_ids[{0 if first else 1}]"


async def test_split_naming_a_visible_non_member_is_a_mistake_not_a_secret(world, send, auth):
    """The county sees the neighbouring village's person: not a member (422), not hidden (404)."""
    child, neighbour = world.member("home", 2), world.member("village2", 1)
    r = await send.unchanged(
        "POST",
        f"/api/v1/households/{world.home['id']}/split",
        json={"person_ids": [child, neighbour], "head_person_id": child},
        headers=auth("county_staff.county"),
    )
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "person_not_member", "person_ids[1]")


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
async def test_split_hidden_remaining_head_is_like_a_missing_one(world, send, auth, username, where):
    head, spouse = world.member("home", 0), world.member("home", 1)
    path = f"/api/v1/households/{world.home['id']}/split"
    h = auth(username)
    answers = [
        await send.unchanged(
            "POST",
            path,
            json={"person_ids": [head], "head_person_id": head, "remaining_head_person_id": ident},
            headers=h,
        )
        for ident in (world.member(where, 0), MISSING)
    ]
    assert_same_answer(*answers, world.member(where, 0), MISSING, status=409)
    ok = await send.client.post(
        path, json={"person_ids": [head], "head_person_id": head, "remaining_head_person_id": spouse}, headers=h
    )
    assert ok.status_code == 201, ok.text


# ---- ids in bodies: merge, move, change of head, regions ---------------------------------


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
async def test_merge_naming_a_hidden_household(world, send, auth, username, where):
    h = auth(username)
    path = f"/api/v1/households/{world.home['id']}/merge"
    target = getattr(world, where)["id"]
    hidden = await send.unchanged("POST", path, json={"household_id": target}, headers=h)
    missing = await send.unchanged("POST", path, json={"household_id": MISSING}, headers=h)
    assert_same_answer(hidden, missing, target, MISSING)


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
async def test_move_into_a_hidden_household(world, send, auth, username, where):
    h = auth(username)
    path = f"/api/v1/persons/{world.member('home', 2)}/move"
    target = getattr(world, where)["id"]
    hidden = await send.unchanged("POST", path, json={"household_id": target, "relation": "other"}, headers=h)
    missing = await send.unchanged("POST", path, json={"household_id": MISSING, "relation": "other"}, headers=h)
    assert_same_answer(hidden, missing, target, MISSING)
    assert hidden.json()["field"] == "household_id"


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
async def test_move_a_hidden_person_into_a_visible_household(world, send, auth, username, where):
    h = auth(username)
    stranger = world.member(where, 1)
    body = {"household_id": world.home["id"], "relation": "other"}
    hidden = await send.unchanged("POST", f"/api/v1/persons/{stranger}/move", json=body, headers=h)
    missing = await send.unchanged("POST", f"/api/v1/persons/{MISSING}/move", json=body, headers=h)
    assert_same_answer(hidden, missing, stranger, MISSING)


@pytest.mark.parametrize("username,where", OUT_OF_SCOPE)
async def test_new_head_naming_a_hidden_person(world, send, auth, username, where):
    path = f"/api/v1/households/{world.home['id']}"
    h = {**auth(username), "If-Match": (await send.client.get(path, headers=auth(username))).headers["etag"]}
    stranger = world.member(where, 1)
    hidden = await send.unchanged("PATCH", path, json={"head_person_id": stranger}, headers=h)
    missing = await send.unchanged("PATCH", path, json={"head_person_id": MISSING}, headers=h)
    # Not a member either way: the same 422, which says nothing about the other county.
    assert_same_answer(hidden, missing, stranger, MISSING, status=422)


@pytest.mark.parametrize(
    "username,village",
    [
        ("county_staff.county", OTHER_COUNTY_VILLAGE),
        ("village_staff.village", VILLAGE_2),
        ("village_staff.village", OTHER_COUNTY_VILLAGE),
    ],
)
async def test_region_codes_in_bodies_naming_hidden_villages(world, send, auth, username, village):
    """Moving a household, splitting into, or registering in a village one cannot see."""
    h = auth(username)
    ghost = "529901001999"
    home = f"/api/v1/households/{world.home['id']}"
    current = (await send.client.get(home, headers=h)).headers["etag"]
    requests = [
        ("PATCH", home, lambda v: {"region_code": v}, {"If-Match": current}),
        (
            "POST",
            f"/api/v1/households/{world.home['id']}/split",
            lambda v: {
                "person_ids": [world.member("home", 2)],
                "head_person_id": world.member("home", 2),
                "region_code": v,
            },
            {},
        ),
        ("POST", "/api/v1/households", lambda v: household(region=v, members=[person("head")]), {}),
    ]
    for method, path, body, extra in requests:
        hidden = await send.unchanged(method, path, json=body(village), headers={**h, **extra})
        missing = await send.unchanged(method, path, json=body(ghost), headers={**h, **extra})
        assert_same_answer(hidden, missing, village, ghost)
        assert hidden.json()["code"] == "region_not_found"


@pytest.mark.parametrize(
    "username,region",
    [
        ("county_staff.county", "529902"),
        ("county_staff.county", OTHER_COUNTY_VILLAGE),
        ("county_staff.village", VILLAGE_2),
        ("county_staff.village", "529902001"),
    ],
)
async def test_region_prefixes_in_monitoring_bodies_naming_hidden_regions(world, send, auth, username, region):
    """The region the uncovered-households rule raises clues in, and the region a policy
    override is for: a hidden one is answered as a missing one, and nothing is written."""
    h = auth(username)
    ghost = "529901001999" if len(region) == 12 else region[:-1] + "9"
    requests = [
        ("POST", "/api/v1/monitoring/uncovered-households/clues", lambda v: {"region": v}, "region"),
        (
            "POST",
            "/api/v1/monitoring-policies",
            lambda v: {"region_prefix": v, "year": 2030, "values": {"plan_days": 8}},
            "region_prefix",
        ),
        # the asset checks' region (its SQL is bounded by the prefix alone)
        ("POST", "/api/v1/fund-findings/scan", lambda v: {"region": v}, "region"),
        # the cross-check thresholds (the region is checked before the county-level rule)
        (
            "POST",
            "/api/v1/sync-policies",
            lambda v: {"region_prefix": v, "year": 2030, "values": {"new_grant_months": 6}},
            "region_prefix",
        ),
    ]
    for method, path, body, field in requests:
        hidden = await send.unchanged(method, path, json=body(region), headers=h)
        missing = await send.unchanged(method, path, json=body(ghost), headers=h)
        assert_same_answer(hidden, missing, region, ghost)
        assert hidden.json()["code"] == "region_not_found" and hidden.json()["field"] == field


async def test_nested_ids_of_hidden_persons_touch_nothing_of_theirs(world, client, auth):
    """``relations`` maps person ids to relations; naming someone of another county there
    must neither fail differently from a missing id nor reach that person."""
    h, other = auth("county_staff.county"), auth("county_staff.other")
    foreign_before = (await client.get(f"/api/v1/households/{world.foreign['id']}", headers=other)).json()
    stranger = world.member("foreign", 1)
    r = await client.post(
        f"/api/v1/households/{world.home['id']}/merge",
        json={"household_id": world.neighbour["id"], "relations": {str(stranger): "spouse", str(MISSING): "spouse"}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert stranger not in [m["id"] for m in r.json()["members"]]
    r = await client.post(
        f"/api/v1/households/{world.home['id']}/split",
        json={
            "person_ids": [world.member("home", 2)],
            "head_person_id": world.member("home", 2),
            "relations": {str(stranger): "spouse"},
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert [m["id"] for m in r.json()["members"]] == [world.member("home", 2)]
    foreign_after = (await client.get(f"/api/v1/households/{world.foreign['id']}", headers=other)).json()
    assert foreign_after == foreign_before


# ---- ids in query strings ------------------------------------------------------------------

# Query parameters that name regional objects: how to name one the caller cannot see and one
# that does not exist. Every other query parameter must be listed as not naming one.
QUERY_TARGETS = {
    "region": {
        "county_staff.county": ("529902", "529903"),
        "township_staff.township": (OTHER_COUNTY_VILLAGE[:9], "529901009"),
        "village_staff.village": (VILLAGE_2, "529901001999"),
    },
    "parent": {
        "county_staff.county": ("529902000000", "529903000000"),
        "village_staff.village": (VILLAGE_2, "529901001999"),
    },
    "village": {
        "county_staff.county": (OTHER_COUNTY_VILLAGE, "529901001999"),
        "township_staff.township": (OTHER_COUNTY_VILLAGE, "529901001999"),
        "village_staff.village": (VILLAGE_2, "529901001999"),
    },
    # Sync runs and quarantine by county: seen from county level up, so no township or
    # village account has a county of its own to name (tests/api/test_sync_api.py).
    "county": {"county_staff.county": ("529902", "529903")},
}
# The value of each parameter that names something of the caller's own (answered 200).
OWN_VALUES = {"county": "529901"}
NOT_TARGETS = {
    # the events and the change feed: kinds and positions in the caller's own stream
    "family",
    "after",  # an event number (the events themselves are filtered by the caller's regions)
    "types",  # event types
    "category",
    "flags",
    "income_below",
    "income_year",
    "name",
    "status",
    "limit",
    "cursor",
    "year",
    "month",
    "income_complete",
    "level",
    "role",
    "actor",
    "action",
    "object_type",
    "object_id",
    "result",
    "since",
    "until",
    "channel",
    "risk_type",
    "case_type",
    "within_days",
    "as_of",
    "kind",
    "subject",
    "on",
    "quarter",  # a quarter of the year (follow-up income lists)
    "period",  # a report's period (YYYY-MM or YYYY-Qn): stored reports
    "flag",  # why a household's income is flagged
    # A filter by user: lists of cases show the same (nothing) for a hidden or a missing user.
    "cadre_user_id",
    # Households by id: 404 for hidden and missing alike, tested with real ids in
    # tests/api/test_monitoring_clues.py (this table holds fixed values only).
    "household_id",
    "province",  # income lines are public figures; the filter only narrows the caller's own list
    # department sync: names of configured sources, reason codes, rule ids, severities
    # and times; persons by id answer 404 for hidden and missing alike (tested with real
    # ids in tests/api/test_sync_api.py)
    "source",
    "reason",
    "rule_id",
    "severity",
    "seen_since",
    "person_id",
    # project assets: projects and assets by id answer 404 for hidden and missing alike (tested
    # with real ids in tests/api/test_funds_assets.py); the asset class is a vocabulary
    "project_id",
    "asset_id",
    "asset_class",
    # ledgers out: the file format; a case by id answers 404 for hidden and missing alike
    # (tested with real ids in tests/api/test_exports.py)
    "format",
    "case_id",
    # field work: a day of service (the roster is filtered by the caller's regions)
    "active_on",
    # the ledgers: whether past its deadline
    "overdue",
}


def _allowed_user(op_id: str, username: str) -> str:
    """``username``, or the user of the same level whose role holds the operation's scopes
    (the audit list is for auditors)."""
    from services.core.accounts.roles import PERMISSIONS, Role

    op = next(op for item in DOCUMENT["paths"].values() for op in item.values() if op["operationId"] == op_id)
    needed = {s for req in op.get("security", []) for scopes in req.values() for s in scopes}
    role, level = username.split(".")
    if needed <= {p.value for p in PERMISSIONS[Role(role)]}:
        return username
    return next(f"{r.value}.{level}" for r in Role if needed <= {p.value for p in PERMISSIONS[r]})


def _query_operations():
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] == "query":
                    yield op["operationId"], method.upper(), path, p["name"]


def test_every_query_parameter_is_described():
    unknown = {
        f"{op_id}?{name}"
        for op_id, _, _, name in _query_operations()
        if name not in QUERY_TARGETS and name not in NOT_TARGETS
    }
    assert not unknown, (
        "say in tests/api/test_scope_batch.py whether these query parameters name regional "
        f"objects (QUERY_TARGETS) or not (NOT_TARGETS): {sorted(unknown)}"
    )


# Public disclosure (no login) hides no region: every region is public there, an unknown one
# is 404 (tests/api/test_funds_public.py).
PUBLIC_OPERATIONS = {"listPublicProjects", "getPublicProject", "getPublicFundSummary"}
_REGION_QUERIES = [q for q in _query_operations() if q[3] in QUERY_TARGETS and q[0] not in PUBLIC_OPERATIONS]


@pytest.mark.parametrize("op_id,method,path,name", _REGION_QUERIES, ids=[f"{q[0]}?{q[3]}" for q in _REGION_QUERIES])
async def test_query_parameters_naming_hidden_regions(world, client, send, auth, op_id, method, path, name):
    # Paths with ids are aimed at a household (or a county's campaign) the caller can see, so only the query varies.
    ids = {"household_id": world.home["id"], "person_id": world.member("home", 0), "record_id": world.record["id"]}
    if "{campaign_id}" in path:
        campaign = await client.post(
            "/api/v1/campaigns", json=campaign_body(VILLAGE[:6]), headers=auth("county_staff.county")
        )
        ids["campaign_id"] = campaign.json()["id"]
    target = path.format(**ids)
    for username, (hidden_value, missing_value) in QUERY_TARGETS[name].items():
        username = _allowed_user(op_id, username)
        h = auth(username)
        hidden = await send.unchanged(method, target, params={name: hidden_value}, headers=h)
        missing = await send.unchanged(method, target, params={name: missing_value}, headers=h)
        assert_same_answer(hidden, missing, hidden_value, missing_value)
        assert hidden.json()["field"] == name
        own_value = OWN_VALUES.get(name, VILLAGE)
        own = await send.unchanged(method, target, params={name: own_value}, headers=h)
        assert own.status_code == 200, f"{op_id}?{name}={own_value} as {username}: {own.text}"


async def test_households_list_never_shows_what_the_filter_cannot_reach(world, client, auth):
    """Without a filter, a village user's list holds its own village only (the batch of ids
    a list returns is scoped too)."""
    r = await client.get("/api/v1/households", headers=auth("village_staff.village"))
    ids = {h["id"] for h in r.json()["items"]}
    assert {world.home["id"], world.neighbour["id"]} <= ids
    assert not ids & {world.village2["id"], world.foreign["id"]}
