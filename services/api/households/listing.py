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

from fastapi.security import SecurityScopes
from starlette.requests import Request
from starlette.responses import Response

from services.api.deps import authorized, oauth2
from services.api.pagination import page_limit
from services.api.params import AMOUNT_PATTERN, CURSOR_MAX_LENGTH, CURSOR_PATTERN, MAX_LIMIT
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.errors import Unprocessable
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.households.service import (
    HOUSEHOLD_ORDER,
    check_flags_visible,
    household_list_read,
    region_bounds,
    starts_with,
)
from services.core.paging import decode_cursor, key_types, page_of
from services.core.regions.rules import PREFIX_PATTERN, InvalidRegionCode, is_valid_prefix, level_of
from services.core.regions.service import check_prefix_visible
from services.core.scope import Reader

_SCOPES = SecurityScopes([Permission.registry_read.value])  # the route's READ
_KEY = key_types(HOUSEHOLD_ORDER)  # what ``after_key(cursor, HOUSEHOLD_ORDER)`` decodes
_SINGLE = frozenset({"region", "category", "income_below", "income_year", "name", "status", "limit", "cursor"})
_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
_CURSOR = re.compile(CURSOR_PATTERN)
_PREFIX = re.compile(PREFIX_PATTERN)
_AMOUNT = re.compile(AMOUNT_PATTERN)
_YEAR = re.compile(r"[0-9]{4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # ``params.PlainText`` refuses these


class _Declined(Exception):
    """A query the direct handler leaves to FastAPI."""


def _enum(kind: Any, raw: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise _Declined from None


def _query(request: Request) -> dict[str, Any]:
    """The list's parameters as the route would get them, or ``_Declined`` for anything but
    their plain valid forms. Only reads the query: nothing has happened yet."""
    given: dict[str, str] = {}
    flags: list[Flag] = []
    for key, raw in request.query_params.multi_items():
        if key == "flags":
            flags.append(_enum(Flag, raw))
        elif key in _SINGLE and key not in given:
            given[key] = raw
        else:
            raise _Declined
    limit = given.get("limit")
    if limit is not None and not (_LIMIT.fullmatch(limit) and int(limit) <= MAX_LIMIT):
        raise _Declined
    cursor = given.get("cursor")
    after = None
    if cursor is not None:
        if not (len(cursor) <= CURSOR_MAX_LENGTH and _CURSOR.fullmatch(cursor)):
            raise _Declined
        try:
            after = decode_cursor(cursor, _KEY)
        except Unprocessable:
            raise _Declined from None
    region = given.get("region")
    if region is not None:
        if not (_PREFIX.fullmatch(region) and is_valid_prefix(region)):
            raise _Declined
        try:
            level_of(region.ljust(12, "0"))
        except InvalidRegionCode:
            raise _Declined from None
    below, year = given.get("income_below"), given.get("income_year")
    if (below is None) != (year is None):
        raise _Declined
    if (
        below is not None
        and year is not None
        and not (_AMOUNT.fullmatch(below) and _YEAR.fullmatch(year) and 2000 <= int(year) <= 2100)
    ):
        raise _Declined
    name = given.get("name")
    if name is not None and not (1 <= len(name) <= 50 and not _CONTROL.search(name)):
        raise _Declined
    category, status = given.get("category"), given.get("status")
    return {
        "region": region,
        "category": None if category is None else _enum(Category, category),
        "flags": flags or None,
        "income": None if below is None else (Decimal(below), int(year or 0)),
        "name": name,
        "status": HouseholdStatus.active if status is None else _enum(HouseholdStatus, status),
        "limit": None if limit is None else int(limit),
        "after": after,
    }


async def list_households_directly(request: Request) -> Response | None:
    """``GET /api/v1/households`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _query(request)
    except _Declined:
        return None
    token = await oauth2(request)
    caller = await authorized(request, _SCOPES, token)
    await bulk_read(request, token)
    reader = Reader(request.app.state.db, caller.region_prefix, caller)
    region = query["region"]
    if region is not None:
        await check_prefix_visible(reader, region, field="region")
    limit = page_limit(request, query["limit"])
    health = Permission.registry_health in caller.permissions
    flags, income, name, after = query["flags"], query["income"], query["name"], query["after"]
    check_flags_visible(flags, health)
    read = household_list_read(
        health=health,
        region=region is not None,
        category=query["category"] is not None,
        flags=flags is not None,
        income=income is not None,
        name=name is not None,
        after=after is not None,
    )
    values: dict[str, Any] = {"status": query["status"], "limit": limit + 1}
    if region is not None:
        values["filter_lo"], values["filter_hi"] = region_bounds(region)
    if query["category"] is not None:
        values["category"] = query["category"]
    if flags is not None:
        values["flags"] = [flag.value for flag in flags]
    if income is not None:
        values["income_below"], values["income_year"] = income
    if name is not None:
        values["name_like"] = starts_with(name)
    if after is not None:
        values["after"] = after[0]
    rows, next_cursor = page_of(await read.all(reader, **values), limit, lambda row: [row["id"]])
    return JSON({"items": [dict(row) for row in rows], "next_cursor": next_cursor})
