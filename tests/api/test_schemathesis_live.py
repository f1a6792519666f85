"""Schemathesis against a live server: uvicorn on a real socket, requests over TCP.

``test_schemathesis.py`` sends its requests in-process (ASGI); this one goes through a
real HTTP server (uvicorn's parser, its headers and framing), as a generated client would,
with every conformance check schemathesis has for a single request:

* not a server error;
* status code, content type, headers and body as the document says;
* ``negative_data_rejection``: a request the document calls invalid is refused (4xx);
* ``positive_data_acceptance``: a request the document calls valid is not refused as
  malformed (no 400/422) — for query and path parameters, whose validity the document
  states completely. (A body's validity also depends on the registry's rules — an ID
  number's check digit, a head who must be an adult — that no JSON schema states.)

The caller is a county user (``county_staff.county``). The server runs on the test's event
loop with the test's database connection, so everything it writes is rolled back; the
examples are bounded (``GUARDLINE_LIVE_EXAMPLES`` per operation and generation mode,
default 3) so the run takes about a minute.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import httpx
import pytest
import requests
import uvicorn
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from services.api.ratelimit import RateLimiter
from services.api.server import uvicorn_options
from tests.api.test_schemathesis import DOCUMENT, OPERATIONS, _aim, pools, problem_failures, seeded_world
from tests.api.world import make_world
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2

EXAMPLES = int(os.environ.get("GUARDLINE_LIVE_EXAMPLES", "3"))
ROLE = "county_staff.county"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    allow_header_conformance,
]


# Rules between parameters, stated in the operation's description (OpenAPI cannot say
# "income_below needs income_year"): a 422 with one of these codes is not a refusal of
# well-formed data.
BETWEEN_PARAMETERS = {"income_below_needs_year", "audit_object_id_needs_type"}
# Rules against today's date (a report of a month or quarter that has not begun, income of
# a quarter whose entry deadline has not passed), which a schema cannot state either.
NOT_YET = {"month_not_begun", "quarter_not_begun", "income_quarter_not_due"}


def _code(response) -> str | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def _body_sent(case) -> bool:
    return case.media_type is not None  # an operation with a request body


def _as_httpx(response) -> httpx.Response:
    """schemathesis's response as the in-process suite's checks read one."""
    headers = [
        (name, value)
        for name, values in response.headers.items()
        for value in values
        if name.lower() != "content-encoding"
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=response.content,
        request=httpx.Request(response.request.method, response.request.url),
    )


def _check(case, response, headers) -> list[str]:
    problems = problem_failures(_as_httpx(response))
    checks = list(CHECKS)
    # A stale If-Match (412) is about the resource's state, not the request's form.
    if not _body_sent(case) and response.status_code != 412 and _code(response) not in BETWEEN_PARAMETERS | NOT_YET:
        checks.append(positive_data_acceptance)
    try:
        case.validate_response(response, checks=checks, headers=headers)
    except FailureGroup as group:
        problems += [f"{f.title}: {' '.join(f.message.split())}" for f in group.exceptions]
    return problems


def fuzz_live(base: str, token: dict, values: dict, reset) -> list[str]:
    """Runs in a worker thread: every operation, positive and negative examples."""
    findings: list[str] = []
    session = requests.Session()
    for label, operation in OPERATIONS.items():
        reset()  # one caller sends all of it: a fresh rate-limit window per operation
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def run(case, data):  # run() is called below, in this iteration: its mode and label are this one's
                if mode == GenerationMode.POSITIVE:  # noqa: B023
                    _aim(case, data, values)
                    # A cursor is opaque: only one the server handed out is valid, and the
                    # document cannot list those. Positive examples start at the first page.
                    (case.query or {}).pop("cursor", None)
                    # So is the change feed's token (``since``): a first sync starts without one.
                    (case.query or {}).pop("since", None)
                    # An Idempotency-Key binds the request it was first sent with: a key used
                    # before with another request is refused (422), whatever its form. Positive
                    # examples send a fresh one, as a client does for each new request.
                    if "Idempotency-Key" in (case.headers or {}):
                        case.headers["Idempotency-Key"] = uuid.uuid4().hex
                response = case.call(base_url=base, session=session, headers=token, timeout=30)
                for problem in _check(case, response, {**case.headers, **token} if case.headers else token):
                    request = response.request
                    findings.append(
                        f"{label} [{mode.value}]: {problem}\n    {request.method} {request.url}"  # noqa: B023
                        f" body={str(request.body)[:300]}\n    -> {response.status_code}"
                        f" {response.text[:300]}"
                    )

            try:
                run()
            except Unsatisfiable:
                if mode != GenerationMode.NEGATIVE:
                    raise
    return findings


@pytest.fixture
async def live(client):
    """uvicorn serving the test's app on a free port of 127.0.0.1, on this event loop, with the
    options ``guardline serve`` gives it."""
    app = client._transport.app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, **uvicorn_options())
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.exception()
        await asyncio.sleep(0.01)
    try:
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_schemathesis_against_a_live_server(live, client, db, auth, settings):
    app, base = live
    values = pools(await seeded_world(client, db, auth, settings))
    # Aimed values must be valid where the document says what is: ``village`` is a village's code.
    values["village"] = [VILLAGE, VILLAGE_2, OTHER_COUNTY_VILLAGE]

    def reset():
        app.state.rate_limiter = RateLimiter()

    findings = await asyncio.to_thread(fuzz_live, base, auth(ROLE), values, reset)
    unique = list(dict.fromkeys(findings))
    assert not unique, f"{len(unique)} finding(s):\n" + "\n".join(unique[:40])


# ---- what the live run (and the review's) found, pinned down ------------------------------

DOC = DOCUMENT


def _operation(operation_id: str) -> tuple[str, str, dict]:
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if op.get("operationId") == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def _fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "value", [0, 1, "0", "1700000000", 1.5, True, "2026-01-31T00:00:00", "20260131", "2026-1-31", " 2026-01-31"]
)
def test_day_is_iso_text_only(value):
    """``?on=0`` meant 1970-01-01: pydantic reads numbers (and numeric text) as Unix times."""
    from pydantic import TypeAdapter, ValidationError

    from services.core.types import Day

    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_python(value)
    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_json(__import__("json").dumps(value))


@pytest.mark.parametrize("value", [0, "0", "1700000000", 1.5, "2026-01-31", "2026-01-31T8:30"])
def test_moment_is_iso_text_only(value):
    from pydantic import TypeAdapter, ValidationError

    from services.core.types import Moment

    with pytest.raises(ValidationError):
        TypeAdapter(Moment).validate_python(value)


def test_iso_days_and_moments_are_accepted():
    from datetime import date, datetime, timedelta, timezone

    from pydantic import TypeAdapter

    from services.core.types import Day, Moment

    assert TypeAdapter(Day).validate_python("2026-01-31") == date(2026, 1, 31)
    assert TypeAdapter(Day).validate_json('"2026-01-31"') == date(2026, 1, 31)
    assert TypeAdapter(Day).validate_python(date(2026, 1, 31)) == date(2026, 1, 31)
    assert TypeAdapter(Moment).validate_python("2026-01-31T08:30:00+08:00") == datetime(
        2026, 1, 31, 8, 30, tzinfo=timezone(timedelta(hours=8))
    )
    assert TypeAdapter(Moment).validate_python("2026-01-31T08:30Z").tzinfo is not None


async def test_numbers_are_not_dates(client, auth):
    """In queries and in bodies, a number for a date is a 422 naming the field."""
    world = await make_world(client, auth)
    h = auth("county_staff.county")
    for params in ({"as_of": "0"}, {"as_of": "1700000000"}, {"as_of": "2026-01-31T00:00"}):
        assert _fields(await client.get("/api/v1/fund-indicators", params=params, headers=h)) == ["as_of"]
    assert (await client.get("/api/v1/fund-indicators", params={"as_of": "2026-01-31"}, headers=h)).status_code == 200
    r = await client.get("/api/v1/audit/events", params={"since": "0"}, headers=auth("auditor.county"))
    assert _fields(r) == ["since"]
    r = await client.post(
        "/api/v1/risk-clues",
        headers=h,
        json={
            "household_id": world.home["id"],
            "channel": "visit",
            "risk_types": ["income_drop"],
            "evidence": "收入骤减",
            "reported_on": 0,
        },
    )
    assert "reported_on" in _fields(r)
    r = await client.post(
        f"/api/v1/persons/{world.member('home', 2)}/death", headers=h, json={"date_of_death": 1700000000}
    )
    assert _fields(r) == ["date_of_death"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"cursor": ""}, "cursor"),
        ({"cursor": "a" * 600}, "cursor"),
        ({"cursor": "W!zFd"}, "cursor"),
        ({"region": ""}, "region"),
        ({"region": "000000"}, "region"),
        ({"region": "00"}, "region"),
        ({"region": "52990"}, "region"),
        ({"name": "张\x00"}, "name"),
        ({"name": "张\u0085"}, "name"),
        ({"income_below": "1e3", "income_year": 2025}, "income_below"),
        ({"income_below": "-1", "income_year": 2025}, "income_below"),
    ],
)
async def test_query_values_the_document_forbids_are_422(client, auth, params, field):
    """The document now states each parameter's rule; a value outside it is a 422 naming the parameter."""
    r = await client.get("/api/v1/households", params=params, headers=auth("county_staff.county"))
    assert _fields(r) == [field]
    _path, _, op = _operation("listHouseholds")
    assert {p["name"] for p in op["parameters"] if "pattern" in p["schema"] or "minLength" in str(p["schema"])} >= {
        "cursor",
        "region",
        "name",
        "income_below",
    }


