"""The sync and findings API: sources, runs (queued through ``enqueue``), quarantine with
masked payloads, findings and their handling. Rows are seeded as the worker leaves them
(tests/api/sync_helpers.py); the access matrix (test_scope_matrix.py) adds every role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.api.app import create_app
from services.core.audit import AuditEvent
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.sync.enums import Trigger
from services.core.sync.models import Finding, SyncRun
from services.core.sync.runs import enqueue
from services.core.timeutil import now
from tests.api.sync_helpers import add_finding, add_quarantined, add_run, open_breaker, settings_with_sources
from tests.api.world import MISSING, make_world
from tests.conftest import _client
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, code_of, id_number

COUNTY = "county_staff.county"
FULL_ID = re.compile(r"(?<![0-9])\d{17}[\dXx](?![0-9])|(?<![0-9])\d{15}(?![0-9])")


@pytest.fixture
async def client(settings, db, tmp_path):
    app = create_app(settings_with_sources(settings, tmp_path), database=db)
    async with _client(app) as c:
        yield c


@pytest.fixture
async def seeded(session, client, auth, settings):
    """A world of households, a run per source and county, findings in three villages."""
    world = await make_world(client, auth)
    runs = {
        "ca": await add_run(session, "civil-affairs", "529901"),
        "mi": await add_run(
            session,
            "medical-insurance",
            "529901",
            status="failed",
            error_code="http_503",
            error="HTTP 503 for 52990119800101001X",
        ),
        "mi_other": await add_run(session, "medical-insurance", "529902"),
        "housing": await add_run(session, "housing", "529902", trigger="spreadsheet", file_name="危房.xlsx"),
    }
    home_head = world.home["members"][0]
    findings = {
        "home": await add_finding(
            session, region_code=VILLAGE, run_id=runs["mi"].id, person_id=home_head["id"], household_id=world.home["id"]
        ),
        "health": await add_finding(
            session,
            region_code=VILLAGE,
            run_id=runs["mi"].id,
            rule_id="large_medical_cost",
            health=True,
            severity="medium",
            household_id=world.home["id"],
            values={"out_of_pocket": "23000.00", "threshold": "10000.00"},
        ),
        "village2": await add_finding(
            session,
            region_code=VILLAGE_2,
            run_id=runs["ca"].id,
            source="civil-affairs",
            rule_id="assistance_not_monitored",
            severity="low",
            household_id=world.village2["id"],
        ),
        "foreign": await add_finding(
            session, region_code=OTHER_COUNTY_VILLAGE, run_id=runs["mi_other"].id, household_id=world.foreign["id"]
        ),
    }
    await session.commit()
    return world, runs, findings


def _no_full_id_number(text: str) -> None:
    assert not FULL_ID.search(text), FULL_ID.search(text).group(0)


# ---- sources ------------------------------------------------------------------------------


async def test_sources_show_the_callers_counties_breaker_and_last_run(client, auth, seeded, session):
    _, runs, _ = seeded
    await open_breaker(session, "medical-insurance", now() + timedelta(minutes=5))
    await session.commit()
    r = await client.get("/api/v1/sync/sources", headers=auth(COUNTY))
    assert r.status_code == 200, r.text
    by_name = {s["name"]: s for s in r.json()["items"]}
    assert set(by_name) == {"civil-affairs", "medical-insurance"}
    ca, mi = by_name["civil-affairs"], by_name["medical-insurance"]
    assert (ca["kind"], ca["pulls"], ca["spreadsheet_only"], ca["every_hours"]) == ("civil-affairs", True, False, 720)
    assert [c["county"] for c in mi["counties"]] == ["529901"]  # not the other county it also serves
    assert ca["counties"][0]["last_run"]["id"] == runs["ca"].id
    assert mi["counties"][0]["last_run"]["status"] == "failed"
    assert ca["breaker"]["state"] == "closed" and mi["breaker"]["state"] == "open"
    assert mi["breaker"]["consecutive_failures"] == 3
    assert "never-shown-secret" not in r.text and "127.0.0.1" not in r.text

    other = {
        s["name"]: s
        for s in (await client.get("/api/v1/sync/sources", headers=auth("county_staff.other"))).json()["items"]
    }
    assert set(other) == {"medical-insurance", "housing"}
    assert other["housing"]["spreadsheet_only"] and other["housing"]["every_hours"] is None
    assert other["housing"]["counties"][0]["last_run"]["id"] == runs["housing"].id
    province = (await client.get("/api/v1/sync/sources", headers=auth("county_staff.province"))).json()["items"]
    assert [c["county"] for s in province if s["name"] == "medical-insurance" for c in s["counties"]] == [
        "529901",
        "529902",
    ]
    # Sources are a county's: a township account sees none.
    assert (await client.get("/api/v1/sync/sources", headers=auth("county_staff.township"))).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_a_breaker_past_its_cool_down_is_half_open(client, auth, session):
    await open_breaker(session, "civil-affairs", now() - timedelta(minutes=1))
    await session.commit()
    r = await client.get("/api/v1/sync/sources/civil-affairs", headers=auth(COUNTY))
    assert r.json()["breaker"]["state"] == "half_open"
    assert r.json()["counties"] == [{"county": "529901", "last_run": None}]


async def test_a_source_of_another_county_is_like_an_unknown_one(client, auth):
    h = auth(COUNTY)
    hidden = await client.get("/api/v1/sync/sources/housing", headers=h)
    missing = await client.get("/api/v1/sync/sources/no-such-source", headers=h)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "sync_source_not_found"
    assert (await client.get("/api/v1/sync/sources/housing", headers=auth("county_staff.other"))).status_code == 200


async def test_sync_reads_are_for_county_staff_and_auditors(client, auth):
    for user, status in [
        ("auditor.county", 200),
        ("village_staff.village", 403),
        ("admin.county", 403),
        ("county_approver.county", 403),
        ("grid_worker.village", 403),
    ]:
        assert (await client.get("/api/v1/sync/runs", headers=auth(user))).status_code == status, user


# ---- runs ---------------------------------------------------------------------------------


async def test_runs_newest_first_with_filters_and_pages(client, auth, seeded):
    _, runs, _ = seeded
    h = auth(COUNTY)
    r = await client.get("/api/v1/sync/runs", headers=h)
    assert [x["id"] for x in r.json()["items"]] == [runs["mi"].id, runs["ca"].id]
    first = r.json()["items"][1]
    assert first["counts"] == {
        "pages": 3,
        "fetched": 250,
        "staged": 40,
        "unchanged": 200,
        "quarantined": 10,
        "retries": 1,
        "matched": 230,
        "unmatched": 10,
        "findings_opened": 5,
        "findings_resolved": 1,
        "findings_open": 12,
        "clues": 2,
    }
    failed = r.json()["items"][0]
    assert (failed["status"], failed["error_code"]) == ("failed", "http_503")
    assert "52990119800101001X" not in r.text and "529901************" in failed["error_message"]

    page = await client.get("/api/v1/sync/runs", params={"limit": 1}, headers=h)
    assert [x["id"] for x in page.json()["items"]] == [runs["mi"].id]
    rest = await client.get("/api/v1/sync/runs", params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=h)
    assert [x["id"] for x in rest.json()["items"]] == [runs["ca"].id] and rest.json()["next_cursor"] is None

    for params, expected in [
        ({"source": "civil-affairs"}, [runs["ca"].id]),
        ({"status": "failed"}, [runs["mi"].id]),
        ({"county": "529901"}, [runs["mi"].id, runs["ca"].id]),
    ]:
        got = await client.get("/api/v1/sync/runs", params=params, headers=h)
        assert [x["id"] for x in got.json()["items"]] == expected, params
    province = await client.get("/api/v1/sync/runs", params={"county": "529902"}, headers=auth("county_staff.province"))
    assert {x["id"] for x in province.json()["items"]} == {runs["mi_other"].id, runs["housing"].id}
    assert (await client.get("/api/v1/sync/runs", headers=auth("county_staff.township"))).json()["items"] == []


async def test_runs_of_another_county_answer_as_missing_ones(client, auth, seeded):
    _, runs, _ = seeded
    h = auth(COUNTY)
    hidden = await client.get(f"/api/v1/sync/runs/{runs['housing'].id}", headers=h)
    missing = await client.get(f"/api/v1/sync/runs/{MISSING}", headers=h)
    assert hidden.status_code == missing.status_code == 404
    assert code_of(hidden) == code_of(missing) == "sync_run_not_found"
    # A township account does not see its own county's runs either.
    assert (
        await client.get(f"/api/v1/sync/runs/{runs['ca'].id}", headers=auth("county_staff.township"))
    ).status_code == 404
    # Filters naming another county, or none at all, are answered alike.
    for path in ("/api/v1/sync/runs", "/api/v1/sync/quarantine"):
        hidden = await client.get(path, params={"county": "529902"}, headers=h)
        missing = await client.get(path, params={"county": "529903"}, headers=h)
        assert (hidden.status_code, code_of(hidden), hidden.json()["field"]) == (404, "county_not_found", "county")
        assert (missing.status_code, code_of(missing)) == (404, "county_not_found")
    assert (
        await client.get("/api/v1/sync/runs", params={"county": "529901"}, headers=auth("county_staff.township"))
    ).status_code == 404


async def test_queue_a_run_then_join_it(client, auth, session, user_ids):
    h = auth(COUNTY)
    r = await client.post("/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=h)
    assert r.status_code == 202, r.text
    run = r.json()
    assert (run["status"], run["phase"], run["trigger"], run["created"]) == ("queued", "fetching", "manual", True)
    assert run["requested_by"] == user_ids[COUNTY] and run["breaker_open_until"] is None and run["notice"] is None
    assert r.headers["location"] == f"/api/v1/sync/runs/{run['id']}"
    assert run["counts"]["fetched"] == 0 and run["counts"]["matched"] is None

    again = await client.post("/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == run["id"] and again.json()["created"] is False
    # Running still joins; finished no longer does.
    row = await session.get(SyncRun, run["id"])
    row.status = "running"
    await session.commit()
    assert (
        await client.post("/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=h)
    ).json()["id"] == run["id"]
    row.status = "succeeded"
    await session.commit()
    fresh = await client.post("/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=h)
    assert fresh.status_code == 202 and fresh.json()["id"] != run["id"]

    shown = await client.get(f"/api/v1/sync/runs/{run['id']}", headers=h)
    assert shown.status_code == 200 and shown.json()["status"] == "succeeded"
    [event] = (
        (await session.execute(select(AuditEvent).where(AuditEvent.request_id == r.headers["x-request-id"])))
        .scalars()
        .all()
    )
    assert (event.action, event.result) == ("api.create_sync_run", "success")
    assert f"sync_runs/{run['id']}" in event.after


async def test_queueing_is_idempotent_with_a_key(client, auth, session):
    h = auth(COUNTY, **{"Idempotency-Key": "queue-ca-1"})
    body = {"source": "civil-affairs", "county": "529901"}
    first = await client.post("/api/v1/sync/runs", json=body, headers=h)
    retry = await client.post("/api/v1/sync/runs", json=body, headers=h)
    assert first.status_code == retry.status_code == 202
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    other = await client.post("/api/v1/sync/runs", json={"source": "medical-insurance", "county": "529901"}, headers=h)
    assert (other.status_code, code_of(other)) == (422, "idempotency_key_reused")
    count = await session.scalar(select(func.count()).select_from(SyncRun))
    assert count == 1


async def test_queueing_refuses_unknown_sources_and_other_counties(client, auth):
    h = auth(COUNTY)
    cases = [
        ({"source": "no-such-source", "county": "529901"}, 404, "sync_source_not_found", "source"),
        ({"source": "housing", "county": "529902"}, 404, "sync_source_not_found", "source"),  # another county's
        ({"source": "medical-insurance", "county": "529902"}, 404, "county_not_found", "county"),
        ({"source": "medical-insurance", "county": "529903"}, 404, "county_not_found", "county"),
        ({"source": "civil-affairs", "county": "5299"}, 422, "string_pattern_mismatch", "county"),
        ({"source": "civil-affairs", "county": "529901", "status": "running"}, 422, "extra_forbidden", "status"),
    ]
    for body, status, code, field in cases:
        r = await client.post("/api/v1/sync/runs", json=body, headers=h)
        assert (r.status_code, code_of(r), r.json()["field"]) == (status, code, field), (body, r.text)
    # A county of the caller's that the source does not serve.
    r = await client.post(
        "/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529902"}, headers=auth("county_staff.province")
    )
    assert (r.status_code, code_of(r), r.json()["field"]) == (422, "sync_county_not_served", "county")
    # Township staff may run syncs by role, but no county is theirs.
    r = await client.post(
        "/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=auth("county_staff.township")
    )
    assert r.status_code == 404
    for user in ("auditor.county", "village_staff.village", "admin.county"):
        r = await client.post(
            "/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=auth(user)
        )
        assert r.status_code == 403, user


async def test_an_open_breaker_still_queues_and_says_so(client, auth, session):
    until = now() + timedelta(minutes=10)
    await open_breaker(session, "civil-affairs", until)
    await session.commit()
    r = await client.post(
        "/api/v1/sync/runs",
        json={"source": "civil-affairs", "county": "529901"},
        headers=auth(COUNTY, **{"Accept-Language": "zh-CN"}),
    )
    assert r.status_code == 202, r.text
    assert r.json()["breaker_open_until"] is not None and r.json()["status"] == "queued"
    assert "熔断" in r.json()["notice"]


async def test_enqueue_joins_the_active_run(session):
    bind_scope(session, UNRESTRICTED)
    run, created = await enqueue(session, "education", "529901", Trigger.schedule)
    assert created and run.status == "queued" and run.created_at is not None
    same, created_again = await enqueue(session, "education", "529901", Trigger.manual, 7)
    assert (same.id, created_again, same.trigger) == (run.id, False, "schedule")
    other, created_other = await enqueue(session, "education", "529902", Trigger.spreadsheet, file_name="学籍.xlsx")
    assert created_other and other.id != run.id and other.file_name == "学籍.xlsx"
    run.status = "failed"
    await session.flush()
    retry, created_retry = await enqueue(
        session, "education", "529901", Trigger.retry, not_before=now() + timedelta(minutes=10)
    )
    assert created_retry and retry.id != run.id and retry.not_before > now()


async def test_enqueue_loses_a_race_gracefully(session):
    """A run inserted between the look-up and the insert (another process): the unique
    index refuses the second, and enqueue returns the one that won."""
    bind_scope(session, UNRESTRICTED)
    from services.core.sync import runs as runs_module

    original = runs_module.active_run
    calls = []

    async def blind_once(s, source, county):
        calls.append(1)
        if len(calls) == 1:
            s.add(SyncRun(source=source, county=county, trigger="schedule", status="queued"))
            await s.flush()
            return None  # as if looked up just before the other process inserted
        return await original(s, source, county)

    runs_module.active_run = blind_once
    try:
        run, created = await enqueue(session, "civil-affairs", "529901", Trigger.manual, 1)
    finally:
        runs_module.active_run = original
    assert created is False and run.trigger == "schedule" and len(calls) == 2


async def test_reprocess_queues_a_reprocess_run(client, auth):
    h = auth(COUNTY)
    r = await client.post(
        "/api/v1/sync/quarantine/reprocess", json={"source": "civil-affairs", "county": "529901"}, headers=h
    )
    assert r.status_code == 202 and r.json()["trigger"] == "reprocess"
    joined = await client.post("/api/v1/sync/runs", json={"source": "civil-affairs", "county": "529901"}, headers=h)
    assert joined.status_code == 200 and joined.json()["id"] == r.json()["id"]
    hidden = await client.post(
        "/api/v1/sync/quarantine/reprocess", json={"source": "medical-insurance", "county": "529902"}, headers=h
    )
    assert (hidden.status_code, code_of(hidden)) == (404, "county_not_found")


# ---- quarantine ---------------------------------------------------------------------------


async def test_quarantined_payloads_never_show_a_full_id_number(client, auth, session, settings):
    run = await add_run(session, "civil-affairs", "529901")
    full, old, bad = id_number(), "529901800101001", "5299011980010100"  # 18, 15 and 16 characters
    fullwidth = full.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    raw = {
        "jzid": "JZ-7",
        "sfzh": bad,
        "公民身份号码": "12345678901234567",  # malformed, under ID keys
        "xm": "张三",
        "备注": f"身份证 {full} 有误",
        "family": [{"id_no": full}, {"id": fullwidth}],
        "old": old,
        "as_number": int(full[:17]),
        "amount": 350,
        # a standard header the import reads (not in the source's configuration), in a
        # shortened copy of a record too large to keep whole
        "_guardline_evidence": {"reason": "too_long.record"},
        "values": {"证件号码": "98765432109876"},
    }
    record = await add_quarantined(
        session, settings, "civil-affairs", "529901", run.id, raw, external_key=f"{full}-2026", detail=f"got {full}"
    )
    text_record = await add_quarantined(
        session, settings, "civil-affairs", "529901", run.id, f"row 7,{full},张三".encode(), reason="invalid.start_date"
    )
    await session.commit()
    h = auth(COUNTY)
    listed = await client.get("/api/v1/sync/quarantine", headers=h)
    one = await client.get(f"/api/v1/sync/quarantine/{record.id}", headers=h)
    for r in (listed, one):
        assert r.status_code == 200, r.text
        _no_full_id_number(r.text)
        for secret in (full, old, bad, fullwidth, "12345678901234567", "98765432109876"):
            assert secret not in r.text
    body = one.json()
    assert body["raw"]["xm"] == "张三" and body["raw"]["amount"] == 350 and body["raw"]["jzid"] == "JZ-7"
    assert body["raw"]["family"][0]["id_no"] == full[:6] + "*" * 12
    assert body["raw"]["sfzh"].startswith("529901") and "*" in body["raw"]["sfzh"]
    assert (body["reason"], body["field"], body["location"], body["status"]) == (
        "id_number.check_digit",
        "id_number",
        "page 2",
        "open",
    )
    assert body["external_key"].endswith("-2026") and body["first_run_id"] == body["last_run_id"] == run.id
    texts = [x for x in listed.json()["items"] if x["id"] == text_record.id]
    assert texts[0]["raw"].startswith("row 7,") and full not in texts[0]["raw"]
    # Roles without health details (a payload may be a medical claim) see no payload at all.
    audited = await client.get(f"/api/v1/sync/quarantine/{record.id}", headers=auth("auditor.county"))
    assert audited.status_code == 200 and audited.json()["raw"] is None


async def test_quarantine_filters_and_scope(client, auth, session, settings):
    run = await add_run(session, "civil-affairs", "529901")
    other_run = await add_run(session, "housing", "529902")
    a = await add_quarantined(session, settings, "civil-affairs", "529901", run.id, {"x": 1})
    b = await add_quarantined(
        session,
        settings,
        "civil-affairs",
        "529901",
        run.id,
        {"x": 2},
        reason="missing.start_date",
        status="reprocessed",
    )
    foreign = await add_quarantined(session, settings, "housing", "529902", other_run.id, {"x": 3})
    await session.commit()
    h = auth(COUNTY)

    async def ids(**params):
        r = await client.get("/api/v1/sync/quarantine", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids() == [b.id, a.id]
    assert await ids(reason="missing.start_date") == [b.id]
    assert await ids(status="open") == [a.id]
    assert await ids(source="housing") == []
    assert await ids(county="529901", limit=1) == [b.id]
    hidden = await client.get(f"/api/v1/sync/quarantine/{foreign.id}", headers=h)
    missing = await client.get(f"/api/v1/sync/quarantine/{MISSING}", headers=h)
    assert hidden.status_code == missing.status_code == 404
    assert code_of(hidden) == code_of(missing) == "quarantined_record_not_found"


# ---- findings -----------------------------------------------------------------------------


async def test_findings_in_the_callers_regions(client, auth, seeded):
    world, _, f = seeded

    async def ids(user, **params):
        r = await client.get("/api/v1/findings", params=params, headers=auth(user))
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids(COUNTY) == [f["village2"].id, f["health"].id, f["home"].id]
    assert await ids("village_staff.village") == [f["health"].id, f["home"].id]
    assert await ids("assistance_cadre.village") == [f["health"].id, f["home"].id]
    assert await ids("county_staff.other") == [f["foreign"].id]
    assert await ids("county_staff.province") == [f["foreign"].id, f["village2"].id, f["health"].id, f["home"].id]
    # Filters.
    assert await ids(COUNTY, severity="low") == [f["village2"].id]
    assert await ids(COUNTY, source="civil-affairs") == [f["village2"].id]
    assert await ids(COUNTY, rule_id="not_insured") == [f["home"].id]
    assert await ids(COUNTY, region=VILLAGE_2) == [f["village2"].id]
    assert await ids(COUNTY, household_id=world.home["id"]) == [f["health"].id, f["home"].id]
    assert await ids(COUNTY, person_id=world.home["members"][0]["id"]) == [f["home"].id]
    assert await ids(COUNTY, status="resolved") == []
    assert await ids(COUNTY, seen_since=(now() - timedelta(hours=1)).isoformat()) == [
        f["village2"].id,
        f["health"].id,
        f["home"].id,
    ]
    assert await ids(COUNTY, seen_since=(now() + timedelta(days=1)).replace(tzinfo=None).isoformat()) == []
    first = await client.get("/api/v1/findings", params={"limit": 2}, headers=auth(COUNTY))
    rest = await client.get(
        "/api/v1/findings", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=auth(COUNTY)
    )
    assert [x["id"] for x in rest.json()["items"]] == [f["home"].id]


async def test_a_finding_names_its_person_rule_records_and_values(client, auth, seeded):
    world, runs, f = seeded
    head = world.home["members"][0]
    r = await client.get(f"/api/v1/findings/{f['home'].id}", headers=auth("village_staff.village"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["etag"] == f'"finding-{f["home"].id}-v1"'
    assert body["person"] == {"id": head["id"], "id_number": head["id_number"], "name": head["name"]}
    assert body["household"] == {"id": world.home["id"], "household_no": world.home["household_no"]}
    assert body["records"] == [{"source": "medical-insurance", "external_key": "MI-2026-0001"}]
    assert body["values"] == {"year": 2026, "insured": False}
    assert (body["rule_id"], body["severity"], body["status"], body["health"]) == ("not_insured", "high", "open", False)
    assert (body["first_run_id"], body["last_run_id"], body["county"]) == (runs["mi"].id, runs["mi"].id, "529901")
    assert "medical insurance" in body["explanation"]
    zh = await client.get(
        f"/api/v1/findings/{f['home'].id}", headers=auth("village_staff.village", **{"Accept-Language": "zh"})
    )
    assert "应保尽保" in zh.json()["explanation"]
    _no_full_id_number(r.text)


async def test_findings_that_tell_health_are_hidden_from_roles_without_health(client, auth, seeded, session):
    _, _, f = seeded
    auditor = auth("auditor.county")
    listed = await client.get("/api/v1/findings", headers=auditor)
    assert f["health"].id not in [x["id"] for x in listed.json()["items"]] and f["home"].id in [
        x["id"] for x in listed.json()["items"]
    ]
    hidden = await client.get(f"/api/v1/findings/{f['health'].id}", headers=auditor)
    missing = await client.get(f"/api/v1/findings/{MISSING}", headers=auditor)
    assert hidden.status_code == missing.status_code == 404 and code_of(hidden) == "finding_not_found"
    refused = await client.get("/api/v1/findings", params={"rule_id": "large_medical_cost"}, headers=auditor)
    assert (refused.status_code, code_of(refused), refused.json()["field"]) == (403, "health_rule_forbidden", "rule_id")
    # A role that sees health details sees it, and the read is audited.
    seen = await client.get(f"/api/v1/findings/{f['health'].id}", headers=auth("village_staff.village"))
    assert seen.status_code == 200 and seen.json()["values"]["out_of_pocket"] == "23000.00"
    events = (
        (await session.execute(select(AuditEvent).where(AuditEvent.request_id == seen.headers["x-request-id"])))
        .scalars()
        .all()
    )
    assert [(e.action, e.object_id) for e in events] == [("finding.read_health", str(f["health"].id))]
    filtered = await client.get(
        "/api/v1/findings", params={"rule_id": "large_medical_cost"}, headers=auth("village_staff.village")
    )
    assert [x["id"] for x in filtered.json()["items"]] == [f["health"].id]


async def test_finding_filters_naming_hidden_things_answer_404(client, auth, seeded):
    world, _, _ = seeded
    h = auth("village_staff.village")
    for name, hidden, missing in [
        ("household_id", world.village2["id"], MISSING),
        ("person_id", world.village2["members"][0]["id"], MISSING),
        ("region", VILLAGE_2, "529901001999"),
    ]:
        a = await client.get("/api/v1/findings", params={name: hidden}, headers=h)
        b = await client.get("/api/v1/findings", params={name: missing}, headers=h)
        assert a.status_code == b.status_code == 404, (name, a.text)
        assert code_of(a) == code_of(b) and a.json()["field"] == name


async def test_handle_a_finding_with_if_match(client, auth, seeded, session, user_ids):
    _, _, f = seeded
    user = "village_staff.village"
    path = f"/api/v1/findings/{f['home'].id}"
    tag = (await client.get(path, headers=auth(user))).headers["etag"]

    missing_tag = await client.patch(path, json={"status": "acknowledged"}, headers=auth(user))
    assert (missing_tag.status_code, code_of(missing_tag)) == (428, "precondition_required")
    stale = await client.patch(
        path, json={"status": "acknowledged"}, headers=auth(user, **{"If-Match": f'"finding-{f["home"].id}-v9"'})
    )
    assert (stale.status_code, code_of(stale)) == (412, "precondition_failed")

    ack = await client.patch(
        path, json={"status": "acknowledged", "note": "已通知村医核实"}, headers=auth(user, **{"If-Match": tag})
    )
    assert ack.status_code == 200, ack.text
    assert (ack.json()["status"], ack.json()["note"], ack.json()["resolved_at"]) == (
        "acknowledged",
        "已通知村医核实",
        None,
    )
    assert ack.headers["etag"] == f'"finding-{f["home"].id}-v2"'
    again = await client.patch(path, json={"status": "resolved", "note": "x"}, headers=auth(user, **{"If-Match": tag}))
    assert again.status_code == 412  # the old tag is stale now

    no_note = await client.patch(
        path, json={"status": "resolved"}, headers=auth(user, **{"If-Match": ack.headers["etag"]})
    )
    assert (no_note.status_code, code_of(no_note), no_note.json()["field"]) == (422, "finding_note_required", "note")
    blank = await client.patch(
        path, json={"status": "resolved", "note": "  "}, headers=auth(user, **{"If-Match": ack.headers["etag"]})
    )
    assert blank.status_code == 422 and blank.json()["field"] == "note"
    resolved = await client.patch(
        path,
        json={"status": "resolved", "note": "已为其补缴医保"},
        headers=auth(user, **{"If-Match": ack.headers["etag"]}),
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolved_by"], body["note"]) == ("resolved", user_ids[user], "已为其补缴医保")
    assert body["resolved_at"] is not None
    [event] = (
        (await session.execute(select(AuditEvent).where(AuditEvent.request_id == resolved.headers["x-request-id"])))
        .scalars()
        .all()
    )
    key = f"sync_findings/{f['home'].id}"
    assert (event.action, event.object_type, event.region_code) == ("api.update_finding", "finding", VILLAGE)
    assert event.before[key]["status"] == "acknowledged" and event.after[key]["status"] == "resolved"

    reopened = await client.patch(
        path, json={"status": "open"}, headers=auth(user, **{"If-Match": resolved.headers["etag"]})
    )
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["resolved_at"], reopened.json()["resolved_by"]) == (
        "open",
        None,
        None,
    )
    row = await session.get(Finding, f["home"].id)
    await session.refresh(row)
    assert row.status == "open" and row.note == "已为其补缴医保"


async def test_handling_is_for_those_who_follow_findings_up_in_their_regions(client, auth, seeded):
    _, _, f = seeded
    body = {"status": "acknowledged"}
    for user, target, status in [
        ("auditor.county", "home", 403),
        ("grid_worker.village", "home", 403),
        ("county_approver.county", "home", 403),
        ("admin.county", "home", 403),
        ("village_staff.village", "village2", 404),
        ("county_staff.other", "home", 404),
        ("admin.county", "foreign", 404),  # 404 before 403 outside one's regions
        ("assistance_cadre.village", "home", 200),
        ("township_staff.township", "home", 200),
    ]:
        path = f"/api/v1/findings/{f[target].id}"
        # the current ETag where the caller may change the finding; any where it is refused first
        tag = (await client.get(path, headers=auth(user))).headers["etag"] if status == 200 else '"any"'
        r = await client.patch(path, json=body, headers=auth(user, **{"If-Match": tag}))
        assert r.status_code == status, (user, target, r.text)


async def test_a_run_shows_its_roster_declaration(client, auth, session, seeded):
    """A run declared a complete roster says so (period, region, rows read and refused);
    others carry ``roster: null``."""
    _, runs, _ = seeded
    declared = await add_run(
        session,
        "medical-insurance",
        "529901",
        trigger=Trigger.spreadsheet,
        file_name="参保名册.xlsx",
        roster_period="2026",
        roster_region="529901001",
        roster_records=1200,
        roster_rejected=3,
    )
    await session.commit()
    h = auth(COUNTY)
    shown = (await client.get(f"/api/v1/sync/runs/{declared.id}", headers=h)).json()
    assert shown["roster"] == {"period": "2026", "region": "529901001", "records": 1200, "refused": 3}
    assert (await client.get(f"/api/v1/sync/runs/{runs['ca'].id}", headers=h)).json()["roster"] is None
    listed = {x["id"]: x["roster"] for x in (await client.get("/api/v1/sync/runs", headers=h)).json()["items"]}
    assert listed[declared.id]["period"] == "2026" and listed[runs["ca"].id] is None
