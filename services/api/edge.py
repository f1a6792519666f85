"""The fast lane: the busiest reads answered at the edge of the application.

A GET of a route with a direct handler — a ``hot_read`` (one household) or a
``fast_path`` (the lists mobile apps page through) — would otherwise pass through eleven
layers before its handler runs: compression, security headers, Starlette's error
middleware, telemetry, the body limit, metrics, ``RequestContext``, the exception
middleware, the exit stack, the router and FastAPI's request handling; on a list page that
costs about as much CPU as the rest of the request, the database round trip included.

``FastLane`` wraps the whole stack. For such a request it finds the route itself (a
dictionary for literal paths, the route's own pattern otherwise, never where an earlier
route of the application would take the path) and does, in one pass, what each layer
does, with the same functions they use:

* the request id and its log context (``middleware.request_id_of``), the RateLimit headers;
* the route's unit of work (``GuardlineRoute.fast_handler``: the sensitive-read audit, the
  304 of ``If-None-Match``); errors answered by the application's own exception handlers,
  an unexpected one by ``problems.unexpected`` as ``RequestContext`` does;
* the metrics and the access log line (``metrics.HttpObserver.begin/end``);
* the security headers (``security_headers.secure``) and gzip (``compression.whole_body``).

A POST ``hot_read`` (a lookup whose key travels in the body, so it stays out of access
logs) takes the lane too when its body is small and its length declared
(``Content-Length`` at most ``LANE_BODY_BYTES`` and within ``max_body_bytes``; no
``Transfer-Encoding``, no ``Expect``): the direct handler reads and validates it as FastAPI
would, and such a route changes nothing (no transaction, no idempotency record).

Anything else goes through the stack as it is: other routes and methods, a GET with a body
or a POST with a large or undeclared one, and every request a direct handler declines (it
declines before doing anything). The answers are the stack's, byte for byte:
``tests/api/test_fast_lane.py`` sends each request both ways.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.api import compression, problems, security_headers
from services.api.compression import accepts_gzip
from services.api.metrics import HttpObserver
from services.api.middleware import _behind_proxies, failed_after_start, request_id_of
from services.api.routing import GuardlineRoute
from services.core.logs import REQUEST_ID

Handler = Callable[[Request], Coroutine[Any, Any, Response | None]]
_ANSWERED = "guardline.fast_lane"  # set in a scope the lane answered
LANE_METHODS = ("GET", "POST")
# The largest body a POST may have to take the lane (a lookup's is under 100 bytes).
LANE_BODY_BYTES = 16 * 1024


class _Lane:
    """One route of the lane: its handler, and the patterns of the routes before it that
    could take the same paths (they keep them)."""

    def __init__(self, route: GuardlineRoute, handler: Handler, earlier: list[re.Pattern[str]]):
        self.route = route
        self.handler = handler
        self.earlier = earlier


def _routes(routes: list[Any]) -> Iterator[Any]:
    """The application's routes in the order the router tries them."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _literal_head(path: str) -> str:
    """A route's path up to its first parameter."""
    return path.partition("{")[0]


def _overlap(head: str, other: str) -> bool:
    """Whether paths of routes with these literal heads can be the same path."""
    return head.startswith(other) or other.startswith(head)


