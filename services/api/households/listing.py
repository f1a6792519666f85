"""The household list's direct handler (``routing.fast_path``): the page mobile apps turn
through most, answered without FastAPI's dependency solving and without the ORM at run time.

It takes on only queries whose every parameter has a plain, valid shape (each at most once,
``flags`` repeated, nothing else) and declines (None) anything else — a malformed value, an
unknown parameter, a bad cursor, ``income_below`` without ``income_year`` — before doing
anything, so FastAPI's handling of the route answers those as always, with its 422s. What
it takes on, it answers as the route does, in the same order: the caller (401, 403 without
``registry:read``), the rate limit, the region filter (404 outside the caller's regions),
the health flags (403 without ``registry:health``), then the page — the service's own
statement (``household_list_statement``), compiled once per shape and region prefix
(``household_list_read``), run on the read pool. ``tests/api/test_list_direct.py`` holds it
to the route's answers, input by input.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import Declined, cursor_of, enum_of, limit_of, list_reader, plain_query, prefix_of
from services.api.pagination import page_limit
from services.api.params import AMOUNT_PATTERN
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.households.service import (
    HOUSEHOLD_LISTS,
    HOUSEHOLD_ORDER,
    check_flags_visible,
    household_list_read,
    region_bounds,
    starts_with,
)
from services.core.paging import key_types

_KEY = key_types(HOUSEHOLD_ORDER)  # what ``after_key(cursor, HOUSEHOLD_ORDER)`` decodes
_SINGLE = frozenset({"region", "category", "income_below", "income_year", "name", "status", "limit", "cursor"})
_REPEATED = frozenset({"flags"})
_AMOUNT = re.compile(AMOUNT_PATTERN)
_YEAR = re.compile(r"[0-9]{4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # ``params.PlainText`` refuses these


def _query(request: Request) -> dict[str, Any]:
    """The list's parameters as the route would get them, or ``Declined`` for anything but
    their plain valid forms. Only reads the query: nothing has happened yet."""
    given, lists = plain_query(request, _SINGLE, _REPEATED)
    flags = [enum_of(Flag, raw) for raw in lists.get("flags", ())]
    below, year = given.get("income_below"), given.get("income_year")
    if (below is None) != (year is None):
        raise Declined
    if (
        below is not None
        and year is not None
        and not (_AMOUNT.fullmatch(below) and _YEAR.fullmatch(year) and 2000 <= int(year) <= 2100)
    ):
        raise Declined
    name = given.get("name")
    if name is not None and not (1 <= len(name) <= 50 and not _CONTROL.search(name)):
        raise Declined
    status = given.get("status")
    return {
        "region": prefix_of(given.get("region")),
        "category": enum_of(Category, given.get("category")),
        "flags": flags or None,
        "income": None if below is None else (Decimal(below), int(year or 0)),
        "name": name,
        "status": HouseholdStatus.active if status is None else enum_of(HouseholdStatus, status),
        "limit": limit_of(given.get("limit")),
        "after": cursor_of(given.get("cursor"), _KEY),
    }


async def list_households_directly(request: Request) -> Response | None:
    """``GET /api/v1/households`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _query(request)
    except Declined:
        return None
    region = query["region"]
    caller, reader = await list_reader(request, Permission.registry_read, region=region)
    limit = page_limit(request, query["limit"])
    health = Permission.registry_health in caller.permissions
    flags, name = query["flags"], query["name"]
    check_flags_visible(flags, health)
    filters: dict[str, Any] = {"status": query["status"]}
    if region is not None:
        filters["region"] = region_bounds(region)
    if query["category"] is not None:
        filters["category"] = query["category"]
    if flags is not None:
        filters["flags"] = [flag.value for flag in flags]
    if query["income"] is not None:
        filters["income"] = query["income"]
    if name is not None:
        filters["name_like"] = starts_with(name)
    after = query["after"]
    read = household_list_read(filters, health=health, after=after is not None)
    rows, next_cursor = await HOUSEHOLD_LISTS.page(read, reader, limit, after, **filters)
    return JSON({"items": [dict(row) for row in rows], "next_cursor": next_cursor})
