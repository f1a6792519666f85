"""A real HTTP server (uvicorn with httptools and the protocol ``guardline serve`` runs) in a thread of
the test process, on the test database, for what only a real connection shows: keep-alive,
raw request bytes, chunked bodies, the peer's address. Its log records reach ``caplog``
(uvicorn's own logging configuration is not installed)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn

from services.api.app import create_app
from services.api.ratelimit import RateLimiter
from services.api.server import uvicorn_options
from services.core.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(settings: Settings, database_url: str, rate_limiter: RateLimiter | None = None) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of an app on ``database_url`` (it opens its own pool in
    the server's event loop), run with ``guardline serve``'s uvicorn options. A
    ``rate_limiter`` of its own keeps its counts out of the shared table."""
    port = free_port()
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    if rate_limiter is not None:
        app.state.rate_limiter = rate_limiter
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        log_config=None,
        access_log=False,
        lifespan="on",
        **uvicorn_options(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@asynccontextmanager
async def scratch_live_server(
    engine, settings: Settings, name: str, rate_limiter: RateLimiter | None = None
) -> AsyncIterator[str]:
    """A ``live_server`` on a database of its own (``name``, dropped afterwards) holding
    the base data (regions, policy, the test users): for tests whose requests commit
    (logging in writes token and audit rows), so nothing they write reaches other tests."""
    from services.core.db import create_engine
    from tests.conftest import _load_base_data, scratch_database

    async with scratch_database(engine, name) as url:
        scratch = create_engine(url, settings, f"tests-{name}")
        try:
            await _load_base_data(scratch)
        finally:
            await scratch.dispose()
        with live_server(settings, url, rate_limiter) as base:
            yield base


def raw_exchange(base: str, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` as is on a new connection; the bytes of the first response."""
    with socket.create_connection(address(base), timeout=timeout) as s:
        s.sendall(request)
        return read_response(s)


def address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def read_response(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
