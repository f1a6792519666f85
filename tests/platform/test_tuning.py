"""``tuning.tuned``: settings for the statements of a block, on the API's autocommit read
sessions as on sessions inside a transaction, and the session's own settings afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.core.db import Database
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.tuning import tune, tuned

SHOW = text("SELECT current_setting('work_mem'), current_setting('enable_nestloop')")


async def _show(session) -> tuple[str, str]:
    return tuple((await session.execute(SHOW)).one())


async def test_an_autocommit_session_gets_the_settings_inside_and_its_own_after(engine):
    """The API's read path: ``Database.session(readonly=True)`` runs without a transaction,
    where ``SET LOCAL`` alone does nothing."""
    session = Database(engine).session(readonly=True)
    bind_scope(session, UNRESTRICTED)
    try:
        before = await _show(session)
        assert before[0] != "48MB"
        async with tuned(session, work_mem="48MB", enable_nestloop="off"):
            assert await _show(session) == ("48MB", "off")
            assert await _show(session) == ("48MB", "off")  # for every statement of the block
        assert await _show(session) == before
    finally:
        await session.close()


async def test_an_autocommit_session_has_its_settings_back_after_a_failure(engine):
    session = Database(engine).session(readonly=True)
    bind_scope(session, UNRESTRICTED)
    try:
        before = await _show(session)
        with pytest.raises(ZeroDivisionError):
            async with tuned(session, work_mem="48MB"):
                raise ZeroDivisionError
        assert await _show(session) == before
        raw = await (await session.connection()).get_raw_connection()
        assert not raw.driver_connection.is_in_transaction()
    finally:
        await session.close()


async def test_inside_a_transaction_the_settings_are_put_back_on_leaving(session):
    await session.execute(text("SELECT set_config('work_mem', '6MB', true)"))
    async with tuned(session, work_mem="48MB"):
        assert (await _show(session))[0] == "48MB"
    assert (await _show(session))[0] == "6MB"


async def test_tune_returns_what_to_put_back(session):
    before = await _show(session)
    previous = await tune(session, work_mem="40MB", enable_nestloop="off")
    assert previous == {"work_mem": before[0], "enable_nestloop": before[1]}
    assert await _show(session) == ("40MB", "off")
    await tune(session, **previous)
    assert await _show(session) == before
