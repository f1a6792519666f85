"""Clues, measures and visits: merging, re-sent references, system clients, offline
re-uploads, health risk types hidden from roles without health access, concurrency."""

from __future__ import annotations

import asyncio
import uuid

from tests.api.monitoring_helpers import etag_of, identify, open_case, report
from tests.api.test_admin_and_clients import _client_token, _new_client, bearer
from tests.api.test_households import create
from tests.factories import code_of


async def test_open_clues_merge_by_shared_risk_only(client, auth):
    grid = auth("grid_worker.village")
    h = await create(client, auth)
    a = await report(client, grid, h["id"], ["illness"])
    b = await report(client, grid, h["id"], ["unsafe_housing"])
    c = await report(client, grid, h["id"], ["unsafe_housing", "disaster"], channel="self_declaration")
    assert (a["outcome"], b["outcome"], c["outcome"]) == ("created", "created", "merged")
    assert (c["id"] == b["id"] and c["risk_types"] == ["disaster", "unsafe_housing"]) or c["risk_types"] == [
        "unsafe_housing",
        "disaster",
    ]
    assert c["channels"] == ["visit", "self_declaration"]
    full = (await client.get(f"/api/v1/risk-clues/{b['id']}", headers=grid)).json()
    assert [r["channel"] for r in full["reports"]] == ["visit", "self_declaration"]