def test_region_patterns_are_the_region_rules():
    """The documented patterns accept exactly what ``level_of``/``is_valid_prefix`` accept."""
    import itertools
    import random
    import re

    from services.core.regions.rules import (
        CODE_PATTERN,
        PREFIX_PATTERN,
        VILLAGE_PATTERN,
        InvalidRegionCode,
        Level,
        is_valid_prefix,
        level_of,
    )

    def code_ok(code):
        try:
            return level_of(code)
        except InvalidRegionCode:
            return None

    rng = random.Random(15)
    digits = ["0", "1", "9"]
    samples = {"".join(p) for p in itertools.product(*[digits] * 4)}
    samples |= {
        "".join(rng.choice("0123456789" if rng.random() < 0.5 else "0") for _ in range(n))
        for n in (2, 4, 6, 9, 12)
        for _ in range(3000)
    }
    samples |= {"529901001001", "529901000000", "520000000000", "000000000000", "529901001000", "5299010010010", ""}
    for s in samples:
        level = code_ok(s) if len(s) == 12 else None
        assert bool(re.match(CODE_PATTERN, s)) == (level is not None), s
        assert bool(re.match(VILLAGE_PATTERN, s)) == (level == Level.village), s
        prefix_ok = is_valid_prefix(s) and code_ok(s.ljust(12, "0")) is not None
        assert bool(re.match(PREFIX_PATTERN, s)) == prefix_ok, s


