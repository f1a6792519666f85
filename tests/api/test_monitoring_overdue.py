"""The daily work list around Spring Festival 2026 (15–23 February off, Saturdays 14 and 28
February worked), with clues and cases, regions, paging and the policy per region."""

from __future__ import annotations

from datetime import date

import pytest

from services.core.monitoring.models import MonitoringPolicyRow
from tests.api.monitoring_helpers import identify, report
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, code_of, household, person


@pytest.fixture(autouse=True)
def _after_the_days_played(today_is):
    """The days played are past (visits are entered up to 10 June 2026): the code's today is
    fixed after them, so that these tests run, and the same, on any date."""
    today_is(date(2026, 7, 1))


async def identified_on_10_february(client, auth, household_id) -> dict:
    return await identify(
        client, auth, household_id, ["2026-02-02", "2026-02-03", "2026-02-04", "2026-02-09", "2026-02-09", "2026-02-10"]
    )


async def overdue(client, headers, **params):
    r = await client.get("/api/v1/monitoring-cases/overdue", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_plan_deadline_across_spring_festival(client, auth):
    county = auth("county_staff.county")
    home = await create(client, auth)
    case = await identified_on_10_february(client, auth, home["id"])
    assert case["next_deadline"] == {"kind": "cadre_assignment", "due": "2026-03-02", "provisional": False}
    # 10 working days from 10 February: 11, 12, 13, 14 (Saturday, worked), 24, 25, 26, 27, 28 (Saturday,
    # worked), 2 March.
    assert await overdue(client, county, as_of="2026-02-13", within_days=7) == []
    assert await overdue(client, county, as_of="2026-02-27", within_days=2) == []
    [item] = await overdue(client, county, as_of="2026-02-27", within_days=3)
    assert (item["subject"], item["id"], item["deadline_kind"], item["due"], item["days_late"]) == (
        "case",
        case["id"],
        "cadre_assignment",
        "2026-03-02",
        -3,
    )
    assert item["head_name"] == "张三" and item["status"] == "assisting"
    [item] = await overdue(client, county, as_of="2026-03-03")
    assert item["days_late"] == 1
    # Other counties' staff and other villages' staff see nothing of it.
    assert await overdue(client, auth("county_staff.other"), as_of="2026-03-03") == []
    assert await overdue(client, auth("village_staff.village2"), as_of="2026-03-03") == []
    assert await overdue(client, county, as_of="2026-03-03", region="529901002") == []


async def test_self_declaration_acceptance_and_the_regions_own_rule(client, auth, session):
    grid, county = auth("grid_worker.village"), auth("county_staff.county")
    home = await create(client, auth)
    clue = await report(client, grid, home["id"], ["accident"], channel="self_declaration", on="2026-02-12")
    assert clue["next_deadline"]["due"] == "2026-02-14"  # 2 calendar days by default
    [item] = await overdue(client, county, as_of="2026-02-16")
    assert (item["subject"], item["deadline_kind"], item["days_late"]) == ("clue", "clue_acceptance", 2)

    # The county counts acceptance in working days from 2026: Saturday 14 February is worked,
    # then the holiday, so the second working day is 24 February.
    session.add(
        MonitoringPolicyRow(region_prefix="529901", year=2026, values={"self_declaration_acceptance_unit": "working"})
    )
    await session.flush()
    other = await create(client, auth)
    clue2 = await report(client, grid, other["id"], ["accident"], channel="self_declaration", on="2026-02-13")
    assert clue2["next_deadline"]["due"] == "2026-02-24"
    items = await overdue(client, county, as_of="2026-02-23", within_days=1)
    assert [(i["id"], i["days_late"]) for i in items] == [(clue["id"], 9), (clue2["id"], -1)]
    # Handled late (today, months later): both deadlines recorded as missed on the clue.
    tag = (await client.get(f"/api/v1/risk-clues/{clue['id']}", headers=county)).headers["etag"]
    r = await client.post(
        f"/api/v1/risk-clues/{clue['id']}/dismissal",
        json={"reason": "经核实无风险"},
        headers={**county, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dismissed" and body["next_deadline"] is None
    assert [(b["kind"], b["due"]) for b in body["deadline_breaches"]] == [
        ("clue_acceptance", "2026-02-14"),
        ("identification", "2026-02-27"),
    ]


async def test_paging_is_keyset_and_complete(client, auth):
    grid, county = auth("grid_worker.village"), auth("county_staff.county")
    ids = []
    for day in (3, 3, 4, 5, 5, 6):
        h = await create(client, auth)
        ids.append((await report(client, grid, h["id"], ["other"], on=f"2026-01-{day:02d}"))["id"])
    seen, cursor = [], None
    while True:
        params = {"as_of": "2026-03-01", "limit": 4, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/v1/monitoring-cases/overdue", params=params, headers=county)
        page = r.json()
        seen += [(i["due"], i["id"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i for _, i in seen] == ids
    assert seen == sorted(seen)
    r = await client.get("/api/v1/monitoring-cases/overdue", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=county)
    assert (r.status_code, code_of(r)) == (422, "cursor_invalid")


async def test_region_filter_outside_scope_is_404(client, auth):
    r = await client.get(
        "/api/v1/monitoring-cases/overdue", params={"region": "529902"}, headers=auth("county_staff.county")
    )
    assert r.status_code == 404
    r = await client.get("/api/v1/monitoring-cases/overdue", headers=auth("department_system.county"))
    assert r.status_code == 403


async def test_foreign_case_not_listed(client, auth):
    other = auth("county_staff.other")
    r = await client.post(
        "/api/v1/households", json=household(region=OTHER_COUNTY_VILLAGE, members=[person("head")]), headers=other
    )
    await report(client, other, r.json()["id"], ["other"], on="2026-01-05")
    assert await overdue(client, auth("county_staff.county"), as_of="2026-03-01") == []
    assert len(await overdue(client, other, as_of="2026-03-01")) == 1


# ---- monthly visits: a missed month is a breach, recorded once; the case moves on ----------


async def _assisted(client, auth, user_ids) -> dict:
    """A case identified on 10 February 2026 with its cadre and plan: only the monthly visit
    is pending (first due at the end of March)."""
    cadre, township = auth("assistance_cadre.village"), auth("township_staff.township")
    home = await create(client, auth)
    case = await identified_on_10_february(client, auth, home["id"])
    tag = (await client.get(f"/api/v1/monitoring-cases/{case['id']}", headers=township)).headers["etag"]
    r = await client.put(
        f"/api/v1/monitoring-cases/{case['id']}/cadre",
        headers={**township, "If-Match": tag},
        json={"cadre_user_id": user_ids["assistance_cadre.village"], "assigned_on": "2026-02-11"},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/monitoring-cases/{case['id']}/measures",
        headers=cadre,
        json={
            "category": "housing_safety",
            "content": "危房改造",
            "responsible_unit": "县住建局",
            "planned_on": "2026-02-12",
            "start_on": "2026-02-12",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/monitoring-cases/{case['id']}", headers=cadre)
    assert r.json()["next_deadline"] == {"kind": "monthly_visit", "due": "2026-03-31", "provisional": False}
    return r.json()


async def _visit(client, auth, case_id, day, mode="in_person"):
    r = await client.post(
        f"/api/v1/monitoring-cases/{case_id}/visits",
        headers=auth("assistance_cadre.village"),
        json={"visited_on": day, "mode": mode, "findings": "了解情况"},
    )
    assert r.status_code == 201, r.text


async def _sweep(session, as_of) -> int:
    from services.core.monitoring.cases import record_missed_visits_under
    from services.core.monitoring.context import load_policy_context
    from services.core.scope import bind_scope

    bind_scope(session, "529901")
    return await record_missed_visits_under(session, await load_policy_context(session), "529901", as_of)


async def test_a_missed_month_is_recorded_once_and_the_case_moves_on(client, auth, session, user_ids):
    county = auth("county_staff.county")
    case = await _assisted(client, auth, user_ids)
    cid = case["id"]
    # No visit in March: on 5 April the case is late …
    [item] = await overdue(client, county, as_of="2026-04-05")
    assert (item["id"], item["deadline_kind"], item["due"]) == (cid, "monthly_visit", "2026-03-31")
    # … until the daily run records March as missed, once: the deadline moves to April.
    assert await _sweep(session, date(2026, 4, 5)) == 1
    assert await _sweep(session, date(2026, 4, 6)) == 0
    assert await overdue(client, county, as_of="2026-04-05") == []
    body = (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=county)).json()
    assert body["next_deadline"] == {"kind": "monthly_visit", "due": "2026-04-30", "provisional": False}
    assert body["deadline_breaches"] == [
        {"kind": "monthly_visit", "due": "2026-03-31", "met_on": None, "required": 1, "made": 0}
    ]

    # A phone call in April does not count (in person by default); nothing in May either. The
    # June visit, entered with its day, records April and May first and then meets June.
    await _visit(client, auth, cid, "2026-04-20", mode="phone")
    await _visit(client, auth, cid, "2026-06-10")
    body = (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=county)).json()
    assert body["next_deadline"]["due"] == "2026-07-31"
    assert [(b["due"], b["made"]) for b in body["deadline_breaches"]] == [
        ("2026-03-31", 0),
        ("2026-04-30", 0),
        ("2026-05-31", 0),
    ]
    assert await overdue(client, county, as_of="2026-06-11") == []
    assert await _sweep(session, date(2026, 6, 11)) == 0

    # The breaches stay: on the case, and in the county's report by month.
    r = await client.get(f"/api/v1/monitoring-cases/{cid}/visit-breaches", headers=county)
    assert [(b["month"], b["required"], b["made"], b["recorded_on"]) for b in r.json()["items"]] == [
        ("2026-03-01", 1, 0, "2026-04-05"),
        ("2026-04-01", 1, 0, "2026-06-10"),
        ("2026-05-01", 1, 0, "2026-06-10"),
    ]
    assert r.json()["items"][0]["cadre_user_id"] == user_ids["assistance_cadre.village"]
    r = await client.get("/api/v1/monitoring/visit-breaches", params={"year": 2026, "month": 4}, headers=county)
    assert r.status_code == 200, r.text
    assert [(b["case_id"], b["month"]) for b in r.json()["items"]] == [(cid, "2026-04-01")]
    r = await client.get("/api/v1/monitoring/visit-breaches", params={"year": 2026, "limit": 2}, headers=county)
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    r = await client.get(
        "/api/v1/monitoring/visit-breaches", params={"year": 2026, "cursor": r.json()["next_cursor"]}, headers=county
    )
    assert [b["month"] for b in r.json()["items"]] == ["2026-05-01"]
    # Other counties see none of it; a region outside one's own is 404.
    r = await client.get("/api/v1/monitoring/visit-breaches", params={"year": 2026}, headers=auth("county_staff.other"))
    assert r.json()["items"] == []
    r = await client.get("/api/v1/monitoring/visit-breaches", params={"year": 2026, "region": "529902"}, headers=county)
    assert r.status_code == 404
    r = await client.get("/api/v1/monitoring/visit-breaches", params={"year": 2026, "month": 13}, headers=county)
    assert r.status_code == 422


async def test_visits_entered_in_order_record_no_breach(client, auth, session, user_ids):
    """Paper first, entered later: visits of March and April entered in May are on time."""
    cid = (await _assisted(client, auth, user_ids))["id"]
    await _visit(client, auth, cid, "2026-03-15")
    await _visit(client, auth, cid, "2026-04-15")
    body = (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=auth("county_staff.county"))).json()
    assert body["deadline_breaches"] == [] and body["next_deadline"]["due"] == "2026-05-31"
    assert await _sweep(session, date(2026, 5, 20)) == 0
