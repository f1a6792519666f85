"""Helpers of the monitoring tests: report a clue, take a step with the case's ETag."""

from __future__ import annotations

from decimal import Decimal

from services.core.monitoring.models import IncomeLine
from services.core.timeutil import today as china_today


async def add_line(session, year: int, amount: str, province: str = "52") -> None:
    session.add(IncomeLine(year=year, province_code=province, amount=Decimal(amount)))
    await session.flush()


async def report(client, headers, household_id: int, risks=("illness",), channel="visit", on=None, **kw) -> dict:
    body = {
        "household_id": household_id,
        "channel": channel,
        "risk_types": list(risks),
        "evidence": "走访发现户主患病住院，医疗支出大",
        **kw,
    }
    if on is not None:
        body["reported_on"] = on
    r = await client.post("/api/v1/risk-clues", json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def etag_of(client, headers, path: str) -> str:
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def open_case(client, headers, clue_id: int, case_type="marginal", **kw) -> dict:
    tag = await etag_of(client, headers, f"/api/v1/risk-clues/{clue_id}")
    r = await client.post(
        f"/api/v1/risk-clues/{clue_id}/case", json={"case_type": case_type, **kw}, headers={**headers, "If-Match": tag}
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


async def step(client, headers, case_id: int, path: str, body: dict, expect: int = 200) -> dict:
    tag = await etag_of(client, headers, f"/api/v1/monitoring-cases/{case_id}")
    r = await client.post(f"/api/v1/monitoring-cases/{case_id}/{path}", json=body, headers={**headers, "If-Match": tag})
    assert r.status_code == expect, r.text
    return r.json()


async def monitoring_objects(client, headers, db, household_id: int, other_household_id: int) -> dict:
    """Objects to aim monitoring requests at: a case at its verification visit (``case_id``)
    for ``household_id``; for ``other_household_id`` an identified case under assistance
    (``assisting_case_id``) with a measure (``measure_id``) and an open clue (``clue_id``)."""
    import uuid
    from datetime import timedelta

    from services.core.monitoring.models import Measure, MonitoringCase

    case = await open_case(client, headers, (await report(client, headers, household_id, ["disaster"]))["id"])
    clue = await report(client, headers, other_household_id, ["unsafe_housing"])
    session = db.session()
    try:
        region = (await client.get(f"/api/v1/households/{other_household_id}", headers=headers)).json()["region_code"]
        start = china_today() - timedelta(days=60)
        assisting = MonitoringCase(
            household_id=other_household_id,
            region_code=region,
            case_type="marginal",
            risk_types=["unsafe_housing"],
            status="assisting",
            first_clue_on=start,
            opened_on=start,
            identified_on=start + timedelta(days=10),
            category_before="lifted_out",
            deadline_breaches=[],
        )
        session.add(assisting)
        await session.flush()
        measure = Measure(
            id=uuid.uuid4(),
            case_id=assisting.id,
            household_id=other_household_id,
            region_code=region,
            category="housing_safety",
            content="危房改造",
            responsible_unit="县住建局",
            planned_on=start + timedelta(days=12),
            start_on=start + timedelta(days=12),
            status="planned",
        )
        session.add(measure)
        await session.commit()
        ids = {
            "case_id": case["id"],
            "assisting_case_id": assisting.id,
            "measure_id": str(measure.id),
            "clue_id": clue["id"],
        }
    finally:
        await session.close()
    return ids


async def identify(client, auth, household_id: int, days: list[str], risks=("disaster",), **decision) -> dict:
    """Walk a new case through identification by the village's users; ``days`` are the days
    of the clue (and opening), verification, village review, notice result, township review
    and county approval."""
    village, grid = auth("village_staff.village"), auth("grid_worker.village")
    clue, verified, reviewed, noticed, township, county = days
    cid = (
        await open_case(
            client, village, (await report(client, grid, household_id, list(risks), on=clue))["id"], effective_on=clue
        )
    )["id"]
    await step(
        client,
        grid,
        cid,
        "verification",
        {"decision": "approve", "consent_signed": True, "findings": "属实", "effective_on": verified},
    )
    await step(client, village, cid, "village-review", {"decision": "approve", "effective_on": reviewed})
    await step(client, village, cid, "notice-result", {"decision": "approve", "effective_on": noticed})
    await step(
        client,
        auth("township_staff.township"),
        cid,
        "township-review",
        {"decision": "approve", "effective_on": township},
    )
    return await step(
        client,
        auth("county_approver.county"),
        cid,
        "county-decision",
        {"decision": "approve", "effective_on": county, **decision},
    )
