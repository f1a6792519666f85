"""A small registry to aim requests at: households inside and outside a caller's regions.

Made through the API (so every row is what the service itself writes), inside the test's
rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.timeutil import today as china_today
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, VILLAGE_2, household, person

# An id no object has (sequences never get near it in a test session).
MISSING = 987654321
LAST_YEAR = china_today().year - 1
LINE = "6000.00"  # the world's monitoring income line (province 52, LAST_YEAR)


def income_body(year: int = LAST_YEAR, quarter: int = 1) -> dict:
    return {"year": year, "quarter": quarter, "wages": "100", "business": "0", "property": "0", "transfers": "0"}


@dataclass
class World:
    home: dict  # VILLAGE: head, spouse, child; with an income record
    neighbour: dict  # VILLAGE: head only
    village2: dict  # VILLAGE_2 (same township as VILLAGE): head, spouse
    foreign: dict  # OTHER_COUNTY_VILLAGE: head, spouse
    record: dict  # income record of ``home``
    foreign_record: dict  # income record of ``foreign``
    home_id_number: str
    foreign_id_number: str
    accounts: dict[str, int]  # user name -> id, as the county's administrator lists them
    client: dict  # a system client of the county
    line: dict  # the monitoring income line of LAST_YEAR for the province (52) of both counties
    policy: dict  # a policy override row of the county (LAST_YEAR; the default figures, so nothing changes)
    monitoring: dict | None = None  # tests/api/monitoring_helpers.monitoring_objects, when a test adds them
    sync: dict | None = None  # tests/api/sync_helpers.sync_objects, when a test adds them
    funds: dict | None = None  # tests/api/funds_helpers.funds_objects, when a test adds them
    assets: dict | None = None  # tests/api/asset_helpers.asset_objects, when a test adds them
    fieldwork: dict | None = None  # tests/api/fieldwork_helpers.fieldwork_objects, when a test adds them
    ledgers: dict | None = None  # tests/api/ledger_helpers.ledger_objects, when a test adds them
    subscription: dict | None = None  # a subscription of ``client``, and the client's headers, when a test adds them

    def member(self, which: str, index: int) -> int:
        return getattr(self, which)["members"][index]["id"]


async def _create(client, headers, village: str, members: list[dict]) -> dict:
    r = await client.post("/api/v1/households", json=household(region=village, members=members), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _income(client, headers, household_id: int) -> dict:
    r = await client.post(f"/api/v1/households/{household_id}/income-records", json=income_body(), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def make_world(client, auth) -> World:
    county, other = auth("county_staff.county"), auth("county_staff.other")
    home_head, foreign_head = person("head"), person("head", name="赵远")
    home = await _create(
        client, county, VILLAGE, [home_head, person("spouse", name="王芳"), person("child", name="张小明", male=True)]
    )
    neighbour = await _create(client, county, VILLAGE, [person("head", name="李邻")])
    village2 = await _create(client, county, VILLAGE_2, [person("head", name="陈二"), person("spouse", name="周二")])
    foreign = await _create(client, other, OTHER_COUNTY_VILLAGE, [foreign_head, person("spouse", name="钱远")])
    return World(
        home=home,
        neighbour=neighbour,
        village2=village2,
        foreign=foreign,
        record=await _income(client, county, home["id"]),
        foreign_record=await _income(client, other, foreign["id"]),
        home_id_number=home_head["id_number"],
        foreign_id_number=foreign_head["id_number"],
        accounts=await _accounts(client, auth("admin.county")),
        client=await _system_client(client, auth("admin.county")),
        line=await _income_line(client, auth("county_staff.province")),
        policy=await _policy(client, county),
    )


async def _accounts(client, admin) -> dict[str, int]:
    r = await client.get("/api/v1/admin/users", params={"limit": 200}, headers=admin)
    assert r.status_code == 200, r.text
    return {u["username"]: u["id"] for u in r.json()["items"]}


async def _system_client(client, admin) -> dict:
    r = await client.post(
        "/api/v1/admin/clients",
        headers=admin,
        json={"name": "world.medical", "permissions": ["persons:lookup"], "region_prefix": "529901"},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _income_line(client, provincial) -> dict:
    r = await client.put(
        f"/api/v1/income-lines/{LAST_YEAR}/52", json={"amount": LINE, "note": "省级文件"}, headers=provincial
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _policy(client, county) -> dict:
    r = await client.post(
        "/api/v1/monitoring-policies",
        headers=county,
        json={"region_prefix": "529901", "year": LAST_YEAR, "values": {"plan_days": 10}},
    )
    assert r.status_code == 201, r.text
    return r.json()
