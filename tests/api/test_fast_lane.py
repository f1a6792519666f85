"""The fast lane (``services.api.edge``) answers the busiest reads exactly as the whole
middleware stack and FastAPI's routing would: each request is sent with the lane and
again with the lane closed, and status, headers and bytes must agree; and it really
takes those requests (the test would pass trivially otherwise)."""

import httpx
import pytest
from fastapi import APIRouter

from services.api import edge
from services.api.app import create_app
from services.api.households import listing
from services.api.ratelimit import RateLimiter
from services.api.routing import GuardlineRoute
from tests.api.direct_twin import same
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, person
from tests.factories import household as household_body


@pytest.fixture
def answered(monkeypatch) -> list[str]:
    """The paths the lane answered itself."""
    paths: list[str] = []
    answer = edge.FastLane._answer

    async def spied(self, scope, receive, send, lane, params):
        taken = await answer(self, scope, receive, send, lane, params)
        if taken:
            paths.append(scope["path"])
        return taken

    monkeypatch.setattr(edge.FastLane, "_answer", spied)
    return paths


async def _both(
    client, monkeypatch, path, headers, params=None, method="GET", **body
) -> tuple[httpx.Response, httpx.Response]:
    app = client._transport.app
    app.state.rate_limiter = RateLimiter()  # the same counts both ways (the RateLimit headers)
    lane = await client.request(method, path, headers=headers, params=params, **body)
    app.state.rate_limiter = RateLimiter()
    with monkeypatch.context() as patch:
        patch.setattr(edge.FastLane, "_lane_for", lambda self, path, method="GET": None)
        stack = await client.request(method, path, headers=headers, params=params, **body)
    return lane, stack


async def test_the_lane_answers_one_household_as_the_stack_does(client, auth, monkeypatch, answered):
    made = await create(client, auth, members=[person("head"), person("child")], flags=["disabled"])
    other = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    hid = made["id"]
    etag = (await client.get(f"/api/v1/households/{hid}", headers=auth("county_staff.county"))).headers["etag"]
    answered.clear()
    ids = [str(hid), str(other["id"]), "999999999", "abc", "-1", "1" * 30]
    variants: list[dict[str, str]] = [
        {},
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "gzip;q=0"},
        {"If-None-Match": etag},
        {"If-None-Match": '"household-1-v999"'},
        {"X-Request-ID": "mine-123"},
    ]
    for user in ("county_staff.county", "auditor.county", "grid_worker.village", "county_staff.other", "admin.county"):
        for household in ids:
            for extra in variants:
                headers = {**auth(user), **extra}
                lane, stack = await _both(client, monkeypatch, f"/api/v1/households/{household}", headers)
                same((user, household, extra), lane, stack)
                if "X-Request-ID" in extra:
                    assert lane.headers["x-request-id"] == "mine-123"
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        lane, stack = await _both(client, monkeypatch, f"/api/v1/households/{hid}", headers)
        same(headers, lane, stack)
        assert lane.status_code == 401
    assert answered.count(f"/api/v1/households/{hid}") >= 5 * len(variants)


async def test_the_lane_answers_a_lookup_as_the_stack_does(client, auth, monkeypatch, answered):
    """A POST lookup (the ID number in a small body) takes the lane, answered as the stack
    answers it for every role, body and header; a large body, one of undeclared length, a
    GET or another POST route go to the stack."""
    member = person("head")
    await create(client, auth, members=[member])
    number = member["id_number"]
    json_type = {"Content-Type": "application/json"}
    bodies: list[dict] = [
        {"json": {"id_number": number}},
        {"json": {"id_number": number.lower()}},
        {"json": {"id_number": person("head")["id_number"]}},  # unknown: 404
        {"json": {"id_number": "110105194912310021"}},  # check digit
        {"json": {}},
        {"json": {"id_number": number, "extra": 1}},
        {"content": b'{"id_number": ', "headers": json_type},  # malformed JSON
        {"content": b"", "headers": json_type},  # no body
        {"content": b'{"id_number": "x"}', "headers": {"Content-Type": "text/plain"}},
    ]
    users = ("county_staff.county", "auditor.county", "grid_worker.village", "county_staff.other", "admin.county")
    for user in users:
        for variant in bodies:
            extra = dict(variant)
            headers = {**auth(user), **extra.pop("headers", {})}
            for more in ({}, {"Accept-Encoding": "gzip", "Accept-Language": "zh"}, {"X-Request-ID": "mine-1"}):
                lane, stack = await _both(
                    client, monkeypatch, "/api/v1/persons/lookup", {**headers, **more}, method="POST", **extra
                )
                same((user, variant, more), lane, stack)
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        lane, stack = await _both(client, monkeypatch, "/api/v1/persons/lookup", headers, method="POST", json={})
        same(headers, lane, stack)
        assert lane.status_code == 401
    taken = len(users) * len(bodies) * 3 + 2
    assert answered.count("/api/v1/persons/lookup") == taken
    # Not for the lane: a body over its limit (the stack refuses or reads it), a body of
    # undeclared length, a GET of the lookup's path, a POST to another route.
    county = auth("county_staff.county")
    big = {"id_number": number, "pad": "x" * edge.LANE_BODY_BYTES}
    lane, stack = await _both(client, monkeypatch, "/api/v1/persons/lookup", county, method="POST", json=big)
    same("big", lane, stack)

    async def chunks():
        yield b'{"id_number": "' + number.encode() + b'"}'

    streamed = await client.post("/api/v1/persons/lookup", headers={**county, **json_type}, content=chunks())
    assert streamed.status_code == 200 and streamed.json()["id"]
    assert (await client.get("/api/v1/persons/lookup", headers=county)).status_code == 405
    made = await client.post("/api/v1/households", headers=county, json=household_body())
    assert made.status_code == 201, made.text
    assert answered.count("/api/v1/persons/lookup") == taken and "/api/v1/households" not in answered


