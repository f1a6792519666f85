"""gzip for large responses (Starlette's ``GZipMiddleware``), when the client accepts it.

* Only answers of at least ``settings.compression.min_bytes`` are compressed (smaller ones
  gain little and cost a compressor each); every such answer carries ``Vary:
  Accept-Encoding``, compressed or not, so a cache never hands a gzipped body to a client
  that did not ask for one.
* ``Accept-Encoding`` is read as RFC 9110 says: ``gzip;q=0`` refuses gzip.
* Outermost, outside ``security_headers``: that middleware reads HTML bodies to hash their
  inline scripts (the docs page), so it must see them uncompressed; and a 500 answered by
  Starlette's error middleware is compressed like any other answer.
* The ETag stays the same, strong, with or without gzip: it names the version of the
  record (what ``If-Match`` and ``If-None-Match`` compare), not the bytes on the wire, and
  no request here asks for byte ranges, where the difference would matter. A client that
  sends back the ETag of a gzipped answer in ``If-Match`` updates as any other.
* Streamed answers (the docs' static files) are compressed chunk by chunk; 304s and 204s
  have no body and pass as they are.
"""

from __future__ import annotations

import zlib

from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware, IdentityResponder
from starlette.types import Receive, Scope, Send


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` names gzip (or x-gzip) with a weight above zero."""
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip"):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        return weight > 0
    return False


class Compression(GZipMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not accepts_gzip(Headers(scope=scope).get("accept-encoding", "")):
            identity = IdentityResponder(self.app, self.minimum_size, exclude_content_types=self.exclude_content_types)
            await identity(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def whole_body(raw: list[tuple[bytes, bytes]], status: int, body: bytes, gzip: bool, settings) -> bytes:
    """A complete answer's body as ``Compression`` sends it (``gzip``: the client accepts
    it), its headers ``raw`` changed in place: from ``settings.compression.min_bytes`` on,
    ``Vary: Accept-Encoding``, and gzipped (level ``settings.compression.level``) with its
    Content-Encoding and Content-Length when the client accepts it. For the JSON of the
    fast lane (``services.api.edge``): what Starlette's middleware does with one body,
    byte for byte."""
    if status == 206 or len(body) < settings.compression.min_bytes:
        return body
    media = None
    varies: list[bytes] = []
    for name, value in raw:
        if name == b"content-encoding":
            return body
        if name == b"content-type" and media is None:
            media = value.decode("latin-1").partition(";")[0].strip().lower()
        elif name == b"vary":
            varies.append(value)
    media = media or ""
    if {media, media.partition("/")[0] + "/*"} & _EXCLUDED:
        return body
    _set(raw, b"vary", b", ".join([*varies, b"Accept-Encoding"]))
    if not gzip:
        return body
    compressor = zlib.compressobj(settings.compression.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = compressor.compress(body) + compressor.flush()
    _set(raw, b"content-encoding", b"gzip")
    _set(raw, b"content-length", str(len(body)).encode())
    return body


def _set(raw: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """``MutableHeaders``' setting on raw headers: the first header of the name takes the
    value, the others go; appended when there is none."""
    found = False
    kept = []
    for item in raw:
        if item[0] == name:
            if found:
                continue
            found = True
            item = (name, value)
        kept.append(item)
    if not found:
        kept.append((name, value))
    raw[:] = kept


_EXCLUDED = frozenset(DEFAULT_EXCLUDED_CONTENT_TYPES)
# An XLSX is a zip already (the ledgers, services/api/exports): gzip would spend a core for
# nothing. A CSV ledger is text and is compressed like any other answer.
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ALREADY_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, XLSX)


def install(app, settings) -> None:
    """Wrap the whole stack (call after ``security_headers.install``)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: Compression(
        build(),
        minimum_size=settings.compression.min_bytes,
        compresslevel=settings.compression.level,
        exclude_content_types=ALREADY_COMPRESSED,
    )
