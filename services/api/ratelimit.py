"""Rate limits per client, in fixed one-minute windows, counted in PostgreSQL
(``services.core.ratelimit``) so that a limit holds across every API process behind a
balancer. A counted request costs at most one statement on the read pool (measured: see the
README's security section), a busy caller's requests one for many (``SharedCounts``); a
client already over its limit is answered from memory until its window ends, so a flood
costs the database nothing.

Rate-limited routes answer with the headers of the IETF draft *RateLimit header fields for
HTTP* (``RateLimit-Policy: "bulk";q=120;w=60`` and ``RateLimit: "bulk";r=37;t=21``:
quota, window, remaining, seconds to the window's end) and 429 with ``Retry-After``."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from services.api.contract import declared
from services.api.deps import Token, caller_of
from services.core import ratelimit as shared
from services.core.errors import TooManyRequests

WINDOW = 60
clock = time.time  # seconds since the epoch; windows start at whole minutes (tests set it)


@dataclass(frozen=True)
class Verdict:
    """A counted request: the policy's name and quota, what is left and when it resets."""

    policy: str
    quota: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-policy", f'"{self.policy}";q={self.quota};w={WINDOW}'.encode()),
            (b"ratelimit", f'"{self.policy}";r={self.remaining};t={self.reset}'.encode()),
        ]


class LocalCounts:
    """Counts of this process only (tests, or a single process that needs no database for
    them)."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def __call__(self, key: str, window_start: int, limit: int) -> int:
        if len(self._counts) >= self.MAX_KEYS:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window_start}
        count = self._counts.get((key, window_start), 0) + 1
        self._counts[(key, window_start)] = count
        return count


@dataclass
class _Lease:
    """Numbers of requests of one key and window that this process counted in the database
    ahead of time, ``next`` to ``last``, and the size of its next claim."""

    window_start: int
    next: int
    last: int
    block: int


class SharedCounts:
    """Counts in the database, shared by every process (``services.core.ratelimit``).

    A key that keeps coming back within its window is counted in blocks: the process adds
    ``block`` to the shared count in one statement and hands out those numbers to the
    key's next requests from memory, the block doubling with each claim in the window up to
    ``limit // LEASE_SHARE``. So a busy caller costs the database one statement for many
    requests, and one that sends a few a minute one per request, as before. Nothing lets
    more than ``limit`` requests through across all processes: a number is handed out
    once, and only numbers up to the limit are allowed. What a block costs is on the
    careful side: numbers claimed and not used before the window ends count as used for
    every process (at most ``limit // LEASE_SHARE`` per key and process), so with several
    processes a caller may be refused a little before its limit, never after it."""

    LEASE_SHARE = 32  # a block is at most this fraction of the limit
    MAX_BLOCK = 1024
    MAX_KEYS = 100_000

    def __init__(self, database: Callable[[], object]) -> None:
        self._database = database
        self._pruned = 0
        self._leases: dict[str, _Lease] = {}
        self._claims: dict[str, asyncio.Lock] = {}  # one claim at a time per key

    def _taken(self, key: str, window_start: int) -> int | None:
        lease = self._leases.get(key)
        if lease is None or lease.window_start != window_start or lease.next > lease.last:
            return None
        lease.next += 1
        return lease.next - 1

    async def __call__(self, key: str, window_start: int, limit: int) -> int:
        number = self._taken(key, window_start)
        if number is not None:
            return number
        lock = self._claims.get(key)
        if lock is None:
            if len(self._claims) >= self.MAX_KEYS:
                self._forget(window_start)
            lock = self._claims[key] = asyncio.Lock()
        async with lock:
            number = self._taken(key, window_start)  # another request of the key claimed meanwhile
            if number is not None:
                return number
            db = self._database()
            if window_start > self._pruned:  # once per window and process: drop the windows before the last
                self._pruned = window_start
                await shared.prune(db, window_start - WINDOW)
            before = self._leases.get(key)
            block = 1
            if before is not None and before.window_start == window_start:
                block = max(1, min(before.block * 2, limit // self.LEASE_SHARE, self.MAX_BLOCK))
            count = await shared.count_hits(db, key, window_start, block)
            self._leases[key] = _Lease(window_start, count - block + 2, count, block)
            return count - block + 1

    def _forget(self, window_start: int) -> None:
        """Drop the claims and leases of keys not seen in this window."""
        self._leases = {k: v for k, v in self._leases.items() if v.window_start >= window_start}
        self._claims = {k: v for k, v in self._claims.items() if k in self._leases or v.locked()}


class RateLimiter:
    MAX_KEYS = 100_000

    def __init__(self, counts: Callable[[str, int, int], Awaitable[int]] | None = None) -> None:
        self._counts = counts or LocalCounts()
        # Keys over their limit, by window: answered 429 without counting further.
        self._exhausted: dict[str, int] = {}

    async def hit(self, key: str, limit: int, now: float | None = None, policy: str = "default") -> Verdict:
        """Count one request for ``key``; 429 with Retry-After once ``limit`` is passed."""
        moment = clock() if now is None else now
        window_start = int(moment // WINDOW) * WINDOW
        reset = max(1, math.ceil(window_start + WINDOW - moment))
        if self._exhausted.get(key) != window_start:
            count = await self._counts(key, window_start, limit)
            if count <= limit:
                return Verdict(policy, limit, limit - count, reset)
            if len(self._exhausted) >= self.MAX_KEYS:
                self._exhausted = {k: w for k, w in self._exhausted.items() if w >= window_start}
            self._exhausted[key] = window_start
        raise TooManyRequests("rate_limited", headers={"Retry-After": str(reset)}, retry_after=reset)


def client_address(request: Request) -> str:
    """The client's address: the peer's, or, behind a proxy of ``trusted_proxies``, the one
    it forwarded (``RequestContext`` puts it in the scope)."""
    return request.client.host if request.client else "-"


def rate_limited(endpoint):
    """Marks an endpoint that calls ``limit`` itself (its key is known only in its body, as
    login's user name): its OpenAPI documents 429 and the RateLimit headers like a route with
    a dependency of ``RATE_LIMITED`` (``contract.document_route``)."""
    endpoint.guardline_rate_limited = True
    return endpoint


async def limit(request: Request, policy: str, key: str, per_minute: int) -> None:
    """Count the request under ``policy``; the response carries the RateLimit headers. Only
    on a route that declares its rate limit (``rate_limited`` or a ``RATE_LIMITED``
    dependency): anywhere else it fails, so that no limit goes undocumented."""
    declared(request, "rate_limit")
    try:
        verdict = await request.app.state.rate_limiter.hit(f"{policy}:{key}", per_minute, policy=policy)
    except TooManyRequests as refused:
        verdict = Verdict(policy, per_minute, 0, refused.params["retry_after"])
        refused.headers.update({k.decode(): v.decode() for k, v in verdict.headers()})
        raise
    request.scope.setdefault("state", {})["ratelimit"] = verdict


async def bulk_read(request: Request, token: Token) -> None:
    """For lists and searches: at most ``rate_limits.bulk_reads_per_minute`` per caller."""
    caller = await caller_of(request, token)
    await limit(request, "bulk", caller.principal, request.app.state.settings.rate_limits.bulk_reads_per_minute)


async def public_read(request: Request) -> None:
    """For the public disclosure (no login): at most ``rate_limits.public_reads_per_minute``
    per client address."""
    await limit(
        request, "public", client_address(request), request.app.state.settings.rate_limits.public_reads_per_minute
    )


RATE_LIMITED = frozenset({bulk_read, public_read})
"""Dependencies that may answer 429: a route with one documents it (``contract.document_route``)."""
