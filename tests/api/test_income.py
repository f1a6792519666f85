"""Quarterly income: server-computed figures, yearly totals, the income filter, ETags."""

import pytest

from services.core.timeutil import current_quarter
from services.core.timeutil import today as china_today
from tests.api.test_households import create
from tests.factories import code_of, person

LAST_YEAR = china_today().year - 1


def quarter(q, year=LAST_YEAR, **kw):
    body = {
        "year": year,
        "quarter": q,
        "wages": "3000.00",
        "business": "1200.50",
        "property": "100",
        "transfers": "900",
        "production_costs": "400",
        "eligible_spending": "250",
        "details": {"transfers": {"pensions": "600", "dibao": "300.00"}},
    }
    body.update(kw)
    return body


async def test_server_computes_net_and_per_capita(client, auth):
    h = auth("grid_worker.village")
    a = await create(client, auth)
    r = await client.post(f"/api/v1/households/{a['id']}/income-records", json=quarter(1), headers=h)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["net_income"] == "4800.50"
    assert rec["per_capita_net"] == "1600.17"  # 4800.50 / 3
    assert rec["member_count"] == 3
    assert rec["details"]["transfers"] == {"pensions": "600.00", "dibao": "300.00"}
    assert r.headers["location"] == f"/api/v1/income-records/{rec['id']}"


async def test_client_cannot_send_computed_fields(client, auth):
    a = await create(client, auth)
    for field, value in [("net_income", "99999"), ("per_capita_net", "99999"), ("member_count", 1), ("id", 5)]:
        r = await client.post(
            f"/api/v1/households/{a['id']}/income-records",
            json=quarter(1, **{field: value}),
            headers=auth("grid_worker.village"),
        )
        assert (r.status_code, code_of(r), r.json()["field"]) == (422, "extra_forbidden", field)


async def test_yearly_totals_and_filter_below_line(client, auth):
    h = auth("grid_worker.village")
    poor = await create(client, auth)
    rich = await create(client, auth)
    for q in range(1, 5):
        await client.post(
            f"/api/v1/households/{poor['id']}/income-records",
            json=quarter(
                q,
                wages="1000",
                business="0",
                property="0",
                transfers="500",
                production_costs="0",
                eligible_spending="0",
                details={},
            ),
            headers=h,
        )
        await client.post(f"/api/v1/households/{rich['id']}/income-records", json=quarter(q, wages="9000"), headers=h)
    years = (await client.get(f"/api/v1/households/{poor['id']}/income-years", headers=h)).json()["items"]
    assert years == [
        {
            "household_id": poor["id"],
            "year": LAST_YEAR,
            "quarters": 4,
            "wages": "4000.00",
            "business": "0.00",
            "property": "0.00",
            "transfers": "2000.00",
            "production_costs": "0.00",
            "eligible_spending": "0.00",
            "member_count": 3,
            "net_income": "6000.00",
            "per_capita_net": "2000.00",
        }
    ]
    county = auth("county_staff.county")
    below = await client.get(
        "/api/v1/households", params={"income_below": "7100", "income_year": LAST_YEAR}, headers=county
    )
    assert [x["id"] for x in below.json()["items"]] == [poor["id"]]
    below = await client.get(
        "/api/v1/households", params={"income_below": "2000.00", "income_year": LAST_YEAR}, headers=county
    )
    assert below.json()["items"] == []  # strictly below
    other_year = await client.get(
        "/api/v1/households", params={"income_below": "7100", "income_year": LAST_YEAR - 1}, headers=county
    )
    assert other_year.json()["items"] == []


