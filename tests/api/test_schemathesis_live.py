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

import httpx
import pytest
import requests
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st
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
from tests.api.test_schemathesis import OPERATIONS, _aim, pools, problem_failures, seeded_world

EXAMPLES = int(os.environ.get("GUARDLINE_LIVE_EXAMPLES", "3"))
ROLE = "county_staff.county"

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, unsupported_method, allow_header_conformance]


# Rules between parameters, stated in the operation's description (OpenAPI cannot say
# "income_below needs income_year"): a 422 with one of these codes is not a refusal of
# well-formed data.
BETWEEN_PARAMETERS = {"income_below_needs_year", "audit_object_id_needs_type"}


def _code(response) -> str | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def _body_sent(case) -> bool:
    return case.body is not None and not isinstance(case.body, type(None)) and case.media_type is not None


def _as_httpx(response) -> httpx.Response:
    """schemathesis's response as the in-process suite's checks read one."""
    headers = [(name, value) for name, values in response.headers.items() for value in values
               if name.lower() != "content-encoding"]
    return httpx.Response(response.status_code, headers=headers, content=response.content,
                          request=httpx.Request(response.request.method, response.request.url))


def _check(case, response, headers) -> list[str]:
    problems = problem_failures(_as_httpx(response))
    checks = list(CHECKS)
    # A stale If-Match (412) is about the resource's state, not the request's form.
    if not _body_sent(case) and response.status_code != 412 and _code(response) not in BETWEEN_PARAMETERS:
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
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def run(case, data):
                if mode == GenerationMode.POSITIVE:
                    _aim(case, data, values)
                    # A cursor is opaque: only one the server handed out is valid, and the
                    # document cannot list those. Positive examples start at the first page.
                    (case.query or {}).pop("cursor", None)
                response = case.call(base_url=base, session=session, headers=token, timeout=30)
                for problem in _check(case, response, {**case.headers, **token} if case.headers else token):
                    request = response.request
                    findings.append(f"{label} [{mode.value}]: {problem}\n    {request.method} {request.url}"
                                    f" body={str(request.body)[:300]}\n    -> {response.status_code}"
                                    f" {response.text[:300]}")

            try:
                run()
            except Unsatisfiable:
                if mode != GenerationMode.NEGATIVE:
                    raise
    return findings


@pytest.fixture
async def live(client):
    """uvicorn serving the test's app on a free port of 127.0.0.1, on this event loop."""
    app = client._transport.app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
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

    def reset():
        app.state.rate_limiter = RateLimiter()

    findings = await asyncio.to_thread(fuzz_live, base, auth(ROLE), values, reset)
    unique = list(dict.fromkeys(findings))
    assert not unique, f"{len(unique)} finding(s):\n" + "\n".join(unique[:40])
