"""``system_session``: the one unit of work of a ``guardline`` command (services.cli.common).

Every command that writes relies on it to commit what it did, to leave nothing behind when
it fails, and to see every region; a scratch database (no tables) shows each of the three.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.cli.common import system_engine, system_session
from services.core.scope import UNRESTRICTED, scope_of
from tests.conftest import scratch_database


async def _rows(settings, url: str) -> list[int]:
    async with system_engine(settings, url) as engine, engine.connect() as conn:
        return list((await conn.execute(text("SELECT x FROM cli_work ORDER BY x"))).scalars())


async def test_a_command_session_commits_its_work_and_rolls_back_a_failure(engine, settings) -> None:
    async with scratch_database(engine, "guardline_cli_session", migrated=False) as url:
        async with system_session(settings, url) as session:
            assert scope_of(session) == UNRESTRICTED  # the system sees every region
            await session.execute(text("CREATE TABLE cli_work (x int)"))
            await session.execute(text("INSERT INTO cli_work VALUES (1)"))
        assert await _rows(settings, url) == [1]  # committed without the command asking

        with pytest.raises(RuntimeError, match="half done"):
            async with system_session(settings, url) as session:
                await session.execute(text("INSERT INTO cli_work VALUES (2)"))
                raise RuntimeError("half done")
        assert await _rows(settings, url) == [1]  # the failed command left nothing

        with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle of the work: the same
            async with system_session(settings, url) as session:
                await session.execute(text("INSERT INTO cli_work VALUES (3)"))
                raise KeyboardInterrupt
        assert await _rows(settings, url) == [1]

        async with system_session(settings, url, readonly=True) as session:
            assert (await session.execute(text("SELECT count(*) FROM cli_work"))).scalar_one() == 1
