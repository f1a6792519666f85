"""The direct handler of ``hot_read`` routes answers exactly as FastAPI's own handling of
the same declaration would: the lookup is compared, input by input, with a twin route
that has the same signature but goes through FastAPI's general machinery; and the reads
also run on the production read pool (real commits, not the test's transaction)."""

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Body, Request

from services.api.app import create_app
from services.api.deps import Reads, Session
from services.api.households.router import HouseholdId, get_household, lookup_person
from services.api.routing import GuardlineRoute, _DirectRead, fast_path, hot_read
from services.core.accounts.roles import Permission
from services.core.households.schemas import PersonLookup
from services.core.scope import Reader
from tests.api.test_households import create
from tests.factories import VILLAGE_2, person

ReadAccess = Annotated[Reader, Reads(Permission.registry_read)]


@pytest.fixture
async def twin_client(settings, db):
    """The app plus /twin/lookup: the lookup endpoint without the direct handler."""
    app = create_app(settings, database=db)
    twin = APIRouter(route_class=GuardlineRoute)

    @twin.post("/twin/lookup")
    async def twin_lookup(request: Request, body: PersonLookup, reader: ReadAccess):
        return await lookup_person(request=request, body=body, reader=reader)

    @twin.get("/twin/households/{household_id}")
    async def twin_household(request: Request, household_id: HouseholdId, reader: ReadAccess):
        return await get_household(request=request, household_id=household_id, reader=reader)

    app.include_router(twin)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers.get("etag") == b.headers.get("etag")
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")
    ja, jb = a.json(), b.json()
    if isinstance(ja, dict):
        for volatile in ("request_id", "instance"):
            ja.pop(volatile, None)
            jb.pop(volatile, None)
    assert ja == jb


async def test_direct_lookup_answers_like_fastapi(twin_client, auth):
    member = person("head")
    await create(twin_client, auth, members=[member])
    token = auth("grid_worker.village")
    json_type = {"Content-Type": "application/json"}
    cases = [
        ({**token}, {"json": {"id_number": member["id_number"]}}),  # found
        ({**token, "Accept-Language": "zh-CN"}, {"json": {"id_number": member["id_number"].lower()}}),
        ({**token}, {"json": {"id_number": person("head")["id_number"]}}),  # unknown: 404
        ({**token, "Accept-Language": "zh"}, {"json": {"id_number": "110105194912310021"}}),  # check digit
        ({**token}, {"json": {"id_number": "11010519491331002X"}}),  # impossible birth date
        ({**token}, {"json": {}}),  # field missing
        ({**token}, {"json": {"id_number": 110105}}),  # wrong type
        ({**token}, {"json": {"id_number": member["id_number"], "region_code": "529901001001"}}),  # unknown field
        ({**token}, {"json": []}),
        ({**token, **json_type}, {"content": b'{"id_number": '}),  # malformed JSON
        ({**token, **json_type}, {"content": b""}),  # no body
        ({**token, "Content-Type": "text/plain"}, {"content": b'{"id_number": "x"}'}),
        ({}, {"json": {"id_number": member["id_number"]}}),  # no token: 401
        ({"Authorization": "Bearer not-a-token"}, {"json": {"id_number": member["id_number"]}}),
        ({"Authorization": "Basic abc"}, {"json": {"id_number": member["id_number"]}}),
    ]
    for headers, kwargs in cases:
        direct = await twin_client.post("/api/v1/persons/lookup", headers=headers, **kwargs)
        general = await twin_client.post("/twin/lookup", headers=headers, **kwargs)
        _same(direct, general)
    assert (
        member["id_number"]
        not in (
            await twin_client.post(
                "/api/v1/persons/lookup", headers=token, json={"id_number": member["id_number"][:-1] + "0"}
            )
        ).text
    )


