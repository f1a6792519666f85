"""Pages of department records: each a pure function of (county, position, limit).

Cursor departments (civil affairs, education) name a position ``(person id, records of
that person already given)``: the next page starts at that person, skipping what was
given. The opaque cursor is that pair and the county, base64url-encoded. Medical
insurance names positions by ``(updated_at, key)`` instead; since a person's records are
all updated at ``base + id`` seconds, a position maps back to a person id too.

A page reads persons in batches (one query each) until it has ``limit + 1`` records — the
one beyond the limit says whether there is more — so memory is bounded by the batch and
the limit, never by the county.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from services.core.timeutil import CHINA
from services.simulators.records import Deriver
from services.simulators.registry import Registry

MAX_LIMIT = 5000
_FIRST_BATCH_MIN = 200
_BATCH_MAX = 20_000


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class Position:
    person_id: int = 0
    skip: int = 0

    def encode(self, county: str) -> str:
        raw = f"v1:{county}:{self.person_id}:{self.skip}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, county: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            version, owner, person_id, skip = raw.split(":")
            position = cls(int(person_id), int(skip))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest("the cursor is not one this server gave out") from None
        if version != "v1" or position.person_id < 0 or position.skip < 0:
            raise BadRequest("the cursor is not one this server gave out")
        if owner != county:
            raise BadRequest("the cursor belongs to another county")
        return position


START = Position()


async def cursor_page(
    registry: Registry, deriver: Deriver, county: str, at: Position, limit: int
) -> tuple[list[dict], Position | None]:
    """Records from ``at`` on, at most ``limit``; and the position after them, or None at
    the end."""
    want = limit + 1
    taken: list[tuple[dict, int, int]] = []  # record, person id, its index + 1 among the person's
    students_on = deriver.today if deriver.kind == "education" else None
    civil = deriver.civil_selection() if deriver.kind == "civil-affairs" else None
    batch = max(want, _FIRST_BATCH_MIN)
    after = at.person_id - 1
    while len(taken) < want:
        persons = await registry.persons(county, after, batch, students_on=students_on, civil=civil)
        for p in persons:
            records = deriver.records(p)
            first = at.skip if p.id == at.person_id else 0
            for index in range(first, len(records)):
                taken.append((records[index], p.id, index + 1))
                if len(taken) == want:
                    break
            if len(taken) == want:
                break
        if len(persons) < batch:
            break
        after = persons[-1].id
        batch = min(batch * 2, _BATCH_MAX)  # sparse departments (civil affairs) scan on faster
    page = taken[:limit]
    if len(taken) <= limit:
        return [rec for rec, _, _ in page], None
    _, person_id, given = page[-1] if page else (None, at.person_id, at.skip)
    return [rec for rec, _, _ in page], Position(person_id, given)


# ---- medical insurance: updated-since paging --------------------------------------------------


@dataclass(frozen=True)
class Since:
    """Everything strictly after ``(updated_at, key)``; ``key`` None sorts before every key
    (so ``updated_since`` alone includes the records updated at exactly that time)."""

    updated_at: datetime | None = None
    key: str | None = None


def parse_since(updated_since: str | None, after: str | None) -> Since:
    if updated_since is None:
        return Since()  # ``after`` alone means nothing (the protocol's rule)
    try:
        at = datetime.fromisoformat(updated_since.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise BadRequest("updated_since must be an ISO 8601 timestamp") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=CHINA)
    return Since(at, after or None)


def _boundary(deriver: Deriver, since: Since) -> tuple[int, bool]:
    """The person whose records may sit at ``since``: (id, whether some of their records
    can be at exactly that time)."""
    if since.updated_at is None:
        return 0, False
    delta = since.updated_at - deriver.base_time
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros < 0:
        return 0, False
    whole, rest = divmod(micros, 1_000_000)
    return whole, rest == 0


async def since_page(
    registry: Registry, deriver: Deriver, county: str, since: Since, limit: int
) -> tuple[list[dict], bool]:
    """Items strictly after ``since`` in (updated_at, key) order; and whether more follow."""
    boundary, exact = _boundary(deriver, since)
    want = limit + 1
    items: list[dict] = []
    batch = want
    after = boundary - 1 if exact else boundary
    while len(items) < want:
        persons = await registry.persons(county, after, batch, income=True)
        for p in persons:
            records = deriver.records(p)
            if exact and p.id == boundary and since.key is not None:
                records = [rec for rec in records if rec["key"] > since.key]
            items.extend(records[: want - len(items)])
            if len(items) == want:
                break
        if len(persons) < batch:
            break
        after = persons[-1].id
    return items[:limit], len(items) > limit


async def page_before(registry: Registry, deriver: Deriver, county: str, since: Since, limit: int) -> list[dict]:
    """The last ``limit`` items at or before ``since`` (the page a client was given just
    before asking for ``since``), in ascending order; empty at the start."""
    if since.updated_at is None:
        return []
    boundary, exact = _boundary(deriver, since)
    items: list[dict] = []  # newest first while collecting
    upto = boundary
    while len(items) < limit and upto > 0:
        persons = await registry.persons(county, upto, limit, income=True, descending=True)
        for p in persons:
            records = deriver.records(p)
            if exact and p.id == boundary:
                records = [rec for rec in records if since.key is not None and rec["key"] <= since.key]
            items.extend(reversed(records[-(limit - len(items)) :] if records else []))
            if len(items) >= limit:
                break
        if len(persons) < limit:
            break
        upto = persons[-1].id - 1
    items.reverse()
    return items[-limit:]


def parse_limit(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"{name} must lie between 1 and {MAX_LIMIT}")
    return value
