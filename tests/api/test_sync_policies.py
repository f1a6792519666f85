"""The cross-check thresholds through the API: overrides for a county or a province, the
policy in force, validation naming the field, the county-level rule, If-Match."""

from __future__ import annotations

from decimal import Decimal

from services.core.timeutil import today

Y = today().year
STAFF = "county_staff.county"
PATH = "/api/v1/sync-policies"


async def test_overrides_and_the_policy_in_force(client, auth):
    h, province = auth(STAFF), auth("county_staff.province")
    r = await client.post(
        PATH,
        headers=province,
        json={
            "region_prefix": "52",
            "year": Y - 1,
            "values": {"large_cost_fixed_yuan": {"monitored": "5000"}, "new_grant_months": 6},
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        PATH,
        headers=h,
        json={
            "region_prefix": "529901",
            "year": Y,
            "values": {"new_grant_months": 18, "large_cost_income_basis": "net"},
            "note": "县民政局每年复核一次",
        },
    )
    assert r.status_code == 201, r.text
    county_row, etag = r.json(), r.headers["etag"]
    assert r.headers["location"] == f"{PATH}/{county_row['id']}"

    eff = (await client.get(f"{PATH}/effective", params={"region": "529901001001", "year": Y}, headers=h)).json()
    policy = eff["policy"]
    assert policy["new_grant_months"] == 18 and policy["large_cost_income_basis"] == "net"  # the county wins
    assert Decimal(policy["large_cost_fixed_yuan"]["monitored"]) == Decimal("5000")  # the province's
    assert Decimal(policy["large_cost_fixed_yuan"]["lifted_out"]) == Decimal("10000")  # the default
    assert [o["region_prefix"] for o in eff["overrides"]] == ["52", "529901"]
    earlier = (await client.get(f"{PATH}/effective", params={"region": "529901", "year": Y - 1}, headers=h)).json()
    assert earlier["policy"]["new_grant_months"] == 6
    # Another county sees the province's row only.
    other = (
        await client.get(
            f"{PATH}/effective", params={"region": "529902", "year": Y}, headers=auth("county_staff.other")
        )
    ).json()
    assert other["policy"]["new_grant_months"] == 6

    # The county may not change the province's row; it changes its own with If-Match.
    rows = (await client.get(PATH, headers=h)).json()["items"]
    province_row = next(x for x in rows if x["region_prefix"] == "52")
    r = await client.put(
        f"{PATH}/{province_row['id']}", headers={**h, "If-Match": "*"}, json={"values": {"new_grant_months": 3}}
    )
    assert r.status_code == 403 and r.json()["code"] == "policy_region_too_wide"
    r = await client.put(f"{PATH}/{county_row['id']}", headers=h, json={"values": {"new_grant_months": 24}})
    assert r.status_code == 428
    r = await client.put(
        f"{PATH}/{county_row['id']}", headers={**h, "If-Match": etag}, json={"values": {"new_grant_months": 24}}
    )
    assert r.status_code == 200 and r.json()["values"] == {"new_grant_months": 24}
    r = await client.put(
        f"{PATH}/{county_row['id']}", headers={**h, "If-Match": etag}, json={"values": {"new_grant_months": 1}}
    )
    assert r.status_code == 412


async def test_values_are_checked_field_by_field(client, auth):
    h = auth(STAFF)
    for values, field in [
        ({"large_cost_fixed_yuan": {"monitored": "-1"}}, "values.large_cost_fixed_yuan"),
        ({"large_cost_income_share": {"rich": "0.5"}}, "values.large_cost_income_share"),
        ({"compulsory_age_from": 16}, "values"),  # above compulsory_age_to
        ({"out_of_school_statuses": ["gone_fishing"]}, "values.out_of_school_statuses"),
        ({"no_such_threshold": 1}, "values.no_such_threshold"),
    ]:
        r = await client.post(PATH, headers=h, json={"region_prefix": "529901", "year": Y, "values": values})
        assert r.status_code == 422, (values, r.text)
        assert r.json()["field"].startswith(field), (values, r.json())
    r = await client.post(PATH, headers=h, json={"region_prefix": "529901", "year": Y, "values": {}})
    assert r.status_code == 422 and r.json()["code"] == "policy_values_empty"


async def test_thresholds_are_set_for_a_county_or_wider(client, auth):
    h = auth(STAFF)
    r = await client.post(
        PATH, headers=h, json={"region_prefix": "529901001", "year": Y, "values": {"new_grant_months": 6}}
    )
    assert r.status_code == 422 and r.json()["code"] == "sync_policy_below_county", r.text
    assert r.json()["field"] == "region_prefix"
    r = await client.post(
        PATH,
        headers=auth("county_staff.township"),
        json={"region_prefix": "529901", "year": Y, "values": {"new_grant_months": 6}},
    )
    assert r.status_code == 403 and r.json()["code"] == "policy_region_too_wide"
    r = await client.post(
        PATH, headers=h, json={"region_prefix": "529901", "year": Y, "values": {"new_grant_months": 6}}
    )
    assert r.status_code == 201
    r = await client.post(
        PATH, headers=h, json={"region_prefix": "529901", "year": Y, "values": {"new_grant_months": 7}}
    )
    assert r.status_code == 409 and r.json()["code"] == "policy_exists"
    # Reading needs sync:read: village staff do not hold it.
    r = await client.get(f"{PATH}/effective", params={"region": "529901"}, headers=auth("village_staff.village"))
    assert r.status_code == 403
