"""The monthly clearing ledger (月清零台账) and the rectification ledger (问题整改台账):
opening from what the system knows, deadlines on the official calendar, closure with
evidence, two-person approval, the monthly reports, scope and roles."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from tests.api.test_households import create
from tests.factories import OTHER_TOWNSHIP_VILLAGE, VILLAGE, code_of

ENTRIES = "/api/v1/clearing-entries"
RECT = "/api/v1/rectifications"
WRITER = "village_staff.village"


def _status(**kw):
    body = {"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"}
    body.update(kw)
    return body


async def _set_guarantees(client, auth, household_id, **kw):
    h = auth("assistance_cadre.village")
    etag = (await client.get(f"/api/v1/households/{household_id}/guarantees", headers=h)).headers["etag"]
    r = await client.put(
        f"/api/v1/households/{household_id}/guarantees", json=_status(**kw), headers={**h, "If-Match": etag}
    )
    assert r.status_code == 200, r.text


async def test_deadline_crosses_national_day_and_the_adjusted_saturday(client, auth, today_is):
    # Found on 30 September 2026: 1–7 October are the holiday, Saturday 10 October a working
    # day; 20 working days (the policy's default) end on 3 November (4 November without the
    # adjusted Saturday).
    today_is(date(2026, 9, 30))
    hh = await create(client, auth)
    r = await client.post(
        ENTRIES,
        json={"household_id": hh["id"], "kind": "water", "description": "季节性缺水"},
        headers=auth(WRITER),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["opened_on"], body["deadline"], body["deadline_provisional"]) == ("2026-09-30", "2026-11-03", False)
    assert body["department"] == "县水务局" and body["origin"] == "manual" and body["overdue"] is False
    # A region's own figure: 5 working days from 30 September is 13 October.
    policy = await client.post(
        "/api/v1/monitoring-policies",
        headers=auth("county_staff.county"),
        json={"region_prefix": VILLAGE, "year": 2026, "values": {"clearing_days": 5}},
    )
    assert policy.status_code == 201, policy.text
    r = await client.post(
        ENTRIES,
        json={"household_id": hh["id"], "kind": "housing", "description": "墙体开裂", "department": "镇村建办"},
        headers=auth(WRITER),
    )
    assert (r.json()["deadline"], r.json()["department"]) == ("2026-10-13", "镇村建办")
    today_is(date(2026, 10, 14))
    overdue = await client.get(ENTRIES, params={"overdue": "true"}, headers=auth(WRITER))
    assert [e["kind"] for e in overdue.json()["items"]] == ["housing"]
    assert overdue.json()["items"][0]["overdue"] is True


async def test_entries_open_from_the_guarantees_once_and_close_with_evidence(client, auth):
    hh = await create(client, auth)
    await _set_guarantees(client, auth, hh["id"], housing="at_risk", housing_grade="D", water="at_risk")
    h = auth("township_staff.township")
    # The status change itself opened the two entries; a scan opens nothing twice.
    scan = await client.post(f"{ENTRIES}/scan", json={}, headers=h)
    assert scan.status_code == 200 and scan.json()["opened"] == 0, scan.text
    again = await client.post(f"{ENTRIES}/scan", json={"region": VILLAGE}, headers=h)
    assert again.json()["opened"] == 0
    await _set_guarantees(client, auth, hh["id"], housing="at_risk", housing_grade="D", water="at_risk", note="复核")
    rows = (await client.get(ENTRIES, params={"household_id": hh["id"]}, headers=h)).json()["items"]
    assert sorted(e["kind"] for e in rows) == ["housing", "water"]
    housing = next(e for e in rows if e["kind"] == "housing")
    assert housing["origin"] == "guarantees" and "D级危房" in housing["description"]
    assert housing["department"] == "县住房和城乡建设局"
    # A manual entry of the same open item is refused.
    dup = await client.post(
        ENTRIES, json={"household_id": hh["id"], "kind": "housing", "description": "重复"}, headers=h
    )
    assert (dup.status_code, code_of(dup)) == (409, "clearing_entry_open")

    got = await client.get(f"{ENTRIES}/{housing['id']}", headers=h)
    etag = got.headers["etag"]
    path = f"{ENTRIES}/{housing['id']}/closure"
    # Without evidence: 422 naming the field, in Chinese when asked.
    r = await client.post(
        path, json={"evidence": "已完成危房改造"}, headers={**h, "If-Match": etag, "Accept-Language": "zh"}
    )
    assert r.status_code == 422 and r.json()["field"] == "evidence_refs", r.text
    assert "必填" in r.json()["errors"][0]["message"]
    r = await client.post(path, json={"evidence": "", "evidence_refs": ["照片-1"]}, headers={**h, "If-Match": etag})
    assert r.status_code == 422 and r.json()["field"] == "evidence"
    assert (await client.post(path, json={"evidence": "x", "evidence_refs": ["p"]}, headers=h)).status_code == 428
    ok = await client.post(
        path,
        json={"evidence": "已完成危房改造并验收", "evidence_refs": ["危改验收表-2026-031", "照片-88"]},
        headers={**h, "If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "cleared" and ok.json()["evidence_refs"] == ["危改验收表-2026-031", "照片-88"]
    stale = await client.post(path, json={"evidence": "x", "evidence_refs": ["p"]}, headers={**h, "If-Match": etag})
    assert stale.status_code == 412
    twice = await client.post(
        path, json={"evidence": "x", "evidence_refs": ["p"]}, headers={**h, "If-Match": ok.headers["etag"]}
    )
    assert (twice.status_code, code_of(twice)) == (409, "clearing_entry_cleared")
    # Still at risk in the status: the next scan opens it again (not cleared in fact).
    assert (await client.post(f"{ENTRIES}/scan", json={}, headers=h)).json()["opened"] == 1


MANY = 2600  # households at risk in two items each: 5,200 entries, 78,000 parameters as one statement


async def test_a_scan_opens_thousands_of_entries(client, auth, db):
    """A county's scan (and the department sync's reconciliation, which runs it) opens every
    entry however many items are at risk: one statement of all of them would pass the
    driver's limit of 32,767 parameters and open none."""
    hh = await create(client, auth)
    await db.connection.execute(
        text(
            "INSERT INTO households (household_no, region_code, category, flags, status, head_name, member_count, version) "
            "SELECT 'MANY-' || n, region_code, category, flags, status, head_name, member_count, 1 "
            "FROM households, generate_series(1, :many) AS n WHERE id = :id"
        ),
        {"many": MANY, "id": hh["id"]},
    )
    await db.connection.execute(
        text(
            "INSERT INTO household_guarantees (household_id, region_code, education, medical, housing, water, version) "
            "SELECT id, region_code, 'secure', 'at_risk', 'secure', 'at_risk', 1 FROM households "
            "WHERE household_no LIKE 'MANY-%'"
        )
    )
    h = auth("township_staff.township")
    scan = await client.post(f"{ENTRIES}/scan", json={}, headers=h)
    assert scan.status_code == 200 and scan.json()["opened"] == 2 * MANY, scan.text
    opened = await db.connection.execute(
        text(
            "SELECT count(*), count(DISTINCT (e.household_id, e.kind)) FROM clearing_entries e "
            "JOIN households h ON h.id = e.household_id WHERE h.household_no LIKE 'MANY-%' AND e.status = 'open'"
        )
    )
    assert opened.one() == (2 * MANY, 2 * MANY)
    assert (await client.post(f"{ENTRIES}/scan", json={}, headers=h)).json()["opened"] == 0


