"""The county's decision on a monitoring case (县级审批) in a bounded number of SQL statements.

A step used to read the calendar in three statements, re-read what it had just written and
ask the same questions of the case twice: about 15 round trips on the county's approval. The
figures below are what the request path issues now (every statement the engine sends while
the request runs: the caller's account check, the case, the step, the audit event); a change
that adds round trips to the step must raise them on purpose, not silently."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event

from services.core.monitoring.models import Measure, MonitoringCase
from tests.api.monitoring_helpers import add_line, etag_of, open_case, report, step
from tests.api.test_households import create

# Measured (before this bound: 17 and 20). Each counts the SAVEPOINT and RELEASE of the test's
# rolled-back transaction: 7 statements of the request's own. Identification: the case with
# its facts, the policy context, the household locked, its update, the transition, the case's
# update, the audit event. Elimination: the guard's facts in one more read, no household
# update (its category was not changed by the identification here).
IDENTIFICATION_MAX = 9
ELIMINATION_MAX = 9
# A retried mobile request carries an Idempotency-Key: the key's claim (one INSERT … ON
# CONFLICT, taking over an expired record) and its stored response (one UPDATE) on top.
IDEMPOTENCY_COST = 2


@contextmanager
def counted(engine):
    """The SQL statements the engine sends inside the block."""
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def _decide(client, engine, headers, case_id: int, body: dict) -> tuple[dict, list[str]]:
    tag = await etag_of(client, headers, f"/api/v1/monitoring-cases/{case_id}")
    with counted(engine) as statements:
        r = await client.post(
            f"/api/v1/monitoring-cases/{case_id}/county-decision", json=body, headers={**headers, "If-Match": tag}
        )
    assert r.status_code == 200, r.text
    return r.json(), statements


@pytest.mark.parametrize("key", [None, "county-decision-1"])
async def test_county_identification_in_a_handful_of_statements(client, auth, engine, key):
    grid, village = auth("grid_worker.village"), auth("village_staff.village")
    home = await create(client, auth)
    clue = await report(client, grid, home["id"], ["illness"], on="2025-01-06")
    cid = (await open_case(client, village, clue["id"], effective_on="2025-01-07"))["id"]
    await step(
        client,
        grid,
        cid,
        "verification",
        {"decision": "approve", "consent_signed": True, "findings": "属实", "effective_on": "2025-01-08"},
    )
    await step(client, village, cid, "village-review", {"decision": "approve", "effective_on": "2025-01-09"})
    await step(client, village, cid, "notice-result", {"decision": "approve", "effective_on": "2025-01-14"})
    await step(
        client,
        auth("township_staff.township"),
        cid,
        "township-review",
        {"decision": "approve", "effective_on": "2025-01-16"},
    )
    approver = auth("county_approver.county", **({"Idempotency-Key": key} if key else {}))
    case, statements = await _decide(
        client, engine, approver, cid, {"decision": "approve", "effective_on": "2025-01-20"}
    )
    assert (case["status"], case["identified_on"], case["category_before"]) == ("assisting", "2025-01-20", "lifted_out")
    most = IDENTIFICATION_MAX + (IDEMPOTENCY_COST if key else 0)
    assert len(statements) <= most, "\n\n".join(statements)
    assert sum("idempotency_keys" in s for s in statements) == (IDEMPOTENCY_COST if key else 0)


async def test_county_elimination_in_a_handful_of_statements(client, auth, engine, session):
    cadre = auth("assistance_cadre.village")
    await add_line(session, 2025, "7300.00")
    home = await create(client, auth)
    hid = home["id"]
    for year, quarter in ((2024, 2), (2024, 3), (2024, 4), (2025, 1), (2025, 2), (2025, 3)):
        body = {"year": year, "quarter": quarter, "wages": "9000", "business": "0", "property": "0", "transfers": "0"}
        r = await client.post(f"/api/v1/households/{hid}/income-records", json=body, headers=cadre)
        assert r.status_code == 201, r.text
    tag = await etag_of(client, cadre, f"/api/v1/households/{hid}/guarantees")
    r = await client.put(
        f"/api/v1/households/{hid}/guarantees",
        headers={**cadre, "If-Match": tag},
        json={"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
    )
    assert r.status_code == 200, r.text
    case = MonitoringCase(
        household_id=hid,
        region_code=home["region_code"],
        case_type="marginal",
        risk_types=["illness"],
        status="elimination_approval",
        first_clue_on=date(2025, 1, 2),
        opened_on=date(2025, 1, 2),
        identified_on=date(2025, 1, 10),
        category_before="lifted_out",
        elimination_proposed_on=date(2025, 10, 8),
        deadline_breaches=[],
    )
    session.add(case)
    await session.flush()
    session.add(
        Measure(
            id=uuid.uuid4(),
            case_id=case.id,
            household_id=hid,
            region_code=case.region_code,
            category="health",
            content="医疗救助",
            responsible_unit="县医保局",
            planned_on=date(2025, 1, 12),
            start_on=date(2025, 2, 1),
            status="in_progress",
        )
    )
    await session.flush()
    decided, statements = await _decide(
        client,
        engine,
        auth("county_approver.county"),
        case.id,
        {"decision": "approve", "way": "by_assistance", "effective_on": "2025-10-20"},
    )
    assert (decided["status"], decided["eliminated_on"]) == ("eliminated", "2025-10-20")
    assert len(statements) <= ELIMINATION_MAX, "\n\n".join(statements)
