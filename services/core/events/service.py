"""Reading the events: after a number, of the types asked for, in the caller's regions.

An event belongs to the regions of its object after the change (``region_code``) and, when
the change moved the object, before it (``old_region_code``): a village sees a household
that moved away leave. Events that tell a person's health (``sensitive``) are read only
with health details allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam

from services.core.scope import region_params, region_sql, scoped_text

_OLD_REGION = region_sql("e", "old_region_code")
EVENTS_AFTER = scoped_text(f"""
SELECT e.id, e.type, e.object_type, e.object_id, e.region_code, e.old_region_code, e.household_id, e.at, e.body
FROM events e
WHERE e.id > :after AND e.type IN :types AND (:health OR NOT e.sensitive)
  AND ({region_sql("e")} OR (e.old_region_code IS NOT NULL AND {_OLD_REGION}))
ORDER BY e.id
LIMIT :limit
""").bindparams(bindparam("types", expanding=True))


def event_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "object": {"type": row.object_type, "id": row.object_id},
        "region_code": row.region_code,
        "old_region_code": row.old_region_code,
        "household_id": row.household_id,
        "at": row.at,
        "data": row.body,
    }


async def events_after(
    session, prefix: str, *, after: int, types: list[str], health: bool, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` events numbered above ``after`` and the number to ask after next
    (the last one given, or ``after`` itself when there is none yet)."""
    if not types:
        return [], after
    rows = (
        await session.execute(EVENTS_AFTER, region_params(prefix, after=after, types=types, health=health, limit=limit))
    ).all()
    return [event_out(row) for row in rows], rows[-1].id if rows else after
