"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request ids and a body cap."""
from __future__ import annotations

import re
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(Exception):
    pass


class RequestContext:
    """Gives each request an id (X-Request-ID, echoed back) and refuses bodies over the cap
    with 413 before the endpoint reads them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, send_with_id)
            return

        seen = 0

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, capped_receive, send_with_id)
        except BodyTooLarge:
            await self._too_large(scope, send_with_id)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        from starlette.requests import Request

        from services.api.problems import problem

        response = problem(Request(scope), 413, "payload_too_large", {"limit": self.max_body})
        await response(scope, lambda: None, send)  # type: ignore[arg-type]
