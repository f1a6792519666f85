"""What the direct handlers of lists (``routing.fast_path``) share: reading a query in its
plain valid forms only, and answering a page as the route does.

A direct handler first reads its query (``plain_query`` and the readers of one value
below); anything but the plain, valid form of every parameter — a malformed value, an
unknown parameter, one given twice, a bad cursor — raises ``Declined`` before anything has
happened, and the handler returns None so that the route's FastAPI handling answers it as
always, with its 422s. Then it answers as the route does: the caller (``list_reader``: 401,
403, the rate limit, 404 for a region filter outside the caller's regions), the route's own
checks in the route's order, and the page (``paging.ListReads``), rendered as the route
renders it (``responses.JSON``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi.security import SecurityScopes
from starlette.requests import Request

from services.api.deps import authorized, oauth2
from services.api.params import CURSOR_MAX_LENGTH, CURSOR_PATTERN, MAX_ID, MAX_LIMIT
from services.api.ratelimit import bulk_read
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Unprocessable
from services.core.paging import decode_cursor
from services.core.regions.rules import PREFIX_PATTERN, InvalidRegionCode, is_valid_prefix, level_of
from services.core.regions.service import check_prefix_visible
from services.core.scope import Reader

_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
_ID = re.compile(r"[1-9][0-9]{0,18}")
_CURSOR = re.compile(CURSOR_PATTERN)
_YEAR = re.compile(r"20[0-9]{2}|2100")
_QUARTER = re.compile(r"[1-4]")
_DAY = re.compile(r"(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}")
_PREFIX = re.compile(PREFIX_PATTERN)
_SCOPES = {permission: SecurityScopes([permission.value]) for permission in Permission}


class Declined(Exception):
    """A query the direct handler leaves to FastAPI."""


def plain_query(
    request: Request, single: frozenset[str], repeated: frozenset[str] = frozenset()
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The query's parameters: those of ``single`` given at most once, those of
    ``repeated`` as lists; any other parameter, or one of ``single`` given twice, declines."""
    given: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for key, raw in request.query_params.multi_items():
        if key in repeated:
            lists.setdefault(key, []).append(raw)
        elif key in single and key not in given:
            given[key] = raw
        else:
            raise Declined
    return given, lists


def enum_of(kind: Any, raw: str | None) -> Any:
    """A member of the enum ``kind`` by its value (None: not given)."""
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise Declined from None


def limit_of(raw: str | None) -> int | None:
    """``?limit=``: 1 to ``MAX_LIMIT`` in plain digits."""
    if raw is None:
        return None
    if not (_LIMIT.fullmatch(raw) and int(raw) <= MAX_LIMIT):
        raise Declined
    return int(raw)


def id_of(raw: str | None) -> int | None:
    """An id filter (``params.IdQ``): 1 to ``MAX_ID`` in plain digits."""
    if raw is None:
        return None
    if not (_ID.fullmatch(raw) and int(raw) <= MAX_ID):
        raise Declined
    return int(raw)


def path_id(request: Request, name: str) -> int:
    """The id in the path parameter ``name`` (``params.Id``), in plain digits."""
    found = id_of(request.path_params.get(name))
    if found is None:
        raise Declined
    return found


def quarter_of(given: dict[str, str]) -> tuple[int | None, int | None]:
    """``?year=`` (2000 to 2100) and ``?quarter=`` (1 to 4), each in plain digits, None when
    not given."""
    year, quarter = given.get("year"), given.get("quarter")
    if (year is not None and not _YEAR.fullmatch(year)) or (quarter is not None and not _QUARTER.fullmatch(quarter)):
        raise Declined
    return (None if year is None else int(year)), (None if quarter is None else int(quarter))


def day_of(raw: str | None) -> date | None:
    """A day (``types.Day``) from 2000 to 2100 in ``YYYY-MM-DD``: other years, though valid,
    are left to FastAPI."""
    if raw is None:
        return None
    if not _DAY.fullmatch(raw):
        raise Declined
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Declined from None


def cursor_of(raw: str | None, types: tuple[type, ...]) -> tuple[Any, ...] | None:
    """The key a well-formed cursor holds (``paging.decode_cursor``)."""
    if raw is None:
        return None
    if not (len(raw) <= CURSOR_MAX_LENGTH and _CURSOR.fullmatch(raw)):
        raise Declined
    try:
        return decode_cursor(raw, types)
    except Unprocessable:
        raise Declined from None


def prefix_of(raw: str | None) -> str | None:
    """A region filter: a well-formed prefix of a region code (whether the caller can see
    it is the handler's check, in the route's order)."""
    if raw is None:
        return None
    if not (_PREFIX.fullmatch(raw) and is_valid_prefix(raw)):
        raise Declined
    try:
        level_of(raw.ljust(12, "0"))
    except InvalidRegionCode:
        raise Declined from None
    return raw


async def list_reader(
    request: Request, permission: Permission, *, bulk: bool = True, region: str | None = None
) -> tuple[Caller, Reader]:
    """The caller of a list route whose dependencies are ``Needs(permission)``, (``bulk``)
    ``bulk_read`` and its region filter (``params.RegionQ``), checked as FastAPI solves them
    (401, 403, the rate limit, then 404 for a ``region`` outside the caller's regions), and a
    ``Reader`` in its regions."""
    token = await oauth2(request)
    caller = await authorized(request, _SCOPES[permission], token)
    if bulk:
        await bulk_read(request, token)
    reader = Reader(request.app.state.db, caller.region_prefix, caller)
    if region is not None:
        await check_prefix_visible(reader, region, field="region")
    return caller, reader
