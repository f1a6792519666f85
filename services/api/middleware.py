"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request ids, the client's
address, a body cap, rate-limit headers and the last answer to any error."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, cast

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.core.logs import REQUEST_ID

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _behind_proxies(app: ASGIApp, trusted_proxies: list[str]) -> ASGIApp:
    """uvicorn's ProxyHeadersMiddleware around ``app``. uvicorn and Starlette type the same ASGI
    interface each with their own declarations (uvicorn's messages are TypedDicts, Starlette's
    plain mappings), so the app is handed over, and the middleware taken back, as the other's."""
    return cast(ASGIApp, ProxyHeadersMiddleware(cast("ASGI3Application", app), trusted_hosts=trusted_proxies))


async def _nothing_received() -> Message:
    """The ``receive`` of a response answered by the middleware itself: a plain response never
    reads the request, and there is nothing more to read."""
    return {"type": "http.disconnect"}


class _RandomIds:
    """128-bit random request ids, hex: from the system's random source 256 at a time (one
    ``os.urandom`` call each, not one per request), drawn afresh in a forked process."""

    def __init__(self) -> None:
        self._pid = -1
        self._bytes = b""
        self._at = 0

    def __call__(self) -> str:
        at = self._at
        if at >= len(self._bytes) or self._pid != os.getpid():
            self._pid, self._bytes, at = os.getpid(), os.urandom(4096), 0
        self._at = at + 16
        return self._bytes[at : at + 16].hex()


_new_id = _RandomIds()


def request_id_of(scope: Scope) -> str:
    """The request's id, put in its state: the client's ``X-Request-ID`` when it is a safe
    token, else a new random one."""
    incoming = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
    request_id = incoming if incoming and _SAFE_ID.match(incoming) else _new_id()
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def failed_after_start(scope: Scope, exc: Exception) -> None:
    """After the response has started nothing can be answered: the error is logged by
    class only (its message may hold personal data)."""
    from services.api.problems import described, log

    log.error(
        "error after the response started: %s, request_id=%s",
        described(exc),
        scope.get("state", {}).get("request_id", "-"),
    )


class BodyTooLarge(HTTPException):
    """A body that grew over the cap while it was read (chunked, or longer than its
    Content-Length said). An HTTPException so that FastAPI's body reading passes it on
    unchanged (it turns other errors into 400); ``problems`` answers it with 413."""

    def __init__(self, limit: int):
        super().__init__(413)
        self.limit = limit


class RequestContext:
    """Gives each request an id (X-Request-ID, echoed back), takes the client's address
    from X-Forwarded-For only behind a trusted proxy, refuses bodies over the cap with 413
    before the endpoint reads them, adds the RateLimit headers of rate-limited routes, and
    answers every error that no exception handler took (never raising it to the server)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        trusted_proxies: list[str] | None = None,
        uploads: tuple[re.Pattern[str], int] | None = None,
    ):
        # The client's address (rate limits, the audit trail) is the peer's. Only a peer among
        # ``trusted_proxies`` may name another in X-Forwarded-For: the right-most address
        # there that is not itself a trusted proxy (uvicorn's middleware, with our list).
        self.app = _behind_proxies(app, trusted_proxies) if trusted_proxies else app
        self.max_body = max_body_bytes
        # (paths, cap): the routes that take a file, whose bodies have a cap of their own.
        self.uploads = uploads

    def _cap(self, scope: Scope) -> int:
        if self.uploads is not None and self.uploads[0].match(scope.get("path", "")):
            return self.uploads[1]
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
        request_id = request_id_of(scope)
        state = scope["state"]
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
                counted = state.get("ratelimit")  # a rate-limited route (services.api.ratelimit)
                if counted is not None:
                    message["headers"] += counted.headers()
            await send(message)

        cap = self._cap(scope)
        if length is not None and length.isdigit() and int(length) > cap:
            await self._too_large(scope, send_with_id, cap)
            return

        seen = 0

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(cap)
            return message

        context = REQUEST_ID.set(request_id)  # on every log line of the request (services.core.logs)
        try:
            await self.app(scope, capped_receive, send_with_id)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, send_with_id, cap)
        except Exception as exc:  # every error ends here, answered or not
            await self._unexpected(scope, send_with_id, exc, started)
        finally:
            REQUEST_ID.reset(context)

    async def _unexpected(self, scope: Scope, send: Send, exc: Exception, started: bool) -> None:
        """An error no exception handler took is answered here (problem+json, see
        ``problems.unexpected``) and not raised further: Starlette's outermost middleware
        would raise it again after answering, and the server would then log it with its
        message (a database error's message holds the statement's values: personal data)
        and close the connection. After the response has started nothing can be answered;
        the error is logged by class only."""
        from starlette.requests import Request

        from services.api.problems import unexpected

        if started:
            failed_after_start(scope, exc)
            return
        response = await unexpected(Request(scope), exc)
        await response(scope, _nothing_received, send)

    async def _too_large(self, scope: Scope, send: Send, cap: int) -> None:
        from starlette.requests import Request

        from services.api.problems import problem

        response = problem(Request(scope), 413, "payload_too_large", {"limit": cap})
        await response(scope, _nothing_received, send)
