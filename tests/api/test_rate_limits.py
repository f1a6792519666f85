"""Rate limits hold across API processes (counted in PostgreSQL), are announced with the
RateLimit headers, and count the client's real address: X-Forwarded-For only from a
trusted proxy."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from services.api import ratelimit
from services.api.app import create_app
from services.core.audit import AuditEvent
from services.core.settings import RateLimitSettings, Settings

NOW = 1_800_000_010.0  # ten seconds into a window (1_800_000_000 is a whole minute)
FUNDS = "/api/v1/public/fund-allocations"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """Every request of a test in the same window, wherever the minute turns."""
    monkeypatch.setattr(ratelimit, "clock", lambda: NOW)


def _app(settings: Settings, db, **changes):
    limits = RateLimitSettings(bulk_reads_per_minute=4, public_reads_per_minute=3, login_per_minute=3)
    return create_app(settings.model_copy(update={"rate_limits": limits, **changes}), database=db)


def _client(app, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_two_api_processes_share_one_limit(settings, db, auth):
    h = auth("county_staff.township")
    async with _client(_app(settings, db)) as one, _client(_app(settings, db)) as two:
        answers = [
            await c.get("/api/v1/households", headers=h, params={"limit": 1}) for c in (one, two, one, two, one, two)
        ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    ok, refused = answers[0], answers[4]
    assert ok.headers["ratelimit-policy"] == '"bulk";q=4;w=60'
    assert ok.headers["ratelimit"] == '"bulk";r=3;t=50'
    assert answers[3].headers["ratelimit"] == '"bulk";r=0;t=50'
    assert refused.headers["retry-after"] == "50"
    assert refused.headers["ratelimit"] == '"bulk";r=0;t=50'
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"


async def test_the_next_window_starts_afresh(settings, db, auth, monkeypatch):
    h = auth("county_staff.township")
    async with _client(_app(settings, db)) as c:
        for _ in range(4):
            assert (await c.get("/api/v1/households", headers=h)).status_code == 200
        assert (await c.get("/api/v1/households", headers=h)).status_code == 429
        monkeypatch.setattr(ratelimit, "clock", lambda: NOW + 60)
        r = await c.get("/api/v1/households", headers=h)
    assert r.status_code == 200 and r.headers["ratelimit"] == '"bulk";r=3;t=50'


async def test_routes_without_a_limit_send_no_ratelimit_headers(settings, db, auth):
    async with _client(_app(settings, db)) as c:
        r = await c.get("/api/v1/auth/me", headers=auth("county_staff.county"))
    assert r.status_code == 200 and "ratelimit" not in r.headers and "ratelimit-policy" not in r.headers


async def _login_event_ip(c: httpx.AsyncClient, session, forwarded: str) -> str | None:
    r = await c.post(
        "/api/v1/auth/token",
        data={"username": "nobody", "password": "Wrong-Password-9"},
        headers={"X-Forwarded-For": forwarded},
    )
    assert r.status_code == 401, r.text
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.request_id == r.headers["x-request-id"]))
    ).scalar_one()
    return str(event.ip) if event.ip is not None else None


async def test_x_forwarded_for_from_an_untrusted_peer_changes_nothing(settings, db, session):
    async with _client(_app(settings, db), peer="203.0.113.5") as c:
        # a new forged address each time: still one client, one limit
        answers = [
            await c.get(
                FUNDS, params={"region": "529901", "year": 2025}, headers={"X-Forwarded-For": f"198.51.100.{i}"}
            )
            for i in range(4)
        ]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert await _login_event_ip(c, session, "198.51.100.7") == "203.0.113.5"


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(settings, db, session):
    app = _app(settings, db, trusted_proxies=["10.0.0.0/8"])
    async with _client(app, peer="10.0.0.2") as c:
        # the right-most address that is not a trusted proxy; what the client itself wrote
        # further left (1.2.3.4) is not believed
        assert await _login_event_ip(c, session, "1.2.3.4, 198.51.100.7, 10.0.0.9") == "198.51.100.7"
        first = [
            await c.get(
                FUNDS,
                params={"region": "529901", "year": 2025},
                headers={"X-Forwarded-For": f"{i}.2.3.4, 198.51.100.20"},
            )
            for i in range(4)
        ]
        assert [r.status_code for r in first] == [200, 200, 200, 429]  # one client, however it lies
        other = await c.get(
            FUNDS, params={"region": "529901", "year": 2025}, headers={"X-Forwarded-For": "198.51.100.21"}
        )
        assert other.status_code == 200  # another client behind the same proxy
    async with _client(app, peer="203.0.113.5") as c:  # not a proxy of ours: its header is ignored
        assert await _login_event_ip(c, session, "198.51.100.7") == "203.0.113.5"


def test_trusted_proxies_must_be_addresses_or_networks():
    assert Settings(env="test", trusted_proxies=["10.0.0.0/8", "192.168.1.10", "::1"]).trusted_proxies
    for bad in (["*"], ["proxy.local"], ["10.0.0.0/33"]):
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            Settings(env="test", trusted_proxies=bad)


async def test_a_client_over_its_limit_is_answered_from_memory(settings, db):
    """A flood beyond the limit costs the database nothing until the window ends."""
    calls = []

    async def counts(key, window_start, limit):
        calls.append(key)
        return len(calls)

    limiter = ratelimit.RateLimiter(counts)
    for _ in range(2):
        await limiter.hit("k", 2)
    for _ in range(5):
        with pytest.raises(Exception) as refused:
            await limiter.hit("k", 2)
        assert refused.value.headers["Retry-After"] == "50"
    assert len(calls) == 3


async def _allowed(limiter: ratelimit.RateLimiter, key: str, limit: int) -> list[int]:
    """The remaining counts of the requests ``limiter`` lets through, until it refuses one."""
    remaining = []
    while True:
        try:
            remaining.append((await limiter.hit(key, limit, policy="bulk")).remaining)
        except Exception:
            return remaining


@pytest.fixture
def claims(monkeypatch) -> list[int]:
    """The size of every claim on the shared count (each one statement)."""
    sizes: list[int] = []
    count_hits = ratelimit.shared.count_hits

    async def counted(db, key, window_start, hits=1):
        sizes.append(hits)
        return await count_hits(db, key, window_start, hits)

    monkeypatch.setattr(ratelimit.shared, "count_hits", counted)
    return sizes


async def test_a_busy_caller_is_counted_in_blocks_never_past_its_limit(db, claims):
    """One process: every request up to the limit, each with its exact remaining count,
    for far fewer statements than requests; the shared count never lets one more through."""
    limiter = ratelimit.RateLimiter(ratelimit.SharedCounts(lambda: db))
    remaining = await _allowed(limiter, "bulk:busy", 640)
    assert remaining == list(range(639, -1, -1))
    assert claims[:6] == [1, 2, 4, 8, 16, 20]  # doubling, up to 640 // 32
    assert len(claims) < 640 // 10
    # Another process sharing the count finds the limit used up.
    other = ratelimit.RateLimiter(ratelimit.SharedCounts(lambda: db))
    assert await _allowed(other, "bulk:busy", 640) == []


async def test_processes_sharing_a_busy_caller_never_let_more_than_the_limit_through(db):
    """Interleaved requests over three processes: blocks claimed and left unused are lost to
    the others (refused a little early, at most a block per process), never granted twice."""
    limiters = [ratelimit.RateLimiter(ratelimit.SharedCounts(lambda: db)) for _ in range(3)]
    allowed, refused = 0, set()
    while len(refused) < 3:
        for i, limiter in enumerate(limiters):
            if i in refused:
                continue
            try:
                await limiter.hit("bulk:shared", 320)
                allowed += 1
            except Exception:
                refused.add(i)
    assert 320 - 3 * (320 // 32) <= allowed <= 320


async def test_concurrent_requests_of_one_caller_claim_one_block_at_a_time(db, claims):
    """Sixty-four requests at once: none counted twice, none lost, and they wait for one
    claim in flight rather than each claiming its own."""
    limiter = ratelimit.RateLimiter(ratelimit.SharedCounts(lambda: db))
    verdicts = await asyncio.gather(*(limiter.hit("bulk:burst", 6400) for _ in range(64)))
    assert sorted(v.remaining for v in verdicts) == list(range(6400 - 64, 6400))
    assert claims == [1, 2, 4, 8, 16, 32, 64]


def test_serve_takes_no_x_forwarded_for_from_a_local_peer(settings, engine, monkeypatch):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; ``guardline serve`` does
    not: with no trusted proxies, a forged header from this machine is one client still."""
    monkeypatch.undo()  # the server's windows follow the real clock
    from tests.api.live import live_server

    limited = settings.model_copy(update={"rate_limits": RateLimitSettings(public_reads_per_minute=3)})
    with (
        live_server(limited, engine.url.render_as_string(hide_password=False), ratelimit.RateLimiter()) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        answers = [
            http.get(FUNDS, params={"region": "529901", "year": 2025}, headers={"X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(4)
        ]
    assert [r.status_code for r in answers][-1] == 429, [r.status_code for r in answers]
