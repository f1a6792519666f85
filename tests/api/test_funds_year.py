"""A fund year played through the API — funds received, projects through the library and
their lifecycle, allocations, payments, beneficiaries — and the compliance indicators as of
30 June and as of 31 December checked against figures computed by hand (below)."""

from __future__ import annotations

from decimal import Decimal

from tests.api.funds_helpers import YEAR, create, d, fund_body, project_body, walk
from tests.factories import OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2, household, person

STAFF = "county_staff.county"


async def _year(client, auth):
    h = auth(STAFF)
    f1 = await create(client, "/api/v1/funds", fund_body("central", "transition", "1000000.00", d(1, 10)), h)
    f2 = await create(client, "/api/v1/funds", fund_body("provincial", "transition", "500000.00", d(1, 20)), h)
    f3 = await create(client, "/api/v1/funds", fund_body("central", "work_relief", "200000.00", d(2, 1)), h)
    p1 = await create(client, "/api/v1/projects", project_body(VILLAGE, "industry", "茶叶种植基地"), h)
    p2 = await create(
        client,
        "/api/v1/projects",
        project_body(VILLAGE_2, "infrastructure", "通组路硬化", budget="400000.00", planned_start=d(3, 15)),
        h,
    )
    p3 = await create(
        client,
        "/api/v1/projects",
        project_body(
            OTHER_TOWNSHIP_VILLAGE,
            "work_relief",
            "以工代赈水渠",
            budget="300000.00",
            planned_start=d(4, 1),
            planned_end=d(8, 31),
        ),
        h,
    )
    p4 = await create(
        client,
        "/api/v1/projects",
        project_body(VILLAGE, "employment", "技能培训", budget="100000.00", planned_start=d(5, 1)),
        h,
    )
    days = {"reviewed": d(2, 20), "approved": d(2, 28)}
    await walk(
        client,
        p1["id"],
        "handed_over" if False else "accepted",
        {**days, "tendering": d(3, 5), "started": d(3, 20), "completed": d(9, 30), "accepted": d(10, 15)},
        h,
    )
    await walk(
        client,
        p2["id"],
        "accepted",
        {**days, "tendering": d(3, 10), "started": d(5, 10), "completed": d(10, 20), "accepted": d(11, 5)},
        h,
    )
    await walk(
        client,
        p3["id"],
        "accepted",
        {**days, "tendering": d(3, 20), "started": d(4, 10), "completed": d(8, 31), "accepted": d(9, 15)},
        h,
    )
    await walk(client, p4["id"], "approved", days, h)

    for fund, project, amount, on in (
        (f1, p1, "600000.00", d(3, 1)),
        (f1, p2, "300000.00", d(3, 1)),
        (f1, p4, "50000.00", d(3, 1)),
        (f2, p1, "100000.00", d(3, 2)),
        (f2, p2, "100000.00", d(3, 2)),
        (f2, p3, "100000.00", d(3, 2)),
        (f3, p3, "200000.00", d(3, 3)),
    ):
        await create(
            client,
            f"/api/v1/funds/{fund['id']}/allocations",
            {"project_id": project["id"], "amount": amount, "allocated_on": on},
            h,
        )

    # More than the fund has left: 409 with the figures.
    r = await client.post(
        f"/api/v1/funds/{f1['id']}/allocations",
        json={"project_id": p2["id"], "amount": "60000.00", "allocated_on": d(3, 5)},
        headers=h,
    )
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "allocation_exceeds_fund"
    assert r.json()["figures"] == {
        "fund": "1000000.00",
        "allocated": "950000.00",
        "available": "50000.00",
        "requested": "60000.00",
    }

    payments = [
        (p1, f1, "150000.00", d(3, 25), "construction"),
        (p1, f1, "200000.00", d(6, 15), "materials"),
        (p1, f1, "200000.00", d(9, 20), "construction"),
        (p1, f1, "7000.00", d(10, 20), "management_fee"),
        (p1, f2, "100000.00", d(7, 1), "construction"),
        (p2, f1, "100000.00", d(6, 20), "construction"),
        (p2, f1, "150000.00", d(10, 30), "construction"),
        (p2, f2, "50000.00", d(11, 10), "materials"),
        (p3, f3, "25000.00", d(5, 20), "labour_pay"),
        (p3, f3, "150000.00", d(6, 10), "construction"),
        (p3, f3, "5000.00", d(8, 20), "labour_pay"),
        (p3, f2, "80000.00", d(6, 10), "construction"),
        (p3, f2, "2000.00", d(7, 15), "labour_pay"),
        (p4, f1, "1000.00", d(7, 10), "management_fee"),
    ]
    for n, (project, fund, amount, on, item) in enumerate(payments):
        await create(
            client,
            f"/api/v1/projects/{project['id']}/disbursements",
            {"fund_id": fund["id"], "amount": amount, "paid_on": on, "voucher_ref": f"记-{n:04d}", "item": item},
            h,
        )
    # The work-relief fund has 20,000 left for the canal: 30,000 does not fit.
    r = await client.post(
        f"/api/v1/projects/{p3['id']}/disbursements",
        headers=h,
        json={
            "fund_id": f3["id"],
            "amount": "30000.00",
            "paid_on": d(9, 1),
            "voucher_ref": "记-9",
            "item": "construction",
        },
    )
    assert r.status_code == 409 and r.json()["figures"] == {
        "allocated": "200000.00",
        "disbursed": "180000.00",
        "available": "20000.00",
        "requested": "30000.00",
    }
    # Transition funds never pay for a vehicle.
    r = await client.post(
        f"/api/v1/projects/{p2['id']}/disbursements",
        headers=h,
        json={
            "fund_id": f1["id"],
            "amount": "1000.00",
            "paid_on": d(9, 1),
            "voucher_ref": "记-10",
            "item": "vehicles_and_communication",
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "item", r.text

    # Beneficiaries: two households of the tea base, a canal worker with labour pay.
    tea = [
        await create(client, "/api/v1/households", household(region=VILLAGE, members=[person("head")]), h)
        for _ in range(2)
    ]
    worker = await create(
        client, "/api/v1/households", household(region=OTHER_TOWNSHIP_VILLAGE, members=[person("head")]), h
    )
    for hh in tea:
        await create(
            client,
            f"/api/v1/projects/{p1['id']}/beneficiaries",
            {"household_id": hh["id"], "benefit": "土地流转租金+务工", "amount": "3200.00"},
            h,
        )
    await create(
        client,
        f"/api/v1/projects/{p3['id']}/beneficiaries",
        {"household_id": worker["id"], "benefit": "以工代赈务工", "labour_days": 30, "labour_pay": "2400.00"},
        h,
    )
    return {"f1": f1, "f2": f2, "f3": f3, "p1": p1, "p2": p2, "p3": p3, "p4": p4}


def _by_id(body):
    return {i["id"]: i for i in body["indicators"]}


def _ids(indicator):
    return [p["id"] for p in indicator["projects"]]


async def test_a_fund_year_and_its_indicators(client, auth):
    w = await _year(client, auth)
    h = auth(STAFF)
    p1, p2, p3, p4 = (w[k]["id"] for k in ("p1", "p2", "p3", "p4"))

    fund = (await client.get(f"/api/v1/funds/{w['f1']['id']}", headers=h)).json()
    assert (fund["allocated"], fund["available"], fund["disbursed"]) == (
        "950000.00",
        "50000.00",
        "808000.00",
    )  # 557,000 + 250,000 + 1,000
    project = (await client.get(f"/api/v1/projects/{p1}", headers=h)).json()
    assert project["status"] == "accepted" and project["next_steps"] == ["handed_over"]
    assert (project["allocated"], project["disbursed"]) == ("700000.00", "657000.00")

    # ---- 30 June, run later (as_of) ----
    r = await client.get(
        "/api/v1/fund-indicators", params={"region": "529901", "year": YEAR, "as_of": d(6, 30)}, headers=h
    )
    assert r.status_code == 200, r.text
    got = _by_id(r.json())
    assert set(got) == {
        "industry_share.central",
        "industry_share.provincial",
        "spending_progress",
        "start_rate",
        "labour_pay_share",
        "management_fee_share",
    }
    # Central transition funds: 600,000 of 1,000,000 to the tea base (industry) = 60 % ≥ 60 %.
    c = got["industry_share.central"]
    assert (c["value"], c["target"], c["status"], c["projects"]) == ("0.6000", "0.6000", "met", [])
    # Provincial: 100,000 of 500,000 = 20 % < 52 %, but 200,000 is unallocated: 60 % still possible.
    p = got["industry_share.provincial"]
    assert (p["value"], p["target"], p["status"]) == ("0.2000", "0.5200", "on_track")
    assert _ids(p) == [p2, p3]  # the non-industry projects of provincial money, largest first (a tie: by id)
    # Spending: 150,000 + 200,000 (tea) + 100,000 (road) + 80,000 (canal, provincial) of 1,500,000 transition
    # funds = 35.33 %; the 30 June milestone is 50 %.
    s = got["spending_progress"]
    assert (s["value"], s["target"], s["expected"], s["status"]) == ("0.3533", "0.5000", "0.5000", "behind")
    assert (s["numerator"], s["denominator"]) == ("530000.00", "1500000.00")
    # Behind half of their transition money: the road (400,000 → 100,000 paid, 100,000 short), the training
    # (50,000 → 0, 25,000 short). The tea base paid exactly half; the canal more.
    assert _ids(s) == [p2, p4]
    assert s["projects"][0]["figures"]["gap"] == "100000.00"
    # Started by 30 June: tea, road, canal of 4 = 75 % < 90 %.
    st = got["start_rate"]
    assert (st["value"], st["target"], st["status"], _ids(st)) == ("0.7500", "0.9000", "behind", [p4])
    assert st["details"]["alarm"] is False and st["projects"][0]["figures"]["late"] is True
    # Canal: 100,000 provincial × 10 % + 200,000 dedicated 以工代赈 × 15 % = 40,000 required of 300,000;
    # 25,000 paid by 30 June; the canal is not finished yet.
    lp = got["labour_pay_share"]
    assert (lp["value"], lp["target"], lp["status"], _ids(lp)) == ("0.0833", "0.1333", "on_track", [p3])
    assert lp["projects"][0]["figures"]["required"] == "40000.00"
    fee = got["management_fee_share"]
    assert (fee["value"], fee["target"], fee["status"], fee["comparison"]) == ("0.0000", "0.0100", "met", "at_most")
    # Every listed project is named as the project itself is (the lists look the names and
    # statuses up by id after the sort).
    listed = [item for indicator in got.values() for item in indicator["projects"]]
    assert {item["id"] for item in listed} == {p2, p3, p4}
    for item in listed:
        own = (await client.get(f"/api/v1/projects/{item['id']}", headers=h)).json()
        assert {k: item[k] for k in ("name", "region_code", "category", "status")} == {
            k: own[k] for k in ("name", "region_code", "category", "status")
        }

    # ---- 31 December ----
    got = _by_id(
        (
            await client.get(
                "/api/v1/fund-indicators", headers=h, params={"region": "529901", "year": YEAR, "as_of": d(12, 31)}
            )
        ).json()
    )
    assert got["industry_share.central"]["status"] == "met"
    # The year is over: what was not allocated can no longer help.
    assert got["industry_share.provincial"]["status"] == "behind"
    # 657,000 (tea) + 300,000 (road) + 82,000 (canal) + 1,000 (training) = 1,040,000 of 1,500,000.
    s = got["spending_progress"]
    assert (s["value"], s["target"], s["status"]) == ("0.6933", "1.0000", "behind")
    assert _ids(s) == [p2, p4, p1, p3]  # short by 100,000, 49,000, 43,000, 18,000
    assert [x["figures"]["gap"] for x in s["projects"]] == ["100000.00", "49000.00", "43000.00", "18000.00"]
    assert got["start_rate"]["status"] == "behind"
    # Canal: 32,000 of the required 40,000, and finished on 31 August.
    lp = got["labour_pay_share"]
    assert (lp["value"], lp["status"], lp["numerator"]) == ("0.1067", "behind", "32000.00")
    # Fees: 8,000 of 1,450,000 allocated = 0.55 % ≤ 1 %; the training's own 1,000 of 50,000 is 2 %.
    fee = got["management_fee_share"]
    assert (fee["value"], fee["status"], _ids(fee)) == ("0.0055", "met", [p4])
    assert fee["projects"][0]["figures"]["share"] == "0.0200"

    # The same year seen from the province: the same figures (one county has funds).
    prov = _by_id(
        (
            await client.get(
                "/api/v1/fund-indicators",
                headers=auth("county_staff.province"),
                params={"region": "52", "year": YEAR, "as_of": d(12, 31)},
            )
        ).json()
    )
    assert prov["spending_progress"]["value"] == "0.6933"

    # A township has no funds of its own: its shares are of the money its projects got. Tea, road and
    # training (the canal is in another township): 657,000 + 300,000 + 1,000 paid of 1,150,000.
    town = _by_id(
        (
            await client.get(
                "/api/v1/fund-indicators",
                headers=auth("township_staff.township"),
                params={"year": YEAR, "as_of": d(12, 31)},
            )
        ).json()
    )
    assert (town["spending_progress"]["value"], town["spending_progress"]["denominator"]) == ("0.8330", "1150000.00")
    assert "labour_pay_share" not in town  # no work-relief project there

    # Another county sees nothing of it.
    r = await client.get(
        "/api/v1/fund-indicators", params={"region": "529901", "year": YEAR}, headers=auth("county_staff.other")
    )
    assert r.status_code == 404


async def test_a_county_policy_changes_the_targets(client, auth):
    await _year(client, auth)
    h = auth(STAFF)
    r = await client.post(
        "/api/v1/fund-policies",
        headers=h,
        json={"region_prefix": "529901", "year": YEAR, "values": {"industry_min_share": {"central": "0.65"}}},
    )
    assert r.status_code == 201, r.text
    got = _by_id(
        (
            await client.get(
                "/api/v1/fund-indicators", headers=h, params={"region": "529901", "year": YEAR, "as_of": d(6, 30)}
            )
        ).json()
    )
    c = got["industry_share.central"]
    assert (c["target"], c["status"]) == ("0.6500", "on_track")  # 60 % + 50,000 unallocated: 65 % still possible
    eff = (
        await client.get("/api/v1/fund-policies/effective", params={"region": "529901", "year": YEAR}, headers=h)
    ).json()
    assert Decimal(eff["policy"]["industry_min_share"]["central"]) == Decimal("0.65")
    r = await client.post(
        "/api/v1/fund-policies",
        headers=h,
        json={"region_prefix": "529901", "year": YEAR + 1, "values": {"labour_pay_min_share": "1.5"}},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("values.labour_pay_min_share")


async def test_the_year_ends_with_assets_their_income_shared_and_the_public_pages(client, auth):
    w = await _year(client, auth)
    h = auth(STAFF)
    p1, p2 = w["p1"]["id"], w["p2"]["id"]
    tea = await create(
        client,
        f"/api/v1/projects/{p1}/assets",
        {
            "name": "茶园及加工厂",
            "asset_class": "operating",
            "value": "700000.00",
            "owner": "白岩村股份经济合作社",
            "custodian": "白岩村委会",
            "handover_on": d(11, 1),
        },
        h,
    )
    road = await create(
        client,
        f"/api/v1/projects/{p2}/assets",
        {
            "name": "通组路",
            "asset_class": "public_welfare",
            "value": "400000.00",
            "owner": "青杠村村民委员会",
            "handover_on": d(11, 10),
        },
        h,
    )
    from tests.api.funds_helpers import step

    r = await step(client, p1, "handed_over", d(11, 1), h)
    assert r.json()["status"] == "handed_over" and r.json()["next_steps"] == []

    # The tea base's first income: 10,000, of which 8,000 shared — 6,000 to the two lifted-out
    # households that work there, 2,000 to an ordinary one.
    beneficiaries = (await client.get(f"/api/v1/projects/{p1}/beneficiaries", headers=h)).json()["items"]
    ordinary = await create(
        client, "/api/v1/households", household(region=VILLAGE, category="ordinary", members=[person("head")]), h
    )
    shares = [{"household_id": b["household_id"], "amount": "3000.00"} for b in beneficiaries]
    shares.append({"household_id": ordinary["id"], "amount": "2000.00"})
    income = await create(
        client,
        f"/api/v1/assets/{tea['id']}/incomes",
        {"received_on": d(12, 20), "amount": "10000.00", "shares": shares},
        h,
    )
    assert (income["distributed"], income["priority_distributed"], income["priority_share"]) == (
        "8000.00",
        "6000.00",
        "0.7500",
    )

    # The year-end check: the road has no custodian; the tea base earns.
    r = await client.post("/api/v1/fund-findings/scan", json={"region": "529901", "as_of": d(12, 31)}, headers=h)
    assert r.status_code == 200, r.text
    found = (await client.get("/api/v1/fund-findings", params={"status": "open"}, headers=h)).json()["items"]
    assert [(f["rule_id"], f["asset_id"]) for f in found] == [("public_asset_no_custodian", road["id"])]

    # What the county website shows: every project in the library, its money and sources, how many
    # households it benefits — and nothing personal.
    r = await client.get("/api/v1/public/projects", params={"region": "529901", "year": YEAR})
    assert r.status_code == 200, r.text
    public = {p["id"]: p for p in r.json()["items"]}
    assert set(public) == {w[k]["id"] for k in ("p1", "p2", "p3", "p4")}
    assert (public[p1]["allocated"], public[p1]["disbursed"], public[p1]["beneficiary_households"]) == (
        "700000.00",
        "657000.00",
        2,
    )
    assert sorted((s["level"], s["kind"], s["amount"]) for s in public[p1]["fund_sources"]) == [
        ("central", "transition", "600000.00"),
        ("provincial", "transition", "100000.00"),
    ]
    assert public[w["p3"]["id"]]["labour_pay"] == "32000.00"
    text = r.text
    for b in beneficiaries:
        assert f'"household_id":{b["household_id"]}' not in text.replace(" ", "")
    assert "household_id" not in text and "id_number" not in text and "voucher" not in text
