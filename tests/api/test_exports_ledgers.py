"""Ledgers out for the ledgers of field work and follow-up: the clearing and rectification
ledgers, a campaign's visits and the households it has not visited, the overdue follow-up
list and the households missing a quarter's income. Each is its list's rows (scope,
filters, 404/403), in Chinese headers, as XLSX or CSV, and audited (docs/ledgers-out.md)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.api.fieldwork_helpers import campaign_body
from tests.api.ledger_helpers import ledger_objects
from tests.api.test_exports import audited_exports, column, csv_rows, sheet
from tests.api.world import make_world
from tests.factories import COUNTY, OTHER_TOWNSHIP_VILLAGE, VILLAGE, household, person

COUNTY_STAFF = "county_staff.county"
# Staff of township 529901001: never see a row of township 529901002.
OTHERS = ("township_staff.township", "village_staff.village")


@pytest.fixture
async def world(client, auth):
    return await make_world(client, auth)


async def _household_elsewhere(client, auth, name: str, **kw) -> dict:
    """A household of the county's other township (529901002), made by the county's staff."""
    r = await client.post(
        "/api/v1/households",
        json=household(region=OTHER_TOWNSHIP_VILLAGE, members=[person("head", name=name)], **kw),
        headers=auth(COUNTY_STAFF),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _not_theirs(client, auth, path: str, header: str, value, **params) -> None:
    """Staff of the other township find no ``value`` in the ledger, and a region of that
    township answers 404 as problem+json."""
    for user in OTHERS:
        r = await client.get(path, params=params, headers=auth(user))
        if r.status_code == 200:
            assert value not in column(sheet(r), header), (path, user)
        r = await client.get(path, params={**params, "region": OTHER_TOWNSHIP_VILLAGE}, headers=auth(user))
        assert r.status_code == 404, (path, user, r.text)
        assert r.headers["content-type"] == "application/problem+json"


# ---- the clearing ledger and the rectification ledger -----------------------------------------


async def test_clearing_and_rectification_ledgers(client, auth, world, db):
    elsewhere = await _household_elsewhere(client, auth, "钱清")
    theirs = await ledger_objects(db, OTHER_TOWNSHIP_VILLAGE, elsewhere["id"])
    ours = await ledger_objects(db, VILLAGE, world.home["id"])
    county = auth(COUNTY_STAFF)

    rows = sheet(await client.get("/api/v1/clearing-entries/export", headers=county))
    assert rows[0][:5] == ["台账标识", "所属行政村代码", "农户标识", "人员标识", "问题类别"]
    listed = (await client.get("/api/v1/clearing-entries", headers=county)).json()["items"]
    assert column(rows, "台账标识") == [e["id"] for e in listed]
    assert {theirs["clearing_entry_id"], ours["clearing_entry_id"]} <= set(column(rows, "台账标识"))
    assert set(column(rows, "问题类别")) == {"饮水安全"}  # labels, not codes
    assert set(column(rows, "清零状态")) == {"未清零"} and set(column(rows, "是否超期")) == {"否"}
    # the list's filters
    assert (
        len(sheet(await client.get("/api/v1/clearing-entries/export", params={"status": "cleared"}, headers=county)))
        == 1
    )
    of_home = sheet(
        await client.get("/api/v1/clearing-entries/export", params={"household_id": world.home["id"]}, headers=county)
    )
    assert column(of_home, "台账标识") == [ours["clearing_entry_id"]]
    r = await client.get("/api/v1/clearing-entries/export", params={"kind": "food"}, headers=county)
    assert r.status_code == 422
    await _not_theirs(client, auth, "/api/v1/clearing-entries/export", "台账标识", theirs["clearing_entry_id"])
    township = sheet(await client.get("/api/v1/clearing-entries/export", headers=auth("township_staff.township")))
    assert column(township, "台账标识") == [ours["clearing_entry_id"]]

    problems = csv_rows(await client.get("/api/v1/rectifications/export", params={"format": "csv"}, headers=county))
    assert problems[0][:4] == ["问题标识", "区划代码", "问题来源", "来源文号"]
    listed = (await client.get("/api/v1/rectifications", headers=county)).json()["items"]
    assert [int(v) for v in column(problems, "问题标识")] == [p["id"] for p in listed]
    assert set(column(problems, "问题来源")) == {"督查检查（含暗访）"}
    assert set(column(problems, "整改状态")) == {"整改中", "已申请销号，待审批"}
    requested = sheet(
        await client.get("/api/v1/rectifications/export", params={"status": "closure_requested"}, headers=county)
    )
    assert set(column(requested, "问题标识")) == {
        ours["requested_rectification_id"],
        theirs["requested_rectification_id"],
    }
    assert set(column(requested, "佐证材料编号")) == {"验收单-1"}
    await _not_theirs(client, auth, "/api/v1/rectifications/export", "问题标识", theirs["rectification_id"])

    # a grid worker does not read the ledgers, a department system neither
    for user in ("grid_worker.village", "department_system.county"):
        for path in ("/api/v1/clearing-entries/export", "/api/v1/rectifications/export"):
            assert (await client.get(path, headers=auth(user))).status_code == 403, (path, user)
    events = await audited_exports(db)
    assert {e["object_type"] for e in events} == {"clearing_entries", "rectifications"}
    first = events[0]
    assert (first["actor_name"], first["result"], first["detail"]["rows"]) == (COUNTY_STAFF, "success", len(rows) - 1)
    assert any(e["detail"]["filters"] == {"status": "closure_requested"} for e in events)
    assert any(e["detail"]["format"] == "csv" for e in events)


# ---- a campaign's visits and the households it has not visited ---------------------------------


async def test_campaign_visits_and_unvisited_ledgers(client, auth, world, db):
    county = auth(COUNTY_STAFF)
    elsewhere = await _household_elsewhere(client, auth, "孙访")
    r = await client.post("/api/v1/campaigns", json=campaign_body(COUNTY, checks=["income", "housing"]), headers=county)
    assert r.status_code == 201, r.text
    campaign = r.json()["id"]

    async def visit(household_id: int, user: str, findings: str) -> int:
        r = await client.post(
            f"/api/v1/campaigns/{campaign}/visits",
            json={
                "household_id": household_id,
                "checks": ["income", "housing"],
                "problems": ["housing"],
                "findings": findings,
            },
            headers=auth(user),
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    theirs = await visit(elsewhere["id"], COUNTY_STAFF, "=墙体开裂")
    ours = await visit(world.home["id"], "village_staff.village", "正常")
    visits = f"/api/v1/campaigns/{campaign}/visits/export"
    rows = sheet(await client.get(visits, headers=county))
    assert rows[0][:4] == ["走访记录标识", "行动标识", "农户标识", "所在村区划代码"]
    listed = (await client.get(f"/api/v1/campaigns/{campaign}/visits", headers=county)).json()["items"]
    assert (
        column(rows, "走访记录标识")
        == [v["id"] for v in listed]
        == sorted([ours, theirs], key=lambda v: {ours: world.home["id"], theirs: elsewhere["id"]}[v])
    )
    assert set(column(rows, "排查内容")) == {"收入情况、住房安全保障"}
    assert set(column(rows, "发现问题的项目")) == {"住房安全保障"}
    assert "'=墙体开裂" in column(rows, "排查发现")  # typed by anyone: defused
    # the township's staff see the county's campaign, and only their own township's visits
    for user in OTHERS:
        mine = sheet(await client.get(visits, headers=auth(user)))
        assert column(mine, "走访记录标识") == [ours], user
    await _not_theirs(client, auth, visits, "走访记录标识", theirs)

    unvisited = f"/api/v1/campaigns/{campaign}/unvisited/export"
    rows = sheet(await client.get(unvisited, headers=county))
    assert rows[0] == ["农户标识", "户编号", "所属行政村代码", "户主姓名", "户类型"]
    listed = (await client.get(f"/api/v1/campaigns/{campaign}/unvisited", headers=county)).json()["items"]
    assert column(rows, "农户标识") == [h["household_id"] for h in listed]
    assert world.neighbour["id"] in column(rows, "农户标识")
    assert world.home["id"] not in column(rows, "农户标识") and elsewhere["id"] not in column(rows, "农户标识")
    assert "脱贫户" in column(rows, "户类型")
    other = await _household_elsewhere(client, auth, "周未")
    assert other["id"] in column(sheet(await client.get(unvisited, headers=county)), "农户标识")
    await _not_theirs(client, auth, unvisited, "农户标识", other["id"])

    # a campaign of the other township is not the township's at all; a missing one neither
    r = await client.post(
        "/api/v1/campaigns", json=campaign_body(OTHER_TOWNSHIP_VILLAGE[:9], name="乡镇排查"), headers=county
    )
    assert r.status_code == 201, r.text
    for path in (f"/api/v1/campaigns/{r.json()['id']}/visits/export", "/api/v1/campaigns/999999999/unvisited/export"):
        r = await client.get(path, headers=auth("township_staff.township"))
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    for path in (visits, unvisited):
        assert (await client.get(path, headers=auth("department_system.county"))).status_code == 403
    events = await audited_exports(db)
    assert {e["object_type"] for e in events} == {"campaign_visits", "unvisited_households"}
    assert all(e["detail"]["filters"]["campaign_id"] == campaign for e in events)


# ---- follow-up: the overdue visits and the missing income -------------------------------------


async def test_follow_up_ledgers(client, auth, today_is, db):
    today_is(date(2026, 7, 1))
    county = auth(COUNTY_STAFF)
    r = await client.post(
        "/api/v1/households",
        json=household(members=[person("head", name="吴近")]),
        headers=auth("village_staff.village"),
    )
    assert r.status_code == 201, r.text
    near = r.json()
    far = await _household_elsewhere(client, auth, "郑远")

    overdue = "/api/v1/follow-up/overdue/export"
    rows = sheet(await client.get(overdue, params={"as_of": "2026-04-01"}, headers=county))
    assert rows[0][:5] == ["农户标识", "户编号", "户主姓名", "所属行政村代码", "跟踪原因"]
    listed = (await client.get("/api/v1/follow-up/overdue", params={"as_of": "2026-04-01"}, headers=county)).json()[
        "items"
    ]
    assert column(rows, "农户标识") == [i["household_id"] for i in listed]
    assert {near["id"], far["id"]} <= set(column(rows, "农户标识"))
    found = rows[1 + column(rows, "农户标识").index(far["id"])]
    row = dict(zip(rows[0], found + [None] * (len(rows[0]) - len(found)), strict=True))
    assert (row["户主姓名"], row["跟踪原因"], row["走访月份"], row["应走访截止日期"], row["逾期天数"]) == (
        "郑远",
        "脱贫户定期走访",
        "2026-03",
        "2026-03-31",
        1,
    )
    await _not_theirs(client, auth, overdue, "农户标识", far["id"], as_of="2026-04-01")
    mine = sheet(await client.get(overdue, params={"as_of": "2026-04-01"}, headers=auth("township_staff.township")))
    assert near["id"] in column(mine, "农户标识")

    missing = "/api/v1/follow-up/income-missing/export"
    quarter = {"year": 2025, "quarter": 3, "as_of": "2025-10-22"}
    rows = csv_rows(await client.get(missing, params={**quarter, "format": "csv"}, headers=county))
    assert rows[0] == [
        "农户标识",
        "户编号",
        "户主姓名",
        "所属行政村代码",
        "户类型",
        "季度",
        "录入截止日期",
        "截止日期为暂定",
        "帮扶责任人",
    ]
    listed = (await client.get("/api/v1/follow-up/income-missing", params=quarter, headers=county)).json()["items"]
    assert [int(v) for v in column(rows, "农户标识")] == [i["household_id"] for i in listed]
    assert {str(near["id"]), str(far["id"])} <= set(column(rows, "农户标识"))
    assert set(column(rows, "季度")) == {"2025年第3季度"} and set(column(rows, "录入截止日期")) == {"2025-10-21"}
    await _not_theirs(client, auth, missing, "农户标识", far["id"], **quarter)
    # the list's 422, before a byte of the file: the quarter is not due yet
    r = await client.get(
        missing, params={**quarter, "as_of": "2025-10-21"}, headers={**county, "Accept-Language": "zh"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "quarter"
    # a year alone is completed as the list completes it: 2025's last quarter that is due, Q4
    r = await client.get(missing, params={"year": 2025, "format": "csv"}, headers=county)
    assert r.status_code == 200 and "2025年第4季度" in r.content.decode("utf-8-sig")

    # an administrator reads neither list; a department system neither
    for user in ("admin.county", "department_system.county"):
        for path in (overdue, missing):
            assert (await client.get(path, params=quarter, headers=auth(user))).status_code == 403, (path, user)
    events = await audited_exports(db)
    assert {e["object_type"] for e in events} == {"overdue_follow_ups", "missing_income"}
    assert events[0]["detail"]["filters"] == {"as_of": "2026-04-01"}
    assert any(e["detail"]["filters"] == {"year": 2025, "quarter": 3, "as_of": "2025-10-22"} for e in events)
