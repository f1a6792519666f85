"""Corrections of field work records (docs/field-work.md): a month's days in the village are
corrected with If-Match, within the month's days, in the caller's regions."""

from __future__ import annotations

from tests.api.fieldwork_helpers import member_body

ROSTER = "/api/v1/field-roster"
ZH = {"Accept-Language": "zh-CN"}


async def _attendance(client, h, month: str = "2026-11", days: int = 12) -> dict:
    r = await client.post(ROSTER, json=member_body("529901001001", "resident_team"), headers=h)
    assert r.status_code == 201, r.text
    r = await client.post(f"{ROSTER}/{r.json()['id']}/attendance", json={"month": month, "days": days}, headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/resident-attendance/{r.json()['id']}"
    return {"etag": r.headers["etag"], **r.json()}


async def test_a_months_days_are_corrected_with_if_match(client, auth):
    h = auth("township_staff.township")
    record = await _attendance(client, h)
    path = f"/api/v1/resident-attendance/{record['id']}"
    got = await client.get(path, headers=auth("grid_worker.village"))
    assert got.status_code == 200 and got.headers["etag"] == record["etag"]
    assert (got.json()["days"], got.json()["required"], got.json()["month"]) == (12, 20, "2026-11")

    r = await client.patch(path, json={"days": 21, "note": "已核对签到表"}, headers={**h, "If-Match": record["etag"]})
    assert r.status_code == 200, r.text
    assert (r.json()["days"], r.json()["note"], r.json()["version"]) == (21, "已核对签到表", record["version"] + 1)
    assert r.headers["etag"] != record["etag"]
    # now at the policy's two thirds: no longer short of days
    short = await client.get("/api/v1/resident-attendance/shortfalls", params={"month": "2026-11"}, headers=h)
    assert record["member_id"] not in [m["member_id"] for m in short.json()["items"]]

    stale = await client.patch(path, json={"days": 5}, headers={**h, "If-Match": record["etag"]})
    assert stale.status_code == 412
    assert (await client.patch(path, json={"days": 5}, headers=h)).status_code == 428
    current = r.headers["etag"]
    # November has 30 days; the days stay; the month is the record's
    for body, field in (({"days": 31}, "days"), ({"days": None}, "days"), ({"month": "2026-10"}, "month")):
        bad = await client.patch(path, json=body, headers={**h, **ZH, "If-Match": current})
        assert bad.status_code == 422, body
        assert bad.json()["errors"][0]["field"] == field, bad.json()
    thirty = await client.patch(path, json={"days": 31}, headers={**h, **ZH, "If-Match": current})
    assert "30" in thirty.json()["errors"][0]["message"]
    # a grid worker reads but does not correct; another county does not see it at all
    forbidden = await client.patch(path, json={"days": 5}, headers={**auth("grid_worker.village"), "If-Match": current})
    assert forbidden.status_code == 403
    for user in ("county_staff.other",):
        assert (await client.get(path, headers=auth(user))).status_code == 404
        hidden = await client.patch(path, json={"days": 5}, headers={**auth(user), "If-Match": current})
        assert hidden.status_code == 404
    assert (await client.get("/api/v1/resident-attendance/999999999", headers=h)).status_code == 404
    assert (await client.get(path, headers=h)).json()["days"] == 21


async def test_a_campaign_visit_is_corrected_within_the_campaigns_rules(client, auth):
    from datetime import datetime, timedelta

    from services.core.timeutil import CHINA
    from services.core.timeutil import today as china_today
    from tests.api.fieldwork_helpers import campaign_body
    from tests.factories import household, person

    h = auth("township_staff.township")
    r = await client.post(
        "/api/v1/households",
        json=household(members=[person("head", name="冯改")]),
        headers=auth("village_staff.village"),
    )
    assert r.status_code == 201, r.text
    home = r.json()
    r = await client.post(
        "/api/v1/campaigns", json=campaign_body("529901001", checks=["income", "housing", "water"]), headers=h
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    r = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/visits",
        json={"household_id": home["id"], "checks": ["income", "housing"], "problems": ["housing"], "findings": "裂缝"},
        headers=auth("grid_worker.village"),
    )
    assert r.status_code == 201, r.text
    visit, tag = r.json(), r.headers["etag"]
    path = f"/api/v1/campaign-visits/{visit['id']}"
    assert (await client.get(path, headers=h)).headers["etag"] == tag

    # the day before yesterday at 23:30 in Beijing is that day, whatever UTC says
    day = china_today() - timedelta(days=2)
    at = datetime(day.year, day.month, day.day, 23, 30, tzinfo=CHINA)
    body = {"visited_at": at.isoformat(), "checks": ["income", "water"], "problems": ["water"], "findings": "饮水不便"}
    r = await client.patch(path, json=body, headers={**auth("grid_worker.village"), "If-Match": tag})
    assert r.status_code == 200, r.text
    fixed = r.json()
    assert (fixed["visited_on"], fixed["checks"], fixed["problems"], fixed["findings"]) == (
        str(day),
        ["income", "water"],
        ["water"],
        "饮水不便",
    )
    assert fixed["version"] == visit["version"] + 1 and fixed["household_id"] == home["id"]
    assert (await client.patch(path, json={"findings": "x"}, headers={**h, "If-Match": tag})).status_code == 412
    assert (await client.patch(path, json={"findings": "x"}, headers=h)).status_code == 428
    tag = r.headers["etag"]

    before = campaign_body("529901001")["starts_on"]
    early = datetime.fromisoformat(before).replace(tzinfo=CHINA) - timedelta(days=1)
    for sent, field, code in (
        ({"visited_at": early.isoformat()}, "visited_at", "campaign_visit_outside_period"),
        ({"checks": ["medical"]}, "checks", "visit_check_not_in_campaign"),
        ({"problems": ["housing"]}, "problems", "visit_problem_unchecked"),
        ({"checks": ["income"]}, "checks", "visit_problem_unchecked"),  # the water problem would go unchecked
        ({"checks": None}, "checks", None),
        ({"household_id": home["id"]}, "household_id", None),
        ({"team_id": 999999999}, "team_id", "campaign_team_not_found"),
    ):
        bad = await client.patch(path, json=sent, headers={**h, **ZH, "If-Match": tag})
        assert bad.status_code in (404, 422), (sent, bad.text)
        assert bad.json()["errors"][0]["field"] == field, (sent, bad.json())
        if code:
            assert bad.json()["code"] == code, (sent, bad.json())
        assert bad.json()["errors"][0]["message"], sent
    assert (await client.get(path, headers=h)).json()["findings"] == "饮水不便"  # nothing half-changed
    # an auditor reads but does not visit; another county does not see the record
    assert (
        await client.patch(path, json={"findings": "x"}, headers={**auth("auditor.county"), "If-Match": tag})
    ).status_code == 403
    assert (
        await client.patch(path, json={"findings": "x"}, headers={**auth("county_staff.other"), "If-Match": tag})
    ).status_code == 404
    # the visit list shows the correction
    listed = (await client.get(f"/api/v1/campaigns/{campaign['id']}/visits", headers=h)).json()["items"]
    assert [(v["id"], v["findings"]) for v in listed] == [(visit["id"], "饮水不便")]
