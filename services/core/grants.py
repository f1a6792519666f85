"""Database privileges of the application role (等保: the application must not be able to
change or remove audit records). Run by the tables' owner after ``guardline migrate``:
the API and the worker then connect as ``role``, which may read and write the data but
owns nothing, so it can neither disable the audit table's triggers nor change its rows."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def statements(role: str) -> list[str]:
    if not _ROLE.match(role):
        raise ValueError(f"not a plain role name: {role!r}")
    return [
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
        # The audit trail: read and append only.
        f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM "{role}"',
        # Migrations are the owner's: the application role never runs DDL.
        f'REVOKE CREATE ON SCHEMA public FROM "{role}"',
    ]


async def grant_application_role(engine: AsyncEngine, role: str) -> None:
    async with engine.begin() as conn:
        owner = (await conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))).scalar()
        if owner == role:
            raise ValueError(f"{role!r} owns the tables: the application must connect as another role")
        for sql in statements(role):
            await conn.execute(text(sql))
