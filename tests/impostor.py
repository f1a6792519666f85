"""A stranger on a port: an HTTP server that answers every request as a department
simulator would (200, a token, an empty page) but does not show the instance token of
the demo that expects a simulator there — another checkout's demo, or any other program.
It counts what it is asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = json.dumps(
    {
        "status": "ok",
        "kind": "civil-affairs",
        "access_token": "stranger",
        "expires_in": 600,
        "code": 0,
        "data": {"records": [], "next_cursor": None},
    }
).encode()


class Impostor(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, instance: str | None = None):
        self.requests: list[str] = []
        self.instance = instance  # the token it shows, if any (another demo's)
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        if self.server.instance:
            self.send_header("X-Guardline-Instance", self.server.instance)
        self.end_headers()
        self.wfile.write(ANSWER)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@contextmanager
def impostor(port: int, instance: str | None = None) -> Iterator[Impostor]:
    server = Impostor(port, instance)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
