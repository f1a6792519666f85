"""The HTTP protocol ``guardline serve`` runs: uvicorn's httptools protocol with two changes.

* A request line with raw UTF-8 (``curl 'http://…/households?name=张'`` sends the bytes of
  张 unencoded, which HTTP does not allow) is read as if those bytes were percent-encoded,
  which is what the client meant; the parser would otherwise refuse the request. This is
  done for a request line that arrives whole at the start of a message (as clients send
  it); one split across packets, or pipelined behind another request, is refused as
  before.
* A request the parser refuses (malformed request line or headers) gets a problem
  document (``application/problem+json``, code ``bad_request``) instead of uvicorn's
  plain text, like every other error of the API.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from services.api.problems import TYPE_PREFIX
from services.core.i18n import message

_NOT_ASCII = re.compile(rb"[\x80-\xff]")


def percent_encode_request_line(data: bytes) -> bytes:
    """``data`` with the bytes above ASCII of its first line (the request line) percent-
    encoded; unchanged without a complete first line."""
    end = data.find(b"\n")
    if end < 0 or not _NOT_ASCII.search(data, 0, end):
        return data
    line = _NOT_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], data[:end])
    return line + data[end:]


def uvicorn_options() -> dict[str, Any]:
    """What ``guardline serve`` gives uvicorn besides the app, host and port: this protocol,
    and no proxy headers: uvicorn would take X-Forwarded-For from any peer on this machine
    (its default ``forwarded_allow_ips``); the app takes it from ``trusted_proxies`` only
    (``services.api.middleware.RequestContext``)."""
    return {"http": GuardlineHttpProtocol, "proxy_headers": False}


class GuardlineHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._between_messages = True

    def data_received(self, data: bytes) -> None:
        if self._between_messages:
            data = percent_encode_request_line(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._between_messages = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._between_messages = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        body = orjson.dumps(
            {
                "type": TYPE_PREFIX + "bad_request",
                "title": "Bad Request",
                "status": 400,
                "detail": message("bad_request", False, {}),
                "code": "bad_request",
            }
        )
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
