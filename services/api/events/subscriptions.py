"""Subscriptions (issue 20): a system client asks for the events of some types in a region
of its own to be delivered to its callback URL (``services.core.events.delivery`` delivers
them). Only system clients subscribe; a user reads the stream with ``GET /api/v1/events``.

Who sees a subscription: the client that made it, and an administrator of system clients
(``clients:admin``) whose regions hold the client's; for anyone else it does not exist (404).
Every other user is refused (403) before anything is looked up, so a refusal tells nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.api import tags
from services.api.deps import CurrentCaller, Session, check_if_match
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, IdPath, Limit
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag, resource_response
from services.api.routing import GuardlineRoute
from services.core.accounts.models import ApiClient
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.base import VERSION_DESCRIPTION
from services.core.crypto import keyring
from services.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.core.events import delivery
from services.core.events.subscriptions import (
    SECRET_AAD,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
    callback_problem,
)
from services.core.events.types import EventType, check_visible, visible_types
from services.core.households.schemas import Input
from services.core.labels import labelled
from services.core.paging import keyset_page
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import now

router = APIRouter(prefix="/api/v1", tags=[tags.EVENTS], route_class=GuardlineRoute)

PREFIX = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$"
SubscriptionId = Annotated[int, IdPath("Subscription id 订阅标识")]


class SubscriptionOut(BaseModel):
    id: int = Field(description="Subscription id 订阅标识")
    client_id: int = Field(description="The system client that subscribed 订阅的接入系统")
    region_prefix: str = Field(description="Events of objects in this region (or that moved out of it) 区划前缀")
    types: list[EventType] = Field(description="The event types delivered 订阅的事件类型")
    callback_url: str = Field(description="Where the events are POSTed 回调地址")
    status: SubscriptionStatus = Field(description="active, paused or expired 订阅状态")
    expires_at: datetime = Field(description="When the subscription ends unless renewed 到期时间")
    fanned_out_to: int = Field(description="The last event number queued for delivery 已排队的最后事件序号")
    created_at: datetime = Field(description="When it was made 创建时间")
    version: int = Field(description=VERSION_DESCRIPTION)


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(
        description="Shown once: the key of the `webhook-signature` of every delivery (Standard Webhooks, "
        "`whsec_` and base64). Store it in the receiving system's secret store. 签名密钥（仅显示一次）"
    )


class SubscriptionCreate(Input):
    types: list[EventType] | None = Field(
        None, min_length=1, description="Event types to deliver; default every type your permissions let you see"
    )
    region_prefix: str | None = Field(
        None, pattern=PREFIX, description="Region code prefix within yours; default your whole region 区划前缀"
    )
    callback_url: str = Field(max_length=2000, description="https URL the events are POSTed to 回调地址")
    expires_at: datetime | None = Field(None, description="When it ends; default a year from now 到期时间")


SettableStatus = labelled(
    "SettableSubscriptionStatus",
    [(s.value, s.label) for s in (SubscriptionStatus.active, SubscriptionStatus.paused)],
    "A state a subscription may be put in 可设置的订阅状态",
)


class SubscriptionUpdate(Input):
    status: SettableStatus | None = Field(  # type: ignore[valid-type]
        None, description="paused: events queue up but are not delivered; active: delivery resumes 暂停或恢复"
    )
    types: list[EventType] | None = Field(None, min_length=1, description="Event types, replacing the list 事件类型")
    callback_url: str | None = Field(None, max_length=2000, description="New callback URL 回调地址")
    expires_at: datetime | None = Field(None, description="A new end (renews an expired subscription) 到期时间")


class DeliveryOut(BaseModel):
    id: int = Field(description="Delivery id 投递标识")
    event_id: int = Field(description="The event delivered 事件序号")
    object_key: str = Field(description="`object_type:object_id`: the order of delivery is per object 对象")
    status: DeliveryStatus = Field(description="pending, delivered or dead 投递状态")
    attempts: int = Field(description="Attempts made so far 已尝试次数")
    next_attempt_at: datetime = Field(description="When the next attempt is due (pending) 下次尝试时间")
    last_status_code: int | None = Field(description="The HTTP status of the last attempt 最近一次响应状态码")
    last_error: str | None = Field(description="What went wrong last (never the answer's body) 最近一次错误")
    delivered_at: datetime | None = Field(description="When it was delivered 送达时间")
    message_id: str = Field(description="The `webhook-id`: the same on every retry 消息标识（重试不变）")


class Redeliver(Input):
    delivery_id: int | None = Field(None, ge=1, le=2**62, description="Only this dead delivery; default every dead one")


class Replay(Input):
    from_event_id: int = Field(ge=1, le=2**62, description="Deliver again the matching events from this number on")


class Requeued(BaseModel):
    requeued: int = Field(description="Deliveries queued again 重新排队的投递数")


def subscription_out(sub: Subscription) -> dict:
    return SubscriptionOut.model_validate(sub, from_attributes=True).model_dump(mode="json")


def _response(sub: Subscription, status: int = 200, secret: str | None = None) -> JSON:
    return resource_response(
        subscription_out(sub),
        etag("subscription", sub.id, sub.version),
        status=status,
        location=f"/api/v1/subscriptions/{sub.id}",
        secret=("secret", secret) if secret is not None else None,
    )


def _visible_to(caller: Caller):
    """The condition on subscriptions for ``caller``: its own (a client), or those of clients
    in its regions (an administrator of clients); any other caller is refused."""
    if caller.client_id is not None:
        return Subscription.client_id == caller.client_id
    if Permission.clients_admin in caller.permissions:
        prefix = caller.region_prefix
        inside = ApiClient.region_prefix.startswith(prefix, autoescape=True) if prefix else ApiClient.id.is_not(None)
        return Subscription.client_id.in_(select(ApiClient.id).where(inside))
    raise Forbidden("subscriptions_forbidden")


async def _one(session: AsyncSession, caller: Caller, ident: int, *, for_update: bool = False) -> Subscription:
    stmt = select(Subscription).where(Subscription.id == ident, _visible_to(caller))
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("subscription_not_found", field="subscription_id", id=ident)
    return found


def _check_callback(request: Request, url: str) -> None:
    problem = callback_problem(url, allow_insecure=request.app.state.settings.insecure_callbacks)
    if problem is not None:
        raise Unprocessable(problem, field="callback_url")


def _check_expiry(request: Request, when: datetime) -> datetime:
    days = request.app.state.settings.events.subscription_max_days
    if when.tzinfo is None or not now() < when <= now() + timedelta(days=days):
        raise Unprocessable("subscription_expiry_range", field="expires_at", days=days)
    return when


async def _owner_permissions(session: AsyncSession, sub: Subscription) -> frozenset[Permission]:
    client = await session.get(ApiClient, sub.client_id)
    assert client is not None  # a foreign key
    return frozenset(Permission(p) for p in client.permissions if p in Permission._value2member_map_)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionWithSecret,
    operation_id="createSubscription",
    responses=responses(404, 409),
    summary="Subscribe to events (system clients) 订阅事件",
    description="Events of the `types` asked for, of objects in `region_prefix` (within your regions) or "
    "that moved out of it, are POSTed to `callback_url` from now on, signed with the secret this answer "
    "shows once (Standard Webhooks). Only system clients subscribe (403 `subscription_needs_client` for "
    "users); a type your permissions do not let you see is refused (403 `event_type_forbidden`). The same "
    "callback URL and region twice answers 409 `subscription_exists` (so a retried request makes no second "
    "subscription: the secret is never stored to be replayed). 接入系统订阅事件；签名密钥仅显示一次。",
)
async def create_subscription(request: Request, body: SubscriptionCreate, session: Session, caller: CurrentCaller):
    if caller.client_id is None:
        raise Forbidden("subscription_needs_client")
    types = body.types or visible_types(caller.permissions)
    check_visible(caller.permissions, types)
    region = body.region_prefix if body.region_prefix is not None else caller.region_prefix
    await check_prefix_visible(session, region, field="region_prefix")
    _check_callback(request, body.callback_url)
    settings = request.app.state.settings
    expires = (
        _check_expiry(request, body.expires_at)
        if body.expires_at is not None
        else now() + timedelta(days=settings.events.subscription_days)
    )
    same = (
        await session.execute(
            select(Subscription.id).where(
                Subscription.client_id == caller.client_id,
                Subscription.callback_url == body.callback_url,
                Subscription.region_prefix == region,
                Subscription.status != SubscriptionStatus.expired,
            )
        )
    ).scalar()
    if same is not None:
        raise Conflict("subscription_exists", field="callback_url", id=same)
    secret = delivery.new_secret()
    # From now on: the events committed so far are history (``replay`` delivers them).
    last = (await session.execute(text("SELECT coalesce(max(id), 0) FROM events"))).scalar_one()
    sub = Subscription(
        client_id=caller.client_id,
        region_prefix=region,
        types=sorted({t.value for t in types}),
        callback_url=body.callback_url,
        secret=keyring(settings).encrypt(secret.encode(), SECRET_AAD),
        status=SubscriptionStatus.active,
        expires_at=expires,
        fanned_out_to=last,
    )
    session.add(sub)
    await session.flush()
    return _response(sub, 201, secret)


@router.get(
    "/subscriptions",
    response_model=Page[SubscriptionOut],
    operation_id="listSubscriptions",
    dependencies=[Depends(bulk_read)],
    responses=responses(429),
    summary="Subscriptions 订阅列表",
)
async def list_subscriptions(
    request: Request, session: Session, caller: CurrentCaller, limit: Limit = None, cursor: Cursor = None
):
    """A system client's own subscriptions; for an administrator of system clients (clients:admin), those of
    the clients in its regions. By id, one page at a time; never the secrets. 订阅列表。"""
    stmt = select(Subscription).where(_visible_to(caller))
    rows, next_cursor = await keyset_page(session, stmt, [(Subscription.id, False)], cursor, page_limit(request, limit))
    return JSON({"items": [subscription_out(s) for s in rows], "next_cursor": next_cursor})


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    operation_id="getSubscription",
    responses=responses(404),
    summary="One subscription 订阅详情",
)
async def get_subscription(subscription_id: SubscriptionId, session: Session, caller: CurrentCaller):
    """One subscription, with its ETag for a change. 404 for a subscription that is not yours (or, for an
    administrator of clients, not of a client in your regions). 订阅详情。"""
    return _response(await _one(session, caller, subscription_id))


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    operation_id="updateSubscription",
    responses=responses(404, 409, 412, 428),
    summary="Pause, resume or change a subscription (needs If-Match) 暂停、恢复或修改订阅",
    description="`status: paused` holds delivery (events go on queueing; `active` delivers them); new types, "
    "callback URL or expiry (a new `expires_at` renews an expired subscription). Types the owning client may "
    "not see are refused (403 `event_type_forbidden`).",
)
async def update_subscription(
    request: Request, subscription_id: SubscriptionId, body: SubscriptionUpdate, session: Session, caller: CurrentCaller
):
    sub = await _one(session, caller, subscription_id, for_update=True)
    check_if_match(request, etag("subscription", sub.id, sub.version))
    if body.types is not None:
        check_visible(await _owner_permissions(session, sub), body.types)
        sub.types = sorted({t.value for t in body.types})
    if body.callback_url is not None:
        _check_callback(request, body.callback_url)
        sub.callback_url = body.callback_url
    if body.expires_at is not None:
        sub.expires_at = _check_expiry(request, body.expires_at)
        if sub.status == SubscriptionStatus.expired:
            sub.status = SubscriptionStatus.active
    if body.status is not None:
        if sub.status == SubscriptionStatus.expired:
            raise Conflict("subscription_expired", field="status")
        sub.status = SubscriptionStatus(body.status.value)
    await session.flush()
    return _response(sub)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    operation_id="deleteSubscription",
    responses=responses(404),
    summary="End a subscription 取消订阅",
    description="Nothing more is delivered; the subscription's deliveries, the dead ones too, are removed.",
)
async def delete_subscription(subscription_id: SubscriptionId, session: Session, caller: CurrentCaller) -> Response:
    sub = await _one(session, caller, subscription_id, for_update=True)
    await session.delete(sub)
    await session.flush()
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=Page[DeliveryOut],
    operation_id="listDeliveries",
    dependencies=[Depends(bulk_read)],
    responses=responses(404, 429),
    summary="A subscription's deliveries (dead letters with status=dead) 投递记录",
)
async def list_deliveries(
    request: Request,
    subscription_id: SubscriptionId,
    session: Session,
    caller: CurrentCaller,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state 投递状态")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The deliveries of a subscription, by id, optionally of one state: `status=dead` lists the dead letters
    (retries used up), each with its last status code and error, to send again with `redeliver`. 投递记录。"""
    sub = await _one(session, caller, subscription_id)
    stmt = select(Delivery).where(Delivery.subscription_id == sub.id)
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    rows, next_cursor = await keyset_page(session, stmt, [(Delivery.id, False)], cursor, page_limit(request, limit))
    items = [DeliveryOut.model_validate(d, from_attributes=False) for d in map(_delivery, rows)]
    return JSON({"items": [i.model_dump(mode="json") for i in items], "next_cursor": next_cursor})


