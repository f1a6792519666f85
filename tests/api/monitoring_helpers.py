"""Helpers of the monitoring tests: report a clue, take a step with the case's ETag."""
from __future__ import annotations

from decimal import Decimal

from services.core.monitoring.models import IncomeLine


async def add_line(session, year: int, amount: str, province: str = "52") -> None:
    session.add(IncomeLine(year=year, province_code=province, amount=Decimal(amount)))
    await session.flush()


async def report(client, headers, household_id: int, risks=("illness",), channel="visit", on=None, **kw) -> dict:
    body = {"household_id": household_id, "channel": channel, "risk_types": list(risks),
            "evidence": "走访发现户主患病住院，医疗支出大", **kw}
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
    r = await client.post(f"/api/v1/risk-clues/{clue_id}/case", json={"case_type": case_type, **kw},
                          headers={**headers, "If-Match": tag})
    assert r.status_code in (200, 201), r.text
    return r.json()


async def step(client, headers, case_id: int, path: str, body: dict, expect: int = 200) -> dict:
    tag = await etag_of(client, headers, f"/api/v1/monitoring-cases/{case_id}")
    r = await client.post(f"/api/v1/monitoring-cases/{case_id}/{path}", json=body,
                          headers={**headers, "If-Match": tag})
    assert r.status_code == expect, r.text
    return r.json()