async def test_405_allows_every_method_of_the_path(client, auth):
    """Starlette's 405 named only the first route of the path ("GET" for a GET + PATCH path)."""
    h = auth("county_staff.county")
    for path, sample, unused in (
        ("/api/v1/households/{household_id}", "/api/v1/households/1", "DELETE"),
        ("/api/v1/income-records/{record_id}", "/api/v1/income-records/1", "POST"),
        ("/api/v1/households", "/api/v1/households", "PUT"),
        # a literal path beside a parameter's: only the literal one's methods
        ("/api/v1/persons/lookup", "/api/v1/persons/lookup", "DELETE"),
        ("/api/v1/monitoring-policies/effective", "/api/v1/monitoring-policies/effective", "POST"),
        # … also where the parameter's path has that method (it took
        # "effective" or "scan" for an id: a 422 before)
        ("/api/v1/monitoring-policies/effective", "/api/v1/monitoring-policies/effective", "DELETE"),
        ("/api/v1/fund-findings/scan", "/api/v1/fund-findings/scan", "GET"),
        ("/api/v1/persons/lookup", "/api/v1/persons/lookup", "PATCH"),
    ):
        documented = {m.upper() for m in DOC["paths"][path]}
        assert unused not in documented
        r = await client.request(unused, sample, headers=h)
        assert r.status_code == 405, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert set(r.headers["allow"].split(", ")) == documented


