"""On the embedded server too, the API connects as the restricted application role, not as
the superuser (issue 15): the audit trail's protection (append only, no DDL) holds on a
laptop as in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.api.app import create_app
from services.core.audit import AuditRecord, record
from services.core.db import APP_PASSWORD_FILE, EMBEDDED_APP_ROLE
from services.core.settings import Settings
from tests.cli import needs_embedded_server
from tests.conftest import scratch_database

SCRATCH = "guardline_app_role"

pytestmark = needs_embedded_server


async def test_the_embedded_api_cannot_change_the_audit_trail(engine, settings):
    async with scratch_database(engine, SCRATCH):
        embedded = Settings(env="test", data_dir=settings.data_dir, database_url=None, database_name=SCRATCH)
        app = create_app(embedded)
        async with app.router.lifespan_context(app):
            app_engine = app.state.db.engine
            async with app_engine.connect() as conn:
                user, superuser = (
                    await conn.execute(text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"))
                ).one()
            assert (user, superuser) == (EMBEDDED_APP_ROLE, False)
            async with app_engine.begin() as conn:  # appending works …
                await record(conn, AuditRecord(action="test.append", actor_name="t"))
            for attack in (
                "UPDATE audit_log SET actor_name = 'someone else'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            ):
                async with app_engine.connect() as conn:  # … changing does not
                    with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                        await conn.execute(text(attack))
    password_file = Path(settings.data_dir).resolve() / APP_PASSWORD_FILE  # noqa: ASYNC240 (one local stat)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
