"""The change feed (issue 20, ``GET /api/v1/changes``): what changed in the caller's regions since a token, per
resource family, for a phone that syncs a village after days offline.

A family is one kind of object: households, persons, cases, measures, visits. The first
call (no token) gives every object of the family in the caller's regions, page by page
in id order, and remembers the last event number at its start; from then on a token
carries the last event number seen, and a call gives each object that an event since then
touched, once, as it is now:

* ``upsert``: the object is in the caller's regions; ``data`` is its document as the API
  shows it to the caller's role, without health details (a phone reads those with
  ``GET /households/{id}``, which is audited);
* ``removed``: the object was in the caller's regions when an event touched it and is not
  any more (it moved to a village outside them): a tombstone, so the phone drops it.

Events are numbered in commit order (``triggers``), so a token never skips a change; the
objects are grouped by their latest event, so a page ends at an event number and the next
page goes on after it. A change made while a first sync is paging is an event after the
remembered number: the next call gives it again. A phone may see an object twice; it never
misses one.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import String, bindparam, cast, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.monitoring.bodies import case_body
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Forbidden, Unprocessable
from services.core.households.models import Household, Person
from services.core.households.sensitive import sees_birth_date
from services.core.households.service import _person_json, household_detail_statement
from services.core.monitoring.models import Measure, MonitoringCase, Visit
from services.core.monitoring.schemas import MeasureOut, VisitOut
from services.core.scope import region_params, region_sql, scoped_text

TOKEN_MAX_LENGTH = 200


@dataclass(frozen=True)
class Family:
    object_type: str  # of its events
    model: Any
    permission: Permission
    uuid_ids: bool = False


FAMILIES: dict[str, Family] = {
    "households": Family("household", Household, Permission.registry_read),
    "persons": Family("person", Person, Permission.registry_read),
    "cases": Family("case", MonitoringCase, Permission.monitoring_read),
    "measures": Family("measure", Measure, Permission.monitoring_read, uuid_ids=True),
    "visits": Family("visit", Visit, Permission.monitoring_read, uuid_ids=True),
}

# The objects of a family touched by events after :since in the regions (before or after
# the change), each once with its latest event, the earliest first.
_TOUCHED = scoped_text(f"""
SELECT e.object_id, max(e.id) AS last
FROM events e
WHERE e.object_type = :object_type AND e.id > :since
  AND ({region_sql("e")} OR (e.old_region_code IS NOT NULL AND {region_sql("e", "old_region_code")}))
GROUP BY e.object_id
ORDER BY last
LIMIT :limit
""")
_LAST_EVENT = text("SELECT coalesce(max(id), 0) FROM events")


def encode_token(family: str, event: int, after: str | None = None) -> str:
    body = orjson.dumps({"f": family, "e": event, **({"o": after} if after is not None else {})})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_token(family: str, token: str) -> tuple[int, str | None]:
    """(last event number, the last object id of a first sync still paging) of a token of
    ``family``; 422 ``changes_token_invalid`` for anything else."""
    try:
        if len(token) > TOKEN_MAX_LENGTH:
            raise ValueError
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        event, after = value["e"], value.get("o")
        if (
            value["f"] != family
            or not isinstance(event, int)
            or isinstance(event, bool)
            or not 0 <= event < 2**63
            or not (after is None or (isinstance(after, str) and 0 < len(after) <= 40))
        ):
            raise ValueError
        if after is not None:  # an id of the family's kind
            if FAMILIES[family].uuid_ids:
                uuid.UUID(after)
            elif not after.isdigit():
                raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise Unprocessable("changes_token_invalid", field="since") from None
    return event, after


async def _documents(session: AsyncSession, family: str, ids: list[Any], caller: Caller) -> dict[str, Any]:
    """The documents of the objects ``ids`` of ``family`` that are in the caller's regions
    (the session's scope), by id as text."""
    if not ids:
        return {}
    born = sees_birth_date(caller.permissions)
    health = Permission.registry_health in caller.permissions
    if family == "households":
        statement = household_detail_statement(None, health_flags=health, birth_date=born)
        rows = (await session.execute(statement, {"ids": [int(i) for i in ids]})).all()
        return {str(i): orjson.Fragment(doc) for i, doc in rows}
    if family == "persons":
        statement = select(Person.id, cast(_person_json(birth_date=born), String)).where(
            Person.id.in_(bindparam("ids", expanding=True))
        )
        rows = (await session.execute(statement, {"ids": [int(i) for i in ids]})).all()
        return {str(i): orjson.Fragment(doc) for i, doc in rows}
    model = FAMILIES[family].model
    key = [int(i) for i in ids] if model is MonitoringCase else [uuid.UUID(i) for i in ids]
    objects = (await session.execute(select(model).where(model.id.in_(key)))).scalars().all()
    if family == "cases":
        return {str(o.id): case_body(o, caller) for o in objects}
    fields = (MeasureOut if family == "measures" else VisitOut).model_fields
    return {str(o.id): {f: getattr(o, f) for f in fields} for o in objects}


async def changes(session: AsyncSession, caller: Caller, family: str, token: str | None, limit: int) -> dict[str, Any]:
    """A page of the feed of ``family`` (see the module): ``items``, the ``next`` token and
    whether there is ``more`` right now."""
    spec = FAMILIES[family]
    if spec.permission not in caller.permissions:
        raise Forbidden("forbidden", field="family")
    prefix = caller.region_prefix
    after: str | None
    if token is None:
        since, after = int((await session.execute(_LAST_EVENT)).scalar_one()), ""
    else:
        since, after = decode_token(family, token)
    if after is not None:  # a first sync: the family's objects in id order
        model = spec.model
        query = select(model.id).order_by(model.id).limit(limit + 1)
        if after:
            query = query.where(model.id > (uuid.UUID(after) if spec.uuid_ids else int(after)))
        ids = [str(i) for i in (await session.execute(query)).scalars().all()]
        more = len(ids) > limit
        ids = ids[:limit]
        docs = await _documents(session, family, ids, caller)
        items = [{"id": i, "change": "upsert", "data": docs[i]} for i in ids if i in docs]
        next_token = encode_token(family, since, ids[-1]) if more else encode_token(family, since)
        return {"family": family, "items": items, "next": next_token, "more": more}
    touched = (
        await session.execute(
            _TOUCHED, region_params(prefix, object_type=spec.object_type, since=since, limit=limit + 1)
        )
    ).all()
    more = len(touched) > limit
    touched = touched[:limit]
    docs = await _documents(session, family, [row.object_id for row in touched], caller)
    items = [
        {"id": row.object_id, "change": "upsert", "data": docs[row.object_id]}
        if row.object_id in docs
        else {"id": row.object_id, "change": "removed", "data": None}
        for row in touched
    ]
    last = touched[-1].last if touched else since
    return {"family": family, "items": items, "next": encode_token(family, last), "more": more}
