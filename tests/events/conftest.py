"""System clients, a receiver and a quick delivery schedule for the subscription tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from services.core.accounts.roles import Permission, Role
from services.core.accounts.security import Caller, issue_token
from services.core.events import delivery
from services.core.settings import EventsSettings
from services.simulators.receiver import Receiver, create_receiver
from tests.factories import COUNTY


@pytest.fixture
async def systems(settings, engine):
    """``await systems("dept.a", [perms], prefix)`` → (client id, headers of its token): a
    system client committed to the database; it and its subscriptions are removed after."""
    made: list[int] = []

    async def make(name: str, permissions=(Permission.registry_read,), prefix: str = COUNTY):
        async with engine.begin() as conn:
            ident = (
                await conn.execute(
                    text(
                        "INSERT INTO api_clients (name, permissions, region_prefix, active, version) "
                        "VALUES (:name, :permissions, :prefix, true, 1) RETURNING id"
                    ),
                    {"name": name, "permissions": [p.value for p in permissions], "prefix": prefix},
                )
            ).scalar_one()
        made.append(ident)
        caller = Caller(None, name, Role.department_system, prefix, client_id=ident, granted=frozenset(permissions))
        token, _ = issue_token(settings, caller)

        def headers(**extra: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", **extra}

        return ident, headers

    yield make
    async with engine.begin() as conn:  # their deliveries go with them (ON DELETE CASCADE)
        await conn.execute(text("DELETE FROM subscriptions WHERE client_id = ANY(:ids)"), {"ids": made})
        await conn.execute(text("DELETE FROM api_clients WHERE id = ANY(:ids)"), {"ids": made})


@pytest.fixture
def fast(settings):
    """The settings with a schedule of a few short waits, short leases and time limits."""
    return settings.model_copy(
        update={
            "events": EventsSettings(
                retry_seconds=[0.05, 0.05, 0.05],
                retry_jitter=0,
                lease_seconds=1.5,
                timeout_seconds=1.0,
                poll_seconds=0.05,
            )
        }
    )


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver on a free local port: (its state, its callback URL)."""
    from tests.simulators.conftest import serving

    state = Receiver()
    with serving(create_receiver(state)) as base:
        yield state, f"{base}/hook"


async def drain(engine, settings, done, seconds: float = 20.0) -> None:
    """Run the worker (``--once`` passes) until ``done()`` holds."""
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    async with delivery.http_client(settings) as http:
        while not done():
            assert time.monotonic() < deadline, "deliveries did not arrive in time"
            await delivery.deliver(engine, settings, once=True, http=http)
            await asyncio.sleep(0.05)
