"""Delivery (issue 20): at least once, signed, in order per object, only in the
subscription's region, retried and then dead-lettered, sent again on demand, replayed from
a number, and nothing lost when a worker dies mid-run."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

from sqlalchemy import text

from services.core.events import delivery
from tests.api.test_households import create
from tests.events.conftest import drain
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, person

SUBS = "/api/v1/subscriptions"


async def subscribe(client, headers, url, **body) -> dict:
    r = await client.post(SUBS, json={"callback_url": url, **body}, headers=headers())
    assert r.status_code == 201, r.text
    return r.json()


async def test_at_least_once_through_failures_signed_and_in_region(
    committing_client, auth, systems, receiver, fast, engine
):
    state, url = receiver
    state.fail_first = 2  # every message fails twice, then goes through
    _, headers = await systems("dept.deliver-a")
    sub = await subscribe(committing_client, headers, url, region_prefix=VILLAGE, types=["household.created"])
    state.secrets = [sub["secret"]]
    ours = [await create(committing_client, auth, members=[person("head")]) for _ in range(3)]
    await create(committing_client, auth, user="village_staff.village2", region=VILLAGE_2, members=[person("head")])
    await create(
        committing_client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE, members=[person("head")]
    )
    await drain(engine, fast, lambda: len(state.accepted) >= 3)
    await delivery.deliver(engine, fast, once=True)  # nothing more comes
    accepted = state.accepted
    assert sorted(a["object"] for a in accepted) == sorted(f"household:{h['id']}" for h in ours)
    assert {a["region_code"] for a in accepted} == {VILLAGE}
    assert {a["subscription_id"] for a in accepted} == {sub["id"]}
    # One accepted delivery per message id, after three attempts with the same id.
    assert len({a["message_id"] for a in accepted}) == 3
    assert all(a["attempt"] == 3 for a in accepted) and state.rejected == 0
    assert all(state.attempts[a["message_id"]] == 3 for a in accepted)
    listed = await committing_client.get(f"{SUBS}/{sub['id']}/deliveries", headers=headers())
    rows = listed.json()["items"]
    assert {r["status"] for r in rows} == {"delivered"} and {r["attempts"] for r in rows} == {3}
    assert {r["message_id"] for r in rows} == {a["message_id"] for a in accepted}


def test_the_signature_is_standard_webhooks():
    secret = delivery.new_secret()
    body = b'{"id":1}'
    header = delivery.sign(secret, "msg_1", 1700000000, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert header == f"v1,{expected}"


async def test_order_per_object_holds_through_a_retry(committing_client, auth, systems, receiver, fast, engine):
    state, url = receiver
    _, headers = await systems("dept.deliver-b")
    sub = await subscribe(committing_client, headers, url, region_prefix=VILLAGE)
    state.secrets = [sub["secret"]]
    state.fail_first = 1
    made = await create(committing_client, auth, members=[person("head"), person("child")])
    child = next(m for m in made["members"] if m["relation"] == "child")
    other = await create(committing_client, auth, members=[person("head")])
    r = await committing_client.post(
        f"/api/v1/persons/{child['id']}/move",
        json={"household_id": other["id"], "relation": "other"},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 200, r.text
    await drain(engine, fast, lambda: len(state.accepted) >= 7)
    await delivery.deliver(engine, fast, once=True)
    by_object: dict[str, list[int]] = {}
    for a in state.accepted:
        by_object.setdefault(a["object"], []).append(a["event_id"])
    assert all(ids == sorted(ids) for ids in by_object.values()), by_object
    assert len(by_object[f"person:{child['id']}"]) == 2  # created, then moved
    # No change of an object was even tried before the earlier ones of it had gone through.
    taken: set[int] = set()
    for obj, number, ok in state.log:
        assert all(earlier in taken for earlier in by_object[obj] if earlier < number), (obj, number, state.log)
        if ok:
            taken.add(number)
    assert sum(1 for *_, ok in state.log if not ok) == len(state.accepted)  # each failed once first


async def test_dead_letters_then_redelivery_with_the_same_message_id(
    committing_client, auth, systems, receiver, fast, engine
):
    state, url = receiver
    state.fail_rate = 1.0
    _, headers = await systems("dept.deliver-c")
    sub = await subscribe(committing_client, headers, url, types=["household.created"])
    state.secrets = [sub["secret"]]
    await create(committing_client, auth, members=[person("head")])
    path = f"{SUBS}/{sub['id']}/deliveries"

    async def dead() -> list[dict]:
        r = await committing_client.get(path, params={"status": "dead"}, headers=auth("admin.county"))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    for _ in range(100):
        await delivery.deliver(engine, fast, once=True)
        if await dead():
            break
        await asyncio.sleep(0.05)
    (letter,) = await dead()
    assert letter["attempts"] == len(fast.events.retry_seconds) + 1
    assert letter["last_status_code"] == 500 and letter["last_error"] == "HTTP 500"
    # Sent again once the receiver is well: the same message id.
    state.fail_rate = 0.0
    r = await committing_client.post(
        f"{SUBS}/{sub['id']}/redeliver", json={"delivery_id": letter["id"]}, headers=headers()
    )
    assert r.status_code == 200 and r.json() == {"requeued": 1}
    again = await committing_client.post(
        f"{SUBS}/{sub['id']}/redeliver", json={"delivery_id": letter["id"]}, headers=headers()
    )
    assert again.status_code == 409 and again.json()["code"] == "delivery_not_dead"
    await drain(engine, fast, lambda: len(state.accepted) == 1)
    assert state.accepted[0]["message_id"] == letter["message_id"]
    assert await dead() == []


async def test_replay_from_a_number_sends_new_messages(committing_client, auth, systems, receiver, fast, engine):
    state, url = receiver
    first = await create(committing_client, auth, members=[person("head")])  # before the subscription
    _, headers = await systems("dept.deliver-d")
    sub = await subscribe(committing_client, headers, url, types=["household.created"])
    state.secrets = [sub["secret"]]
    second = await create(committing_client, auth, members=[person("head")])
    await drain(engine, fast, lambda: len(state.accepted) == 1)
    assert state.accepted[0]["object"] == f"household:{second['id']}"
    events = await committing_client.get("/api/v1/events", params={"types": "household.created"}, headers=headers())
    numbers = {e["object"]["id"]: e["id"] for e in events.json()["items"]}
    r = await committing_client.post(
        f"{SUBS}/{sub['id']}/replay", json={"from_event_id": numbers[str(first["id"])]}, headers=headers()
    )
    assert r.status_code == 200 and r.json() == {"requeued": 2}
    await drain(engine, fast, lambda: len(state.accepted) == 3)
    replayed = state.accepted[1:]
    assert sorted(a["event_id"] for a in replayed) == sorted(numbers.values())
    assert state.accepted[0]["message_id"] not in {a["message_id"] for a in replayed}


async def test_a_worker_killed_mid_run_loses_nothing(committing_client, auth, systems, receiver, fast, engine):
    state, url = receiver
    _, headers = await systems("dept.deliver-e")
    sub = await subscribe(committing_client, headers, url, types=["household.created"])
    state.secrets = [sub["secret"]]
    for _ in range(3):
        await create(committing_client, auth, members=[person("head")])
    await delivery.fan_out(engine, fast)
    # A worker claims them and dies before it calls anyone (or before it records the answers).
    claimed = await delivery.claim(engine, fast, 10)
    assert len(claimed) == 3
    await delivery.deliver(engine, fast, once=True)  # still leased to the dead worker
    assert state.accepted == []
    await asyncio.sleep(fast.events.lease_seconds)
    await drain(engine, fast, lambda: len(state.accepted) == 3)
    assert sorted(a["message_id"] for a in state.accepted) == sorted(c.message_id for c in claimed)
    assert {a["attempt"] for a in state.accepted} == {1}  # the dead worker never called


async def test_a_slow_subscriber_does_not_hold_up_the_others(committing_client, auth, systems, fast, engine):
    from services.simulators.receiver import Receiver, create_receiver
    from tests.simulators.conftest import serving

    slow, quick = Receiver(sleep_seconds=fast.events.timeout_seconds * 3), Receiver()
    with serving(create_receiver(slow)) as slow_base, serving(create_receiver(quick)) as quick_base:
        _, a = await systems("dept.deliver-slow")
        _, b = await systems("dept.deliver-quick")
        slow.secrets = [(await subscribe(committing_client, a, f"{slow_base}/hook"))["secret"]]
        quick.secrets = [(await subscribe(committing_client, b, f"{quick_base}/hook"))["secret"]]
        for _ in range(6):
            await create(committing_client, auth, members=[person("head")])
        stop = asyncio.Event()
        worker = asyncio.create_task(delivery.deliver(engine, fast, stop=stop))
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(200):
                if len(quick.accepted) >= 12:
                    break
                await asyncio.sleep(0.05)
            took = loop.time() - started
        finally:
            stop.set()
            await worker
        assert len(quick.accepted) == 12  # six households, each with its head: created
        assert took < fast.events.timeout_seconds * 2, took
        assert slow.accepted == []
        async with engine.connect() as conn:
            in_flight = (
                await conn.execute(
                    text(
                        "SELECT max(attempts) FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
                        "JOIN api_clients c ON c.id = s.client_id WHERE c.name = 'dept.deliver-slow'"
                    )
                )
            ).scalar_one()
        assert in_flight is not None


async def test_paused_holds_and_expired_ends(committing_client, auth, systems, receiver, fast, engine):
    state, url = receiver
    _, headers = await systems("dept.deliver-f")
    sub = await subscribe(committing_client, headers, url, types=["household.created"])
    state.secrets = [sub["secret"]]
    path = f"{SUBS}/{sub['id']}"
    paused = await committing_client.patch(
        path, json={"status": "paused"}, headers=headers(**{"If-Match": f'"subscription-{sub["id"]}-v1"'})
    )
    assert paused.status_code == 200, paused.text
    await create(committing_client, auth, members=[person("head")])
    await delivery.deliver(engine, fast, once=True)
    assert state.accepted == []  # queued, not sent
    queued = await committing_client.get(f"{path}/deliveries", params={"status": "pending"}, headers=headers())
    assert len(queued.json()["items"]) == 1
    resumed = await committing_client.patch(
        path, json={"status": "active"}, headers=headers(**{"If-Match": paused.headers["etag"]})
    )
    assert resumed.status_code == 200
    await drain(engine, fast, lambda: len(state.accepted) == 1)
    # Past its expiry nothing more is queued, and the worker marks it expired.
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE subscriptions SET expires_at = now() WHERE id = :id"), {"id": sub["id"]})
    await create(committing_client, auth, members=[person("head")])
    await delivery.deliver(engine, fast, once=True)
    assert len(state.accepted) == 1
    gone = await committing_client.get(path, headers=headers())
    assert gone.json()["status"] == "expired"
    refused = await committing_client.patch(
        path, json={"status": "active"}, headers=headers(**{"If-Match": gone.headers["etag"]})
    )
    assert refused.status_code == 409 and refused.json()["code"] == "subscription_expired"


async def test_findings_that_tell_health_go_only_to_clients_that_may_see_it(committing_client, systems, fast, engine):
    from services.core.accounts.roles import Permission

    plain, _ = await systems("dept.deliver-plain", [Permission.findings_read])
    health, _ = await systems("dept.deliver-health", [Permission.findings_read, Permission.registry_health])
    async with engine.begin() as conn:
        for client in (plain, health):
            await conn.execute(
                text(
                    "INSERT INTO subscriptions (client_id, region_prefix, types, callback_url, secret, status, "
                    "expires_at, fanned_out_to, version) VALUES (:c, :p, '{finding.opened}', 'http://x.test/h', "
                    "'\\x00', 'paused', now() + interval '1 day', (SELECT coalesce(max(id), 0) FROM events), 1)"
                ),
                {"c": client, "p": VILLAGE[:6]},
            )
        # Two findings' events as the triggers write them: one tells a person's health.
        await conn.execute(
            text(
                "INSERT INTO events (id, type, object_type, object_id, region_code, sensitive, body) "
                "SELECT nextval('events_id_seq'), 'finding.opened', 'finding', n::text, :v, n = 2, '{}' "
                "FROM generate_series(1, 2) n"
            ),
            {"v": VILLAGE},
        )
    await delivery.fan_out(engine, fast)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT s.client_id, d.object_key FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
                    "WHERE s.client_id = ANY(:ids) ORDER BY 1, 2"
                ),
                {"ids": [plain, health]},
            )
        ).all()
    assert [tuple(r) for r in rows] == [(plain, "finding:1"), (health, "finding:1"), (health, "finding:2")]
