"""``cases.refresh_deadlines`` walks the open clues (and cases) in locked id batches
(``_locked_batches``): every row is reached however small the batch, and counted once."""

from __future__ import annotations

from sqlalchemy import select, update

from services.core.monitoring import cases
from services.core.monitoring.context import load_policy_context
from services.core.monitoring.models import RiskClue
from tests.api.monitoring_helpers import report
from tests.factories import COUNTY, household, person


async def test_refresh_reaches_every_open_clue_in_batches_of_one(client, auth, session):
    county = auth("county_staff.county")
    ids = []
    for _ in range(3):
        hh = (await client.post("/api/v1/households", json=household(members=[person("head")]), headers=county)).json()
        ids.append((await report(client, auth("grid_worker.village"), hh["id"], ["illness"]))["id"])
    stored = dict(
        (await session.execute(select(RiskClue.id, RiskClue.next_deadline).where(RiskClue.id.in_(ids)))).all()
    )
    assert all(stored.values())
    await session.execute(update(RiskClue).where(RiskClue.id.in_(ids)).values(next_deadline=None))

    ctx = await load_policy_context(session)
    assert await cases.refresh_deadlines(session, ctx, COUNTY, batch=1) == 3
    again = dict((await session.execute(select(RiskClue.id, RiskClue.next_deadline).where(RiskClue.id.in_(ids)))).all())
    assert again == stored
    assert await cases.refresh_deadlines(session, ctx, COUNTY, batch=1) == 0