class FastLane:
    def __init__(self, app: FastAPI, stack: ASGIApp, settings: Any) -> None:
        self.app = app
        self.stack = stack
        self.settings = settings
        self.observer = HttpObserver(stack, getattr(app.state, "metrics", None))
        # Per method: literal paths, and the routes with path parameters (built on the first request).
        self._exact: dict[str, dict[str, _Lane]] | None = None
        self._patterns: dict[str, list[_Lane]] = {method: [] for method in LANE_METHODS}
        self._body_bytes = min(LANE_BODY_BYTES, settings.max_body_bytes)
        self._answer_asgi: ASGIApp = self._answer_as_asgi
        if settings.trusted_proxies:  # the client's address as ``RequestContext`` takes it
            self._answer_asgi = _behind_proxies(self._answer_as_asgi, settings.trusted_proxies)

    def _build(self) -> dict[str, dict[str, _Lane]]:
        exact: dict[str, dict[str, _Lane]] = {method: {} for method in LANE_METHODS}
        for method in LANE_METHODS:
            taking: list[Any] = []  # the routes so far that take this method, in order
            for route in _routes(self.app.router.routes):
                methods = getattr(route, "methods", None)
                if methods is not None and method not in methods:
                    continue
                handler = route.fast_handler(method) if isinstance(route, GuardlineRoute) else None
                if handler is not None:
                    if route.param_convertors:  # the earlier routes whose paths may overlap its own
                        head = _literal_head(route.path)
                        earlier = [
                            r.path_regex for r in taking if _overlap(head, _literal_head(getattr(r, "path", "")))
                        ]
                        self._patterns[method].append(_Lane(route, handler, earlier))
                    elif route.path not in exact[method] and not any(r.path_regex.match(route.path) for r in taking):
                        exact[method][route.path] = _Lane(route, handler, [])
                taking.append(route)
        return exact

    def _lane_for(self, path: str, method: str = "GET") -> tuple[_Lane, dict[str, Any]] | None:
        exact = self._exact
        if exact is None:
            exact = self._exact = self._build()
        lane = exact[method].get(path)
        if lane is not None:
            return lane, {}
        for lane in self._patterns[method]:
            match = lane.route.path_regex.match(path)
            if match is not None:
                if any(earlier.match(path) for earlier in lane.earlier):
                    return None
                convertors = lane.route.param_convertors
                return lane, {key: convertors[key].convert(value) for key, value in match.groupdict().items()}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._may_take(scope):
            found = self._lane_for(scope["path"], scope["method"])
            if found is not None:
                lane_scope = {**scope, "guardline.lane": found}  # a copy: a decline leaves the scope as it came
                await self._answer_asgi(lane_scope, receive, send)
                if lane_scope.get(_ANSWERED):
                    return
        await self.stack(scope, receive, send)

    def _may_take(self, scope: Scope) -> bool:
        """A GET without a body, or a POST with a small body of declared length."""
        method = scope["method"]
        if method == "GET":
            return not _has_body(scope)
        return method == "POST" and _small_body(scope, self._body_bytes)

    async def _answer_as_asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane, path_params = scope["guardline.lane"]
        scope[_ANSWERED] = await self._answer(scope, receive, send, lane, path_params)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, lane: _Lane, path_params: dict) -> bool:
        started = self.observer.begin()
        scope["app"] = self.app
        scope["route"] = lane.route
        scope["endpoint"] = lane.route.endpoint
        scope["path_params"] = path_params
        request_id = request_id_of(scope)
        context = REQUEST_ID.set(request_id)
        status = 500  # unless an answer starts (nothing does when the client went away)
        declined = False
        try:
            request = Request(scope, receive)
            try:
                response = await lane.handler(request)
            except Exception as exc:
                response = await self._handled(request, exc)
            if response is None:  # declined: the stack answers it, and observes it
                declined = True
                return False
            status = response.status_code
            try:
                await self._send(scope, send, response, request_id)
                if response.background is not None:
                    await response.background()
            except Exception as exc:  # the client went away, or a background task failed
                failed_after_start(scope, exc)
            return True
        finally:
            REQUEST_ID.reset(context)
            if declined:
                self.observer.withdraw()
            else:
                self.observer.end(scope, status, started)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """``exc`` answered as the stack answers it: by the application's handler of its
        class (the problems), else as an unexpected error."""
        for kind in type(exc).__mro__:
            handle = self.app.exception_handlers.get(kind)
            if handle is not None and kind is not Exception:
                try:
                    answer = handle(request, exc)
                    return await answer if inspect.isawaitable(answer) else answer
                except Exception as failed:
                    return await problems.unexpected(request, failed)
        return await problems.unexpected(request, exc)

    async def _send(self, scope: Scope, send: Send, response: Response, request_id: str) -> None:
        raw = list(response.raw_headers)
        raw.append((b"x-request-id", request_id.encode()))
        counted = scope["state"].get("ratelimit")
        if counted is not None:
            raw += counted.headers()
        security_headers.secure(raw, security_headers.is_private(scope["path"]))
        gzip = False
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                gzip = accepts_gzip(value.decode("latin-1"))
                break
        body = compression.whole_body(raw, response.status_code, bytes(response.body), gzip, self.settings)
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def _small_body(scope: Scope, most: int) -> bool:
    """A body of declared length, at most ``most`` bytes, sent without waiting for a
    ``100 Continue``."""
    length = None
    for name, value in scope["headers"]:
        if name in (b"transfer-encoding", b"expect"):
            return False
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return False
            length = int(value)
    return length is not None and length <= most


def install(app, settings) -> None:
    """Around the whole stack (call last, after ``compression.install``)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: FastLane(app, build(), settings)
