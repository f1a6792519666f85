"""Alembic environment (async). The database URL comes from Guardline's settings, or from
``config.attributes["url"]`` when the CLI or the tests pass one in."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from services.core.models import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    from services.core.db import resolve_database_url
    from services.core.settings import get_settings

    return resolve_database_url(get_settings())


def _configure(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), connect_args={"server_settings": {"application_name": "guardline-migrate"}})
    async with engine.connect() as conn:
        await conn.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_online())
