"""The application role of a production deployment: it reads and writes the data, appends
to the audit trail, and can do nothing else to it (nor run DDL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.audit import AuditRecord, record
from services.core.db import create_engine
from services.core.grants import grant_application_role, statements
from tests.conftest import scratch_database

SCRATCH = "guardline_grants"
APP_ROLE = "guardline_app_test"


@pytest.fixture(scope="module")
async def app_engine(engine: AsyncEngine, settings) -> AsyncIterator[AsyncEngine]:
    async with scratch_database(engine, SCRATCH) as url:
        owner = create_engine(url, settings, "tests")
        async with owner.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                await conn.execute(text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
                await conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN"))
            except DBAPIError:  # an external test server may not let us create roles
                pytest.skip("cannot create a login role on this server")
        await grant_application_role(owner, APP_ROLE)
        app = create_engine(owner.url.set(username=APP_ROLE).render_as_string(hide_password=False), settings, "tests")
        try:
            yield app
        finally:
            await app.dispose()
            async with owner.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f"DROP OWNED BY {APP_ROLE}"))
                await conn.execute(text(f"DROP ROLE {APP_ROLE}"))
            await owner.dispose()


async def _refused(app_engine: AsyncEngine, sql: str) -> str:
    async with app_engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(text(sql))
        await conn.rollback()
    return str(caught.value.orig)


async def test_the_application_role_works_with_the_data_and_appends_to_the_audit_trail(app_engine):
    async with app_engine.begin() as conn:
        await conn.execute(text("SELECT count(*) FROM households"))
        await conn.execute(text("UPDATE users SET display_name = display_name WHERE false"))
        ref = await record(conn, AuditRecord(action="test.grant", region_code="529901"))
    assert ref.id >= 1


@pytest.mark.parametrize(
    "sql, why",
    [
        ("UPDATE audit_log SET action = 'x'", "permission denied"),
        ("DELETE FROM audit_log", "permission denied"),
        ("TRUNCATE audit_log", "permission denied"),
        ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain", "must be owner"),
        ("CREATE TABLE sneaky (id int)", "permission denied"),
    ],
)
async def test_the_application_role_cannot_touch_the_audit_trail_or_the_schema(app_engine, sql, why):
    assert why in await _refused(app_engine, sql)


async def test_the_owner_is_not_accepted_as_the_application_role(engine, settings):
    async with scratch_database(engine, SCRATCH + "_owner") as url:
        owner = create_engine(url, settings, "tests")
        try:
            with pytest.raises(ValueError, match="owns the tables"):
                await grant_application_role(owner, owner.url.username)
        finally:
            await owner.dispose()
    with pytest.raises(ValueError):
        statements('x"; DROP TABLE users; --')
