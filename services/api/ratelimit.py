"""Rate limits per client (fixed one-minute windows, in this process). With several API
processes behind a balancer each process counts for itself, so the effective limit is the
setting times the number of processes; the lockout in the database does not depend on it."""
from __future__ import annotations

import math
import time

from fastapi import Request

from services.api.deps import Token, caller_of
from services.core.errors import TooManyRequests

WINDOW = 60.0


class RateLimiter:
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int, now: float | None = None) -> None:
        """Count one request for ``key``; 429 with Retry-After once ``limit`` is passed."""
        moment = time.monotonic() if now is None else now
        start, count = self._windows.get(key, (moment, 0))
        if moment - start >= WINDOW:
            start, count = moment, 0
        if count >= limit:
            retry = max(1, math.ceil(start + WINDOW - moment))
            raise TooManyRequests("rate_limited", headers={"Retry-After": str(retry)}, retry_after=retry)
        if len(self._windows) >= self.MAX_KEYS:
            self._windows = {k: v for k, v in self._windows.items() if moment - v[0] < WINDOW}
        self._windows[key] = (start, count + 1)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


async def bulk_read(request: Request, token: Token) -> None:
    """For lists and searches: at most ``rate_limits.bulk_reads_per_minute`` per caller."""
    caller = await caller_of(request, token)
    request.app.state.rate_limiter.hit(f"bulk:{caller.principal}",
                                       request.app.state.settings.rate_limits.bulk_reads_per_minute)


async def public_read(request: Request) -> None:
    """For the public disclosure (no login): at most ``rate_limits.public_reads_per_minute``
    per client address."""
    request.app.state.rate_limiter.hit(f"public:{client_address(request)}",
                                       request.app.state.settings.rate_limits.public_reads_per_minute)


RATE_LIMITED = frozenset({bulk_read, public_read})
"""Dependencies that may answer 429: a route with one documents it (``routing.GuardlineRoute``)."""
