"""Project assets (扶贫项目资产): registration from accepted projects, status and disposal,
income and its distribution, and the asset findings (idle operating assets, public assets
without a custodian, household assets of households no longer in the registry)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from services.core.funds.enums import ProjectStatus
from services.core.timeutil import today as china_today
from tests.api.asset_helpers import add_project, asset_body
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, household, person

COUNTY = "county_staff.county"
OTHER = "county_staff.other"
MISSING = 987654321
TODAY = china_today()


def ago(days: int) -> str:
    return str(TODAY - timedelta(days=days))


async def _household(client, auth, village=VILLAGE, user=COUNTY, **kw) -> dict:
    r = await client.post(
        "/api/v1/households", json=household(region=village, members=[person("head")], **kw), headers=auth(user)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _register(client, auth, project_id: int, user=COUNTY, expect=201, **kw) -> dict:
    r = await client.post(f"/api/v1/projects/{project_id}/assets", json=asset_body(**kw), headers=auth(user))
    assert r.status_code == expect, r.text
    return r.json()


def _problem(r, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    return body


async def _etag(client, headers, asset_id: int) -> str:
    r = await client.get(f"/api/v1/assets/{asset_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def _set_household(db, household_id: int, **values) -> None:
    from services.core.households.models import Household
    from services.core.scope import UNRESTRICTED, bind_scope

    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        await session.execute(update(Household).where(Household.id == household_id).values(**values))
        await session.commit()
    finally:
        await session.close()


async def _scan(client, auth, user=COUNTY, **body) -> dict:
    r = await client.post("/api/v1/fund-findings/scan", json=body, headers=auth(user))
    assert r.status_code == 200, r.text
    return r.json()


async def _findings(client, auth, asset_id: int, **params) -> list[dict]:
    r = await client.get("/api/v1/fund-findings", params={"asset_id": asset_id, **params}, headers=auth(COUNTY))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# ---------------------------------------------------------------- registration


async def test_register_an_asset_from_an_accepted_project(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    r = await client.post(f"/api/v1/projects/{project_id}/assets", json=asset_body(note="30 亩"), headers=auth(COUNTY))
    assert r.status_code == 201, r.text
    asset = r.json()
    assert r.headers["location"] == f"/api/v1/assets/{asset['id']}"
    assert r.headers["etag"] == f'"asset-{asset["id"]}-v1"'
    assert asset["region_code"] == VILLAGE and asset["project_id"] == project_id
    assert asset["value"] == "320000.00" and asset["status"] == "in_use" and asset["last_income_on"] is None
    got = await client.get(f"/api/v1/assets/{asset['id']}", headers=auth("village_staff.village"))
    assert got.status_code == 200 and got.json() == asset
    # listed by project, class, status and region; not under another region
    h = auth("township_staff.township")
    for params in ({"project_id": project_id}, {"asset_class": "operating"}, {"status": "in_use"}, {"region": VILLAGE}):
        r = await client.get("/api/v1/assets", params=params, headers=h)
        assert r.status_code == 200, r.text
        assert asset["id"] in [a["id"] for a in r.json()["items"]], params
    r = await client.get("/api/v1/assets", params={"region": VILLAGE_2}, headers=h)
    assert asset["id"] not in [a["id"] for a in r.json()["items"]]
    r = await client.get("/api/v1/assets", params={"asset_class": "household"}, headers=h)
    assert asset["id"] not in [a["id"] for a in r.json()["items"]]


async def test_handed_over_projects_and_township_projects(client, auth, db):
    """A handed-over project registers too; a township's project places its asset in one of its villages."""
    project_id = await add_project(db, VILLAGE, ProjectStatus.handed_over)
    await _register(client, auth, project_id)
    township_project = await add_project(db, VILLAGE[:9] + "000")
    asset = await _register(client, auth, township_project, region_code=VILLAGE_2)
    assert asset["region_code"] == VILLAGE_2


@pytest.mark.parametrize("status", ["proposed", "approved", "started", "completed", "cancelled"])
async def test_only_accepted_projects_register_assets(client, auth, db, status):
    project_id = await add_project(db, VILLAGE, ProjectStatus(status))
    r = await client.post(f"/api/v1/projects/{project_id}/assets", json=asset_body(), headers=auth(COUNTY))
    body = _problem(r, 409, "project_not_accepted", "project_id")
    assert status in body["detail"]


