"""The auditors' API: filters, paging newest first, auditors only, their regions only.

Events are written in the test's transaction with a unique actor, so each test sees its own
rows whatever else the log holds."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from services.core.accounts.roles import Role
from services.core.audit import AuditRecord, record_many
from services.core.timeutil import CHINA
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, code_of

PROBLEM = "application/problem+json"
URL = "/api/v1/audit/events"
AUDITOR = "auditor.county"


def unique_actor() -> str:
    return f"user:t{uuid.uuid4().hex[:12]}"


async def write(db, *records: dict) -> list[int]:
    session = db.session()
    try:
        refs = await record_many(session, [AuditRecord(**r) for r in records])
        await session.commit()
    finally:
        await session.close()
    return [r.id for r in refs]


async def list_(client, auth, user=AUDITOR, **params):
    r = await client.get(URL, params=params, headers=auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def ev(actor: str, **kw) -> dict:
    return {
        "actor": actor,
        "action": "household.update",
        "object_type": "household",
        "object_id": "1",
        "region_code": VILLAGE,
        "request_id": "req-" + actor[-6:],
        **kw,
    }


async def test_events_read_back_with_every_field(client, db, auth):
    actor = unique_actor()
    [event_id] = await write(
        db,
        ev(
            actor,
            actor_name="张三",
            role="village_staff",
            status=200,
            ip="10.9.8.7",
            before={"phone": "13800000000", "id_number": "11010519491231002X"},
            after={"phone": "13900000000"},
            detail={"fields": ["phone"]},
        ),
    )
    body = await list_(client, auth, actor=actor)
    assert body["next_cursor"] is None and len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"] == event_id and item["actor_name"] == "张三" and item["ip"] == "10.9.8.7"
    assert item["result"] == "success" and item["status"] == 200
    assert item["before"] == {"phone": "13800000000", "id_number": "110105************"}
    assert len(item["hash"]) == 64 and len(item["prev_hash"]) == 64
    assert item["at"].endswith("+08:00")
    r = await client.get(f"{URL}/{event_id}", headers=auth(AUDITOR))
    assert r.status_code == 200 and r.json() == item
    from services.core.audit import AuditEventOut

    AuditEventOut.model_validate(item)


async def test_filters(client, db, auth):
    actor, other = unique_actor(), unique_actor()
    ids = await write(
        db,
        ev(actor, action="auth.login", object_type=None, object_id=None, result="failure"),
        ev(actor, object_id="41"),
        ev(actor, object_id="42", result="denied"),
        ev(actor, action="person.unmask", object_type="person", object_id="41"),
        ev(other, object_id="41"),
    )

    async def ids_for(**params):
        return [i["id"] for i in (await list_(client, auth, **params))["items"]]

    assert await ids_for(actor=actor) == ids[3::-1]
    assert await ids_for(actor=actor, action="auth.login") == [ids[0]]
    assert await ids_for(actor=actor, result="denied") == [ids[2]]
    assert await ids_for(object_type="household", object_id="41", actor=actor) == [ids[1]]
    assert set(await ids_for(object_type="household", object_id="41")) >= {ids[1], ids[4]}
    assert await ids_for(actor=other) == [ids[4]]
    assert await ids_for(actor=unique_actor()) == []


async def test_time_filters(client, db, auth):
    actor = unique_actor()
    session = db.session()
    for days in (10, 5, 1):
        await session.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, result, region_code) "
                "VALUES (now() - make_interval(days => :d), :actor, 'person.unmask', 'success', :region)"
            ),
            {"d": days, "actor": actor, "region": VILLAGE},
        )
    await session.commit()
    await session.close()
    now = datetime.now(CHINA)

    async def count(**params):
        return len((await list_(client, auth, actor=actor, **params))["items"])

    assert await count() == 3
    assert await count(since=(now - timedelta(days=6)).isoformat()) == 2
    assert await count(until=(now - timedelta(days=6)).isoformat()) == 1
    assert await count(since=(now - timedelta(days=6)).isoformat(), until=(now - timedelta(days=2)).isoformat()) == 1
    # Without a zone a time is China time.
    naive = (now - timedelta(days=6)).replace(tzinfo=None).isoformat(timespec="seconds")
    assert await count(since=naive) == 2


async def test_paging_newest_first(client, db, auth):
    actor = unique_actor()
    ids = await write(db, *[ev(actor, object_id=str(n)) for n in range(5)])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"actor": actor, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = await list_(client, auth, **params)
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1] and pages == 3


@pytest.mark.parametrize("role", [r for r in Role if r != Role.auditor])
async def test_only_auditors_may_read(client, db, auth, role):
    [event_id] = await write(db, ev(unique_actor()))
    for url in (URL, f"{URL}/{event_id}"):
        r = await client.get(url, headers=auth(f"{role.value}.county"))
        assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
        assert code_of(r) == "forbidden"


async def test_login_is_required(client):
    assert (await client.get(URL)).status_code == 401


async def test_auditors_see_only_their_regions(client, db, auth):
    actor = unique_actor()
    here, township2, elsewhere, unknown = await write(
        db,
        ev(actor, region_code=VILLAGE),
        ev(actor, region_code=OTHER_TOWNSHIP_VILLAGE),
        ev(actor, region_code=OTHER_COUNTY_VILLAGE),
        ev(actor, region_code=None),
    )

    async def visible(user):
        return {i["id"] for i in (await list_(client, auth, user=user, actor=actor))["items"]}

    assert await visible("auditor.county") == {here, township2}  # 529901, not 529902
    assert await visible("auditor.township") == {here}
    assert await visible("auditor.village") == {here}
    for event_id in (elsewhere, unknown):
        r = await client.get(f"{URL}/{event_id}", headers=auth("auditor.county"))
        assert r.status_code == 404 and code_of(r) == "audit_event_not_found"
    r = await client.get(f"{URL}/{township2}", headers=auth("auditor.township"))
    assert r.status_code == 404
    assert (await client.get(f"{URL}/{2**62}", headers=auth(AUDITOR))).status_code == 404
    # Narrowed to a region of theirs; a region outside answers 404 as it does everywhere.
    narrowed = await list_(client, auth, actor=actor, region=OTHER_TOWNSHIP_VILLAGE[:9])
    assert [i["id"] for i in narrowed["items"]] == [township2]
    r = await client.get(URL, params={"region": "529902"}, headers=auth(AUDITOR))
    assert r.status_code == 404 and code_of(r) == "region_not_found"
    r = await client.get(URL, params={"region": "5299"}, headers=auth("auditor.township"))
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"result": "ok"}, "result", "enum"),
        ({"since": "yesterday"}, "since", None),
        ({"until": "2026-13-01"}, "until", None),
        ({"since": "2026-05-02T00:00:00", "until": "2026-05-01T00:00:00"}, "until", "audit_time_range"),
        ({"since": "2026-05-01T00:00:00+08:00", "until": "2026-05-01T00:00:00+08:00"}, "until", "audit_time_range"),
        ({"object_id": "41"}, "object_id", "audit_object_id_needs_type"),
        ({"action": "DROP TABLE"}, "action", "string_pattern_mismatch"),
        ({"object_type": "house hold"}, "object_type", "string_pattern_mismatch"),
        ({"actor": "u" * 65}, "actor", "string_too_long"),
        ({"limit": 0}, "limit", "greater_than_equal"),
        ({"limit": "many"}, "limit", "int_parsing"),
        ({"cursor": "not-a-cursor"}, "cursor", "cursor_invalid"),
        ({"cursor": "WyJ4Il0"}, "cursor", "cursor_invalid"),  # ["x"]
        ({"cursor": "Wy0xXQ"}, "cursor", "cursor_invalid"),  # [-1]
        ({"region": "52990"}, "region", "region_prefix_malformed"),
    ],
)
async def test_bad_filters_are_422_problems(client, auth, params, field, code):
    r = await client.get(URL, params=params, headers=auth(AUDITOR))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["field"] == field
    if code:
        assert code_of(r) == code
    r = await client.get(URL, params=params, headers=auth(AUDITOR, **{"Accept-Language": "zh"}))
    assert r.headers["content-language"] == "zh-CN"


async def test_bad_event_id_is_422(client, auth):
    r = await client.get(f"{URL}/0", headers=auth(AUDITOR))
    assert r.status_code == 422 and r.json()["field"] == "event_id"


async def test_limit_is_capped(client, db, auth, settings):
    actor = unique_actor()
    await write(db, *[ev(actor) for _ in range(3)])
    body = await list_(client, auth, actor=actor, limit=settings.paging.max_limit)
    assert len(body["items"]) == 3