async def test_department_screening_from_a_system_client(client, auth):
    h = await create(client, auth)
    made = await _new_client(client, auth, name="civil.affairs", permissions=["clues:report"])
    token = (await _client_token(client, made["name"], made["client_secret"])).json()["access_token"]
    body = {
        "household_id": h["id"],
        "channel": "department_screening",
        "risk_types": ["income_below_line"],
        "evidence": "低保新增对象",
        "source": "civil_affairs",
        "external_ref": "MZ-2026-0001",
    }
    r = await client.post("/api/v1/risk-clues", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    first = r.json()
    again = await client.post("/api/v1/risk-clues", json=body, headers=bearer(token))
    assert (again.status_code, again.json()["outcome"], again.json()["id"]) == (200, "duplicate", first["id"])
    full = (await client.get(f"/api/v1/risk-clues/{first['id']}", headers=auth("village_staff.village"))).json()
    assert full["report_count"] == 1 and full["reports"][0]["reporter_client_id"] == made["id"]
    # Its region ends at the county: a household elsewhere does not exist for it.
    r = await client.get(f"/api/v1/risk-clues/{first['id']}", headers=bearer(token))
    assert r.status_code == 403  # reporting is all it may do


async def test_bad_clues(client, auth):
    grid = auth("grid_worker.village")
    h = await create(client, auth)
    for body, field in [
        ({"household_id": h["id"], "channel": "visit", "risk_types": [], "evidence": "x"}, "risk_types"),
        ({"household_id": h["id"], "channel": "visit", "risk_types": ["flood"], "evidence": "x"}, "risk_types[0]"),
        ({"household_id": h["id"], "channel": "visit", "risk_types": ["other"], "evidence": " "}, "evidence"),
        (
            {
                "household_id": h["id"],
                "channel": "visit",
                "risk_types": ["other"],
                "evidence": "x",
                "reported_on": "2999-01-01",
            },
            "reported_on",
        ),
        (
            {
                "household_id": h["id"],
                "channel": "visit",
                "risk_types": ["other"],
                "evidence": "x",
                "external_ref": "A1",
            },
            "source",
        ),
    ]:
        r = await client.post("/api/v1/risk-clues", json=body, headers=grid)
        assert (r.status_code, r.json()["field"]) == (422, field), r.text
    r = await client.post(
        "/api/v1/risk-clues",
        headers=grid,
        json={"household_id": 987654321, "channel": "visit", "risk_types": ["other"], "evidence": "x"},
    )
    assert (r.status_code, code_of(r)) == (404, "household_not_found")


async def test_a_handled_clue_cannot_be_handled_again(client, auth):
    village = auth("village_staff.village")
    h = await create(client, auth)
    clue = await report(client, village, h["id"])
    await open_case(client, village, clue["id"])
    tag = await etag_of(client, village, f"/api/v1/risk-clues/{clue['id']}")
    r = await client.post(
        f"/api/v1/risk-clues/{clue['id']}/dismissal", json={"reason": "重复"}, headers={**village, "If-Match": tag}
    )
    assert (r.status_code, code_of(r)) == (409, "clue_not_open")


async def test_a_second_clue_joins_the_open_case(client, auth):
    village = auth("village_staff.village")
    h = await create(client, auth)
    case = await open_case(client, village, (await report(client, village, h["id"], ["illness"]))["id"])
    joined = await open_case(client, village, (await report(client, village, h["id"], ["disaster"]))["id"])
    assert joined["id"] == case["id"] and joined["risk_types"] == ["illness", "disaster"]
    steps = (await client.get(f"/api/v1/monitoring-cases/{case['id']}/transitions", headers=village)).json()["items"]
    assert [s["action"] for s in steps] == ["open", "add_risks"]


async def test_health_risks_hidden_from_roles_without_health_access(client, auth):
    village, auditor = auth("village_staff.village"), auth("auditor.county")
    h = await create(client, auth)
    clue = await report(client, village, h["id"], ["illness", "schooling_costs"])
    case = await open_case(client, village, clue["id"])
    seen = (await client.get(f"/api/v1/monitoring-cases/{case['id']}", headers=auditor)).json()
    assert seen["risk_types"] == ["schooling_costs"]
    seen = (await client.get(f"/api/v1/risk-clues/{clue['id']}", headers=auditor)).json()
    assert seen["risk_types"] == ["schooling_costs"] and seen["reports"][0]["risk_types"] == ["schooling_costs"]
    r = await client.get("/api/v1/monitoring-cases", params={"risk_type": "illness"}, headers=auditor)
    assert (r.status_code, code_of(r)) == (403, "health_risk_forbidden")
    r = await client.get("/api/v1/monitoring-cases", params={"risk_type": "illness"}, headers=village)
    assert [c["id"] for c in r.json()["items"]] == [case["id"]]


async def _identified(client, auth, h) -> dict:
    return await identify(
        client,
        auth,
        h["id"],
        ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-09", "2026-03-10", "2026-03-11"],
        ["industry_failure"],
        case_type="unstable_lifted_out",
    )


async def test_offline_measures_and_visits_upload_twice_harmlessly(client, auth):
    cadre = auth("assistance_cadre.village")
    h = await create(client, auth)
    case = await _identified(client, auth, h)
    assert case["case_type"] == "unstable_lifted_out"
    mid, vid = str(uuid.uuid4()), str(uuid.uuid4())
    measure = {
        "id": mid,
        "category": "industry",
        "content": "发展林下养鸡 200 羽",
        "responsible_unit": "镇农业服务中心",
        "planned_on": "2026-03-12",
        "start_on": "2026-03-15",
        "amount": "3000",
    }
    visit = {"id": vid, "visited_on": "2026-04-03", "findings": "鸡苗已到户", "mode": "in_person"}
    path = f"/api/v1/monitoring-cases/{case['id']}"
    first = await client.post(path + "/measures", json=measure, headers=cadre)
    again = await client.post(path + "/measures", json=measure, headers=cadre)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and first.json()["amount"] == "3000.00"
    other = await client.post(path + "/measures", json={**measure, "content": "别的措施"}, headers=cadre)
    assert (other.status_code, code_of(other)) == (409, "client_id_reused")
    v1 = await client.post(path + "/visits", json=visit, headers=cadre)
    v2 = await client.post(path + "/visits", json=visit, headers=cadre)
    assert (v1.status_code, v2.status_code) == (201, 200)
    assert len((await client.get(path + "/measures", headers=cadre)).json()["items"]) == 1
    visits = (await client.get(path + "/visits", headers=cadre)).json()["items"]
    assert [v["id"] for v in visits] == [vid]
    assert visits[0]["cadre_user_id"] is not None
    # The visit in April met April; May is next.
    now = (await client.get(path, headers=cadre)).json()
    assert now["last_visit_on"] == "2026-04-03" and now["plan_on"] == "2026-03-12"
    assert {d["kind"]: d["due"] for d in now["deadlines"]}["monthly_visit"] == "2026-05-31"
    # A completed measure keeps its status.
    tag = (await client.get(f"/api/v1/measures/{mid}", headers=cadre)).headers["etag"]
    done = {k: measure[k] for k in ("content", "responsible_unit", "start_on", "amount")}
    r = await client.put(
        f"/api/v1/measures/{mid}", json={**done, "status": "completed"}, headers={**cadre, "If-Match": tag}
    )
    assert (r.status_code, r.json()["field"]) == (422, "result")
    r = await client.put(
        f"/api/v1/measures/{mid}",
        json={**done, "status": "completed", "result": "增收 4000 元"},
        headers={**cadre, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        f"/api/v1/measures/{mid}",
        json={**done, "status": "in_progress"},
        headers={**cadre, "If-Match": r.headers["etag"]},
    )
    assert (r.status_code, code_of(r)) == (409, "measure_closed")


async def test_cadre_must_assist_in_the_households_region(client, auth, user_ids):
    township = auth("township_staff.township")
    h = await create(client, auth)
    case = await _identified(client, auth, h)
    path = f"/api/v1/monitoring-cases/{case['id']}/cadre"
    for user in ("auditor.county", "county_staff.other", "village_staff.village2", "county_approver.county"):
        tag = await etag_of(client, township, f"/api/v1/monitoring-cases/{case['id']}")
        r = await client.put(path, json={"cadre_user_id": user_ids[user]}, headers={**township, "If-Match": tag})
        assert (r.status_code, code_of(r), r.json()["field"]) == (422, "cadre_not_eligible", "cadre_user_id"), user
    tag = await etag_of(client, township, f"/api/v1/monitoring-cases/{case['id']}")
    r = await client.put(
        path, json={"cadre_user_id": user_ids["assistance_cadre.township"]}, headers={**township, "If-Match": tag}
    )
    assert r.status_code == 200 and r.json()["cadre_user_id"] == user_ids["assistance_cadre.township"]
    # the village can't name cadres
    r = await client.put(
        path,
        json={"cadre_user_id": user_ids["assistance_cadre.township"]},
        headers={**auth("village_staff.village"), "If-Match": r.headers["etag"]},
    )
    assert (r.status_code, code_of(r)) == (403, "forbidden")


async def test_measures_only_while_assisting(client, auth):
    village, cadre = auth("village_staff.village"), auth("assistance_cadre.village")
    h = await create(client, auth)
    case = await open_case(client, village, (await report(client, village, h["id"]))["id"])
    r = await client.post(
        f"/api/v1/monitoring-cases/{case['id']}/measures",
        headers=cadre,
        json={"category": "health", "content": "x", "responsible_unit": "卫健局", "start_on": "2026-03-01"},
    )
    assert (r.status_code, code_of(r)) == (409, "case_not_assisting")


async def test_concurrent_steps_one_wins(committing_client, auth):
    village, grid = auth("village_staff.village"), auth("grid_worker.village")
    h = await create(committing_client, auth)
    case = await open_case(committing_client, village, (await report(committing_client, grid, h["id"]))["id"])
    tag = await etag_of(committing_client, grid, f"/api/v1/monitoring-cases/{case['id']}")
    bodies = [
        {"decision": "approve", "consent_signed": True, "findings": "属实"},
        {"decision": "reject", "findings": "不属实"},
    ] * 2
    results = await asyncio.gather(
        *[
            committing_client.post(
                f"/api/v1/monitoring-cases/{case['id']}/verification", json=b, headers={**grid, "If-Match": tag}
            )
            for b in bodies
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 412, 412, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    now = (await committing_client.get(f"/api/v1/monitoring-cases/{case['id']}", headers=grid)).json()
    assert now["status"] == winner["status"]
    steps = (await committing_client.get(f"/api/v1/monitoring-cases/{case['id']}/transitions", headers=grid)).json()[
        "items"
    ]
    assert [s["action"] for s in steps] == ["open", "verify"]


async def test_household_filter_hidden_is_like_missing(client, auth):
    from tests.factories import OTHER_COUNTY_VILLAGE, household, person

    other = auth("county_staff.other")
    foreign = (
        await client.post(
            "/api/v1/households", json=household(region=OTHER_COUNTY_VILLAGE, members=[person("head")]), headers=other
        )
    ).json()
    await report(client, other, foreign["id"], ["other"])
    county = auth("county_staff.county")
    for path in ("/api/v1/risk-clues", "/api/v1/monitoring-cases"):
        hidden = await client.get(path, params={"household_id": foreign["id"]}, headers=county)
        missing = await client.get(path, params={"household_id": 987654321}, headers=county)
        assert (hidden.status_code, missing.status_code) == (404, 404)
        assert hidden.json()["code"] == missing.json()["code"] == "household_not_found"
        assert hidden.json()["field"] == "household_id"
    own = await client.get("/api/v1/risk-clues", params={"household_id": foreign["id"]}, headers=other)
    assert len(own.json()["items"]) == 1


async def test_self_declaration_by_id_number(client, auth):
    """A self-declaration app knows the declarant's ID number, not the household's id."""
    from tests.factories import household, person

    head = person("head")
    h = (
        await client.post(
            "/api/v1/households", json=household(members=[head, person("spouse")]), headers=auth("county_staff.county")
        )
    ).json()
    made = await _new_client(client, auth, name="app.declare", permissions=["clues:report"])
    app = bearer((await _client_token(client, made["name"], made["client_secret"])).json()["access_token"])
    body = {
        "id_number": head["id_number"].lower(),
        "channel": "self_declaration",
        "risk_types": ["accident"],
        "evidence": "车祸受伤，无法务工",
        "declarant_name": "张三",
        "declarant_phone": "13812345678",
    }
    r = await client.post("/api/v1/risk-clues", json=body, headers=app)
    assert r.status_code == 201, r.text
    assert r.json()["household_id"] == h["id"] and head["id_number"] not in r.text
    unknown = await client.post(
        "/api/v1/risk-clues", headers=app, json={**body, "id_number": person("head")["id_number"]}
    )
    assert (unknown.status_code, code_of(unknown), unknown.json()["field"]) == (
        404,
        "person_id_number_not_found",
        "id_number",
    )
    both = await client.post("/api/v1/risk-clues", headers=app, json={**body, "household_id": h["id"]})
    assert (both.status_code, code_of(both), both.json()["field"]) == (422, "household_or_id_number", "household_id")
    bad = await client.post("/api/v1/risk-clues", headers=app, json={**body, "id_number": "110105194912310021"})
    assert (bad.status_code, bad.json()["field"]) == (422, "id_number")


async def test_steps_are_audited_with_before_and_after(client, auth):
    h = await create(client, auth)
    case = await _identified(client, auth, h)
    r = await client.get(
        "/api/v1/audit/events", params={"action": "api.county_decision"}, headers=auth("auditor.county")
    )
    assert r.status_code == 200, r.text
    [event] = [e for e in r.json()["items"] if e["object_id"] == str(case["id"])]
    assert event["result"] == "success" and event["object_type"] == "case"
    key = f"monitoring_cases/{case['id']}"
    assert event["before"][key]["status"] == "county_approval" and event["after"][key]["status"] == "assisting"
    assert event["after"][f"households/{h['id']}"]["category"] == "monitored"
    # A refused step is recorded too.
    current = await client.get(f"/api/v1/monitoring-cases/{case['id']}", headers=auth("county_approver.county"))
    r = await client.post(
        f"/api/v1/monitoring-cases/{case['id']}/county-decision",
        json={"decision": "approve"},
        headers={**auth("county_approver.county"), "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 409
    r = await client.get(
        "/api/v1/audit/events",
        params={"action": "api.county_decision", "result": "failure"},
        headers=auth("auditor.county"),
    )
    assert [e["detail"]["error"] for e in r.json()["items"]] == ["transition_not_allowed"]


async def test_a_relocated_household_takes_its_case_along(client, auth, session):
    from sqlalchemy import text

    from tests.factories import OTHER_TOWNSHIP_VILLAGE

    county = auth("county_staff.county")
    h = await create(client, auth)
    case = await _identified(client, auth, h)
    clue_id = (
        case
        and (await client.get("/api/v1/risk-clues", params={"household_id": h["id"]}, headers=county)).json()["items"][
            0
        ]["id"]
    )
    tag = (await client.get(f"/api/v1/households/{h['id']}", headers=county)).headers["etag"]
    r = await client.patch(
        f"/api/v1/households/{h['id']}",
        json={"region_code": OTHER_TOWNSHIP_VILLAGE},
        headers={**county, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    old, new = auth("village_staff.village"), auth("township_staff.county")
    for path in (
        f"/api/v1/monitoring-cases/{case['id']}",
        f"/api/v1/monitoring-cases/{case['id']}/transitions",
        f"/api/v1/risk-clues/{clue_id}",
    ):
        assert (await client.get(path, headers=old)).status_code == 404, path
        assert (await client.get(path, headers=new)).status_code == 200, path
    steps = (await client.get(f"/api/v1/monitoring-cases/{case['id']}/transitions", headers=new)).json()["items"]
    assert len(steps) == 6 and {s_["action"] for s_ in steps} >= {"open", "county_decision"}
    reports = (await client.get(f"/api/v1/risk-clues/{clue_id}", headers=new)).json()["reports"]
    assert len(reports) == 1
    for table, key, ident in (
        ("case_transitions", "case_id", case["id"]),
        ("clue_reports", "clue_id", clue_id),
        ("monitoring_cases", "id", case["id"]),
        ("risk_clues", "id", clue_id),
    ):
        regions = (
            (await session.execute(text(f"SELECT DISTINCT region_code FROM {table} WHERE {key} = :i"), {"i": ident}))
            .scalars()
            .all()
        )
        assert regions == [OTHER_TOWNSHIP_VILLAGE], table
