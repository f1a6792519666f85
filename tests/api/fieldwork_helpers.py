"""Objects of field work to aim requests at (tests/api/test_scope_matrix.py,
tests/api/test_mass_assignment.py): roster members of a village, a campaign of that village
running today with a team, and a visit with a finding."""

from __future__ import annotations

from datetime import timedelta

from services.core.timeutil import today as china_today


def month_now() -> str:
    day = china_today()
    return f"{day.year:04d}-{day.month:02d}"


def member_body(village: str, role: str = "information_officer", **kw) -> dict:
    return {
        "name": "李信息",
        "phone": "13812345678",
        "role": role,
        "region_code": village,
        "active_from": "2026-01-01",
        **kw,
    }


def campaign_body(prefix: str, **kw) -> dict:
    day = china_today()
    return {
        "name": "大走访大排查",
        "region_prefix": prefix,
        "starts_on": str(day - timedelta(days=10)),
        "ends_on": str(day + timedelta(days=20)),
        **kw,
    }


async def fieldwork_objects(client, headers, village: str, household_id: int, other_household_id: int) -> dict:
    """``roster_member_id`` (a village-based team member of ``village``), ``campaign_id`` (a campaign
    of the village, running), ``attendance_id`` (its record of last month), ``team_member_ids`` (two information officers), ``campaign_visit_id``
    (``other_household_id`` visited, with a finding): ``household_id`` is left to visit."""
    resident = await client.post("/api/v1/field-roster", json=member_body(village, "resident_team"), headers=headers)
    assert resident.status_code == 201, resident.text
    officers = []
    for name in ("王一", "赵二"):
        r = await client.post("/api/v1/field-roster", json=member_body(village, name=name), headers=headers)
        assert r.status_code == 201, r.text
        officers.append(r.json()["id"])
    campaign = await client.post("/api/v1/campaigns", json=campaign_body(village), headers=headers)
    assert campaign.status_code == 201, campaign.text
    cid = campaign.json()["id"]
    visit = await client.post(
        f"/api/v1/campaigns/{cid}/visits",
        json={
            "household_id": other_household_id,
            "checks": ["income", "housing"],
            "problems": ["housing"],
            "findings": "房屋墙体开裂",
            "photos": ["photo-1"],
        },
        headers=headers,
    )
    assert visit.status_code == 201, visit.text
    # a record of last month (the matrix records this month's)
    last = china_today().replace(day=1) - timedelta(days=1)
    attendance = await client.post(
        f"/api/v1/field-roster/{resident.json()['id']}/attendance",
        json={"month": f"{last.year:04d}-{last.month:02d}", "days": 12},
        headers=headers,
    )
    assert attendance.status_code == 201, attendance.text
    return {
        "attendance_id": attendance.json()["id"],
        "roster_member_id": resident.json()["id"],
        "team_member_ids": officers,
        "campaign_id": cid,
        "campaign_visit_id": visit.json()["id"],
        "month": month_now(),
    }
