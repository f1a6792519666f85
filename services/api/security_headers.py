"""Security headers on every response, and the one place the Content-Security-Policy is set.

* every response: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: no-referrer``;
* every ``/api/`` response but the public disclosure (``/api/v1/public/``, cacheable on
  purpose: it is what the county publishes anyway): ``Cache-Control: no-store`` — persons,
  households, findings, cases and the audit trail must not stay in a browser's or a proxy's
  cache; errors too (a 404 tells whether someone exists);
* JSON and every other non-HTML response: ``API_CSP`` (nothing may load, nothing may frame);
* HTML (the interactive docs — Swagger UI at ``/docs``, ReDoc at ``/redoc`` — and the OAuth2
  redirect page): ``html_policy``: scripts and styles only from the service itself, the
  page's own inline scripts allowed by their SHA-256 hashes (computed from the page as
  sent, so a new docs page needs no change here), workers from the service or from
  ``blob:`` URLs its own scripts made (ReDoc's search), no framing.

A pure ASGI middleware (``BaseHTTPMiddleware`` costs too much per request), wrapped around
the whole application, outside Starlette's error middleware, so a 500 carries the headers
too. docs/personal-data.md explains the choices.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PREFIX = "/api/v1/public/"
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# ReDoc runs its search in a worker it creates from a blob: URL (worker-src blob:).
_HTML_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Inline scripts (no src attribute): what a hash must cover is the text between the tags.
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)

_ALWAYS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def html_policy(body: bytes) -> str:
    """The CSP of an HTML page: its own inline scripts by hash, everything else from 'self'.
    Styles may be inline (swagger-ui sets style attributes); scripts never are unless hashed."""
    hashes = sorted(
        {base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() for m in _INLINE_SCRIPT.finditer(body)}
    )
    return _HTML_CSP.format(scripts="".join(f" 'sha256-{h}'" for h in hashes))


def is_private(path: str) -> bool:
    """Responses that must never be cached: every API route but the public disclosure."""
    return path.startswith("/api/") and not path.startswith(PUBLIC_PREFIX)


def secure(raw: list[tuple[bytes, bytes]], private: bool) -> bool:
    """Set the headers of every response on ``raw`` (a response's raw headers, changed in
    place: each set replaces the first header of its name and drops the others, as
    ``MutableHeaders`` does) and the API's CSP unless it has one. False for HTML, whose
    CSP depends on its body (``html_policy``): the caller sets it once the body is known.
    One pass over the headers: this runs on every response."""
    wanted = _PRIVATE if private else _PUBLIC
    seen: set[bytes] = set()
    html = has_csp = False
    kept = []
    for name, value in raw:
        if name in wanted:
            if name in seen:
                continue
            value = wanted[name]
        elif name == b"content-type":
            html = html or (name not in seen and value.startswith(b"text/html"))
        elif name == b"content-security-policy":
            has_csp = True
        seen.add(name)
        kept.append((name, value))
    kept += [(name, value) for name, value in wanted.items() if name not in seen]
    if not (html or has_csp):
        kept.append((b"content-security-policy", _API_CSP))
    raw[:] = kept
    return not html


_PUBLIC = {name.encode(): value.encode() for name, value in _ALWAYS.items()}
_PRIVATE = {**_PUBLIC, b"cache-control": b"no-store", b"pragma": b"no-cache"}
_API_CSP = API_CSP.encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = is_private(scope["path"])
        held: Message | None = None  # an HTML response's start, sent once its body is known
        chunks: list[bytes] = []

        async def send_secured(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                message = {**message, "headers": raw}
                if not secure(raw, private):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                headers = MutableHeaders(raw=held["headers"])
                headers["content-security-policy"] = html_policy(body)
                start, held = held, None
                await send(start)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_secured)


def install(app) -> None:
    """Wrap the whole middleware stack, Starlette's error middleware included."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())
