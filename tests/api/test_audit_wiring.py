"""What the API writes to the audit trail: logins, writes with before and after, refused
writes, sensitive reads, unmasking and permission changes."""

from __future__ import annotations

import contextlib

from sqlalchemy import select, text

from services.core.audit import AuditEvent
from tests.factories import household, person


async def _events(session, response) -> list[AuditEvent]:
    request_id = response.headers["x-request-id"]
    rows = await session.execute(select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id))
    return list(rows.scalars())


async def test_a_write_is_recorded_with_before_and_after_without_an_id_number(client, auth, session, user_ids):
    head = person("head", health="chronic_illness", illness="尿毒症")
    created = await client.post(
        "/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county")
    )
    assert created.status_code == 201
    [event] = await _events(session, created)
    assert (event.action, event.result, event.status) == ("api.create_household", "success", 201)
    assert event.actor == f"user:{user_ids['county_staff.county']}" and event.role == "county_staff"
    assert event.region_code == created.json()["region_code"]
    dumped = str(event.after)
    assert head["id_number"] not in dumped and "尿毒症" not in dumped
    assert f"households/{created.json()['id']}" in event.after
    assert f"persons/{created.json()['members'][0]['id']}" in event.after

    etag = created.headers["etag"]
    changed = await client.patch(
        f"/api/v1/households/{created.json()['id']}",
        json={"address": "新地址"},
        headers={**auth("county_staff.county"), "If-Match": etag},
    )
    [update] = await _events(session, changed)
    key = f"households/{created.json()['id']}"
    assert update.before[key]["address"] is None and update.after[key]["address"] == "新地址"
    assert (update.object_type, update.object_id) == ("household", str(created.json()["id"]))


async def test_refused_and_failed_writes_are_recorded(client, auth, session):
    created = (
        await client.post(
            "/api/v1/households", json=household(members=[person("head")]), headers=auth("county_staff.county")
        )
    ).json()
    denied = await client.patch(
        f"/api/v1/households/{created['id']}",
        json={"address": "x"},
        headers={**auth("auditor.county"), "If-Match": "*"},
    )
    assert denied.status_code == 403
    [event] = await _events(session, denied)
    assert (event.result, event.status, event.detail["error"]) == ("denied", 403, "forbidden")
    stale = await client.patch(
        f"/api/v1/households/{created['id']}",
        json={"address": "x"},
        headers={**auth("county_staff.county"), "If-Match": '"household-1-v99"'},
    )
    [event] = await _events(session, stale)
    assert (event.result, event.status) == ("failure", 412) and event.after is None


async def test_logins_are_recorded_with_the_reason_the_client_is_not_told(client, session, user_ids):
    good = await client.post(
        "/api/v1/auth/token", data={"username": "grid_worker.village", "password": "Test-Password-1"}
    )
    bad = await client.post("/api/v1/auth/token", data={"username": "grid_worker.village", "password": "nope"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "no.one", "password": "nope"})
    [ok] = await _events(session, good)
    [wrong] = await _events(session, bad)
    [nobody] = await _events(session, unknown)
    assert (ok.action, ok.result, ok.actor) == ("auth.login", "success", f"user:{user_ids['grid_worker.village']}")
    assert (wrong.result, wrong.detail["reason"]) == ("failure", "bad_password")
    assert (nobody.actor, nobody.actor_name, nobody.detail["reason"]) == (None, "no.one", "unknown_user")
    assert "nope" not in str(wrong.detail) and "password" not in (wrong.after or {})


async def test_reads_with_health_details_are_recorded_and_masked_reads_are_not(client, auth, session):
    head = person("head", health="disabled", disability_grade=2)
    created = (
        await client.post("/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county"))
    ).json()
    seen = await client.get(f"/api/v1/households/{created['id']}", headers=auth("village_staff.village"))
    assert "disability_grade" in seen.json()["members"][0]
    [event] = await _events(session, seen)
    assert (event.action, event.object_id) == ("household.read_health", str(created["id"]))
    looked_up = await client.post(
        "/api/v1/persons/lookup", json={"id_number": head["id_number"]}, headers=auth("grid_worker.village")
    )
    [event] = await _events(session, looked_up)
    assert event.action == "person.read_health" and event.detail["via"] == "lookup"
    masked = await client.get(f"/api/v1/households/{created['id']}", headers=auth("auditor.county"))
    assert masked.status_code == 200 and await _events(session, masked) == []


async def test_unmasking_is_recorded_with_its_reason(client, auth, session):
    head = person("head")
    created = (
        await client.post("/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county"))
    ).json()
    pid = created["members"][0]["id"]
    r = await client.post(
        f"/api/v1/persons/{pid}/id-number",
        json={"reason": "核对低保申请 " + head["id_number"]},
        headers=auth("township_staff.township"),
    )
    assert r.status_code == 200 and r.json()["id_number"] == head["id_number"]
    [event] = await _events(session, r)
    assert (event.action, event.object_id) == ("person.unmask", str(pid))
    assert event.detail["reason"].startswith("核对低保申请") and head["id_number"] not in event.detail["reason"]


