"""Payments imported from the finance system's books: each row on its own — a bad row comes
back with its row number, field and reason and never fails the others; an item of the
negative list is kept and raised as a finding."""

from __future__ import annotations

from tests.api.funds_helpers import create, d, fund_body, project_body, walk
from tests.factories import VILLAGE

STAFF = "county_staff.county"
DAYS = {"reviewed": d(2, 20), "approved": d(2, 28)}


async def _funded(client, h):
    fund = await create(client, "/api/v1/funds", fund_body(amount="100000.00"), h)
    work = await create(client, "/api/v1/funds", fund_body(kind="work_relief", amount="50000.00"), h)
    p = await create(client, "/api/v1/projects", project_body(VILLAGE), h)
    await walk(client, p["id"], "approved", DAYS, h)
    for f in (fund, work):
        await create(
            client,
            f"/api/v1/funds/{f['id']}/allocations",
            {"project_id": p["id"], "amount": "40000.00", "allocated_on": d(3, 1)},
            h,
        )
    return fund, work, p


def _row(p, fund, **kw):
    return {
        "project_id": p["id"],
        "fund_id": fund["id"],
        "amount": "1000.00",
        "paid_on": d(4, 1),
        "voucher_ref": "记-100",
        "item": "construction",
        **kw,
    }


async def test_rows_are_taken_one_by_one(client, auth):
    h = auth(STAFF)
    fund, work, p = await _funded(client, h)
    rows = [
        _row(p, fund),
        _row(p, fund, amount="12.345"),  # 2: more than two decimals
        _row(p, fund, item="office_buildings", amount="5000.00"),  # 3: negative list: kept, flagged
        _row(p, fund, project_id=987654321),  # 4: no such project
        _row(p, fund, amount="99999.00"),  # 5: more than the fund allocated to the project
        _row(p, fund, paid_on="2020-13-01"),  # 6: not a date
        _row(p, work, item="office_buildings"),  # 7: not transition funds: no negative list
        {"voucher_ref": "记-8"},  # 8: nothing else
        _row(p, fund, id=5),  # 9: a field the import does not know
    ]
    r = await client.post("/api/v1/disbursements/import", json={"rows": rows}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["flagged"]) == (3, 1)
    got = {x["row"]: (x["field"], x["code"]) for x in body["rejected"]}
    assert got == {
        2: ("amount", "import_row_invalid"),
        4: ("project_id", "project_not_found"),
        5: ("amount", "disbursement_exceeds_allocation"),
        6: ("paid_on", "import_row_invalid"),
        8: ("fund_id", "import_row_invalid"),
        9: ("id", "import_row_invalid"),
    }
    assert all(x["message"] for x in body["rejected"])
    paid = (await client.get(f"/api/v1/projects/{p['id']}/disbursements", headers=h)).json()["items"]
    assert sorted((x["amount"], x["item"], x["imported"]) for x in paid) == [
        ("1000.00", "construction", True),
        ("1000.00", "office_buildings", True),
        ("5000.00", "office_buildings", True),
    ]
    # The negative-list row is a finding naming the payment.
    found = (await client.get("/api/v1/fund-findings", params={"rule_id": "negative_list"}, headers=h)).json()["items"]
    assert [(f["disbursement_id"], f["project_id"], f["values"]["item"]) for f in found] == [
        (body["finding_ids"] and found[0]["disbursement_id"], p["id"], "office_buildings")
    ]
    assert found[0]["id"] == body["finding_ids"][0]


async def test_messages_in_chinese_and_nothing_kept_of_other_counties(client, auth):
    h = auth(STAFF)
    fund, _work, p = await _funded(client, h)
    r = await client.post(
        "/api/v1/disbursements/import",
        json={"rows": [_row(p, fund)]},
        headers={**auth("county_staff.other"), "Accept-Language": "zh"},
    )
    assert r.status_code == 200
    rejected = r.json()["rejected"]
    assert [(x["field"], x["code"]) for x in rejected] == [("project_id", "project_not_found")]
    assert "不存在" in rejected[0]["message"]
    assert (await client.get(f"/api/v1/projects/{p['id']}/disbursements", headers=h)).json()["items"] == []


async def test_an_empty_or_oversized_import_is_refused(client, auth):
    h = auth(STAFF)
    r = await client.post("/api/v1/disbursements/import", json={"rows": []}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rows"
    r = await client.post("/api/v1/disbursements/import", json={"rows": [{}] * 5001}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rows"
