"""Events for systems that cannot receive calls (issue 20): read the stream by number.

``GET /api/v1/events?after=N`` gives the events numbered above N in the caller's regions, of
the types its permissions let it see (``services.core.events.types``), oldest first, and the
number to ask after next. Numbers follow the commit order, so reading on from the last one
seen never misses an event (``services.core.events.triggers``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.deps import CurrentCaller, Needs, Session
from services.api.errors_doc import responses
from services.api.events import feed
from services.api.pagination import page_limit
from services.api.params import Limit
from services.api.ratelimit import bulk_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.events import service
from services.core.events.schemas import ChangeFamily, ChangePage, EventPage
from services.core.events.types import EventType, check_visible, visible_types

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)


@router.get(
    "/events",
    response_model=EventPage,
    operation_id="listEvents",
    tags=[tags.EVENTS],
    dependencies=[Depends(bulk_read)],
    responses=responses(403, 429),
    summary="Read the events after a number 按序号读取事件",
    description="The events numbered above `after` in your regions, oldest first, of the `types` asked for "
    "(default: every type your role may see; none, for a role that may see no events). Numbers follow the order in which the changes were committed: "
    "keep `next_after` and ask again with it, and no event is missed. A household or person that moved out of "
    "your regions shows as its move (`old_region_code`). 按提交顺序读取本辖区事件，保存 next_after 继续读取即不遗漏。",
)
async def list_events(
    request: Request,
    session: Session,
    caller: CurrentCaller,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Events numbered above this 起始序号（不含）")] = 0,
    types: Annotated[
        list[EventType] | None, Query(max_length=len(EventType), description="Only these types 事件类型")
    ] = None,
    limit: Limit = None,
):
    allowed = visible_types(caller.permissions)
    if types is not None:
        check_visible(caller.permissions, types)
    items, next_after = await service.events_after(
        session,
        caller.region_prefix,
        after=after,
        types=[t.value for t in (types or allowed)],
        health=Permission.registry_health in caller.permissions,
        limit=page_limit(request, limit),
    )
    return JSON({"items": items, "next_after": next_after})


@router.get(
    "/changes",
    response_model=ChangePage,
    operation_id="listChanges",
    tags=[tags.OFFLINE],
    dependencies=[Depends(bulk_read)],
    responses=responses(403, 422, 429),
    summary="What changed in your regions since the last sync 增量同步",
    description="For a phone that works offline. Without `since`: every object of the family in your regions, page "
    "by page (`more`). Then pass the `next` you were given as `since`: each object that changed since is given once, "
    "as it is now (`upsert`), or as `removed` when it left your regions. Repeat while `more` is true. Health details "
    "are never in the feed (read them with GET /households/{id}, audited). households and persons need "
    "registry:read; cases, measures and visits monitoring:read. 离线同步：首次不带 since 取全量，此后以 next 取增量。",
)
async def list_changes(
    request: Request,
    session: Session,
    caller: Annotated[Caller, Needs(Permission.registry_read)],
    family: Annotated[ChangeFamily, Query(description="Which objects 数据类别")],
    since: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=feed.TOKEN_MAX_LENGTH,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The `next` of your last sync 上次同步返回的 next",
        ),
    ] = None,
    limit: Limit = None,
):
    page = await feed.changes(session, caller, family.value, since, page_limit(request, limit))
    return JSON(page)
