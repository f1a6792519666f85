"""The HTTP server of a simulated department (Starlette).

Routes: ``GET /health``; ``POST /oauth/token``; the department's data endpoint
(``/api/assistance``, ``/api/v2/records`` or ``/edu/students``); with ``control``,
``GET|POST /_control/faults``, ``GET /_control/stats`` and ``POST /_control/expire-tokens``.
With ``instance`` (``--instance``), every answer carries it in ``X-Guardline-Instance``.

A data request is checked in this order: token (401), parameters (400), rate limit (429),
then the faults drawn for it: failure (5xx), delay, and what happens to a good answer
(truncated, malformed, repeated cursor). Every data request draws the same number of
values from the fault generator (seeded with ``fault_seed``), so a run with the same
requests meets the same faults.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import random
import secrets
import time
from collections import Counter, deque
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.core.crypto import keyring
from services.core.db import Database, create_engine
from services.core.settings import Settings
from services.core.sync.config import INSTANCE_HEADER
from services.simulators import paging
from services.simulators.config import SimConfig
from services.simulators.paging import BadRequest, Position
from services.simulators.records import Deriver
from services.simulators.registry import COUNTY, Registry

DATA_PATHS = {
    "civil-affairs": "/api/assistance",
    "medical-insurance": "/api/v2/records",
    "education": "/edu/students",
    "housing": "/zj/houses",
}
_NOT_JSON = ("<html><head><title>系统维护</title></head><body><h1>系统维护中，请稍后再试</h1></body></html>").encode()
_BAD_GATEWAY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@dataclass
class Draw:
    """What goes wrong with one data request."""

    fail: int | None = None  # status
    slow: bool = False
    truncate: bool = False
    malformed: str | None = None  # "html" | "no_records"
    repeat: bool = False


class Department:
    """State of one simulator process: tokens, faults, statistics, the registry."""

    def __init__(self, config: SimConfig, settings: Settings, database_url: str):
        self.config = config
        self.settings = settings
        self.database_url = database_url
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.fault_rng = random.Random(config.fault_seed)
        self.recent: deque[float] = deque()  # accepted data requests of the last second
        self.stats: dict[str, Counter] = {"data": Counter(), "token": Counter()}
        self.database: Database | None = None
        self.registry: Registry | None = None
        self._derivers: dict[str, Deriver] = {}

    async def open(self) -> None:
        engine = create_engine(self.database_url, self.settings, f"simulator-{self.config.kind}")
        self.database = Database(engine, read_pool_size=4)
        self.registry = Registry(self.database, keyring(self.settings))

    async def close(self) -> None:
        if self.database is not None:
            await self.database.dispose()

    @property
    def opened(self) -> Registry:
        """The registry, once ``open`` has opened the database."""
        if self.registry is None:
            raise RuntimeError("the simulator's database is not open")
        return self.registry

    async def deriver(self, county: str) -> Deriver:
        found = self._derivers.get(county)
        if found is None:
            found = Deriver(self.config, await self.opened.county_name(county))
            if len(self._derivers) < 100:
                self._derivers[county] = found
        return found

    # ---- tokens -------------------------------------------------------------------------

    def issue(self) -> str:
        now = time.monotonic()
        for token in [t for t, expiry in self.tokens.items() if expiry <= now]:
            del self.tokens[token]
        token = secrets.token_urlsafe(32)
        self.tokens[token] = now + self.config.token_ttl
        return token

    def valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        token = header[7:].strip()
        expiry = self.tokens.get(token)
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            del self.tokens[token]
            return False
        return True

    # ---- faults -------------------------------------------------------------------------

    def draw(self) -> Draw:
        f, u = self.config.faults, [self.fault_rng.random() for _ in range(7)]
        return Draw(
            fail=(500, 502, 503)[int(u[1] * 3)] if u[0] < f.fail_rate else None,
            slow=u[2] < f.slow_rate,
            truncate=u[3] < f.truncate_rate,
            malformed=("html" if u[5] < 0.5 else "no_records") if u[4] < f.malformed_rate else None,
            repeat=u[6] < f.repeat_cursor_rate,
        )

    def over_rate_limit(self) -> bool:
        limit = self.config.faults.rate_limit
        if limit <= 0:
            return False
        now = time.monotonic()
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        if len(self.recent) >= limit:
            return True
        self.recent.append(now)
        return False


def _error(code: str, description: str, status: int) -> Response:
    return json_response({"error": code, "error_description": description}, status)


class ShowInstance:
    """Puts ``INSTANCE_HEADER`` on every answer (ASGI middleware)."""

    def __init__(self, app, instance: str):
        self.app = app
        self.header = (INSTANCE_HEADER.lower().encode(), instance.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_shown(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_shown)


def create_app(config: SimConfig, settings: Settings, database_url: str) -> Starlette:
    dept = Department(config, settings, database_url)
    kind = config.kind
    secret = config.client_secret
    assert secret is not None  # SimConfig.__post_init__ gives the default one

    async def health(request: Request) -> Response:
        shown = {"instance": config.instance} if config.instance else {}
        return json_response({"status": "ok", "kind": kind} | shown)

    async def token(request: Request) -> Response:
        response = await _token(request)
        dept.stats["token"][str(response.status_code)] += 1
        return response

    async def _token(request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic ") and client_id is None:
            with suppress(ValueError):
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return _error("unsupported_grant_type", "grant_type must be client_credentials", 400)
        good = hmac.compare_digest(str(client_id or "").encode(), config.client_id.encode()) and hmac.compare_digest(
            str(client_secret or "").encode(), secret.encode()
        )
        if not good:
            return json_response({"error": "invalid_client"}, 401)
        return json_response({"access_token": dept.issue(), "token_type": "Bearer", "expires_in": config.token_ttl})

    async def data(request: Request) -> Response:
        response = await _data(request)
        dept.stats["data"][str(response.status_code)] += 1
        return response

    async def _data(request: Request) -> Response:
        if not dept.valid(request.headers.get("authorization")):
            return json_response({"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        query = request.query_params
        county = query.get("county")
        try:
            if not county or not COUNTY.match(county):
                raise BadRequest("county must be a 6-digit county code")
            serve = await _parse(query, county)
        except BadRequest as exc:
            return _error("invalid_request", str(exc), 400)
        if dept.over_rate_limit():
            return _error_with_retry()
        draw = dept.draw()
        if draw.fail == 502:
            return Response(_BAD_GATEWAY, status_code=502, media_type="text/html")
        if draw.fail is not None:
            return _error(
                "internal_error" if draw.fail == 500 else "service_unavailable", "simulated failure", draw.fail
            )
        if draw.slow:
            await asyncio.sleep(config.faults.slow_ms / 1000)
        body, records_key = await serve(draw.repeat)
        if draw.malformed == "html":
            return Response(_NOT_JSON, media_type="text/html")
        if draw.malformed == "no_records":
            _drop(body, records_key)
        payload = orjson.dumps(body)
        if draw.truncate:
            payload = payload[: max(1, len(payload) // 2)]
        return Response(payload, media_type="application/json")

    def _error_with_retry() -> Response:
        seconds = config.faults.retry_after
        return json_response(
            {"error": "rate_limited", "error_description": f"more than {config.faults.rate_limit} requests per second"},
            429,
            {"Retry-After": str(seconds)},
        )

    async def _parse(query, county: str):
        """The request's parameters checked; returns ``serve(repeat) -> (body, records key)``."""
        deriver = await dept.deriver(county)
        registry = dept.opened
        if kind == "medical-insurance":
            limit = paging.parse_limit(query.get("limit"), 1000, "limit")
            since = paging.parse_since(query.get("updated_since"), query.get("after"))

            async def serve_medical(repeat: bool):
                if repeat:
                    items = await paging.page_before(registry, deriver, county, since, limit)
                    if items:
                        return {"items": items, "has_more": True}, "items"
                items, more = await paging.since_page(registry, deriver, county, since, limit)
                # Read from the start, the pages are the year's complete enrolment roster.
                return {"items": items, "has_more": more or repeat, "roster": {"year": deriver.year}}, "items"

            return serve_medical

        token_name, size_name = (
            ("cursor", "limit") if kind in ("civil-affairs", "housing") else ("page_token", "page_size")
        )
        limit = paging.parse_limit(query.get(size_name), 500, size_name)
        token = query.get(token_name) or None
        at = Position.decode(token, county) if token else paging.START

        async def serve_cursor(repeat: bool):
            records, after = await paging.cursor_page(registry, deriver, county, at, limit)
            if repeat:
                # a cursor given before: this very one (the start's, for the first page)
                after = at
            nxt = after.encode(county) if after is not None else None
            if kind == "civil-affairs":
                return {"code": 0, "data": {"records": records, "next_cursor": nxt}}, "records"
            if kind == "housing":
                return {"houses": records, "next": nxt}, "houses"
            # Every pull is the term's complete school roster (学籍名册) of the county.
            return {"students": records, "nextPageToken": nxt or "", "roster": {"term": deriver.term}}, "students"

        return serve_cursor

    def _drop(body: dict, records_key: str) -> None:
        if records_key == "records":
            body["data"].pop("records")
        else:
            body.pop(records_key)

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = orjson.loads(await request.body())
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of fault names and values")
                config.faults.update(changes)
            except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
                return _error("invalid_request", str(exc), 400)
        return json_response(config.faults.as_dict())

    async def stats(request: Request) -> Response:
        return json_response(
            {name: dict(counter) for name, counter in dept.stats.items()} | {"tokens": len(dept.tokens)}
        )

    async def expire_tokens(request: Request) -> Response:
        expired = len(dept.tokens)
        dept.tokens.clear()
        return json_response({"expired": expired})

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route(DATA_PATHS[kind], data, methods=["GET"]),
    ]
    if config.control:
        routes += [
            Route("/_control/faults", faults, methods=["GET", "POST"]),
            Route("/_control/stats", stats, methods=["GET"]),
            Route("/_control/expire-tokens", expire_tokens, methods=["POST"]),
        ]

    @asynccontextmanager
    async def lifespan(app):
        await dept.open()
        try:
            yield
        finally:
            await dept.close()

    middleware = [Middleware(ShowInstance, instance=config.instance)] if config.instance else []
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.department = dept
    return app