def _delivery(d: Delivery) -> dict:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "object_key": d.object_key,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "message_id": str(d.message_id),
    }


REDELIVER = text("""
UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
WHERE subscription_id = :subscription AND status = 'dead' AND (CAST(:only AS bigint) IS NULL OR id = :only)
""")


@router.post(
    "/subscriptions/{subscription_id}/redeliver",
    response_model=Requeued,
    operation_id="redeliver",
    responses=responses(404, 409),
    summary="Send dead deliveries again 重新投递",
    description="Dead deliveries (all, or the one named) become pending again with their attempts from zero "
    "and the same message id (`webhook-id`): a receiver that already took one sees it is a repeat.",
)
async def redeliver(
    subscription_id: SubscriptionId, session: Session, caller: CurrentCaller, body: Redeliver | None = None
):
    sub = await _one(session, caller, subscription_id)
    body = body or Redeliver()
    if body.delivery_id is not None:
        found = (
            await session.execute(
                select(Delivery.status).where(Delivery.id == body.delivery_id, Delivery.subscription_id == sub.id)
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("delivery_not_found", field="delivery_id", id=body.delivery_id)
        if found != DeliveryStatus.dead:
            raise Conflict("delivery_not_dead", field="delivery_id", id=body.delivery_id, status=found.value)
    result = await session.execute(REDELIVER, {"subscription": sub.id, "only": body.delivery_id})
    return JSON({"requeued": result.rowcount})  # type: ignore[attr-defined]


@router.post(
    "/subscriptions/{subscription_id}/replay",
    response_model=Requeued,
    operation_id="replayEvents",
    responses=responses(404),
    summary="Deliver again the events from a number 从指定序号重放事件",
    description="The events numbered `from_event_id` and above that the subscription matches (types, region, "
    "and the owning client's permissions as they are now) are delivered again, in order per object, each as a "
    "**new message** (a new `webhook-id`; dedupe on the body's event `id` if you need to). Deliveries still "
    "pending are left as they are.",
)
async def replay_events(subscription_id: SubscriptionId, body: Replay, session: Session, caller: CurrentCaller):
    sub = await _one(session, caller, subscription_id, for_update=True)
    count = await delivery.replay(session, sub, await _owner_permissions(session, sub), body.from_event_id)
    return JSON({"requeued": count})