async def test_direct_lookup_opens_no_transaction(twin_client, auth):
    """A lookup is a read: an Idempotency-Key is not claimed and nothing is written."""
    member = person("head")
    await create(twin_client, auth, members=[member])
    headers = {**auth("grid_worker.village"), "Idempotency-Key": "lookup-1"}
    first = await twin_client.post("/api/v1/persons/lookup", headers=headers, json={"id_number": member["id_number"]})
    other = await twin_client.post(
        "/api/v1/persons/lookup", headers=headers, json={"id_number": person("head")["id_number"]}
    )
    assert (first.status_code, other.status_code) == (200, 404)  # not refused as a reused key


async def test_direct_household_answers_like_fastapi(twin_client, auth):
    created = await create(twin_client, auth, members=[person("head")])
    hidden = await create(twin_client, auth, members=[person("head")], region=VILLAGE_2, user="county_staff.county")
    token = auth("village_staff.village")
    for ident, headers in (
        (created["id"], token),
        (created["id"], {**token, "Accept-Language": "zh"}),
        (hidden["id"], token),  # outside the scope: 404
        (2**62, token),
        (2**62 + 1, token),
        (0, token),
        (-3, token),
        ("abc", token),
        ("1.5", token),
        (created["id"], {}),
        (created["id"], {"Authorization": "Bearer x.y.z"}),
    ):
        direct = await twin_client.get(f"/api/v1/households/{ident}", headers=headers)
        general = await twin_client.get(f"/twin/households/{ident}", headers=headers)
        _same(direct, general)


@pytest.mark.parametrize("signature", ["query", "two_bodies", "session", "no_reader"])
def test_hot_read_refuses_what_it_cannot_serve(signature):
    router = APIRouter(route_class=GuardlineRoute)
    if signature == "query":

        async def endpoint(item: int, body: PersonLookup, reader: ReadAccess): ...

        path = "/x"
    elif signature == "two_bodies":

        async def endpoint(body: PersonLookup, other: Annotated[PersonLookup, Body()], reader: ReadAccess): ...

        path = "/x"
    elif signature == "session":

        async def endpoint(body: PersonLookup, session: Session): ...

        path = "/x"
    else:

        async def endpoint(request: Request, body: PersonLookup): ...

        path = "/x"
    with pytest.raises(TypeError, match="hot_read"):
        router.post(path)(hot_read(endpoint))
        _DirectRead(router.routes[-1])


@pytest.mark.parametrize("marker", ["hot_read", "fast_path"])
def test_a_marker_above_the_route_decorator_is_refused(marker):
    """Written above ``@router.get`` a marker would come after the route's handler was built,
    and be ignored: the route would never take the direct way."""
    router = APIRouter(route_class=GuardlineRoute)

    async def endpoint(request: Request, reader: ReadAccess): ...

    mark = hot_read if marker == "hot_read" else fast_path(lambda request: None)
    routed = router.get("/x")(endpoint)
    with pytest.raises(TypeError, match=f"@{marker} on .*endpoint must come below"):
        mark(routed)

    async def below(request: Request, reader: ReadAccess): ...

    router.get("/y")(mark(below))  # the right order
    assert getattr(router.routes[-1].endpoint, "guardline_hot" if marker == "hot_read" else "guardline_direct")


async def test_hot_reads_on_the_read_pool(committing_client, auth):
    """With real transactions the hot reads run on the read pool: they see committed data,
    and region scope holds there too."""
    member = person("head")
    created = await create(committing_client, auth, members=[member], region=VILLAGE_2, user="county_staff.county")
    for user, expected in (
        ("county_staff.county", 200),
        ("village_staff.village2", 200),
        ("township_staff.township", 200),
        ("village_staff.village", 404),
        ("county_staff.other", 404),
    ):
        got = await committing_client.get(f"/api/v1/households/{created['id']}", headers=auth(user))
        found = await committing_client.post(
            "/api/v1/persons/lookup", headers=auth(user), json={"id_number": member["id_number"]}
        )
        assert (user, got.status_code, found.status_code) == (user, expected, expected)
        if expected == 200:
            assert got.json()["members"][0]["name"] == member["name"]
            assert found.json()["household_id"] == created["id"]
