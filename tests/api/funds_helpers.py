"""Helpers of the funds tests: create funds and projects through the API and walk a project
through its lifecycle."""

from __future__ import annotations

from datetime import date

from services.core.funds.enums import LIFECYCLE
from services.core.timeutil import today as china_today

YEAR = china_today().year - 1  # a whole past year: every day of it may be entered


def d(month: int, day: int, year: int = YEAR) -> str:
    return date(year, month, day).isoformat()


def fund_body(level="central", kind="transition", amount="1000000.00", received=None, **kw) -> dict:
    return {
        "year": YEAR,
        "level": level,
        "kind": kind,
        "name": f"{YEAR}年{level}{kind}资金",
        "document_ref": "财农〔2026〕1号",
        "region_code": "529901000000",
        "amount": amount,
        "received_on": received or d(1, 10),
        **kw,
    }


def project_body(region: str, category: str = "industry", name: str = "茶叶种植基地", **kw) -> dict:
    return {
        "year": YEAR,
        "region_code": region,
        "name": name,
        "category": category,
        "location": "白岩村二组",
        "implementing_unit": "县农业农村局",
        "content": "新建茶园 500 亩",
        "budget": "700000.00",
        "performance_targets": [{"indicator": "带动脱贫户增收", "target": "120", "unit": "户"}],
        "farmer_links": "务工+分红",
        "planned_start": d(3, 1),
        "planned_end": d(10, 31),
        "proposed_on": d(2, 10),
        **kw,
    }


async def create(client, path: str, body: dict, headers: dict, status: int = 201) -> dict:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


async def step(
    client, project_id: int, status: str, on: str, headers: dict, note: str | None = None, expect: int = 200
):
    etag = (await client.get(f"/api/v1/projects/{project_id}", headers=headers)).headers["etag"]
    r = await client.post(
        f"/api/v1/projects/{project_id}/steps",
        json={"status": status, "on": on, "note": note},
        headers={**headers, "If-Match": etag},
    )
    assert r.status_code == expect, r.text
    return r


async def walk(client, project_id: int, until: str, days: dict[str, str], headers: dict) -> None:
    """Take the steps after ``proposed`` up to ``until``, each on its day in ``days``."""
    for status in LIFECYCLE[1 : LIFECYCLE.index(until) + 1]:
        await step(client, project_id, status.value, days[status.value], headers)


async def funds_objects(client, headers: dict, village: str, household_id: int) -> dict:
    """For the route suites (access matrix, mass assignment, schemathesis): in ``village``'s
    county a fund of this year, a proposed project and an approved one with money of the
    fund, one payment, a beneficiary and a funds policy override for the village."""
    today = china_today()
    this_year = {
        "year": today.year,
        "planned_start": date(today.year, 1, 1).isoformat(),
        "planned_end": date(today.year, 12, 31).isoformat(),
        "proposed_on": today.isoformat(),
    }
    fund = await create(
        client,
        "/api/v1/funds",
        {**fund_body(received=today.isoformat()), "year": today.year, "region_code": village[:6] + "000000"},
        headers,
    )
    proposed = await create(client, "/api/v1/projects", project_body(village, **this_year), headers)
    approved = await create(client, "/api/v1/projects", project_body(village, name="通村路", **this_year), headers)
    for status in ("reviewed", "approved"):
        await step(client, approved["id"], status, today.isoformat(), headers)
    await create(
        client,
        f"/api/v1/funds/{fund['id']}/allocations",
        {"project_id": approved["id"], "amount": "5000.00", "allocated_on": today.isoformat()},
        headers,
    )
    await create(
        client,
        f"/api/v1/projects/{approved['id']}/disbursements",
        {
            "fund_id": fund["id"],
            "amount": "100.00",
            "paid_on": today.isoformat(),
            "voucher_ref": "记-1",
            "item": "materials",
        },
        headers,
    )
    await create(
        client,
        f"/api/v1/projects/{approved['id']}/beneficiaries",
        {"household_id": household_id, "benefit": "务工"},
        headers,
    )
    policy = await create(
        client,
        "/api/v1/fund-policies",
        {"region_prefix": village, "year": today.year, "values": {"asset_idle_months": 9}},
        headers,
    )
    return {
        "fund_id": fund["id"],
        "project_id": proposed["id"],
        "approved_project_id": approved["id"],
        "fund_policy_id": policy["id"],
        "county": village[:6],
        "fund_year": today.year,
    }