def test_rate_limited_routes_document_429():
    """Every route behind ``bulk_read``/``public_read`` (and the login) declares 429 with Retry-After."""
    from fastapi.routing import iter_route_contexts

    from services.api.app import create_app
    from services.api.ratelimit import RATE_LIMITED
    from services.api.routing import _calls
    from services.core.settings import Settings

    app = create_app(Settings(env="test"))
    routes = [c.original_route for c in iter_route_contexts(app.router.routes)]
    limited = {r.operation_id for r in routes if getattr(r, "dependant", None) and RATE_LIMITED & _calls(r.dependant)}
    assert {"listHouseholds", "listPublicProjects", "listAuditEvents"} <= limited
    for op_id in limited | {"login"}:
        response = _operation(op_id)[2]["responses"]["429"]
        assert "application/problem+json" in response["content"]
        assert "Retry-After" in response["headers"]


async def test_429_is_as_documented(client, auth, settings):
    app = client._transport.app
    limits = settings.rate_limits.model_copy(update={"bulk_reads_per_minute": 1})
    app.state.settings = settings.model_copy(update={"rate_limits": limits})
    h = auth("county_staff.county")
    assert (await client.get("/api/v1/households", headers=h)).status_code == 200
    r = await client.get("/api/v1/households", headers=h)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"].startswith("application/problem+json")


def test_if_match_is_documented_where_it_is_checked():
    """A route that checks If-Match declares it (required where a missing one is a 428) and
    documents 412 and 428 (an empty If-Match is a 428 even where the header is optional)."""
    checked = 0
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            declared = [p for p in op.get("parameters", []) if p["name"] == "If-Match"]
            if "412" in op["responses"]:
                assert declared and "428" in op["responses"], (method, path)
                checked += 1
    assert checked > 30
    required = {
        op_id: next(p for p in _operation(op_id)[2]["parameters"] if p["name"] == "If-Match")["required"]
        for op_id in ("updateHousehold", "deleteIncomeRecord", "mergeHousehold", "recordDeath")
    }
    assert required == {
        "updateHousehold": True,
        "deleteIncomeRecord": True,
        "mergeHousehold": False,
        "recordDeath": False,
    }


async def test_an_empty_if_match_is_no_if_match(client, auth, db):
    """``If-Match:`` with nothing in it was read as a stale ETag (412, which a client cannot
    tell from a lost race); it names no version: 428, as without the header, on required and
    optional If-Match alike, and nothing changes."""
    from tests.dbstate import fingerprint

    world = await make_world(client, auth)
    h = auth("county_staff.county")
    before = await fingerprint(db.connection)
    for method, path, body in (
        ("PATCH", f"/api/v1/households/{world.home['id']}", {"address": "新地址"}),
        ("POST", f"/api/v1/persons/{world.member('home', 2)}/death", {"date_of_death": "2020-01-01"}),
    ):
        for empty in ("", " "):
            r = await client.request(method, path, json=body, headers={**h, "If-Match": empty})
            assert r.status_code == 428 and r.json()["field"] == "If-Match", r.text
    assert await fingerprint(db.connection) == before
