"""Subscriptions: a system client's standing order for events, delivered to its callback
URL by the delivery worker (``services.core.events.delivery``).

A subscription names event types, a region prefix within the client's own and an https
callback. Its secret signs every delivery (Standard Webhooks); the worker needs it in the
clear to sign, so it is stored encrypted with the keyring (never as a digest) and shown to
the client once, when the subscription is made.

Each event a subscription matches becomes one row of ``deliveries`` (UNIQUE per
subscription and event, so fanning out twice changes nothing); the delivery's state —
pending, delivered, dead — and its next attempt live in the database, so a worker that is
killed loses nothing.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, Versioned, bigint_pk, str_enum
from services.core.labels import LabelledEnum

# The additional data the secret's ciphertext is bound to (a ciphertext moved to another
# column or table does not decrypt).
SECRET_AAD = b"guardline:subscription-secret"
SECRET_PREFIX = "whsec_"  # Standard Webhooks' prefix of a signing secret (base64 after it)


class SubscriptionStatus(LabelledEnum):
    """State of a subscription 订阅状态."""

    active = "active", "生效"
    paused = "paused", "暂停（事件照常排队，暂不投递）"
    expired = "expired", "已过期"


class DeliveryStatus(LabelledEnum):
    """State of one delivery 投递状态."""

    pending = "pending", "待投递"
    delivered = "delivered", "已送达"
    dead = "dead", "投递失败（重试用尽）"


class Subscription(Versioned, Base):
    """One client's subscription: which events (types under a region prefix), where to
    (``callback_url``), signed with which secret, and how far the events were fanned out."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = bigint_pk()
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), nullable=False, index=True)
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False)
    types: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    callback_url: Mapped[str] = mapped_column(String(2000), nullable=False)
    secret: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # encrypted (keyring, SECRET_AAD)
    status: Mapped[SubscriptionStatus] = mapped_column(
        str_enum(SubscriptionStatus, "subscription_status"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    # The last event number fanned out into deliveries (the worker's cursor).
    fanned_out_to: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_subscriptions_region_prefix", "region_prefix"),)


class Delivery(Base):
    """One event for one subscription, and how its delivery goes."""

    __tablename__ = "deliveries"

    id: Mapped[int] = bigint_pk()
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    object_key: Mapped[str] = mapped_column(String(64), nullable=False)  # object_type:object_id (the order)
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, "delivery_status"), nullable=False)
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0, server_default="0")
    # When it is due: the next attempt, or the end of the lease of the worker that claimed it.
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False, server_default=text("now()"))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column()
    # The Standard Webhooks ``webhook-id``: the same on every retry of this delivery.
    message_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False, server_default=text("gen_random_uuid()")
    )

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        # Due work, per subscription (the worker's claim).
        Index(
            "ix_deliveries_due",
            "subscription_id",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # The per-object order: is an earlier event of the object still pending?
        Index(
            "ix_deliveries_pending_object",
            "subscription_id",
            "object_key",
            "event_id",
            postgresql_where=text("status = 'pending'"),
        ),
        # The dead-letter view and the lists by state.
        Index("ix_deliveries_subscription_status_id", "subscription_id", "status", "id"),
    )


def callback_problem(url: str, *, allow_insecure: bool) -> str | None:
    """Why ``url`` may not be a callback (a message code), or None.

    https only (http when ``allow_insecure``: development and tests); no user name or
    password in the URL (they would be logged and shown); no fragment. Against
    server-side request forgery: a host written as an address may not be a loopback,
    private, link-local (cloud metadata), multicast or reserved one, nor may it be
    ``localhost`` — unless ``allow_insecure``. Names are not resolved here (a name's
    address can change after the check): the worker's network should reach only the
    subscribers' networks (docs/events.md, "SSRF")."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is no number raises here
    except ValueError:
        return "callback_url_invalid"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "callback_url_invalid"
    if parts.scheme == "http" and not allow_insecure:
        return "callback_url_not_https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "callback_url_credentials"
    if parts.fragment:
        return "callback_url_invalid"
    if allow_insecure:
        return None
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "callback_url_internal"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global or address.is_multicast:
        return "callback_url_internal"
    return None
