"""If-None-Match on the GETs that answer with an ETag: 304 Not Modified while the ETag is
current (services/api/conditional.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.api.app import create_app
from services.api.conditional import ETAGGED, matches
from services.core.audit import AuditEvent
from services.core.settings import Settings
from tests.factories import OTHER_COUNTY_VILLAGE, household, person

WRITER = "county_staff.county"


async def _household(client, auth, region=None, **member):
    body = household(members=[person("head", **member)], **({"region": region} if region else {}))
    created = await client.post(
        "/api/v1/households", json=body, headers=auth(WRITER if region is None else "county_staff.other")
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize(
    "header, current, expected",
    [
        ('"h-1-v2"', '"h-1-v2"', True),
        ('W/"h-1-v2"', '"h-1-v2"', True),  # weak comparison
        ('"h-1-v1", W/"h-1-v2"', '"h-1-v2"', True),
        ('"h-1-v1",,  "h-1-v3" ,', '"h-1-v2"', False),
        ("*", '"h-1-v2"', True),
        (" * ", '"h-1-v2"', True),
        ('"h-1-v1"', '"h-1-v2"', False),
        ("h-1-v2", '"h-1-v2"', False),  # not a quoted tag: malformed, matches nothing
        ('"h-1-v2" junk', '"h-1-v2"', False),
        ('"a,b", "h-1-v2"', '"h-1-v2"', True),  # a comma inside a tag is the tag's
        ("", '"h-1-v2"', False),
    ],
)
def test_weak_comparison(header, current, expected):
    assert matches(header, current) is expected


async def test_a_current_etag_answers_304_without_a_body(client, auth):
    hid = await _household(client, auth)
    h = auth(WRITER)
    first = await client.get(f"/api/v1/households/{hid}", headers=h)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", '"household-0-v1", ' + etag, "*"):
        r = await client.get(f"/api/v1/households/{hid}", headers={**h, "If-None-Match": header})
        assert r.status_code == 304, header
        assert r.content == b"" and "content-type" not in r.headers and "content-length" not in r.headers
        assert r.headers["etag"] == etag
        # The same caching and security headers as the 200.
        for name in ("cache-control", "pragma", "x-content-type-options", "content-security-policy"):
            assert r.headers[name] == first.headers[name], name
        assert r.headers["x-request-id"]


async def test_a_stale_or_foreign_etag_answers_200_with_the_body(client, auth):
    hid = await _household(client, auth)
    h = auth(WRITER)
    old = (await client.get(f"/api/v1/households/{hid}", headers=h)).headers["etag"]
    changed = await client.patch(
        f"/api/v1/households/{hid}", json={"address": "新地址"}, headers={**h, "If-Match": old}
    )
    assert changed.status_code == 200
    for header in (old, f'W/{old}, "person-1-v1"', "household", '"unterminated'):
        r = await client.get(f"/api/v1/households/{hid}", headers={**h, "If-None-Match": header})
        assert r.status_code == 200, header
        assert r.json()["address"] == "新地址" and r.headers["etag"] == changed.headers["etag"] != old


async def test_routes_through_fastapi_answer_304_too(client, auth):
    """getHousehold is a hot_read (its own handler); getIncomeRecord goes through FastAPI."""
    hid = await _household(client, auth)
    h = auth(WRITER)
    rec = await client.post(
        f"/api/v1/households/{hid}/income-records",
        headers=h,
        json={"year": 2024, "quarter": 1, "wages": "100", "business": "0", "property": "0", "transfers": "0"},
    )
    assert rec.status_code == 201, rec.text
    path = f"/api/v1/income-records/{rec.json()['id']}"
    etag = (await client.get(path, headers=h)).headers["etag"]
    assert (await client.get(path, headers={**h, "If-None-Match": etag})).status_code == 304
    assert (await client.get(path, headers={**h, "If-None-Match": '"income-0-v1"'})).status_code == 200


async def test_outside_the_callers_regions_is_still_404(client, auth):
    elsewhere = await _household(client, auth, region=OTHER_COUNTY_VILLAGE)
    for header in ("*", f'"household-{elsewhere}-v1"', f'W/"household-{elsewhere}-v1"'):
        r = await client.get(f"/api/v1/households/{elsewhere}", headers={**auth(WRITER), "If-None-Match": header})
        assert r.status_code == 404 and r.json()["code"] == "household_not_found", header


async def test_lists_and_writes_ignore_if_none_match(client, auth):
    hid = await _household(client, auth)
    h = {**auth(WRITER), "If-None-Match": "*"}
    assert (await client.get("/api/v1/households", headers=h)).status_code == 200
    etag = (await client.get(f"/api/v1/households/{hid}", headers=auth(WRITER))).headers["etag"]
    r = await client.patch(f"/api/v1/households/{hid}", json={"address": "又一个地址"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["address"] == "又一个地址"


async def test_head_is_not_served(client, auth):
    """The API answers GET only; HEAD is 405 with or without If-None-Match."""
    hid = await _household(client, auth)
    r = await client.head(f"/api/v1/households/{hid}", headers={**auth(WRITER), "If-None-Match": "*"})
    assert r.status_code == 405


async def test_a_304_of_a_sensitive_read_is_still_audited(client, auth, session):
    hid = await _household(client, auth, health="disabled", disability_grade=2)
    h = auth("village_staff.village")
    etag = (await client.get(f"/api/v1/households/{hid}", headers=h)).headers["etag"]
    again = await client.get(f"/api/v1/households/{hid}", headers={**h, "If-None-Match": etag})
    assert again.status_code == 304
    rows = await session.execute(select(AuditEvent).where(AuditEvent.request_id == again.headers["x-request-id"]))
    [event] = rows.scalars()
    assert (event.action, event.object_id) == ("household.read_health", str(hid))


def test_the_contract_declares_validators_on_exactly_the_etagged_operations():
    spec = create_app(Settings(env="test")).openapi()
    operations = {op["operationId"]: (method, op) for item in spec["paths"].values() for method, op in item.items()}
    assert set(operations) >= ETAGGED
    for op_id, (method, op) in operations.items():
        names = [p["name"] for p in op.get("parameters", [])]
        success = next(code for code in op["responses"] if code.startswith("2"))
        declared = "ETag" in op["responses"][success].get("headers", {})
        assert declared == (op_id in ETAGGED), op_id
        validated = op_id in ETAGGED and method == "get"
        assert ("304" in op["responses"]) == validated, op_id
        assert ("If-None-Match" in names) == validated, op_id
        if validated:
            assert "content" not in op["responses"]["304"] and "ETag" in op["responses"]["304"]["headers"]
