"""Idempotency-Key on POST and optimistic concurrency with If-Match, under real
transactions (these tests commit, and the registry is emptied afterwards)."""

import asyncio
from datetime import timedelta

from sqlalchemy import text

from tests.factories import household, person


async def test_same_key_and_body_replays_the_first_response(client, auth):
    h = auth("village_staff.village", **{"Idempotency-Key": "mobile-7f3a-0001"})
    body = household()
    first = await client.post("/api/v1/households", json=body, headers=h)
    again = await client.post("/api/v1/households", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/api/v1/households", headers=auth("village_staff.village"))).json()["items"]
    assert len(listed) == 1


async def test_same_key_other_body_is_refused(client, auth):
    h = auth("village_staff.village", **{"Idempotency-Key": "key-2"})
    assert (await client.post("/api/v1/households", json=household(), headers=h)).status_code == 201
    r = await client.post("/api/v1/households", json=household(), headers=h)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "idempotency_key_reused", "Idempotency-Key")


async def test_keys_belong_to_one_user(client, auth):
    body = household(region="529901001001")
    a = await client.post(
        "/api/v1/households", json=body, headers=auth("village_staff.village", **{"Idempotency-Key": "k"})
    )
    body2 = household(region="529901001001")
    b = await client.post(
        "/api/v1/households", json=body2, headers=auth("county_staff.county", **{"Idempotency-Key": "k"})
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_failed_request_does_not_burn_the_key(client, auth):
    h = auth("village_staff.village", **{"Idempotency-Key": "retry-after-fix"})
    bad = household(members=[person("head", id_number="110105194912310021")])
    assert (await client.post("/api/v1/households", json=bad, headers=h)).status_code == 422
    good = household()
    assert (await client.post("/api/v1/households", json=good, headers=h)).status_code == 201


async def test_an_expired_key_is_claimed_anew_and_a_live_one_still_binds(client, auth, session, settings):
    """A record older than the retention no longer binds the client: the same key with another
    body is a new request (201, not replayed); the record then binds again, to the new body."""
    h = auth("village_staff.village", **{"Idempotency-Key": "reused-after-a-month"})
    first = await client.post("/api/v1/households", json=household(), headers=h)
    assert first.status_code == 201
    stale = timedelta(hours=settings.idempotency.retention_hours + 1)
    aged = await session.execute(
        text("UPDATE idempotency_keys SET created_at = now() - CAST(:age AS interval) WHERE key = :key"),
        {"age": stale, "key": "reused-after-a-month"},
    )
    assert aged.rowcount == 1
    second_body = household()
    second = await client.post("/api/v1/households", json=second_body, headers=h)
    assert second.status_code == 201 and "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    again = await client.post("/api/v1/households", json=second_body, headers=h)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.content == second.content
    other = await client.post("/api/v1/households", json=household(), headers=h)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_invalid_key_is_refused(client, auth):
    h = auth("village_staff.village", **{"Idempotency-Key": "x" * 201})
    r = await client.post("/api/v1/households", json=household(), headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_invalid")


async def test_concurrent_retries_create_one_household(committing_client, auth):
    h = auth("village_staff.village", **{"Idempotency-Key": "flaky-network-1"})
    body = household()
    responses = await asyncio.gather(
        *[committing_client.post("/api/v1/households", json=body, headers=h) for _ in range(5)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("idempotent-replayed")) == 4
    listed = (await committing_client.get("/api/v1/households", headers=auth("village_staff.village"))).json()["items"]
    assert len(listed) == 1


async def test_concurrent_updates_with_same_etag_one_wins(committing_client, auth):
    h = auth("village_staff.village")
    created = await committing_client.post("/api/v1/households", json=household(), headers=h)
    hid, etag = created.json()["id"], created.headers["etag"]
    results = await asyncio.gather(
        *[
            committing_client.patch(
                f"/api/v1/households/{hid}", json={"address": f"地址{i}"}, headers={**h, "If-Match": etag}
            )
            for i in range(4)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 412, 412, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200)
    now = (await committing_client.get(f"/api/v1/households/{hid}", headers=h)).json()
    assert now["address"] == winner.json()["address"]


async def test_concurrent_duplicate_person_one_wins(committing_client, auth):
    h = auth("village_staff.village")
    shared = person("head")
    results = await asyncio.gather(
        *[
            committing_client.post("/api/v1/households", json=household(members=[dict(shared)]), headers=h)
            for _ in range(3)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409], [r.text for r in results]
    assert all(r.json()["code"].startswith("id_number_duplicate") for r in results if r.status_code == 409)