async def test_clearing_scope_and_roles(client, auth):
    hh = await create(client, auth)
    r = await client.post(
        ENTRIES,
        json={"household_id": hh["id"], "kind": "education", "description": "适龄儿童辍学"},
        headers=auth(WRITER),
    )
    entry = r.json()
    # Another village, another county: as if it did not exist.
    for user in ("village_staff.village2", "county_staff.other"):
        assert (await client.get(f"{ENTRIES}/{entry['id']}", headers=auth(user))).status_code == 404
        listed = await client.get(ENTRIES, headers=auth(user))
        assert entry["id"] not in [e["id"] for e in listed.json()["items"]]
    assert (
        await client.get(ENTRIES, params={"region": VILLAGE}, headers=auth("county_staff.other"))
    ).status_code == 404
    # A grid worker reads nothing of the ledger; an auditor reads but does not write.
    assert (await client.get(ENTRIES, headers=auth("grid_worker.village"))).status_code == 403
    assert (await client.get(f"{ENTRIES}/{entry['id']}", headers=auth("auditor.county"))).status_code == 200
    r = await client.post(
        ENTRIES, json={"household_id": hh["id"], "kind": "water", "description": "x"}, headers=auth("auditor.county")
    )
    assert r.status_code == 403
    # A household out of scope in the body: 404, like a missing one.
    r = await client.post(
        ENTRIES,
        json={"household_id": hh["id"], "kind": "water", "description": "x"},
        headers=auth("county_staff.other"),
    )
    assert (r.status_code, code_of(r)) == (404, "household_not_found")


