"""What the database holds, as one comparable value: proves that a refused request wrote
nothing at all (no row added, removed or changed in any table, versions included)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core.models import metadata

# Tables that record attempts rather than hold data: a refused request is audited there, and
# counted against its caller's rate limit.
RECORDS_ATTEMPTS = {"audit_log", "rate_limit_counts"}


async def fingerprint(conn: AsyncConnection) -> dict[str, tuple[int, str]]:
    """Every table of the models (but the audit trail): its row count and a digest of all its rows."""
    parts = [
        f"SELECT '{t.name}', count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM \"{t.name}\" r"
        for t in metadata.sorted_tables
        if t.name not in RECORDS_ATTEMPTS
    ]
    rows = await conn.execute(text(" UNION ALL ".join(parts)))
    return {name: (count, digest) for name, count, digest in rows}


def changed_tables(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
