"""The direct handler (``routing.fast_path``) of the late follow-up visits
(``GET /api/v1/follow-up/overdue``): the households whose scheduled visit a cadre has not
made, the list assistance cadres page through. It is answered without FastAPI's dependency
solving and without building the statement at run time (``services.api.listing``).

It takes on only queries whose every parameter has its plain valid form, each at most
once, and declines (None) anything else before doing anything, so FastAPI's handling of
the route answers it as always. What it takes on, it answers as the route does, in the
same order: the caller (401, 403 without ``monitoring:read``; the route has no rate limit of
its own), the region filter (404 when missing or outside the caller's regions), then the
page: the policy context read in one round trip, and the service's own ``overdue`` on the
read pool (each zone's page a ``ScopedRead`` compiled once per zone, visit period and region
prefix). ``tests/api/test_followup_list_direct.py`` holds it to the route's answers, input by
input.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import Declined, cursor_of, day_of, id_of, limit_of, list_reader, plain_query, prefix_of
from services.api.pagination import page_limit
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.followup import service
from services.core.monitoring.context import load_policy_context
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import today

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


async def list_overdue_directly(request: Request) -> Response | None:
    """``GET /api/v1/follow-up/overdue`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _overdue_query(request)
    except Declined:
        return None
    caller, reader = await list_reader(request, Permission.monitoring_read, bulk=False)
    region = query["region"]
    if region is not None:
        await check_prefix_visible(reader, region, field="region")
    ctx = await load_policy_context(reader)
    found = await service.overdue(
        reader,
        ctx,
        service.list_prefix(caller.region_prefix, region),
        as_of=query["as_of"] or today(),
        cadre_user_id=query["cadre_user_id"],
        cursor=query["cursor"],
        limit=page_limit(request, query["limit"]),
    )
    return JSON(found.body())