async def test_monthly_clearing_report_by_township_is_reproducible(client, auth, today_is):
    today_is(date(2026, 9, 10))
    a = await create(client, auth)
    b = await create(client, auth, user="county_staff.county", region=OTHER_TOWNSHIP_VILLAGE)
    h = auth("county_staff.county")
    ids = []
    for hh, kind in ((a, "water"), (a, "housing"), (b, "medical")):
        r = await client.post(ENTRIES, json={"household_id": hh["id"], "kind": kind, "description": "发现"}, headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json())
    today_is(date(2026, 9, 25))
    close = ids[0]
    etag = (await client.get(f"{ENTRIES}/{close['id']}", headers=h)).headers["etag"]
    r = await client.post(
        f"{ENTRIES}/{close['id']}/closure",
        json={"evidence": "已通自来水", "evidence_refs": ["水-1"]},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200
    today_is(date(2026, 12, 1))
    report = await client.get("/api/v1/clearing-report", params={"month": "2026-09", "region": "529901"}, headers=h)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["cut_off"] == "2026-09-30"
    rows = {r["township"]: r for r in body["townships"]}
    assert rows["529901001000"] | {"name": None} == {
        "township": "529901001000",
        "name": None,
        "opened": 2,
        "cleared": 1,
        "overdue": 0,
        "open": 1,
    }
    assert (rows["529901002000"]["opened"], rows["529901002000"]["open"]) == (1, 1)
    assert body["total"]["opened"] == 3
    # November: both still open past their 20-working-day deadlines (after 9 October).
    nov = (await client.get("/api/v1/clearing-report", params={"month": "2026-11"}, headers=h)).json()
    assert (nov["total"]["opened"], nov["total"]["overdue"], nov["total"]["open"]) == (0, 2, 2)
    # As of 20 September: nothing cleared yet.
    early = await client.get("/api/v1/clearing-report", params={"month": "2026-09", "as_of": "2026-09-20"}, headers=h)
    assert (early.json()["cut_off"], early.json()["total"]["cleared"], early.json()["total"]["open"]) == (
        "2026-09-20",
        0,
        3,
    )
    # The same month asked again later gives the same figures.
    today_is(date(2027, 3, 1))
    again = await client.get("/api/v1/clearing-report", params={"month": "2026-09", "region": "529901"}, headers=h)
    assert again.json()["townships"] == body["townships"]
    future = await client.get("/api/v1/clearing-report", params={"month": "2027-05"}, headers=h)
    assert (future.status_code, code_of(future)) == (422, "month_not_begun")
    bad = await client.get("/api/v1/clearing-report", params={"month": "2026-13"}, headers=h)
    assert bad.status_code == 422
    # A village cadre sees only its village, and cannot ask for the county.
    mine = await client.get("/api/v1/clearing-report", params={"month": "2026-09"}, headers=auth(WRITER))
    assert mine.json()["total"]["opened"] == 2
    far = await client.get(
        "/api/v1/clearing-report", params={"month": "2026-09", "region": "529901"}, headers=auth(WRITER)
    )
    assert far.status_code == 404


async def _rectification(client, auth, user="township_staff.township", **kw):
    body = {
        "region_code": VILLAGE,
        "source": "inspection",
        "source_ref": "督查通报〔2026〕3号",
        "title": "部分农户危房未改造",
        "description": "暗访发现2户住房存在安全隐患未纳入改造。",
        "responsible_unit": "镇村建办",
    }
    body.update(kw)
    r = await client.post(RECT, json=body, headers=auth(user))
    assert r.status_code == 201, r.text
    return r


async def test_rectification_needs_a_second_person_to_close(client, auth, today_is):
    today_is(date(2026, 9, 28))
    r = await _rectification(client, auth)
    row = r.json()
    # 30 working days from 28 September across the National Day holiday and the adjusted
    # Saturday 10 October.
    assert (row["found_on"], row["deadline"], row["status"]) == ("2026-09-28", "2026-11-13", "open")
    h = auth("township_staff.township")
    step = await client.post(
        f"{RECT}/{row['id']}/steps", json={"content": "已入户核实并鉴定", "refs": ["鉴定书-7"]}, headers=h
    )
    assert step.status_code == 201 and step.json()["steps"][0]["content"] == "已入户核实并鉴定"
    etag = step.headers["etag"]
    path = f"{RECT}/{row['id']}/closure-request"
    bad = await client.post(path, json={"evidence": "已改造"}, headers={**h, "If-Match": etag})
    assert (bad.status_code, bad.json()["field"]) == (422, "evidence_refs")
    asked = await client.post(
        path,
        json={"evidence": "2户均已完成改造", "evidence_refs": ["验收单-1", "验收单-2"]},
        headers={**h, "If-Match": etag},
    )
    assert asked.status_code == 200 and asked.json()["status"] == "closure_requested"
    decide = f"{RECT}/{row['id']}/decision"
    # A writer without the approver's permission: 403.
    r = await client.post(
        decide, json={"approve": True}, headers={**auth("county_staff.county"), "If-Match": asked.headers["etag"]}
    )
    assert r.status_code == 403
    # Stale ETag: 412.
    r = await client.post(decide, json={"approve": True}, headers={**auth("county_approver.county"), "If-Match": etag})
    assert r.status_code == 412
    refused = await client.post(
        decide,
        json={"approve": False, "note": "佐证不全"},
        headers={**auth("county_approver.county"), "If-Match": asked.headers["etag"]},
    )
    assert refused.json()["status"] == "open" and refused.json()["decision_note"] == "佐证不全"
    asked = await client.post(
        path,
        json={"evidence": "补充验收照片", "evidence_refs": ["照片-9"]},
        headers={**h, "If-Match": refused.headers["etag"]},
    )
    today_is(date(2026, 12, 1))
    approved = await client.post(
        decide, json={"approve": True}, headers={**auth("county_approver.county"), "If-Match": asked.headers["etag"]}
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["closed_on"], approved.json()["overdue"]) == (
        "closed",
        "2026-12-01",
        False,
    )
    closed = await client.post(f"{RECT}/{row['id']}/steps", json={"content": "再补充"}, headers=h)
    assert (closed.status_code, code_of(closed)) == (409, "rectification_closed")
    summary = await client.get("/api/v1/rectification-report", params={"month": "2026-12"}, headers=h)
    assert (summary.json()["total"]["cleared"], summary.json()["total"]["open"]) == (1, 0)
    nov = await client.get("/api/v1/rectification-report", params={"month": "2026-11"}, headers=h)
    assert (nov.json()["total"]["overdue"], nov.json()["total"]["open"]) == (1, 1)


async def test_approving_ones_own_request_is_refused(client, auth, db, user_ids):
    from services.core.ledgers.models import Rectification
    from services.core.scope import UNRESTRICTED, bind_scope

    row = (await _rectification(client, auth, user="county_staff.county")).json()
    # An approver who also requested the closure (recorded as theirs).
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        rec = await session.get(Rectification, row["id"])
        rec.status = "closure_requested"
        rec.closure_requested_by = user_ids["county_approver.county"]
        rec.evidence, rec.evidence_refs = "已整改", ["x"]
        await session.commit()
    finally:
        await session.close()
    h = auth("county_approver.county")
    etag = (await client.get(f"{RECT}/{row['id']}", headers=h)).headers["etag"]
    r = await client.post(
        f"{RECT}/{row['id']}/decision", json={"approve": True}, headers={**h, "If-Match": etag, "Accept-Language": "zh"}
    )
    assert (r.status_code, code_of(r)) == (403, "approve_own_request")
    assert "另一名" in r.json()["detail"]


async def test_rectification_scope_and_overdue_list(client, auth, today_is):
    today_is(date(2026, 6, 1))
    row = (await _rectification(client, auth)).json()
    assert (await client.get(f"{RECT}/{row['id']}", headers=auth("village_staff.village2"))).status_code == 404
    assert (await client.get(f"{RECT}/{row['id']}", headers=auth("county_staff.other"))).status_code == 404
    other = await client.post(
        RECT,
        json={
            "region_code": "529902001001",
            "source": "audit",
            "title": "t",
            "description": "d",
            "responsible_unit": "u",
        },
        headers=auth("county_staff.county"),
    )
    assert other.status_code == 404
    # A household named must lie within the problem's region.
    elsewhere = await create(client, auth, user="county_staff.county", region=OTHER_TOWNSHIP_VILLAGE)
    r = await client.post(
        RECT,
        json={
            "region_code": VILLAGE,
            "source": "system",
            "title": "t",
            "description": "d",
            "responsible_unit": "u",
            "household_id": elsewhere["id"],
        },
        headers=auth("county_staff.county"),
    )
    assert (r.status_code, code_of(r), r.json()["field"]) == (422, "household_outside_region", "household_id")
    today_is(date(2026, 9, 1))
    late = await client.get(RECT, params={"overdue": "true", "region": VILLAGE}, headers=auth(WRITER))
    assert [r["id"] for r in late.json()["items"]] == [row["id"]] and late.json()["items"][0]["overdue"]
    none = await client.get(RECT, params={"overdue": "false"}, headers=auth(WRITER))
    assert row["id"] not in [r["id"] for r in none.json()["items"]]
    assert (await client.get(RECT, headers=auth("grid_worker.village"))).status_code == 403
