"""What every command of ``guardline`` does the same way: read the settings (refused ones
are said, without a traceback), find the database, migrate it, and work in it as the
system — one session that sees every region, committed when the work succeeds.

The commands import the rest of Guardline inside their functions: ``guardline --help`` and
a command's argument errors must not wait for the application to import.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from services.core.progress import Reporter
    from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def load_settings(hint: str = "", **overrides: Any) -> Settings:
    """The settings (``overrides`` instead of the environment's when given); refused ones end
    the command with exit status 2 and pydantic's reasons, followed by ``hint``."""
    from services.core.settings import Settings, get_settings

    try:
        return Settings(**overrides) if overrides else get_settings()
    except Exception as exc:  # pydantic ValidationError: say what is wrong, no traceback
        print(f"guardline: settings refused:\n{exc}{hint}", file=sys.stderr)
        raise SystemExit(2) from None


def database_url(settings: Settings) -> str:
    """The configured database, or the embedded server's (started or joined)."""
    from services.core.db import resolve_database_url

    return resolve_database_url(settings)


def migrated_database(settings: Settings | None = None) -> tuple[Settings, str]:
    """The settings and the URL of their database, migrated to the head revision. Called
    before the command's event loop starts: alembic runs one of its own."""
    from services.core.migrate import upgrade

    settings = settings or load_settings()
    url = database_url(settings)
    upgrade(url)
    return settings, url


@contextlib.asynccontextmanager
async def system_engine(settings: Settings, url: str | None = None) -> AsyncIterator[AsyncEngine]:
    """An engine for one command (named ``guardline-cli`` in pg_stat_activity), disposed of
    afterwards: for the work that runs its own transactions (key rotation, the audit chain)."""
    from services.core.db import create_engine

    engine = create_engine(url or database_url(settings), settings, "cli")
    try:
        yield engine
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def system_session(
    settings: Settings | None = None, url: str | None = None, *, readonly: bool = False
) -> AsyncIterator[AsyncSession]:
    """The one unit of work of a command, as the system: a session bound to the
    UNRESTRICTED scope (an operator at the console answers for the whole installation, not
    for a region), committed when the block ends normally, rolled back when it raises (also
    on Ctrl-C), and its engine disposed of either way. ``settings`` and ``url`` default to
    the environment's (pass those of ``migrated_database`` once migrated)."""
    from services.core.db import Database, create_engine
    from services.core.scope import UNRESTRICTED, bind_scope

    settings = settings or load_settings()
    db = Database(create_engine(url or database_url(settings), settings, "cli"))
    try:
        async with db.session(readonly=readonly) as session:
            bind_scope(session, UNRESTRICTED)
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
    finally:
        await db.dispose()


def reporter(args: Any) -> Reporter:
    """The progress output of a long command: a bar on a terminal, plain lines otherwise,
    nothing with ``--json`` (services.core.progress)."""
    from services.core.progress import Reporter

    return Reporter.for_command(getattr(args, "json", False))
