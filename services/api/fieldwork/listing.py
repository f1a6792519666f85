"""The direct handler (``routing.fast_path``) of the households a screening campaign has not
visited yet (``GET /api/v1/campaigns/{campaign_id}/unvisited``), the list field teams page
through on their phones during a campaign (大走访、大排查). It is answered without FastAPI's
dependency solving and without building the statement at run time (``services.api.listing``).

It takes on only requests whose campaign id and every query parameter have their plain valid
form, each parameter at most once, and declines (None) anything else before doing anything,
so FastAPI's handling of the route answers it as always. What it takes on, it answers as the
route does, in the same order: the caller (401, 403 without campaigns:read, then the bulk
read limit), the region filter (404 when outside the caller's regions), the campaign (404
when the caller cannot see it), then the page (422 when the region filter and the campaign's
region do not meet, or for a cursor of another list): the service's own function on the read
pool, each page a ``ScopedRead`` compiled once per region prefix.
``tests/api/test_fieldwork_list_direct.py`` holds it to the route's answers, input by input.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import Declined, cursor_of, limit_of, list_reader, path_id, plain_query, prefix_of
from services.api.pagination import page_limit
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.fieldwork import campaigns

_SINGLE = frozenset({"region", "limit", "cursor"})


def _query(request: Request) -> dict[str, Any]:
    """The list's query parameters as the route would get them, or ``Declined``."""
    given, _ = plain_query(request, _SINGLE)
    cursor = given.get("cursor")
    cursor_of(cursor, (int,))  # a well-formed cursor of a household id (the service reads it)
    return {"region": prefix_of(given.get("region")), "limit": limit_of(given.get("limit")), "cursor": cursor}


async def list_unvisited_directly(request: Request) -> Response | None:
    """``GET /api/v1/campaigns/{campaign_id}/unvisited`` (see the module), or None to leave it
    to FastAPI."""
    try:
        query = _query(request)
        campaign_id = path_id(request, "campaign_id")
    except Declined:
        return None
    region = query["region"]
    _, reader = await list_reader(request, Permission.campaigns_read, region=region)
    campaign_prefix = await campaigns.region_of(reader, campaign_id)
    limit = page_limit(request, query["limit"])
    found = await campaigns.unvisited(reader, campaign_id, campaign_prefix, region, query["cursor"], limit)
    return JSON(found.body())
