"""The sync worker: pulls department data and reconciles it with the registry.

This is the skeleton: it joins the same database as the API (the embedded server is
shared), checks that it answers and that the schema is current, and reports that no
department sources are configured yet.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from services.core.db import Database, create_engine, resolve_database_url
from services.core.settings import Settings

log = logging.getLogger("guardline.sync")


async def run_once(settings: Settings) -> dict:
    db = Database(create_engine(resolve_database_url(settings), settings, "sync"))
    try:
        async with db.engine.connect() as conn:
            migrated = (await conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL"))).scalar_one()
            if not migrated:
                log.warning("the database is not migrated yet: run `guardline migrate` (or start the API)")
                return {"schema": None, "households": None, "sources": []}
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
            households = (await conn.execute(text("SELECT count(*) FROM households"))).scalar_one()
        return {"schema": version, "households": households, "sources": []}
    finally:
        await db.dispose()


async def run_forever(settings: Settings, interval_seconds: float) -> None:
    while True:
        status = await run_once(settings)
        log.info("sync pass: %s (no department sources configured yet)", status)
        await asyncio.sleep(interval_seconds)
