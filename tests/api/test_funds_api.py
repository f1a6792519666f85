"""Funds, allocations, payments and the project lifecycle: the refusals, each naming the
field and the rule, region scope, If-Match and Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.core.timeutil import today as china_today
from tests.api.funds_helpers import YEAR, create, d, fund_body, project_body, step, walk
from tests.factories import OTHER_COUNTY_VILLAGE, TOWNSHIP, VILLAGE, code_of, household, person

STAFF = "county_staff.county"
DAYS = {
    "reviewed": d(2, 20),
    "approved": d(2, 28),
    "tendering": d(3, 5),
    "started": d(3, 20),
    "completed": d(9, 30),
    "accepted": d(10, 15),
}


def _field(r):
    body = r.json()
    return body["errors"][0]["field"] if body.get("errors") else body.get("field")


@pytest.fixture
def h(auth):
    return auth(STAFF)


async def _approved(client, h, region=VILLAGE, **kw):
    p = await create(client, "/api/v1/projects", project_body(region, **kw), h)
    await walk(client, p["id"], "approved", DAYS, h)
    return p


@pytest.mark.parametrize(
    "change, field, code",
    [
        ({"amount": "100.005"}, "amount", "decimal_max_places"),
        ({"amount": "-5.00"}, "amount", "greater_than"),
        ({"amount": "0"}, "amount", "greater_than"),
        ({"region_code": "529901001000"}, "region_code", "fund_region_not_county"),
        ({"region_code": "5299"}, "region_code", "region_code_malformed"),
        ({"received_on": str(china_today() + timedelta(days=400))}, "received_on", "date_in_future"),
        ({"received_on": f"{YEAR + 1}-01-01"}, "received_on", "fund_received_after_year"),
        ({"level": "township"}, "level", "enum"),
        ({"id": 5}, "id", "extra_forbidden"),
    ],
)
async def test_a_bad_fund_is_refused_naming_the_field(client, h, change, field, code):
    r = await client.post("/api/v1/funds", json={**fund_body(), **change}, headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (_field(r), code_of(r)) == (field, code)


async def test_funds_of_another_county_do_not_exist_for_you(client, auth, h):
    fund = await create(client, "/api/v1/funds", fund_body(), h)
    other = auth("county_staff.other")
    for path in (f"/api/v1/funds/{fund['id']}", f"/api/v1/funds/{fund['id']}/allocations"):
        r = await client.get(path, headers=other)
        assert r.status_code == 404 and code_of(r) in ("fund_not_found", "not_found"), r.text
    r = await client.post("/api/v1/funds", json=fund_body(), headers=other)
    assert r.status_code == 404 and _field(r) == "region_code"
    listed = (await client.get("/api/v1/funds", params={"year": YEAR}, headers=other)).json()
    assert fund["id"] not in [f["id"] for f in listed["items"]]
    # A township sees no county fund; a village staff may not create one at all.
    assert (await client.get(f"/api/v1/funds/{fund['id']}", headers=auth("township_staff.township"))).status_code == 404
    assert (
        await client.post("/api/v1/funds", json=fund_body(), headers=auth("village_staff.village"))
    ).status_code == 403


async def test_a_fund_is_corrected_with_if_match_and_never_below_its_allocations(client, h):
    fund = await create(client, "/api/v1/funds", fund_body(amount="100000.00"), h)
    p = await _approved(client, h)
    await create(
        client,
        f"/api/v1/funds/{fund['id']}/allocations",
        {"project_id": p["id"], "amount": "80000.00", "allocated_on": d(3, 1)},
        h,
    )
    path = f"/api/v1/funds/{fund['id']}"
    update = {"name": "更正", "amount": "70000.00", "received_on": d(1, 10)}
    assert (await client.put(path, json=update, headers=h)).status_code == 428
    assert (await client.put(path, json=update, headers={**h, "If-Match": '"fund-0-0"'})).status_code == 412
    tag = (await client.get(path, headers=h)).headers["etag"]
    r = await client.put(path, json=update, headers={**h, "If-Match": tag})
    assert r.status_code == 409 and r.json()["figures"] == {"requested": "70000.00", "allocated": "80000.00"}
    r = await client.put(
        path, json={**update, "amount": "90000.00", "received_on": d(3, 5)}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 422 and code_of(r) == "fund_received_after_allocation"
    r = await client.put(path, json={**update, "amount": "90000.00"}, headers={**h, "If-Match": tag})
    assert r.status_code == 200 and r.json()["available"] == "10000.00" and r.headers["etag"] != tag


async def test_allocation_rules(client, auth, h):
    fund = await create(client, "/api/v1/funds", fund_body(amount="100000.00"), h)
    url = f"/api/v1/funds/{fund['id']}/allocations"
    proposed = await create(client, "/api/v1/projects", project_body(VILLAGE), h)
    r = await client.post(
        url, json={"project_id": proposed["id"], "amount": "10.00", "allocated_on": d(3, 1)}, headers=h
    )
    assert r.status_code == 409 and code_of(r) == "project_not_in_library"
    p = await _approved(client, h)
    r = await client.post(url, json={"project_id": p["id"], "amount": "10.00", "allocated_on": d(1, 5)}, headers=h)
    assert r.status_code == 422 and (_field(r), code_of(r)) == ("allocated_on", "allocation_before_fund")
    next_year = await create(
        client,
        "/api/v1/projects",
        project_body(VILLAGE, year=YEAR + 1, planned_start=f"{YEAR + 1}-03-01", planned_end=f"{YEAR + 1}-10-01"),
        h,
    )
    await walk(client, next_year["id"], "reviewed", DAYS, h)
    r = await client.post(
        url, json={"project_id": next_year["id"], "amount": "10.00", "allocated_on": d(3, 1)}, headers=h
    )
    assert r.status_code == 422 and code_of(r) == "allocation_year_mismatch"
    # Provincial staff see both counties: a project of the other county is not this fund's.
    province = auth("county_staff.province")
    elsewhere = await create(client, "/api/v1/projects", project_body(OTHER_COUNTY_VILLAGE), province)
    await walk(client, elsewhere["id"], "reviewed", DAYS, province)
    r = await client.post(
        url, json={"project_id": elsewhere["id"], "amount": "10.00", "allocated_on": d(3, 1)}, headers=province
    )
    assert r.status_code == 422 and code_of(r) == "allocation_region_mismatch"
    # The county cannot even name it.
    r = await client.post(
        url, json={"project_id": elsewhere["id"], "amount": "10.00", "allocated_on": d(3, 1)}, headers=h
    )
    assert r.status_code == 404 and _field(r) == "project_id"
    # Chinese, with the figures.
    r = await client.post(
        url,
        json={"project_id": p["id"], "amount": "100000.01", "allocated_on": d(3, 1)},
        headers={**h, "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 409 and "可分配余额为 100000.00" in r.json()["detail"]


async def test_an_allocation_retried_with_its_idempotency_key_happens_once(client, h):
    fund = await create(client, "/api/v1/funds", fund_body(amount="100000.00"), h)
    p = await _approved(client, h)
    body = {"project_id": p["id"], "amount": "60000.00", "allocated_on": d(3, 1)}
    keyed = {**h, "Idempotency-Key": "alloc-7f3a"}
    first = await client.post(f"/api/v1/funds/{fund['id']}/allocations", json=body, headers=keyed)
    again = await client.post(f"/api/v1/funds/{fund['id']}/allocations", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert (await client.get(f"/api/v1/funds/{fund['id']}", headers=h)).json()["allocated"] == "60000.00"


async def test_the_lifecycle_goes_step_by_step(client, h):
    p = await create(client, "/api/v1/projects", project_body(VILLAGE), h)
    assert p["status"] == "proposed" and p["next_steps"] == ["reviewed", "cancelled"]
    r = await step(client, p["id"], "approved", d(2, 20), h, expect=409)
    assert code_of(r) == "project_step_skipped" and r.json()["allowed"] == ["reviewed", "cancelled"]
    assert _field(r) == "status"
    r = await step(client, p["id"], "reviewed", d(2, 5), h, expect=422)  # before it was proposed (10 Feb)
    assert (_field(r), code_of(r)) == ("on", "project_step_before_previous")
    r = await step(client, p["id"], "reviewed", str(china_today() + timedelta(days=2)), h, expect=422)
    assert code_of(r) == "date_in_future"
    await walk(client, p["id"], "accepted", DAYS, h)
    r = await step(client, p["id"], "cancelled", d(10, 20), h, note="不再实施", expect=409)
    assert r.json()["allowed"] == ["handed_over"]
    r = await step(client, p["id"], "handed_over", d(10, 20), h, expect=409)
    assert code_of(r) == "project_no_assets"
    path = f"/api/v1/projects/{p['id']}/steps"
    assert (await client.post(path, json={"status": "handed_over", "on": d(10, 20)}, headers=h)).status_code == 428
    r = await client.post(path, json={"status": "handed_over", "on": d(10, 20)}, headers={**h, "If-Match": '"x"'})
    assert r.status_code == 412
    history = (await client.get(f"/api/v1/projects/{p['id']}", headers=h)).json()["history"]
    assert [s["status"] for s in history] == [
        "proposed",
        "reviewed",
        "approved",
        "tendering",
        "started",
        "completed",
        "accepted",
    ]


async def test_a_cancelled_project_needs_a_reason_and_changes_no_more(client, h):
    p = await _approved(client, h)
    r = await step(client, p["id"], "cancelled", d(3, 1), h, expect=422)
    assert (_field(r), code_of(r)) == ("note", "cancel_reason_required")
    r = await step(client, p["id"], "cancelled", d(3, 1), h, note="选址调整，项目取消")
    assert r.json()["status"] == "cancelled" and r.json()["next_steps"] == []
    r = await step(client, p["id"], "tendering", d(3, 2), h, expect=409)
    assert code_of(r) == "project_step_not_allowed" and r.json()["allowed"] == []
    tag = (await client.get(f"/api/v1/projects/{p['id']}", headers=h)).headers["etag"]
    fields = {k: v for k, v in project_body(VILLAGE).items() if k not in ("year", "region_code", "proposed_on")}
    r = await client.put(f"/api/v1/projects/{p['id']}", json=fields, headers={**h, "If-Match": tag})
    assert r.status_code == 409 and code_of(r) == "project_closed"


@pytest.mark.parametrize(
    "change, field, code",
    [
        ({"planned_end": d(2, 1)}, "planned_end", "planned_end_before_start"),
        ({"region_code": "529901000000"}, "region_code", "project_region_level"),
        (
            {"planned_start": f"{YEAR + 1}-02-01", "planned_end": f"{YEAR + 1}-05-01"},
            "year",
            "project_year_outside_plan",
        ),
        ({"category": "roads"}, "category", "enum"),
        ({"budget": "12.345"}, "budget", "decimal_max_places"),
        (
            {"performance_targets": [{"indicator": "", "target": "1"}]},
            "performance_targets[0].indicator",
            "string_too_short",
        ),
        ({"status": "approved"}, "status", "extra_forbidden"),
    ],
)
async def test_a_bad_project_is_refused_naming_the_field(client, h, change, field, code):
    r = await client.post("/api/v1/projects", json={**project_body(VILLAGE), **change}, headers=h)
    assert r.status_code == 422, r.text
    assert (_field(r), code_of(r)) == (field, code)


async def test_payment_rules(client, h):
    fund = await create(client, "/api/v1/funds", fund_body(amount="100000.00"), h)
    other_fund = await create(client, "/api/v1/funds", fund_body(level="county", amount="5000.00"), h)
    p = await create(client, "/api/v1/projects", project_body(VILLAGE), h)
    await walk(client, p["id"], "reviewed", DAYS, h)
    await create(
        client,
        f"/api/v1/funds/{fund['id']}/allocations",
        {"project_id": p["id"], "amount": "50000.00", "allocated_on": d(3, 1)},
        h,
    )
    url = f"/api/v1/projects/{p['id']}/disbursements"
    pay = {"fund_id": fund["id"], "amount": "100.00", "paid_on": d(3, 10), "voucher_ref": "记-1", "item": "materials"}
    r = await client.post(url, json=pay, headers=h)
    assert r.status_code == 409 and code_of(r) == "project_not_approved"  # reviewed only
    await step(client, p["id"], "approved", d(2, 28), h)
    r = await client.post(url, json={**pay, "fund_id": other_fund["id"]}, headers=h)
    assert r.status_code == 409 and (_field(r), code_of(r)) == ("fund_id", "fund_not_allocated_to_project")
    r = await client.post(url, json={**pay, "paid_on": d(2, 1)}, headers=h)
    assert r.status_code == 422 and (_field(r), code_of(r)) == ("paid_on", "disbursement_before_allocation")
    r = await client.post(url, json={**pay, "amount": "1.001"}, headers=h)
    assert r.status_code == 422 and _field(r) == "amount"
    r = await client.post(url, json={**pay, "item": "bonuses_allowances"}, headers={**h, "Accept-Language": "zh"})
    assert (
        r.status_code == 422 and code_of(r) == "negative_list_item" and "负面清单" in r.json()["errors"][0]["message"]
    )
    r = await client.post(url, json=pay, headers=h)
    assert r.status_code == 201 and r.json()["amount"] == "100.00"
    listed = (await client.get(url, headers=h)).json()["items"]
    assert [x["voucher_ref"] for x in listed] == ["记-1"]


async def test_beneficiaries(client, auth, h):
    p = await _approved(client, h)
    hh = await create(client, "/api/v1/households", household(region=VILLAGE, members=[person("head")]), h)
    url = f"/api/v1/projects/{p['id']}/beneficiaries"
    r = await client.post(url, json={"household_id": hh["id"], "benefit": "务工", "labour_pay": "300.00"}, headers=h)
    assert r.status_code == 422 and (_field(r), code_of(r)) == ("labour_days", "labour_pay_without_days")
    await create(
        client, url, {"household_id": hh["id"], "benefit": "务工", "labour_days": 3, "labour_pay": "300.00"}, h
    )
    r = await client.post(url, json={"household_id": hh["id"], "benefit": "分红"}, headers=h)
    assert r.status_code == 409 and code_of(r) == "beneficiary_exists"
    elsewhere = await create(
        client,
        "/api/v1/households",
        household(region=OTHER_COUNTY_VILLAGE, members=[person("head")]),
        auth("county_staff.other"),
    )
    r = await client.post(url, json={"household_id": elsewhere["id"], "benefit": "分红"}, headers=h)
    assert r.status_code == 404 and _field(r) == "household_id"
    items = (await client.get(url, headers=h)).json()["items"]
    assert [(b["household_id"], b["category"], b["labour_pay"]) for b in items] == [(hh["id"], "lifted_out", "300.00")]


async def test_projects_are_seen_within_your_regions_and_paged(client, auth, h):
    ids = [
        (await create(client, "/api/v1/projects", project_body(VILLAGE, name=f"项目{n}"), h))["id"] for n in range(3)
    ]
    township = auth("township_staff.township")
    r = await client.get("/api/v1/projects", params={"region": TOWNSHIP, "year": YEAR, "limit": 2}, headers=township)
    page = r.json()
    assert [p["id"] for p in page["items"]] == ids[:2] and page["next_cursor"]
    rest = (
        await client.get(
            "/api/v1/projects",
            params={"region": TOWNSHIP, "year": YEAR, "limit": 2, "cursor": page["next_cursor"]},
            headers=township,
        )
    ).json()
    assert [p["id"] for p in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    other = auth("county_staff.other")
    assert (await client.get(f"/api/v1/projects/{ids[0]}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/projects", params={"region": TOWNSHIP}, headers=other)).status_code == 404
    r = await client.get("/api/v1/projects", params={"cursor": "not-a-cursor"}, headers=h)
    assert r.status_code in (400, 422)


@pytest.mark.parametrize(
    "params, status, field",
    [
        ({"region": "5299x"}, 422, "region"),
        ({"region": "529902"}, 404, "region"),
        ({"year": 1900}, 422, "year"),
    ],
)
async def test_indicator_requests_that_cannot_be_answered(client, h, params, status, field):
    r = await client.get("/api/v1/fund-indicators", params=params, headers=h)
    assert r.status_code == status, r.text
    assert _field(r) == field
