"""The daily work list around Spring Festival 2026 (15–23 February off, Saturdays 14 and 28
February worked), with clues and cases, regions, paging and the policy per region."""
from __future__ import annotations

from datetime import date

import pytest

from services.core.monitoring.models import MonitoringPolicyRow
from tests.api.monitoring_helpers import identify, report
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, code_of, household, person

pytestmark = pytest.mark.skipif(date.today() < date(2026, 3, 10), reason="plays past days")


async def identified_on_10_february(client, auth, household_id) -> dict:
    return await identify(client, auth, household_id, ["2026-02-02", "2026-02-03", "2026-02-04", "2026-02-09",
                                                       "2026-02-09", "2026-02-10"])


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
        "case", case["id"], "cadre_assignment", "2026-03-02", -3)
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
    session.add(MonitoringPolicyRow(region_prefix="529901", year=2026,
                                    values={"self_declaration_acceptance_unit": "working"}))
    await session.flush()
    other = await create(client, auth)
    clue2 = await report(client, grid, other["id"], ["accident"], channel="self_declaration", on="2026-02-13")
    assert clue2["next_deadline"]["due"] == "2026-02-24"
    items = await overdue(client, county, as_of="2026-02-23", within_days=1)
    assert [(i["id"], i["days_late"]) for i in items] == [(clue["id"], 9), (clue2["id"], -1)]
    # Handled late (today, months later): both deadlines recorded as missed on the clue.
    tag = (await client.get(f"/api/v1/risk-clues/{clue['id']}", headers=county)).headers["etag"]
    r = await client.post(f"/api/v1/risk-clues/{clue['id']}/dismissal", json={"reason": "经核实无风险"},
                          headers={**county, "If-Match": tag})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dismissed" and body["next_deadline"] is None
    assert [(b["kind"], b["due"]) for b in body["deadline_breaches"]] == [
        ("clue_acceptance", "2026-02-14"), ("identification", "2026-02-27")]


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
    r = await client.get("/api/v1/monitoring-cases/overdue", params={"region": "529902"},
                         headers=auth("county_staff.county"))
    assert r.status_code == 404
    r = await client.get("/api/v1/monitoring-cases/overdue", headers=auth("department_system.county"))
    assert r.status_code == 403


async def test_foreign_case_not_listed(client, auth):
    other = auth("county_staff.other")
    r = await client.post("/api/v1/households", json=household(region=OTHER_COUNTY_VILLAGE, members=[person("head")]),
                          headers=other)
    await report(client, other, r.json()["id"], ["other"], on="2026-01-05")
    assert await overdue(client, auth("county_staff.county"), as_of="2026-03-01") == []
    assert len(await overdue(client, other, as_of="2026-03-01")) == 1
