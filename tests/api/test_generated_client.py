"""The contract as a client generator reads it: openapi-python-client (pinned in tasks.py)
generates a client from the committed ``openapi/openapi.json`` without one warning or error,
and that client alone tours a live server (tests/clients/smoke.py): logins with both grants,
cursor pages, If-Match, Idempotency-Key and problem details.

The server is uvicorn on a database of its own (it commits), with the test users and a few
households of one village.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.api.ratelimit import RateLimiter
from tests.api.live import scratch_live_server
from tests.clients import smoke
from tests.clients.tools import SPEC, Generated, generate_client
from tests.factories import VILLAGE, household, person

SMOKE_DB = "guardline_test_generated_client"
PASSWORD = "Test-Password-1"  # tests/conftest.py's, for every test user
USER, ADMIN = "county_staff.county", "admin.county"
HOUSEHOLDS = 3  # two pages of two


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Iterator[Generated]:
    """The client of the committed document, importable as ``guardline_client`` meanwhile."""
    result = generate_client(SPEC, tmp_path_factory.mktemp("generated") / smoke.PACKAGE)
    sys.path.insert(0, str(result.package.parent))
    try:
        yield result
    finally:
        sys.path.remove(str(result.package.parent))
        for name in [m for m in sys.modules if m == smoke.PACKAGE or m.startswith(f"{smoke.PACKAGE}.")]:
            del sys.modules[name]


def test_the_generator_reads_the_contract_without_a_finding(generated):
    assert not generated.findings(), "openapi-python-client:\n" + generated.output


def test_every_operation_of_the_contract_is_in_the_client(generated):
    """By operationId, as the smoke finds them: none dropped, whatever its tag."""
    api = smoke.Api()
    operation_ids = [
        op["operationId"]
        for item in json.loads(SPEC.read_text(encoding="utf-8"))["paths"].values()
        for op in item.values()
    ]
    missing = []
    for operation_id in operation_ids:
        try:
            assert callable(api.operation(operation_id).sync_detailed)
        except smoke.SmokeFailed as failed:
            missing.append(str(failed))
    assert not missing and len(operation_ids) > 100, missing


def test_the_smoke_refuses_what_the_client_does_not_take(generated):
    """A header the document does not declare is not slipped in: the tour stops and says so."""
    api = smoke.Api()
    with pytest.raises(smoke.SmokeFailed, match="getHousehold takes no if_match"):
        api.call("getHousehold", api.client("http://127.0.0.1:9", "token"), household_id=1, if_match='"x"')
    with pytest.raises(smoke.SmokeFailed, match="no operation notAnOperation"):
        api.operation("notAnOperation")
    assert [smoke.snake_case(o) for o in ("listHouseholds", "whoAmI", "healthz", "getETagOf")] == [
        "list_households",
        "who_am_i",
        "healthz",
        "get_e_tag_of",
    ]


def test_a_finding_of_the_generator_fails(tmp_path):
    """The check itself: an answer that refers to no schema is left out of the client, and said so."""
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "get": {
                    "operationId": "getX",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nowhere"}}},
                        }
                    },
                }
            }
        },
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(spec))
    findings = generate_client(path, tmp_path / "broken_client").findings()
    assert findings and findings[0].startswith("openapi-python-client exited with"), findings
    assert any("will be omitted" in line for line in findings), findings


@pytest.fixture(scope="module")
async def smoke_server(engine, settings) -> AsyncIterator[str]:
    async with scratch_live_server(engine, settings, SMOKE_DB, RateLimiter()) as base:
        await asyncio.to_thread(_households, base)
        yield base


def _households(base: str) -> None:
    """A few households of VILLAGE, registered as the tests' county user (plain HTTP: the
    set-up, not the tour)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        login = http.post("/api/v1/auth/token", data={"grant_type": "password", "username": USER, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for n in range(HOUSEHOLDS):
            r = http.post(
                "/api/v1/households",
                headers=headers,
                json=household(VILLAGE, members=[person("head", name=f"冒烟{n}")]),
            )
            assert r.status_code == 201, r.text


async def test_the_generated_client_tours_a_live_server(generated, smoke_server):
    log = await asyncio.to_thread(
        smoke.run, smoke.Api(), smoke_server, USER, PASSWORD, admin=ADMIN, admin_password=PASSWORD
    )
    print("\n".join(log))
    steps = "\n".join(log)
    for seen in (
        "login password: 200",
        "login client_credentials: 200",
        "then by cursor",
        "updateHousehold with the stale ETag: 412",
        "unknown household (zh): 404",
        "Idempotent-Replayed: true",
        "revokeClient",
    ):
        assert seen in steps, steps
