"""The fund indicators' query runs with its own work_mem and custom plans also on the API's
read path (an autocommit session, no transaction: ``SET LOCAL`` alone did nothing there),
and leaves the session's settings as they were."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from services.core.db import Database
from services.core.funds import indicators, queries
from services.core.scope import bind_scope

SHOW = text("SELECT current_setting('work_mem'), current_setting('plan_cache_mode')")


async def test_the_indicators_query_runs_tuned_on_an_autocommit_session(engine):
    session = Database(engine).session(readonly=True)  # as services.api.deps.open_session for a GET
    bind_scope(session, "52")
    seen: list[tuple[str, str]] = []
    execute = session.execute

    async def spying(statement, *args, **kwargs):
        if statement is queries.INDICATORS:
            seen.append(tuple((await execute(SHOW)).one()))
        return await execute(statement, *args, **kwargs)

    try:
        before = tuple((await session.execute(SHOW)).one())
        assert before[0] != "32MB"
        session.execute = spying  # type: ignore[method-assign]
        result = await indicators.compute(session, "52", 2025, date(2025, 6, 30))
        session.execute = execute  # type: ignore[method-assign]
        assert result["region"] == "52"
        assert seen == [("32MB", "force_custom_plan")]
        assert tuple((await session.execute(SHOW)).one()) == before
    finally:
        await session.close()
