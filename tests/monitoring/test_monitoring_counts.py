"""The statistics' running counts (a trigger on monitoring_cases) always equal the counts
computed afresh from the cases: after inserts, steps, risks added, relocation, deletes and
TRUNCATE."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, text, update

from services.core.monitoring.counts import EXPECTED_SQL
from services.core.monitoring.models import MonitoringCase
from tests.api.test_households import create
from tests.factories import OTHER_TOWNSHIP_VILLAGE


async def _counts(session) -> tuple[set, set]:
    kept = {
        tuple(r)
        for r in (
            await session.execute(
                text(
                    "SELECT region_code, dimension, value, year, n, days FROM monitoring_case_counts WHERE n <> 0 OR days <> 0"
                )
            )
        ).all()
    }
    expected = {tuple(r) for r in (await session.execute(text(EXPECTED_SQL))).all()}
    return kept, expected


async def test_counts_follow_every_change(client, auth, session):
    homes = [await create(client, auth) for _ in range(3)]
    cases = []
    for i, h in enumerate(homes):
        case = MonitoringCase(
            household_id=h["id"],
            region_code=h["region_code"],
            case_type="marginal",
            risk_types=["illness", "disaster"][: i + 1],
            status="verification",
            first_clue_on=date(2026, 1, 5),
            opened_on=date(2026, 1, 6),
            deadline_breaches=[],
        )
        session.add(case)
        cases.append(case)
    await session.flush()
    kept, expected = await _counts(session)
    assert kept == expected and ("529901001001", "status", "verification", 0, 3, 0) in kept

    cases[0].status, cases[0].identified_on = "assisting", date(2026, 1, 19)
    cases[1].risk_types = ["disaster", "accident", "other"]
    cases[2].status, cases[2].identified_on, cases[2].eliminated_on = "eliminated", date(2025, 3, 1), date(2026, 9, 1)
    await session.flush()
    kept, expected = await _counts(session)
    assert kept == expected
    assert ("529901001001", "identified", "", 2026, 1, 14) in kept
    assert ("529901001001", "open_risk", "accident", 0, 1, 0) in kept

    cases[1].next_deadline = date(2026, 2, 1)  # not counted: no change
    await session.execute(
        update(MonitoringCase).where(MonitoringCase.id == cases[1].id).values(region_code=OTHER_TOWNSHIP_VILLAGE)
    )
    await session.flush()
    kept, expected = await _counts(session)
    assert kept == expected and any(r[0] == OTHER_TOWNSHIP_VILLAGE for r in kept)

    await session.execute(delete(MonitoringCase).where(MonitoringCase.id == cases[0].id))
    kept, expected = await _counts(session)
    assert kept == expected

    # The events of this transaction's rows are written first: PostgreSQL refuses to empty a
    # table with deferred trigger events pending (docs/events.md).
    await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await session.execute(text("TRUNCATE monitoring_cases CASCADE"))
    kept, expected = await _counts(session)
    assert kept == expected == set()
