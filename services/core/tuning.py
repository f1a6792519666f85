"""PostgreSQL settings (``work_mem``, planner switches) for one heavy statement or a few.

A setting made with ``SET LOCAL`` or ``set_config(name, value, true)`` lasts until the end
of the transaction — and outside a transaction it does nothing at all (PostgreSQL only
warns). The API's reads run on autocommit sessions (``services.core.db.Database``: no
BEGIN, each statement its own transaction), so a ``SET LOCAL`` there was lost before the
statement it was meant for ran: the fund indicators ran with the default 4MB ``work_mem``.
A plain ``SET`` would work, but would stay on the pooled connection for whoever gets it
next if the request were cancelled before putting it back.

``tuned(session, work_mem="32MB", …)`` gives the settings to the statements run inside it:

* on a session inside a transaction (writes, the worker), the settings are made local to
  that transaction and put back to what they were on leaving (so the rest of the
  transaction runs as before; if the block fails, the transaction's rollback undoes them);
* on an autocommit session, a transaction is opened on the session's connection for the
  block, so the settings hold for its statements and end with it whatever happens.

``tune`` is the same for code that cannot wrap its statements in a block: it makes the
settings and returns the previous values, to be given to ``tune`` again afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CURRENT = text("SELECT name, current_setting(name) FROM unnest(CAST(:names AS text[])) AS name")
_SET = text(
    "SELECT set_config(name, value, true) FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS t(name, value)"
)


async def tune(session: AsyncSession, **settings: str) -> dict[str, str]:
    """Make ``settings`` local to the session's transaction; the previous values."""
    names = list(settings)
    previous: dict[str, str] = dict((await session.execute(_CURRENT, {"names": names})).all())
    await session.execute(_SET, {"names": names, "values": [settings[n] for n in names]})
    return previous


async def _autocommit(session: AsyncSession):
    """The driver connection if the session's connection is in autocommit, else None."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection if getattr(raw.dbapi_connection, "autocommit", False) else None


@asynccontextmanager
async def tuned(session: AsyncSession, **settings: str) -> AsyncIterator[None]:
    """Run the block's statements with ``settings`` (names as in ``SET``, values as text),
    whether or not the session is in a transaction; afterwards the session has its own
    settings again."""
    driver = await _autocommit(session)
    if driver is not None:
        async with driver.transaction():
            await tune(session, **settings)
            yield
        return
    previous = await tune(session, **settings)
    yield
    await tune(session, **previous)


def custom_plans(session: AsyncSession) -> AbstractAsyncContextManager[None]:
    """``tuned`` with ``plan_cache_mode = force_custom_plan``: the block's statements planned
    for their own values on every run.

    The ORM prepares a statement once per connection and runs it again with other values;
    after five runs PostgreSQL may keep one plan for any values (a generic plan), which
    cannot see how few rows a village, or the page after a cursor, holds. For the lists
    whose pages share one text that plan was far slower: the uncovered households 1.4 s a
    page instead of 20–30 ms. Not for every statement: planning each run costs 40–90 µs
    (``benchmarks/README.md``), which a write of ten statements would pay for nothing. A
    compiled read (``scope.ScopedRead``) needs none: its fixed values are in its text, and
    the plan kept for it sees them (the late follow-up visits, ``followup.service``)."""
    return tuned(session, plan_cache_mode="force_custom_plan")
