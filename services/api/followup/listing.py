"""The direct handlers (``routing.fast_path``) of the follow-up work lists that cadres and
grid workers page through: the late follow-up visits (``GET /api/v1/follow-up/overdue``: the
households whose scheduled visit was not made), the households missing a quarter's income
(``GET /api/v1/follow-up/income-missing``), the households whose income is low or fell
(``GET /api/v1/follow-up/income-flags``) and a cadre's own households (``GET
/api/v1/follow-up/cadres/{cadre_user_id}/households``: the cadre's app's home list). They are
answered without FastAPI's dependency solving and without building the statement at run
time (``services.api.listing``).

Each takes on only queries whose every parameter has its plain valid form, each at most
once, and declines (None) anything else before doing anything, so FastAPI's handling of
the route answers it as always. What it takes on, it answers as the route does, in the
same order: the caller (401, 403 without the route's permission; neither route has a rate
limit of its own), the region filter (404 when missing or outside the caller's regions),
then the page: the policy context read in one round trip, and the service's own function
on the read pool (each zone's page a ``ScopedRead`` compiled once per zone, the values of
its text and region prefix), its errors (a quarter not yet due: 422) answered by the
application's handlers as the route's are. A cadre's households are answered in their
route's order too: the caller (401, 403), the cadre (404 outside the caller's regions), the
page. ``tests/api/test_followup_list_direct.py`` holds each to its route's answers, input by
input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import (
    Declined,
    cursor_of,
    day_of,
    enum_of,
    id_of,
    limit_of,
    list_reader,
    path_id,
    plain_query,
    prefix_of,
    quarter_of,
)
from services.api.pagination import page_limit
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.followup import service
from services.core.followup.rules import IncomeFlag, previous_quarter
from services.core.monitoring.context import PolicyContext, load_policy_context
from services.core.paging import KeyPage
from services.core.scope import Reader
from services.core.timeutil import current_quarter, today

_OVERDUE_SINGLE = frozenset({"region", "as_of", "cadre_user_id", "limit", "cursor"})


def _overdue_query(request: Request) -> dict[str, Any]:
    """The list's parameters as the route would get them, or ``Declined``."""
    given, _ = plain_query(request, _OVERDUE_SINGLE)
    cursor = given.get("cursor")
    cursor_of(cursor, (int,))  # a well-formed cursor of a household id (the service reads it)
    return {
        "region": prefix_of(given.get("region")),
        "as_of": day_of(given.get("as_of")),
        "cadre_user_id": id_of(given.get("cadre_user_id")),
        "limit": limit_of(given.get("limit")),
        "cursor": cursor,
    }


_MISSING_SINGLE = frozenset({"region", "year", "quarter", "as_of", "limit", "cursor"})
_FLAGS_SINGLE = frozenset({"region", "year", "quarter", "flag", "limit", "cursor"})


def _quarterly_query(request: Request, single: frozenset[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The query of a list by quarter (missing income, income flags): the raw parameters, and
    those the two lists share as the route would get them; or ``Declined``."""
    given, _ = plain_query(request, single)
    year, quarter = quarter_of(given)
    cursor = given.get("cursor")
    cursor_of(cursor, (int,))
    shared = {
        "region": prefix_of(given.get("region")),
        "year": year,
        "quarter": quarter,
        "limit": limit_of(given.get("limit")),
        "cursor": cursor,
    }
    return given, shared


def _missing_query(request: Request) -> dict[str, Any]:
    """The missing-income list's parameters as the route would get them, or ``Declined``."""
    given, query = _quarterly_query(request, _MISSING_SINGLE)
    return {**query, "as_of": day_of(given.get("as_of"))}


def _flags_query(request: Request) -> dict[str, Any]:
    """The income flags' parameters as the route would get them, or ``Declined``."""
    given, query = _quarterly_query(request, _FLAGS_SINGLE)
    return {**query, "flag": enum_of(IncomeFlag, given.get("flag"))}


async def _answer(
    request: Request,
    query: dict[str, Any],
    permission: Permission,
    page: Callable[[Reader, PolicyContext, str, int], Awaitable[KeyPage[dict]]],
) -> Response:
    """The caller, the region filter, the policy context, then ``page(reader, ctx, prefix,
    limit)``: the steps of both routes, in their order."""
    region = query["region"]
    caller, reader = await list_reader(request, permission, bulk=False, region=region)
    ctx = await load_policy_context(reader)
    found = await page(
        reader, ctx, service.list_prefix(caller.region_prefix, region), page_limit(request, query["limit"])
    )
    return JSON(found.body())


async def list_overdue_directly(request: Request) -> Response | None:
    """``GET /api/v1/follow-up/overdue`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _overdue_query(request)
    except Declined:
        return None

    async def page(reader: Reader, ctx: PolicyContext, prefix: str, limit: int) -> KeyPage[dict]:
        day = query["as_of"] or today()
        return await service.overdue(
            reader, ctx, prefix, as_of=day, cadre_user_id=query["cadre_user_id"], cursor=query["cursor"], limit=limit
        )

    return await _answer(request, query, Permission.monitoring_read, page)


async def list_missing_income_directly(request: Request) -> Response | None:
    """``GET /api/v1/follow-up/income-missing`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _missing_query(request)
    except Declined:
        return None

    async def page(reader: Reader, ctx: PolicyContext, prefix: str, limit: int) -> KeyPage[dict]:
        day = query["as_of"] or today()
        year, quarter = service.asked_quarter(ctx, prefix, query["year"], query["quarter"], day)
        return await service.missing_income(
            reader, ctx, prefix, year=year, quarter=quarter, as_of=day, cursor=query["cursor"], limit=limit
        )

    return await _answer(request, query, Permission.registry_read, page)


_CADRE_SINGLE = frozenset({"limit", "cursor"})


def _cadre_query(request: Request) -> dict[str, Any]:
    """A cadre's households' query parameters as the route would get them, or ``Declined``."""
    given, _ = plain_query(request, _CADRE_SINGLE)
    cursor = given.get("cursor")
    cursor_of(cursor, (int,))
    return {"limit": limit_of(given.get("limit")), "cursor": cursor}


async def list_cadre_households_directly(request: Request) -> Response | None:
    """``GET /api/v1/follow-up/cadres/{cadre_user_id}/households`` (see the module), or None
    to leave it to FastAPI."""
    try:
        query = _cadre_query(request)
        cadre_id = path_id(request, "cadre_user_id")
    except Declined:
        return None
    _, reader = await list_reader(request, Permission.monitoring_read, bulk=False)
    await service.check_cadre(reader, cadre_id)
    limit = page_limit(request, query["limit"])
    found = await service.households_of(reader, cadre_id, cursor=query["cursor"], limit=limit)
    return JSON(found.body())


async def list_income_flags_directly(request: Request) -> Response | None:
    """``GET /api/v1/follow-up/income-flags`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _flags_query(request)
    except Declined:
        return None

    async def page(reader: Reader, ctx: PolicyContext, prefix: str, limit: int) -> KeyPage[dict]:
        year, quarter = service.complete_quarter(query["year"], query["quarter"], previous_quarter(*current_quarter()))
        return await service.income_flags(
            reader, ctx, prefix, year=year, quarter=quarter, flag=query["flag"], cursor=query["cursor"], limit=limit
        )

    return await _answer(request, query, Permission.registry_read, page)
