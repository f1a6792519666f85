"""A committed scratch database for the worker's tests: runs, locks and pages must really
commit, and several connections (workers) must see each other."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.core.db import Database, asyncpg_dsn, create_engine
from tests.conftest import _load_base_data, scratch_database

SYNC_TABLES = "sync_runs, sync_cursors, sync_source_states, dept_records, sync_quarantine, sync_findings"


@pytest.fixture(scope="module")
async def sync_url(engine, settings) -> AsyncIterator[str]:
    async with scratch_database(engine, "guardline_sync_test") as url:
        eng = create_engine(url, settings, "tests")
        try:
            await _load_base_data(eng)
        finally:
            await eng.dispose()
        yield url


@pytest.fixture
async def pool(sync_url) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(asyncpg_dsn(sync_url), min_size=1, max_size=6)
    await p.execute(f"TRUNCATE {SYNC_TABLES} RESTART IDENTITY CASCADE")
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def dsn(sync_url) -> str:
    return asyncpg_dsn(sync_url)


@pytest.fixture
async def sync_db(sync_url, settings) -> AsyncIterator[Database]:
    db = Database(create_engine(sync_url, settings, "tests"))
    try:
        yield db
    finally:
        await db.dispose()