async def test_a_role_change_is_recorded_before_and_after(client, auth, session, user_ids):
    target = user_ids["assistance_cadre.village"]
    current = await client.get(f"/api/v1/admin/users/{target}", headers=auth("admin.county"))
    r = await client.patch(
        f"/api/v1/admin/users/{target}",
        json={"role": "village_staff"},
        headers={**auth("admin.county"), "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200
    [event] = await _events(session, r)
    assert event.action == "api.update_user"
    assert event.before[f"users/{target}"]["role"] == "assistance_cadre"
    assert event.after[f"users/{target}"]["role"] == "village_staff"


async def test_the_audit_table_holds_no_full_id_number(client, auth, session):
    head = person("head", illness="白血病")
    await client.post("/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county"))
    dump = (await session.execute(text("SELECT string_agg(a::text, ' ') FROM audit_log a"))).scalar_one()
    assert head["id_number"] not in dump and "白血病" not in dump


class Flaky:
    """The database ``db``, failing its first write (away, then back)."""

    def __init__(self, db):
        self.db = db
        self.calls = 0

    async def fetch_rows(self, sql, args, **options):
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("database restarting")
        return await self.db.fetch_rows(sql, args, **options)


async def test_the_read_buffer_writes_in_order_and_keeps_a_batch_that_failed(db, session):
    from services.api.auditing import ReadAuditBuffer

    flaky = Flaky(db)
    buffer = ReadAuditBuffer(flaky, flush_ms=200, max_batch=2)
    for n in range(5):
        buffer.add(
            {
                "action": "person.read_health",
                "result": "success",
                "object_type": "person",
                "object_id": str(n),
                "request_id": "buffer-test",
            }
        )
    with contextlib.suppress(ConnectionError):
        await buffer.flush()
    assert len(buffer.pending) == 5  # nothing lost
    await buffer.flush()
    assert buffer.pending == []
    rows = await session.execute(
        select(AuditEvent.object_id).where(AuditEvent.request_id == "buffer-test").order_by(AuditEvent.id)
    )
    assert [r for (r,) in rows] == ["0", "1", "2", "3", "4"]


async def test_reading_the_audit_trail_is_itself_recorded(client, auth, session, user_ids):
    r = await client.get("/api/v1/audit/events", params={"action": "auth.login"}, headers=auth("auditor.county"))
    assert r.status_code == 200
    [event] = await _events(session, r)
    assert (event.action, event.actor, event.detail["filters"]) == (
        "audit.read",
        f"user:{user_ids['auditor.county']}",
        {"action": "auth.login"},
    )


async def test_concurrent_flushes_write_each_event_once_and_a_full_buffer_says_so(db, session):
    import asyncio

    from services.api.auditing import ReadAuditBuffer

    buffer = ReadAuditBuffer(db, flush_ms=200, max_batch=2, high_water=4)
    for n in range(5):
        buffer.add(
            {"action": "person.read_health", "result": "success", "object_id": str(n), "request_id": "concurrent-test"}
        )
    assert buffer.backed_up
    await asyncio.gather(buffer.flush(), buffer.flush(), buffer.flush())
    assert not buffer.backed_up and buffer.pending == []
    rows = await session.execute(
        select(AuditEvent.object_id).where(AuditEvent.request_id == "concurrent-test").order_by(AuditEvent.id)
    )
    assert [r for (r,) in rows] == ["0", "1", "2", "3", "4"]


async def test_a_read_written_after_an_outage_keeps_the_moment_it_was_seen(settings, db, auth, session):
    """A health-detail read goes to the buffer; the database is away at the next flush and
    back a second later. The row written then says when the details were seen (between the
    request's start and its answer), not when the row was written; a write's event, which
    brings no time of its own, still takes the transaction's."""
    import asyncio
    from datetime import UTC, datetime

    import httpx

    from services.api.app import create_app
    from services.api.auditing import ReadAuditBuffer

    app = create_app(settings, database=db)
    buffer = ReadAuditBuffer(Flaky(db), flush_ms=200)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        head = person("head", health="disabled", disability_grade=2)
        created = await client.post(
            "/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county")
        )
        app.state.read_audit = buffer
        await asyncio.sleep(0.05)  # the read comes well after the transaction's start
        before = datetime.now(UTC)
        seen = await client.get(f"/api/v1/households/{created.json()['id']}", headers=auth("county_staff.county"))
        after = datetime.now(UTC)
    assert seen.status_code == 200 and len(buffer.pending) == 1
    with contextlib.suppress(ConnectionError):
        await buffer.flush()
    assert len(buffer.pending) == 1  # kept while the database is away
    await asyncio.sleep(1)
    await buffer.flush()
    assert buffer.pending == []
    [event] = await _events(session, seen)
    assert event.action == "household.read_health"
    assert before <= event.at <= after, (before, event.at, after)
    [write] = await _events(session, created)
    now = (await session.execute(text("SELECT now()"))).scalar_one()
    assert write.at == now  # this test's one transaction: the column's time, as before