async def test_household_assets_name_their_household(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    hh = await _household(client, auth)
    asset = await _register(
        client, auth, project_id, asset_class="household", household_id=hh["id"], name="能繁母牛 2 头", custodian=None
    )
    assert asset["household_id"] == hh["id"] and asset["custodian"] is None
    r = await client.post(
        f"/api/v1/projects/{project_id}/assets", json=asset_body(asset_class="household"), headers=auth(COUNTY)
    )
    _problem(r, 422, "validation_failed", "household_id")
    assert r.json()["errors"][0]["code"] == "asset_household_required"
    r = await client.post(
        f"/api/v1/projects/{project_id}/assets", json=asset_body(household_id=hh["id"]), headers=auth(COUNTY)
    )
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "household_id",
        "code": "asset_household_forbidden",
        "message": r.json()["errors"][0]["message"],
    }


async def test_a_hidden_household_is_like_a_missing_one(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    foreign = await _household(client, auth, OTHER_COUNTY_VILLAGE, user=OTHER)
    answers = []
    for household_id in (foreign["id"], MISSING):
        r = await client.post(
            f"/api/v1/projects/{project_id}/assets",
            headers=auth(COUNTY),
            json=asset_body(asset_class="household", household_id=household_id),
        )
        _problem(r, 404, "household_not_found", "household_id")
        answers.append({k: v for k, v in r.json().items() if k not in ("detail", "errors", "request_id")})
    assert answers[0] == answers[1]


async def test_region_and_dates_of_the_asset(client, auth, db):
    project_id = await add_project(db, VILLAGE, accepted_on=TODAY - timedelta(days=100))
    h = auth(COUNTY)
    path = f"/api/v1/projects/{project_id}/assets"
    r = await client.post(path, json=asset_body(region_code=VILLAGE_2), headers=h)
    _problem(r, 422, "asset_region_outside_project", "region_code")
    r = await client.post(path, json=asset_body(handover_on=ago(101)), headers=h)
    _problem(r, 422, "handover_before_acceptance", "handover_on")
    r = await client.post(path, json=asset_body(handover_on=str(TODAY + timedelta(days=1))), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "date_in_future"
    assert r.json()["field"] == "handover_on"
    assert (await _register(client, auth, project_id, handover_on=ago(100)))["handover_on"] == ago(100)


@pytest.mark.parametrize("value", ["-1.00", "12.345", "abc"])
async def test_asset_value_is_money(client, auth, db, value):
    project_id = await add_project(db, VILLAGE)
    r = await client.post(f"/api/v1/projects/{project_id}/assets", json=asset_body(value=value), headers=auth(COUNTY))
    assert r.status_code == 422 and r.json()["field"] == "value", r.text


async def test_projects_and_assets_elsewhere_answer_404_like_missing_ones(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    asset = await _register(client, auth, project_id)
    h = auth(OTHER)
    strip = ("detail", "errors", "request_id", "instance")
    for hidden, missing in [
        (f"/api/v1/projects/{project_id}/assets", f"/api/v1/projects/{MISSING}/assets"),
        (f"/api/v1/assets/{asset['id']}/incomes", f"/api/v1/assets/{MISSING}/incomes"),
    ]:
        a = await client.post(
            hidden, json={"received_on": ago(1), "amount": "10.00"} if "incomes" in hidden else asset_body(), headers=h
        )
        b = await client.post(
            missing,
            json={"received_on": ago(1), "amount": "10.00"} if "incomes" in missing else asset_body(),
            headers=h,
        )
        assert a.status_code == b.status_code == 404, (a.text, b.text)
        assert {k: v for k, v in a.json().items() if k not in strip} == {
            k: v for k, v in b.json().items() if k not in strip
        }
    for path in (f"/api/v1/assets/{asset['id']}", f"/api/v1/assets/{asset['id']}/incomes"):
        _problem(await client.get(path, headers=h), 404, "asset_not_found", "asset_id")
    _problem(
        await client.put(
            f"/api/v1/assets/{asset['id']}", headers={**h, "If-Match": "*"}, json={"owner": "x", "status": "idle"}
        ),
        404,
        "asset_not_found",
        "asset_id",
    )
    r = await client.get("/api/v1/assets", params={"project_id": project_id}, headers=h)
    _problem(r, 404, "project_not_found", "project_id")
    r = await client.get("/api/v1/assets", headers=h)
    assert asset["id"] not in [a["id"] for a in r.json()["items"]]
    # a role without assets:write
    r = await client.post(
        f"/api/v1/projects/{project_id}/assets", json=asset_body(), headers=auth("township_staff.township")
    )
    assert r.status_code == 403


async def test_list_pages_by_id(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    ids = [(await _register(client, auth, project_id, name=f"资产{i}"))["id"] for i in range(3)]
    seen, cursor = [], None
    while True:
        params = {"project_id": project_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/assets", params=params, headers=auth(COUNTY))).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    r = await client.get("/api/v1/assets", params={"cursor": "bm90IGpzb24"}, headers=auth(COUNTY))
    _problem(r, 422, "cursor_invalid", "cursor")


# ---------------------------------------------------------------- update and disposal


async def test_update_needs_if_match(client, auth, db):
    asset = await _register(client, auth, await add_project(db, VILLAGE))
    path = f"/api/v1/assets/{asset['id']}"
    body = {"owner": "白岩村股份经济合作社", "custodian": "李管护", "status": "idle", "note": "冬季停产"}
    h = auth("village_staff.village")
    _problem(await client.put(path, json=body, headers=h), 428, "precondition_required")
    stale = f'"asset-{asset["id"]}-v0"'
    _problem(await client.put(path, json=body, headers={**h, "If-Match": stale}), 412, "precondition_failed")
    r = await client.put(path, json=body, headers={**h, "If-Match": await _etag(client, h, asset["id"])})
    assert r.status_code == 200, r.text
    assert r.json()["custodian"] == "李管护" and r.json()["status"] == "idle" and r.json()["version"] == 2
    assert r.headers["etag"] == f'"asset-{asset["id"]}-v2"'
    r = await client.put(path, json={**body, "status": "disposed"}, headers={**h, "If-Match": "*"})
    assert r.status_code == 422 and r.json()["field"] == "status"


async def test_disposal(client, auth, db):
    asset = await _register(client, auth, await add_project(db, VILLAGE), handover_on=ago(300))
    path = f"/api/v1/assets/{asset['id']}/disposal"
    body = {
        "method": "scrapping",
        "reason": "大棚被冰雹损毁，无修复价值",
        "approval": "清农资〔2026〕12号",
        "disposed_on": ago(3),
    }
    h = auth(COUNTY)
    _problem(await client.post(path, json=body, headers=h), 428, "precondition_required")
    _problem(await client.post(path, json=body, headers={**h, "If-Match": '"asset-1-v9"'}), 412, "precondition_failed")
    tag = await _etag(client, h, asset["id"])
    for missing in ("reason", "approval", "method", "disposed_on"):
        r = await client.post(
            path, json={k: v for k, v in body.items() if k != missing}, headers={**h, "If-Match": tag}
        )
        assert r.status_code == 422 and r.json()["field"] == missing, r.text
    r = await client.post(path, json={**body, "disposed_on": ago(301)}, headers={**h, "If-Match": tag})
    _problem(r, 422, "date_before_handover", "disposed_on")
    r = await client.post(
        path, json={**body, "disposed_on": str(TODAY + timedelta(days=2))}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 422 and r.json()["field"] == "disposed_on"
    r = await client.post(path, json=body, headers={**h, "If-Match": tag})
    assert r.status_code == 200, r.text
    disposed = r.json()
    assert disposed["status"] == "disposed" and disposed["disposal_method"] == "scrapping"
    assert disposed["disposal_approval"] == "清农资〔2026〕12号" and disposed["disposed_on"] == ago(3)
    # A disposed asset changes no more.
    tag = r.headers["etag"]
    _problem(await client.post(path, json=body, headers={**h, "If-Match": tag}), 409, "asset_disposed", "asset_id")
    r = await client.put(
        f"/api/v1/assets/{asset['id']}", json={"owner": "x", "status": "in_use"}, headers={**h, "If-Match": tag}
    )
    _problem(r, 409, "asset_disposed", "asset_id")
    r = await client.post(
        f"/api/v1/assets/{asset['id']}/incomes", json={"received_on": ago(1), "amount": "10.00"}, headers=h
    )
    _problem(r, 409, "asset_disposed", "asset_id")
    r = await client.get("/api/v1/assets", params={"status": "disposed"}, headers=h)
    assert [a["id"] for a in r.json()["items"]] == [asset["id"]]


# ---------------------------------------------------------------- income and its distribution


async def test_income_and_its_distribution(client, auth, db):
    """1000 yuan: 300 to a lifted-out household, 200 to a monitored one, 100 to an ordinary
    one: 600 distributed, 500 of it with priority (0.8333)."""
    asset = await _register(client, auth, await add_project(db, VILLAGE), handover_on=ago(200))
    lifted = await _household(client, auth)
    monitored = await _household(client, auth)
    ordinary = await _household(client, auth, VILLAGE_2, category="ordinary")
    await _set_household(db, monitored["id"], category="monitored", previous_category="lifted_out")
    body = {
        "received_on": ago(10),
        "amount": "1000.00",
        "note": "2026 年分红",
        "shares": [
            {"household_id": lifted["id"], "amount": "300.00"},
            {"household_id": monitored["id"], "amount": "200"},
            {"household_id": ordinary["id"], "amount": "100.00"},
        ],
    }
    r = await client.post(f"/api/v1/assets/{asset['id']}/incomes", json=body, headers=auth("village_staff.village"))
    # the village's staff cannot see VILLAGE_2's household: as if it did not exist
    _problem(r, 404, "household_not_found", "shares[2].household_id")
    r = await client.post(f"/api/v1/assets/{asset['id']}/incomes", json=body, headers=auth(COUNTY))
    assert r.status_code == 201, r.text
    income = r.json()
    assert r.headers["location"] == f"/api/v1/assets/{asset['id']}/incomes"
    assert income["amount"] == "1000.00" and income["distributed"] == "600.00"
    assert income["priority_distributed"] == "500.00" and income["priority_share"] == "0.8333"
    assert [(s["household_id"], s["category"], s["amount"]) for s in income["shares"]] == [
        (lifted["id"], "lifted_out", "300.00"),
        (monitored["id"], "monitored", "200.00"),
        (ordinary["id"], "ordinary", "100.00"),
    ]
    assert (await client.get(f"/api/v1/assets/{asset['id']}", headers=auth(COUNTY))).json()["last_income_on"] == ago(10)

    # The share keeps the category of the day; an older income does not move last_income_on back.
    await _set_household(db, monitored["id"], category="lifted_out")
    r = await client.post(
        f"/api/v1/assets/{asset['id']}/incomes", headers=auth(COUNTY), json={"received_on": ago(20), "amount": "50.00"}
    )
    assert r.status_code == 201 and r.json()["priority_share"] is None and r.json()["shares"] == []
    assert (await client.get(f"/api/v1/assets/{asset['id']}", headers=auth(COUNTY))).json()["last_income_on"] == ago(10)
    page = (await client.get(f"/api/v1/assets/{asset['id']}/incomes", headers=auth(COUNTY))).json()
    assert [i["amount"] for i in page["items"]] == ["50.00", "1000.00"]
    assert page["items"][1]["shares"][1]["category"] == "monitored"
    assert page["items"][1]["priority_share"] == "0.8333"
    # The village's staff see the shares of their own village's households only.
    page = (
        await client.get(
            f"/api/v1/assets/{asset['id']}/incomes", params={"limit": 1}, headers=auth("village_staff.village")
        )
    ).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    page = (
        await client.get(
            f"/api/v1/assets/{asset['id']}/incomes",
            params={"cursor": page["next_cursor"]},
            headers=auth("village_staff.village"),
        )
    ).json()
    assert [s["household_id"] for s in page["items"][0]["shares"]] == [lifted["id"], monitored["id"]]


async def test_income_refusals(client, auth, db):
    asset = await _register(client, auth, await add_project(db, VILLAGE), handover_on=ago(200))
    a, b = await _household(client, auth), await _household(client, auth)
    foreign = await _household(client, auth, OTHER_COUNTY_VILLAGE, user=OTHER)
    path = f"/api/v1/assets/{asset['id']}/incomes"
    h = auth(COUNTY)

    def body(**kw):
        return {"received_on": ago(5), "amount": "100.00", **kw}

    r = await client.post(
        path,
        json=body(shares=[{"household_id": a["id"], "amount": "60.00"}, {"household_id": b["id"], "amount": "40.01"}]),
        headers=h,
    )
    err = _problem(r, 422, "shares_exceed_income", "shares")
    assert "100.01" in err["errors"][0]["message"] and "100.00" in err["errors"][0]["message"]
    r = await client.post(
        path,
        json=body(shares=[{"household_id": a["id"], "amount": "10.00"}, {"household_id": a["id"], "amount": "10.00"}]),
        headers=h,
    )
    _problem(r, 422, "share_household_twice", "shares[1].household_id")
    for hidden in (foreign["id"], MISSING):
        r = await client.post(
            path,
            json=body(shares=[{"household_id": a["id"], "amount": "1.00"}, {"household_id": hidden, "amount": "1.00"}]),
            headers=h,
        )
        _problem(r, 404, "household_not_found", "shares[1].household_id")
    for amount in ("0", "-5.00", "1.001"):
        r = await client.post(path, json=body(amount=amount), headers=h)
        assert r.status_code == 422 and r.json()["field"] == "amount", r.text
        r = await client.post(path, json=body(shares=[{"household_id": a["id"], "amount": amount}]), headers=h)
        assert r.status_code == 422 and r.json()["field"] == "shares[0].amount", r.text
    r = await client.post(path, json=body(received_on=ago(201)), headers=h)
    _problem(r, 422, "date_before_handover", "received_on")
    r = await client.post(path, json=body(received_on=str(TODAY + timedelta(days=1))), headers=h)
    assert r.status_code == 422 and r.json()["field"] == "received_on"
    await _set_household(db, b["id"], status="dissolved")
    r = await client.post(path, json=body(shares=[{"household_id": b["id"], "amount": "1.00"}]), headers=h)
    _problem(r, 409, "household_dissolved", "shares[0].household_id")
    # Household assets are the household's own: no income recorded here.
    owner = await _household(client, auth)
    cow = await _register(
        client, auth, await add_project(db, VILLAGE), asset_class="household", household_id=owner["id"]
    )
    r = await client.post(f"/api/v1/assets/{cow['id']}/incomes", json=body(), headers=h)
    _problem(r, 409, "asset_earns_no_income", "asset_id")
    # nothing was recorded
    page = (await client.get(path, headers=h)).json()
    assert page["items"] == []
    # public-welfare assets may earn (a rented public building)
    hall = await _register(client, auth, await add_project(db, VILLAGE), asset_class="public_welfare")
    r = await client.post(f"/api/v1/assets/{hall['id']}/incomes", json=body(), headers=h)
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- findings


async def test_scan_idle_operating_asset_and_income_resolves_it(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    idle = await _register(client, auth, project_id, handover_on=ago(250))
    fresh = await _register(client, auth, project_id, handover_on=ago(30))
    counts = await _scan(client, auth)
    assert counts["region"] == "529901" and counts["as_of"] == str(TODAY)
    assert counts["rules"]["idle_operating_asset"] == {"found": 1, "new": 1, "resolved": 0}
    [finding] = await _findings(client, auth, idle["id"])
    assert finding["rule_id"] == "idle_operating_asset" and finding["status"] == "open"
    assert finding["project_id"] == project_id and finding["region_code"] == VILLAGE
    assert finding["values"]["idle_months"] == 6 and finding["values"]["last_income_on"] is None
    assert await _findings(client, auth, fresh["id"]) == []
    # seen again: not new
    assert (await _scan(client, auth))["rules"]["idle_operating_asset"] == {"found": 1, "new": 0, "resolved": 0}
    # as of a day before the asset was idle for six months: nothing
    early = await _scan(client, auth, as_of=ago(200))
    assert early["rules"]["idle_operating_asset"] == {"found": 0, "new": 0, "resolved": 1}
    await _scan(client, auth)
    # income resolves it
    r = await client.post(
        f"/api/v1/assets/{idle['id']}/incomes", json={"received_on": ago(2), "amount": "800.00"}, headers=auth(COUNTY)
    )
    assert r.status_code == 201
    assert (await _scan(client, auth))["rules"]["idle_operating_asset"] == {"found": 0, "new": 0, "resolved": 1}
    [finding] = await _findings(client, auth, idle["id"])
    assert finding["status"] == "resolved" and finding["resolved_at"] is not None
    assert (await _findings(client, auth, idle["id"], status="open")) == []
    # an idle (not in use) asset is not an "idle operating asset in use"
    tag = await _etag(client, auth(COUNTY), fresh["id"])
    await client.put(
        f"/api/v1/assets/{fresh['id']}",
        json={"owner": "村集体", "status": "idle"},
        headers={**auth(COUNTY), "If-Match": tag},
    )
    assert (await _scan(client, auth, as_of=str(TODAY)))["rules"]["idle_operating_asset"]["found"] == 0


async def test_idle_months_come_from_the_county_policy(client, auth, db):
    from services.core.funds.models import FundPolicyRow
    from services.core.scope import UNRESTRICTED, bind_scope

    asset = await _register(client, auth, await add_project(db, VILLAGE), handover_on=ago(250))
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    session.add(FundPolicyRow(region_prefix="529901", year=TODAY.year - 5, values={"asset_idle_months": 12}))
    await session.commit()
    await session.close()
    assert (await _scan(client, auth))["rules"]["idle_operating_asset"]["found"] == 0
    assert await _findings(client, auth, asset["id"]) == []


async def test_a_village_policy_overrides_its_county(client, auth, db):
    """The idle months of a village with an override of its own (4) beat the county's (12)."""
    from services.core.funds.models import FundPolicyRow
    from services.core.scope import UNRESTRICTED, bind_scope

    here = await _register(client, auth, await add_project(db, VILLAGE), handover_on=ago(150))
    there = await _register(client, auth, await add_project(db, VILLAGE_2), handover_on=ago(150))
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    session.add_all(
        [
            FundPolicyRow(region_prefix="529901", year=TODAY.year - 5, values={"asset_idle_months": 12}),
            FundPolicyRow(region_prefix=VILLAGE, year=TODAY.year - 5, values={"asset_idle_months": 4}),
        ]
    )
    await session.commit()
    await session.close()
    for region in ({}, {"region": VILLAGE}, {"region": VILLAGE[:9]}):
        assert (await _scan(client, auth, **region))["rules"]["idle_operating_asset"]["found"] == 1, region
    [finding] = await _findings(client, auth, here["id"])
    assert finding["values"]["idle_months"] == 4
    assert await _findings(client, auth, there["id"]) == []


async def test_scan_public_asset_without_custodian(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    road = await _register(client, auth, project_id, asset_class="public_welfare", name="通组路", custodian=None)
    blank = await _register(client, auth, project_id, asset_class="public_welfare", name="水池", custodian="  ")
    kept = await _register(client, auth, project_id, asset_class="public_welfare", name="文化广场")
    rules = (await _scan(client, auth, region=VILLAGE))["rules"]
    assert rules["public_asset_no_custodian"] == {"found": 2, "new": 2, "resolved": 0}
    assert blank["custodian"] is None
    assert await _findings(client, auth, kept["id"]) == []
    h = auth("village_staff.village")
    tag = await _etag(client, h, road["id"])
    r = await client.put(
        f"/api/v1/assets/{road['id']}",
        json={"owner": "村集体", "custodian": "村护路员", "status": "in_use"},
        headers={**h, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    rules = (await _scan(client, auth, user="village_staff.village"))["rules"]
    assert rules["public_asset_no_custodian"] == {"found": 1, "new": 0, "resolved": 1}
    assert (await _findings(client, auth, road["id"]))[0]["status"] == "resolved"
    # Taken away again: the same finding opens again.
    tag = await _etag(client, h, road["id"])
    await client.put(
        f"/api/v1/assets/{road['id']}", json={"owner": "村集体", "status": "in_use"}, headers={**h, "If-Match": tag}
    )
    rules = (await _scan(client, auth))["rules"]
    assert rules["public_asset_no_custodian"] == {"found": 2, "new": 1, "resolved": 0}
    [finding] = await _findings(client, auth, road["id"])
    assert finding["status"] == "open" and finding["resolved_at"] is None


async def test_scan_household_asset_of_a_dissolved_household(client, auth, db):
    project_id = await add_project(db, VILLAGE)
    keeper, leaver = await _household(client, auth), await _household(client, auth)
    cow = await _register(client, auth, project_id, asset_class="household", household_id=leaver["id"])
    assert (await _scan(client, auth))["rules"]["household_asset_orphaned"]["found"] == 0
    r = await client.post(
        f"/api/v1/households/{keeper['id']}/merge", json={"household_id": leaver["id"]}, headers=auth(COUNTY)
    )
    assert r.status_code == 200, r.text
    assert (await _scan(client, auth))["rules"]["household_asset_orphaned"] == {"found": 1, "new": 1, "resolved": 0}
    [finding] = await _findings(client, auth, cow["id"], rule_id="household_asset_orphaned")
    assert finding["values"]["household_id"] == leaver["id"]
    assert finding["values"]["household_status"] == "dissolved"
    # disposing of the asset (transferred to the household it merged into) resolves it
    tag = await _etag(client, auth(COUNTY), cow["id"])
    r = await client.post(
        f"/api/v1/assets/{cow['id']}/disposal",
        headers={**auth(COUNTY), "If-Match": tag},
        json={
            "method": "transfer",
            "reason": "随户合并转入",
            "approval": "石门镇〔2026〕3号",
            "disposed_on": str(TODAY),
        },
    )
    assert r.status_code == 200, r.text
    assert (await _scan(client, auth))["rules"]["household_asset_orphaned"] == {"found": 0, "new": 0, "resolved": 1}


async def test_scan_region_and_permissions(client, auth, db):
    other_project = await add_project(db, OTHER_COUNTY_VILLAGE)
    theirs = await _register(client, auth, other_project, user=OTHER, asset_class="public_welfare", custodian=None)
    # county A's scan does not reach county B
    await _scan(client, auth)
    assert (await _scan(client, auth, user=OTHER))["rules"]["public_asset_no_custodian"]["new"] == 1
    for region in ("529902", "52", "529903"):
        r = await client.post("/api/v1/fund-findings/scan", json={"region": region}, headers=auth(COUNTY))
        _problem(r, 404, "region_not_found", "region")
    r = await client.post("/api/v1/fund-findings/scan", json={"region": "5299011"}, headers=auth(COUNTY))
    assert r.status_code == 422 and r.json()["field"] == "region"
    r = await client.post(
        "/api/v1/fund-findings/scan", json={"as_of": str(TODAY + timedelta(days=1))}, headers=auth(COUNTY)
    )
    assert r.status_code == 422 and r.json()["field"] == "as_of"
    r = await client.post("/api/v1/fund-findings/scan", json={}, headers=auth("township_staff.township"))
    assert r.status_code == 403
    # findings elsewhere: 404 like missing ones, and not listed
    [finding] = (
        await client.get("/api/v1/fund-findings", params={"asset_id": theirs["id"]}, headers=auth(OTHER))
    ).json()["items"]
    for fid in (finding["id"], MISSING):
        r = await client.get(f"/api/v1/fund-findings/{fid}", headers=auth(COUNTY))
        _problem(r, 404, "fund_finding_not_found", "fund_finding_id")
    r = await client.get("/api/v1/fund-findings", params={"asset_id": theirs["id"]}, headers=auth(COUNTY))
    _problem(r, 404, "asset_not_found", "asset_id")
    r = await client.get("/api/v1/fund-findings", params={"region": "529902"}, headers=auth(COUNTY))
    _problem(r, 404, "region_not_found", "region")
    r = await client.get("/api/v1/fund-findings", headers=auth(COUNTY))
    assert finding["id"] not in [f["id"] for f in r.json()["items"]]
    r = await client.get(f"/api/v1/fund-findings/{finding['id']}", headers=auth(OTHER))
    assert r.status_code == 200 and r.headers["etag"] == f'"fund_finding-{finding["id"]}-v{finding["version"]}"'
    r = await client.get("/api/v1/fund-findings", params={"rule_id": "no_such_rule"}, headers=auth(OTHER))
    assert r.status_code == 422 and r.json()["field"] == "rule_id"


async def test_record_inserts_refreshes_and_reopens(session):
    from services.core.funds import findings
    from services.core.funds.models import FundFinding

    first = await findings.record(session, "negative_list", "disbursement:1", VILLAGE, {"amount": "12.00"})
    assert first.fingerprint == "negative_list:disbursement:1" and first.status == "open" and first.version == 1
    first.status, first.resolved_at = "resolved", first.updated_at
    await session.flush()
    again = await findings.record(session, "negative_list", "disbursement:1", VILLAGE, {"amount": "15.00"})
    assert again.id == first.id and again.status == "open" and again.resolved_at is None
    assert again.values == {"amount": "15.00"} and again.version == 3
    assert again.last_seen_at >= again.first_seen_at
    other = await findings.record(session, "negative_list", "disbursement:2", VILLAGE, {})
    assert other.id != first.id
    assert isinstance(other, FundFinding) and Decimal(again.values["amount"]) == Decimal("15.00")


# ---------------------------------------------------------------- through the project library


async def test_a_project_through_acceptance_to_assets_handover_and_income(client, auth):
    """Through the project API: a project walked to acceptance registers its assets; the
    handover step needs them; income is distributed and the findings follow it."""
    from tests.api.funds_helpers import YEAR, create, d, project_body, step, walk

    h = auth(COUNTY)
    project = await create(client, "/api/v1/projects", project_body(VILLAGE, "industry", "茶叶加工厂"), h)
    days = {
        "reviewed": d(2, 20),
        "approved": d(2, 28),
        "tendering": d(3, 5),
        "started": d(3, 20),
        "completed": d(9, 30),
        "accepted": d(10, 15),
    }
    await walk(client, project["id"], "completed", days, h)
    r = await client.post(f"/api/v1/projects/{project['id']}/assets", json=asset_body(handover_on=d(10, 20)), headers=h)
    _problem(r, 409, "project_not_accepted", "project_id")
    await step(client, project["id"], "accepted", d(10, 15), h)
    r = await client.post(f"/api/v1/projects/{project['id']}/assets", json=asset_body(handover_on=d(10, 14)), headers=h)
    _problem(r, 422, "handover_before_acceptance", "handover_on")
    factory = await _register(
        client, auth, project["id"], name="茶叶加工厂房", value="450000.00", handover_on=d(10, 20)
    )
    road = await _register(
        client,
        auth,
        project["id"],
        name="厂区道路",
        asset_class="public_welfare",
        value="50000.00",
        custodian=None,
        handover_on=d(10, 20),
    )
    await step(client, project["id"], "handed_over", d(10, 20), h)
    listed = (await client.get("/api/v1/assets", params={"project_id": project["id"]}, headers=h)).json()["items"]
    assert [a["id"] for a in listed] == [road["id"], factory["id"]]

    lifted, ordinary = await _household(client, auth), await _household(client, auth, category="ordinary")
    r = await client.post(
        f"/api/v1/assets/{factory['id']}/incomes",
        headers=h,
        json={
            "received_on": d(12, 31),
            "amount": "36000.00",
            "note": f"{YEAR} 年租金",
            "shares": [
                {"household_id": lifted["id"], "amount": "20000.00"},
                {"household_id": ordinary["id"], "amount": "4000.00"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["distributed"], r.json()["priority_distributed"], r.json()["priority_share"]) == (
        "24000.00",
        "20000.00",
        "0.8333",
    )
    as_of = d(12, 31)
    rules = (await _scan(client, auth, as_of=as_of))["rules"]
    assert rules["idle_operating_asset"]["found"] == 0
    assert rules["public_asset_no_custodian"] == {"found": 1, "new": 1, "resolved": 0}
    [finding] = await _findings(client, auth, road["id"])
    assert finding["project_id"] == project["id"] and finding["values"]["asset_name"] == "厂区道路"
    r = await client.get(
        "/api/v1/fund-findings", params={"project_id": project["id"], "rule_id": "public_asset_no_custodian"}, headers=h
    )
    assert [f["id"] for f in r.json()["items"]] == [finding["id"]]