async def test_same_quarter_twice_is_409_and_correction_needs_if_match(client, auth):
    h = auth("grid_worker.village")
    a = await create(client, auth)
    first = await client.post(f"/api/v1/households/{a['id']}/income-records", json=quarter(2), headers=h)
    rec = first.json()
    r = await client.post(f"/api/v1/households/{a['id']}/income-records", json=quarter(2), headers=h)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "income_quarter_exists", "quarter")
    update = {k: v for k, v in quarter(2, wages="6000").items() if k not in ("year", "quarter")}
    r = await client.put(f"/api/v1/income-records/{rec['id']}", json=update, headers=h)
    assert r.status_code == 428
    r = await client.put(
        f"/api/v1/income-records/{rec['id']}", json=update, headers={**h, "If-Match": first.headers["etag"]}
    )
    assert r.status_code == 200 and r.json()["net_income"] == "7800.50"
    years = (await client.get(f"/api/v1/households/{a['id']}/income-years", headers=h)).json()["items"]
    assert years[0]["net_income"] == "7800.50"
    r = await client.put(
        f"/api/v1/income-records/{rec['id']}", json=update, headers={**h, "If-Match": first.headers["etag"]}
    )
    assert r.status_code == 412
    r = await client.delete(f"/api/v1/income-records/{rec['id']}", headers={**h, "If-Match": first.headers["etag"]})
    assert r.status_code == 412
    current = (await client.get(f"/api/v1/income-records/{rec['id']}", headers=h)).headers["etag"]
    r = await client.delete(f"/api/v1/income-records/{rec['id']}", headers={**h, "If-Match": current})
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/households/{a['id']}/income-years", headers=h)).json()["items"] == []
    assert (await client.get(f"/api/v1/income-records/{rec['id']}", headers=h)).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"wages": "-1"}, "wages", "greater_than_equal"),
        ({"wages": "10.123"}, "wages", "decimal_max_places"),
        ({"wages": "abc"}, "wages", "decimal_parsing"),
        ({"quarter": 5}, "quarter", "less_than_equal"),
        ({"details": {"transfers": {"lottery": "5"}}}, "details.transfers.lottery", "income_detail_unknown"),
        (
            {"details": {"transfers": {"pensions": "1000", "dibao": "1000"}}},
            "details.transfers",
            "income_details_exceed_part",
        ),
    ],
)
async def test_bad_income_is_refused(client, auth, change, field, code):
    a = await create(client, auth)
    r = await client.post(
        f"/api/v1/households/{a['id']}/income-records", json=quarter(1, **change), headers=auth("grid_worker.village")
    )
    assert r.status_code == 422, r.text
    assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["code"]) == (field, code)


async def test_future_quarter_refused(client, auth):
    year, q = current_quarter()
    nxt = (year + 1, 1) if q == 4 else (year, q + 1)
    a = await create(client, auth)
    r = await client.post(
        f"/api/v1/households/{a['id']}/income-records",
        json=quarter(nxt[1], year=nxt[0]),
        headers=auth("grid_worker.village"),
    )
    assert (r.status_code, r.json()["code"]) == (422, "income_year_future")


async def test_money_is_never_float(client, auth):
    a = await create(client, auth, members=[person("head")])
    r = await client.post(
        f"/api/v1/households/{a['id']}/income-records",
        json=quarter(
            1,
            wages="0.10",
            business="0.20",
            property="0",
            transfers="0",
            production_costs="0",
            eligible_spending="0",
            details={},
        ),
        headers=auth("grid_worker.village"),
    )
    assert r.json()["net_income"] == "0.30"  # 0.1 + 0.2 in binary floating point would not be


async def test_income_of_other_village_is_404(client, auth):
    a = await create(client, auth)
    r = await client.post(
        f"/api/v1/households/{a['id']}/income-records", json=quarter(1), headers=auth("grid_worker.village")
    )
    rid = r.json()["id"]
    other = auth("village_staff.village2")
    assert (await client.get(f"/api/v1/income-records/{rid}", headers=other)).status_code == 404
    assert (await client.get(f"/api/v1/households/{a['id']}/income-records", headers=other)).status_code == 404
    r = await client.put(
        f"/api/v1/income-records/{rid}",
        json={k: v for k, v in quarter(1).items() if k not in ("year", "quarter")},
        headers={**other, "If-Match": "*"},
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/households/{a['id']}/income-records", json=quarter(2), headers=auth("auditor.village")
    )
    assert r.status_code == 403
