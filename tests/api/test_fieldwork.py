"""Field work (docs/field-work.md): the roster and the regions short of information officers,
the village-based teams' attendance, and screening campaigns — teams, visits, progress, the
households not yet visited, findings turned into risk clues. Scope and roles beyond the
access matrix (tests/api/test_scope_matrix.py), failure paths, policy figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.core.timeutil import CHINA
from services.core.timeutil import today as china_today
from tests.api.fieldwork_helpers import campaign_body, member_body
from tests.api.world import make_world
from tests.factories import COUNTY, OTHER_TOWNSHIP_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2

ROSTER = "/api/v1/field-roster"
CAMPAIGNS = "/api/v1/campaigns"
POLICIES = "/api/v1/monitoring-policies"
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
async def world(client, auth):
    return await make_world(client, auth)


async def _member(client, h, village=VILLAGE, role="information_officer", **kw) -> dict:
    r = await client.post(ROSTER, json=member_body(village, role, **kw), headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def _campaign(client, h, prefix=TOWNSHIP, **kw) -> dict:
    r = await client.post(CAMPAIGNS, json=campaign_body(prefix, **kw), headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def _policy(client, h, prefix, values, year=None):
    body = {"region_prefix": prefix, "year": year or china_today().year, "values": values}
    return await client.post(POLICIES, json=body, headers=h)


# ---- roster ----------------------------------------------------------------------------------


async def test_roster_member_phone_masked_for_roles_without_unmask(client, auth):
    created = await client.post(ROSTER, json=member_body(VILLAGE), headers=auth("township_staff.township"))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{ROSTER}/{created.json()['id']}"
    assert created.json()["phone"] == "13812345678"  # township staff may see ID numbers: phones too
    grid = await client.get(created.headers["location"], headers=auth("grid_worker.village"))
    assert grid.status_code == 200 and grid.json()["phone"] == "138****5678"
    assert grid.headers["etag"] == created.headers["etag"]
    listed = await client.get(ROSTER, params={"region": VILLAGE}, headers=auth("auditor.county"))
    assert [m["phone"] for m in listed.json()["items"]] == ["138****5678"]


async def test_roster_of_another_township_is_not_found_and_writes_need_the_permission(client, auth):
    other = await _member(client, auth("county_staff.county"), OTHER_TOWNSHIP_VILLAGE)
    r = await client.get(f"{ROSTER}/{other['id']}", headers=auth("township_staff.township"))
    assert r.status_code == 404 and r.json()["code"] == "roster_member_not_found"
    listed = await client.get(ROSTER, headers=auth("township_staff.township"))
    assert other["id"] not in [m["id"] for m in listed.json()["items"]]
    assert (
        await client.post(ROSTER, json=member_body(VILLAGE), headers=auth("grid_worker.village"))
    ).status_code == 403
    refused = await client.post(
        ROSTER, json=member_body(OTHER_TOWNSHIP_VILLAGE), headers=auth("township_staff.township")
    )
    assert refused.status_code == 404 and refused.json()["field"] == "region_code"


@pytest.mark.parametrize(
    "change,field,code",
    [
        ({"phone": "12345"}, "phone", "phone_invalid"),
        ({"active_until": "2025-12-31"}, "active_until", "roster_period_reversed"),
        ({"role": "boss"}, "role", None),
        ({"region_code": "520000000000"}, "region_code", "roster_region_level"),
    ],
)
async def test_bad_roster_bodies_are_refused_naming_the_field(client, auth, change, field, code):
    r = await client.post(
        ROSTER, json={**member_body(VILLAGE), **change}, headers={**auth("county_staff.province"), **ZH}
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    if code:
        assert code in (r.json()["code"], r.json()["errors"][0]["code"])
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["detail"] + r.json()["errors"][0]["message"])


async def test_roster_update_needs_a_current_etag(client, auth):
    h = auth("township_staff.township")
    member = await client.post(ROSTER, json=member_body(VILLAGE), headers=h)
    path = member.headers["location"]
    assert (await client.patch(path, json={"active_until": "2026-06-30"}, headers=h)).status_code == 428
    stale = await client.patch(
        path, json={"active_until": "2026-06-30"}, headers={**h, "If-Match": '"roster_member-1-v9"'}
    )
    assert stale.status_code == 412
    done = await client.patch(
        path, json={"active_until": "2026-06-30"}, headers={**h, "If-Match": member.headers["etag"]}
    )
    assert done.status_code == 200 and done.json()["version"] == 2 and done.json()["active_until"] == "2026-06-30"
    reversed_ = await client.patch(
        path, json={"active_until": "2025-06-30"}, headers={**h, "If-Match": done.headers["etag"]}
    )
    assert reversed_.status_code == 422 and reversed_.json()["field"] == "active_until"
    cleared = await client.patch(path, json={"name": None}, headers={**h, "If-Match": done.headers["etag"]})
    assert cleared.status_code == 422 and cleared.json()["field"] == "name"


async def test_officer_shortfalls_follow_the_policy_per_level(client, auth):
    county = auth("county_staff.county")
    await _member(client, county, VILLAGE)
    await _member(client, county, VILLAGE_2, role="grid_worker")  # not an information officer
    await _member(client, county, VILLAGE_2, active_until="2026-02-01")  # left
    for _ in range(2):
        await _member(client, county, TOWNSHIP + "000")
    r = await client.get(f"{ROSTER}/shortfalls", params={"region": TOWNSHIP}, headers=auth("township_staff.township"))
    assert r.status_code == 200, r.text
    short = {row["region_code"]: row for row in r.json()["items"]}
    assert VILLAGE not in short and TOWNSHIP + "000" not in short
    assert short[VILLAGE_2] == {
        "region_code": VILLAGE_2,
        "name": short[VILLAGE_2]["name"],
        "level": "village",
        "required": 1,
        "active": 0,
        "missing": 1,
    }
    # A village's own figure (one level named; the others keep theirs).
    assert (await _policy(client, county, VILLAGE, {"officers_required": {"village": 2}})).status_code == 201
    r = await client.get(f"{ROSTER}/shortfalls", params={"region": TOWNSHIP}, headers=auth("township_staff.township"))
    short = {row["region_code"]: row for row in r.json()["items"]}
    assert short[VILLAGE]["required"] == 2 and short[VILLAGE]["missing"] == 1
    assert TOWNSHIP + "000" not in short
    # On a day before the one who left had left, she counts.
    r = await client.get(
        f"{ROSTER}/shortfalls", params={"region": TOWNSHIP, "on": "2026-01-15"}, headers=auth("grid_worker.township")
    )
    assert r.status_code == 200 and VILLAGE_2 not in {row["region_code"] for row in r.json()["items"]}
    # The grid worker counts where the policy says so.
    assert (
        await _policy(client, county, VILLAGE_2, {"officer_roles_counted": ["information_officer", "grid_worker"]})
    ).status_code == 201
    r = await client.get(f"{ROSTER}/shortfalls", params={"region": TOWNSHIP}, headers=auth("township_staff.township"))
    assert VILLAGE_2 not in {row["region_code"] for row in r.json()["items"]}


async def test_officer_shortfalls_page_by_region_code(client, auth):
    h = auth("county_staff.county")
    first = await client.get(f"{ROSTER}/shortfalls", params={"region": COUNTY, "limit": 2}, headers=h)
    assert first.status_code == 200 and len(first.json()["items"]) == 2 and first.json()["next_cursor"]
    second = await client.get(
        f"{ROSTER}/shortfalls", params={"region": COUNTY, "limit": 2, "cursor": first.json()["next_cursor"]}, headers=h
    )
    codes = [r["region_code"] for r in first.json()["items"] + second.json()["items"]]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    bad = await client.get(f"{ROSTER}/shortfalls", params={"cursor": "bm9wZQ"}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


# ---- attendance (驻村工作队) -------------------------------------------------------------------


async def test_attendance_below_two_thirds_of_the_month_is_listed(client, auth):
    h = auth("township_staff.township")
    short = await _member(client, h, role="resident_team", name="驻村甲")
    enough = await _member(client, h, role="resident_team", name="驻村乙")
    silent = await _member(client, h, role="resident_team", name="驻村丙")
    r = await client.post(f"{ROSTER}/{short['id']}/attendance", json={"month": "2026-11", "days": 19}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["required"] == 20 and r.json()["month"] == "2026-11"  # 2/3 of 30 days
    r = await client.post(f"{ROSTER}/{enough['id']}/attendance", json={"month": "2026-11", "days": 20}, headers=h)
    assert r.status_code == 201
    listed = await client.get(
        "/api/v1/resident-attendance/shortfalls", params={"month": "2026-11"}, headers=auth("auditor.county")
    )
    assert listed.status_code == 200, listed.text
    rows = {row["member_id"]: row for row in listed.json()["items"]}
    assert rows[short["id"]]["days"] == 19 and rows[short["id"]]["required"] == 20
    assert rows[silent["id"]]["days"] is None and enough["id"] not in rows
    # October has 31 days: 21 required. A county may set half the month instead.
    assert (
        await _policy(client, auth("county_staff.county"), COUNTY, {"resident_share_of_month": "1/2"})
    ).status_code == 201
    listed = await client.get("/api/v1/resident-attendance/shortfalls", params={"month": "2026-11"}, headers=h)
    rows = {row["member_id"]: row for row in listed.json()["items"]}
    assert short["id"] not in rows and rows[silent["id"]]["required"] == 15


async def test_attendance_failure_paths(client, auth):
    h = auth("township_staff.township")
    resident = await _member(client, h, role="resident_team")
    officer = await _member(client, h)
    path = f"{ROSTER}/{resident['id']}/attendance"
    too_many = await client.post(path, json={"month": "2026-02", "days": 29}, headers={**h, **ZH})
    assert too_many.status_code == 422 and too_many.json()["field"] == "days"
    assert "28" in too_many.json()["errors"][0]["message"]
    before = await client.post(path, json={"month": "2025-12", "days": 20}, headers=h)
    assert before.status_code == 422 and before.json()["code"] == "attendance_outside_service"
    bad_month = await client.post(path, json={"month": "2026-13", "days": 2}, headers=h)
    assert bad_month.status_code == 422 and bad_month.json()["field"] == "month"
    assert (await client.post(path, json={"month": "2026-10", "days": 21}, headers=h)).status_code == 201
    again = await client.post(path, json={"month": "2026-10", "days": 22}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "attendance_exists"
    officer_days = await client.post(
        f"{ROSTER}/{officer['id']}/attendance", json={"month": "2026-10", "days": 2}, headers=h
    )
    assert officer_days.status_code == 422 and officer_days.json()["code"] == "attendance_not_resident"
    assert (
        await client.post(path, json={"month": "2026-09", "days": 2}, headers=auth("grid_worker.village"))
    ).status_code == 403
    bad = await _policy(client, auth("county_staff.county"), COUNTY, {"resident_share_of_month": "3/2"})
    assert bad.status_code == 422 and bad.json()["field"] == "values.resident_share_of_month"


# ---- campaigns -------------------------------------------------------------------------------


async def test_campaign_opened_read_and_changed(client, auth):
    h = auth("township_staff.township")
    r = await client.post(CAMPAIGNS, json=campaign_body(TOWNSHIP), headers=h)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "running" and c["checks"][0] == "income" and c["region_prefix"] == TOWNSHIP
    path = r.headers["location"]
    seen = await client.get(path, headers=auth("grid_worker.village"))  # a village works on its township's campaign
    assert seen.status_code == 200 and seen.headers["etag"] == r.headers["etag"]
    listed = await client.get(CAMPAIGNS, params={"region": VILLAGE}, headers=auth("grid_worker.village"))
    assert [x["id"] for x in listed.json()["items"]] == [c["id"]]
    assert (await client.patch(path, json={"name": "冬季排查"}, headers=h)).status_code == 428
    stale = await client.patch(path, json={"name": "冬季排查"}, headers={**h, "If-Match": '"campaign-1-v7"'})
    assert stale.status_code == 412
    done = await client.patch(path, json={"name": "冬季排查"}, headers={**h, "If-Match": r.headers["etag"]})
    assert done.status_code == 200 and done.json()["name"] == "冬季排查" and done.json()["version"] == 2
    narrower = await client.patch(
        path, json={"name": "改名"}, headers={**auth("village_staff.village"), "If-Match": done.headers["etag"]}
    )
    assert narrower.status_code == 403  # village staff hold no campaigns:write
    reversed_ = await client.patch(
        path, json={"ends_on": "2020-01-01"}, headers={**h, **ZH, "If-Match": done.headers["etag"]}
    )
    assert reversed_.status_code == 422 and reversed_.json()["field"] == "ends_on"


async def test_campaign_regions_and_roles(client, auth):
    township = auth("township_staff.township")
    wider = await client.post(CAMPAIGNS, json=campaign_body(COUNTY), headers=township)
    assert wider.status_code == 403 and wider.json()["code"] == "campaign_region_too_wide"
    elsewhere = await client.post(CAMPAIGNS, json=campaign_body(OTHER_TOWNSHIP_VILLAGE[:9]), headers=township)
    assert elsewhere.status_code == 404 and elsewhere.json()["field"] == "region_prefix"
    province = await client.post(CAMPAIGNS, json=campaign_body("52"), headers=auth("county_staff.province"))
    assert province.status_code == 422 and province.json()["code"] == "campaign_region_level"
    assert (
        await client.post(CAMPAIGNS, json=campaign_body(VILLAGE), headers=auth("grid_worker.village"))
    ).status_code == 403
    county_campaign = await _campaign(client, auth("county_staff.county"), COUNTY)
    other_township = await _campaign(client, auth("county_staff.county"), OTHER_TOWNSHIP_VILLAGE[:9])
    # Township staff of another township: 404, as if missing.
    r = await client.get(f"{CAMPAIGNS}/{other_township['id']}", headers=township)
    assert r.status_code == 404 and r.json()["code"] == "campaign_not_found"
    # A county's campaign is seen by the township, but only the county changes it.
    etag = (await client.get(f"{CAMPAIGNS}/{county_campaign['id']}", headers=township)).headers["etag"]
    r = await client.patch(
        f"{CAMPAIGNS}/{county_campaign['id']}", json={"note": "x"}, headers={**township, "If-Match": etag}
    )
    assert r.status_code == 403 and r.json()["code"] == "campaign_region_too_wide"
    reversed_ = await client.post(
        CAMPAIGNS,
        json=campaign_body(TOWNSHIP, starts_on="2026-12-01", ends_on="2026-11-01"),
        headers={**township, **ZH},
    )
    assert reversed_.status_code == 422 and reversed_.json()["field"] == "ends_on"
    assert "结束日期" in reversed_.json()["errors"][0]["message"]


async def test_teams_of_two_for_villages_of_the_campaign(client, auth):
    h = auth("township_staff.township")
    campaign = await _campaign(client, h, VILLAGE)
    a, b = await _member(client, h, name="甲"), await _member(client, h, name="乙")
    left = await _member(client, h, name="丙", active_until="2026-03-01")
    teams = f"{CAMPAIGNS}/{campaign['id']}/teams"
    r = await client.post(teams, json={"village": VILLAGE, "member_ids": [a["id"], b["id"]]}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["village"] == VILLAGE and r.json()["member_ids"] == sorted([a["id"], b["id"]])
    one = await client.post(teams, json={"village": VILLAGE, "member_ids": [a["id"], a["id"]]}, headers={**h, **ZH})
    assert (
        one.status_code == 422
        and one.json()["code"] == "campaign_team_size"
        and "2" in one.json()["detail"] + one.json()["errors"][0]["message"]
    )
    outside = await client.post(teams, json={"village": VILLAGE_2, "member_ids": [a["id"], b["id"]]}, headers=h)
    assert outside.status_code == 422 and outside.json()["code"] == "campaign_village_outside"
    gone = await client.post(teams, json={"village": VILLAGE, "member_ids": [a["id"], left["id"]]}, headers=h)
    assert gone.status_code == 422 and gone.json()["code"] == "roster_member_inactive"
    missing = await client.post(teams, json={"village": VILLAGE, "member_ids": [a["id"], 987654321]}, headers=h)
    assert missing.status_code == 404 and missing.json()["field"] == "member_ids"
    # The policy may set teams of three.
    assert (await _policy(client, auth("county_staff.county"), VILLAGE, {"campaign_team_size": 3})).status_code == 201
    two = await client.post(teams, json={"village": VILLAGE, "member_ids": [a["id"], b["id"]]}, headers=h)
    assert two.status_code == 422 and two.json()["code"] == "campaign_team_size"
    listed = await client.get(teams, headers=auth("grid_worker.village"))
    assert len(listed.json()["items"]) == 1


async def test_visits_recorded_in_scope_and_period_china_time(client, auth, world):
    county = auth("county_staff.county")
    start = china_today() - timedelta(days=3)
    campaign = await _campaign(client, county, VILLAGE, starts_on=str(start), ends_on=str(china_today()))
    visits = f"{CAMPAIGNS}/{campaign['id']}/visits"
    grid = auth("grid_worker.village")
    # 00:30 on the first day in China is the evening before in UTC: inside the period.
    first_minute = datetime(start.year, start.month, start.day, 0, 30, tzinfo=CHINA)
    body = {
        "household_id": world.home["id"],
        "visited_at": first_minute.astimezone(UTC).isoformat(),  # 16:30 the day before, UTC
        "checks": ["income", "housing", "water"],
        "problems": ["housing"],
        "photos": ["oss://visits/1.jpg"],
        "findings": "厨房墙体开裂",
    }
    r = await client.post(visits, json=body, headers=grid)
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["visited_on"] == str(start) and v["region_code"] == VILLAGE and v["problems"] == ["housing"]
    assert r.headers["location"] == f"/api/v1/campaign-visits/{v['id']}"
    # 23:30 the day before (China) is outside, whatever the UTC date says.
    before = (first_minute - timedelta(hours=1)).isoformat()
    r = await client.post(
        visits, json={**body, "household_id": world.neighbour["id"], "visited_at": before}, headers={**grid, **ZH}
    )
    assert r.status_code == 422 and r.json()["code"] == "campaign_visit_outside_period"
    assert r.json()["field"] == "visited_at" and str(start) in r.json()["errors"][0]["message"]
    future = (datetime.now(CHINA) + timedelta(hours=2)).isoformat()
    r = await client.post(
        visits, json={**body, "household_id": world.neighbour["id"], "visited_at": future}, headers=grid
    )
    assert r.status_code == 422 and r.json()["field"] == "visited_at"
    again = await client.post(visits, json={**body, "visited_at": None}, headers=grid)
    assert again.status_code == 409 and again.json()["code"] == "campaign_visit_exists"
    unchecked = await client.post(
        visits,
        json={**body, "household_id": world.neighbour["id"], "visited_at": None, "checks": ["income"]},
        headers=grid,
    )
    assert unchecked.status_code == 422 and unchecked.json()["field"] == "problems"
    # Another village's household: hidden from the village's grid worker (404), outside the
    # campaign for the township's staff (422).
    hidden = await client.post(
        visits, json={**body, "household_id": world.village2["id"], "visited_at": None}, headers=grid
    )
    assert hidden.status_code == 404 and hidden.json()["field"] == "household_id"
    outside = await client.post(
        visits,
        json={**body, "household_id": world.village2["id"], "visited_at": None},
        headers=auth("township_staff.township"),
    )
    assert outside.status_code == 422 and outside.json()["code"] == "campaign_household_outside"
    assert (await client.post(visits, json=body, headers=auth("auditor.county"))).status_code == 403
    # A campaign of another township is not found for this village's grid worker.
    elsewhere = await _campaign(client, county, OTHER_TOWNSHIP_VILLAGE[:9])
    r = await client.post(f"{CAMPAIGNS}/{elsewhere['id']}/visits", json={**body, "visited_at": None}, headers=grid)
    assert r.status_code == 404 and r.json()["code"] == "campaign_not_found"


async def test_visit_checks_must_be_the_campaigns_and_the_period_keeps_its_visits(client, auth, world):
    h = auth("township_staff.township")
    campaign = await _campaign(client, h, TOWNSHIP, checks=["income", "water"])
    visits = f"{CAMPAIGNS}/{campaign['id']}/visits"
    r = await client.post(visits, json={"household_id": world.home["id"], "checks": ["housing"]}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "visit_check_not_in_campaign"
    assert (
        await client.post(visits, json={"household_id": world.home["id"], "checks": ["water"]}, headers=h)
    ).status_code == 201
    path = f"{CAMPAIGNS}/{campaign['id']}"
    etag = (await client.get(path, headers=h)).headers["etag"]
    later = await client.patch(
        path,
        json={"starts_on": str(china_today() + timedelta(days=1)), "ends_on": str(china_today() + timedelta(days=9))},
        headers={**h, "If-Match": etag},
    )
    assert later.status_code == 409 and later.json()["code"] == "campaign_visits_outside_period"


async def test_progress_per_village_and_households_not_visited(client, auth, world):
    h = auth("township_staff.township")
    campaign = await _campaign(client, h, TOWNSHIP)
    visits = f"{CAMPAIGNS}/{campaign['id']}/visits"
    assert (
        await client.post(visits, json={"household_id": world.home["id"], "checks": ["income"]}, headers=h)
    ).status_code == 201
    progress = await client.get(f"{CAMPAIGNS}/{campaign['id']}/progress", headers=h)
    assert progress.status_code == 200, progress.text
    body = progress.json()
    villages = {v["region_code"]: v for v in body["villages"]}
    assert villages[VILLAGE]["visited"] == 1 and villages[VILLAGE]["households"] >= 2
    assert villages[VILLAGE]["percent"] == round(100 / villages[VILLAGE]["households"], 1)
    assert villages[VILLAGE_2]["visited"] == 0 and body["region"] == TOWNSHIP
    assert body["visited"] == 1 and body["households"] == sum(v["households"] for v in body["villages"])
    # The village's grid worker sees its own village only.
    own = await client.get(f"{CAMPAIGNS}/{campaign['id']}/progress", headers=auth("grid_worker.village"))
    assert [v["region_code"] for v in own.json()["villages"]] == [VILLAGE] and own.json()["region"] == VILLAGE
    outside = await client.get(
        f"{CAMPAIGNS}/{campaign['id']}/progress", params={"region": COUNTY}, headers=auth("county_staff.county")
    )
    assert outside.status_code == 200 and outside.json()["region"] == TOWNSHIP  # the campaign's region is the narrower
    other = await client.get(
        f"{CAMPAIGNS}/{campaign['id']}/progress",
        params={"region": OTHER_TOWNSHIP_VILLAGE},
        headers=auth("county_staff.county"),
    )
    assert other.status_code == 422 and other.json()["code"] == "campaign_region_outside"

    path = f"{CAMPAIGNS}/{campaign['id']}/unvisited"
    first = await client.get(path, params={"region": VILLAGE, "limit": 1}, headers=h)
    assert first.status_code == 200, first.text
    ids = [x["household_id"] for x in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = await client.get(path, params={"region": VILLAGE, "limit": 1, "cursor": cursor}, headers=h)
        ids += [x["household_id"] for x in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert world.home["id"] not in ids and world.neighbour["id"] in ids and ids == sorted(ids)
    assert len(ids) == villages[VILLAGE]["households"] - 1


async def test_a_finding_becomes_a_risk_clue_of_the_case_workflow(client, auth, world):
    h = auth("township_staff.township")
    campaign = await _campaign(client, h, VILLAGE)
    r = await client.post(
        f"{CAMPAIGNS}/{campaign['id']}/visits",
        json={
            "household_id": world.home["id"],
            "checks": ["housing"],
            "problems": ["housing"],
            "findings": "危房",
            "photos": ["p-1"],
        },
        headers=auth("grid_worker.village"),
    )
    visit = r.json()
    path = f"/api/v1/campaign-visits/{visit['id']}/clue"
    assert (
        await client.post(path, json={"risk_types": ["unsafe_housing"]}, headers=auth("auditor.county"))
    ).status_code == 403
    raised = await client.post(path, json={"risk_types": ["unsafe_housing"]}, headers=auth("grid_worker.village"))
    assert raised.status_code == 201, raised.text
    assert raised.json()["outcome"] == "created" and raised.json()["clue_id"]
    clue = await client.get(f"/api/v1/risk-clues/{raised.json()['clue_id']}", headers=h)
    assert clue.status_code == 200, clue.text
    assert clue.json()["household_id"] == world.home["id"] and clue.json()["status"] == "open"
    assert "危房" in clue.text and "p-1" in clue.text
    again = await client.post(path, json={"risk_types": ["unsafe_housing"]}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "campaign_visit_clue_exists"
    got = await client.get(f"/api/v1/campaign-visits/{visit['id']}", headers=auth("auditor.county"))
    assert got.json()["clue_id"] == raised.json()["clue_id"]
    # No findings and no evidence: nothing to report.
    bare = await client.post(
        f"{CAMPAIGNS}/{campaign['id']}/visits",
        json={"household_id": world.neighbour["id"], "checks": ["income"]},
        headers=h,
    )
    r = await client.post(
        f"/api/v1/campaign-visits/{bare.json()['id']}/clue", json={"risk_types": ["illness"]}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "evidence"
    # Another village's staff: 404.
    r = await client.post(path, json={"risk_types": ["illness"]}, headers=auth("village_staff.village2"))
    assert r.status_code == 404


def test_required_days_round_up_on_the_calendar():
    from services.core.fieldwork.rules import last_month, required_days
    from services.core.policy.monitoring import MonitoringPolicy

    policy = MonitoringPolicy()
    assert [required_days(policy, date(2026, m, 1)) for m in (2, 4, 10)] == [19, 20, 21]
    assert required_days(MonitoringPolicy(resident_share_of_month="1/2"), date(2026, 10, 1)) == 16
    assert last_month(date(2026, 1, 15)) == date(2025, 12, 1)


async def test_attendance_shortfalls_default_to_the_last_complete_month(client, auth):
    from services.core.fieldwork.rules import last_month, month_text

    h = auth("township_staff.township")
    resident = await _member(client, h, role="resident_team", active_from="2020-01-01")
    month = month_text(last_month(china_today()))
    assert (
        await client.post(f"{ROSTER}/{resident['id']}/attendance", json={"month": month, "days": 1}, headers=h)
    ).status_code == 201
    r = await client.get("/api/v1/resident-attendance/shortfalls", headers=h)
    assert r.status_code == 200, r.text
    assert {(row["member_id"], row["month"], row["days"]) for row in r.json()["items"]} == {(resident["id"], month, 1)}