async def test_the_lane_answers_list_pages_gzipped_as_the_stack_does(client, auth, monkeypatch, answered):
    for i in range(30):
        await create(client, auth, members=[person("head", name=f"张{i}")])
    answered.clear()
    for params in ({"limit": "200"}, {"limit": "2"}, {"limit": "abc"}, {"region": "529902"}):
        for extra in ({}, {"Accept-Encoding": "gzip, deflate"}, {"Accept-Encoding": "br"}):
            lane, stack = await _both(
                client, monkeypatch, "/api/v1/households", {**auth("county_staff.county"), **extra}, params
            )
            same((params, extra), lane, stack)
    big = await client.get(
        "/api/v1/households",
        params={"limit": "200"},
        headers={**auth("county_staff.county"), "Accept-Encoding": "identity"},
    )
    assert big.headers["vary"] == "Accept-Encoding" and "content-encoding" not in big.headers
    zipped = await client.get(
        "/api/v1/households",
        params={"limit": "200"},
        headers={**auth("county_staff.county"), "Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json()["items"] == big.json()["items"]
    # Three of the four queries taken (each with three encodings), and the last two; the
    # malformed limit was declined: the stack answered it.
    assert answered == ["/api/v1/households"] * (3 * 3 + 2)


async def test_a_lane_answer_is_counted_and_logged_like_any_other(client, auth, caplog, answered):
    made = await create(client, auth, members=[person("head")])
    caplog.set_level("INFO", logger="guardline.access")
    r = await client.get(f"/api/v1/households/{made['id']}", headers=auth("county_staff.county"))
    assert r.status_code == 200 and answered
    lines = [rec for rec in caplog.records if rec.name == "guardline.access"]
    assert lines and lines[-1].getMessage().startswith("GET /api/v1/households/{household_id} 200 ")
    assert lines[-1].request_id == r.headers["x-request-id"]
    metrics = await client.get("/metrics")
    wanted = 'guardline_http_requests_total{method="GET",route="/api/v1/households/{household_id}",status="200"}'
    assert wanted in metrics.text


async def test_an_unexpected_error_in_the_lane_is_a_clean_500(client, auth, monkeypatch, caplog, answered):
    def broken(*args, **shape):
        raise RuntimeError("secret value 110101199003070000")

    monkeypatch.setattr(listing, "household_list_read", broken)
    r = await client.get("/api/v1/households", headers=auth("county_staff.county"))
    assert r.status_code == 500 and answered == ["/api/v1/households"]
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert r.json()["code"] == "internal_error"
    assert "110101199003070000" not in caplog.text and "RuntimeError" in caplog.text


async def test_an_earlier_route_keeps_its_paths(settings, db, auth, answered):
    """A route declared before a lane route whose pattern also matches its path keeps it,
    as the router would give it; requests with a body, and other methods, go to the stack."""
    app = create_app(settings, database=db)
    special = APIRouter(route_class=GuardlineRoute)

    @special.get("/api/v1/households/special")
    async def special_page() -> dict:
        return {"special": True}

    @special.get("/api/v1/monitoring-cases/{name}")
    async def any_case_page(name: str) -> dict:
        return {"name": name}

    app.include_router(special)
    app.router.routes.insert(0, app.router.routes.pop())  # before every other route
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/api/v1/households/special", headers=auth("county_staff.county"))
        assert r.status_code == 200 and r.json() == {"special": True}
        r = await c.request("GET", "/api/v1/households/1", headers={**auth("county_staff.county")}, content=b"{}")
        assert r.status_code == 404
        r = await c.get("/api/v1/households/1", headers=auth("county_staff.county"))
        assert r.status_code == 404
        r = await c.get("/api/v1/monitoring-cases/overdue", headers=auth("county_staff.county"))
        assert r.status_code == 200 and r.json() == {"name": "overdue"}
    assert answered == ["/api/v1/households/1"]


def test_a_plain_id_is_what_the_validation_would_make_of_it():
    """``routing.plain_id`` skips the id's validation only where the validation would give
    the same number; everything else is left to it."""
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    from services.api.params import MAX_ID, IdPath
    from services.api.routing import _id_bounds, plain_id

    info = IdPath()
    info.annotation = int
    bounds = _id_bounds(info)
    assert bounds == (1, MAX_ID)
    adapter = TypeAdapter(Annotated[int, IdPath()])
    taken = 0
    for raw in (
        "1",
        "42",
        "007",
        "0",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1e3",
        "4.0",
        "٣",
        "１２",
        "",
        "9" * 18,
        str(MAX_ID),
        str(MAX_ID + 1),
        "99999999999999999999",
        "12a",
    ):
        fast = plain_id(raw, bounds)
        try:
            validated = adapter.validate_python(raw)
        except ValidationError:
            validated = None
        if fast is not None:
            taken += 1
            assert fast == validated, raw
    assert taken == 3  # "1", "42" and eighteen nines
