"""Twin requests for the direct handlers of lists (``routing.fast_path``): each request is
sent twice to the same app, once as it comes (the direct handler takes it on where it can)
and once with the direct handler declining everything, and the two answers must be the
same, byte for byte (``same``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request

from services.api.listing import Declined
from services.api.ratelimit import RateLimiter
from services.core.paging import encode_cursor

VOLATILE_HEADERS = {"date", "x-request-id", "server-timing"}

Query = list[tuple[str, str]]

# Page sizes and cursors at and past their bounds: every keyset list's twin test sends these.
PAGING_QUERIES: list[Query] = [
    [("limit", "0")],
    [("limit", "01")],
    [("limit", "500")],
    [("limit", "501")],
    [("limit", "-1")],
    [("limit", "abc")],
    [("limit", "2"), ("limit", "3")],
    [("cursor", "not-a-cursor")],
    [("cursor", "")],
    [("cursor", encode_cursor([-1]))],
    [("cursor", encode_cursor(["1"]))],
    [("cursor", encode_cursor([2**40]))],
    [("cursor", encode_cursor([2**63]))],
    [("cursor", encode_cursor([2**40])), ("limit", "2")],
    [("cursor", "x" * 600)],
]


def taken(parse: Callable[[Request], Any], query: Query) -> bool:
    """Whether a direct handler's ``parse`` takes the query on (rather than leaving it to FastAPI)."""
    request = Request({"type": "http", "method": "GET", "query_string": urlencode(query).encode(), "headers": []})
    try:
        parse(request)
    except Declined:
        return False
    return True


def _declined(request: Request) -> Any:
    raise Declined


async def both(
    client, monkeypatch, path: str, parser: str, query: Query, headers
) -> tuple[httpx.Response, httpx.Response]:
    """The answers to ``GET path?query``: by the direct handler, and by FastAPI (``parser``,
    the dotted name of the handler's query reader, then declines everything)."""
    app = client._transport.app
    app.state.rate_limiter = RateLimiter()  # the same count for both (the RateLimit headers)
    direct = await client.get(path, params=query, headers=headers)
    app.state.rate_limiter = RateLimiter()
    with monkeypatch.context() as patch:
        patch.setattr(parser, _declined)
        general = await client.get(path, params=query, headers=headers)
    return direct, general


def same(where: Any, direct: httpx.Response, general: httpx.Response) -> None:
    """The two answers are the same: status, headers in their order (but the volatile ones)
    and body (a problem but for the request it names)."""
    where = (where, direct.text, general.text)
    assert direct.status_code == general.status_code, where
    assert [(k, v) for k, v in direct.headers.multi_items() if k not in VOLATILE_HEADERS] == [
        (k, v) for k, v in general.headers.multi_items() if k not in VOLATILE_HEADERS
    ], where
    if direct.status_code in (200, 304):
        assert direct.content == general.content, where
    else:  # a problem names its own request
        a, b = direct.json(), general.json()
        for volatile in ("request_id", "instance"):
            a.pop(volatile, None)
            b.pop(volatile, None)
        assert a == b, where
