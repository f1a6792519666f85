"""A subscription row for the route tests that need one to aim at (the matrix, mass
assignment); the subscriptions themselves are tested in tests/events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.core.events.subscriptions import Subscription, SubscriptionStatus


def subscription_row(client_id: int, region_prefix: str) -> Subscription:
    """An active subscription of ``client_id`` to new households under ``region_prefix``."""
    return Subscription(
        client_id=client_id,
        region_prefix=region_prefix,
        types=["household.created"],
        callback_url="https://dept.example.cn/h",
        secret=b"not used here",
        status=SubscriptionStatus.active,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        fanned_out_to=0,
    )
