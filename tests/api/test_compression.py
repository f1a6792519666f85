"""gzip above a size, for clients that accept it (services/api/compression.py)."""

from __future__ import annotations

import gzip

import orjson
import pytest

from services.api.app import create_app
from services.api.compression import accepts_gzip
from services.core.settings import CompressionSettings
from tests.conftest import _client
from tests.factories import household, person

WRITER = "county_staff.county"


async def _raw(client, method, path, encoding: str | None, **kwargs):
    """The response and its body exactly as sent (httpx would decode gzip on its own);
    ``encoding`` None sends no Accept-Encoding at all."""
    request = client.build_request(method, path, **kwargs)
    del request.headers["accept-encoding"]
    if encoding is not None:
        request.headers["accept-encoding"] = encoding
    response = await client.send(request, stream=True)
    body = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response, body


@pytest.fixture
async def households(client, auth):
    for _ in range(12):
        r = await client.post(
            "/api/v1/households",
            headers=auth(WRITER),
            json=household(members=[person("head"), person("spouse"), person("child")]),
        )
        assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize(
    "header, expected",
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, GZIP;q=0.5", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("deflate", False),
        ("", False),
        ("identity", False),
        ("gzip;q=bad", False),
        ("gzipped", False),
    ],
)
def test_accept_encoding(header, expected):
    assert accepts_gzip(header) is expected


async def test_a_big_answer_is_gzipped_and_decodes_to_the_same_json(client, auth, households):
    params = {"limit": 12}
    plain, identity = await _raw(client, "GET", "/api/v1/households", None, params=params, headers=auth(WRITER))
    zipped, body = await _raw(client, "GET", "/api/v1/households", "gzip, deflate", params=params, headers=auth(WRITER))
    assert len(identity) >= 1024 and "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) == len(body) < len(identity) // 2
    assert orjson.loads(gzip.decompress(body)) == orjson.loads(identity)
    for r in (plain, zipped):
        assert "accept-encoding" in r.headers["vary"].lower()
        assert r.headers["cache-control"] == "no-store" and r.headers["x-request-id"]
        assert r.headers["content-type"] == "application/json"


async def test_small_answers_and_refusals_stay_identity(client, auth, households):
    small, body = await _raw(client, "GET", "/api/v1/auth/me", "gzip", headers=auth(WRITER))
    assert small.status_code == 200 and len(body) < 1024 and "content-encoding" not in small.headers
    assert orjson.loads(body)["username"] == WRITER
    for encoding in ("gzip;q=0", "identity", "br"):
        r, body = await _raw(client, "GET", "/api/v1/households", encoding, params={"limit": 12}, headers=auth(WRITER))
        assert "content-encoding" not in r.headers and len(orjson.loads(body)["items"]) == 12, encoding


async def test_the_etag_survives_gzip_for_if_match_and_if_none_match(client, auth, households):
    path = f"/api/v1/households/{households}"
    zipped, _body = await _raw(client, "GET", path, "gzip", headers=auth(WRITER))
    plain, _ = await _raw(client, "GET", path, None, headers=auth(WRITER))
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["etag"] == plain.headers["etag"]
    etag = zipped.headers["etag"]
    not_modified, empty = await _raw(client, "GET", path, "gzip", headers={**auth(WRITER), "If-None-Match": etag})
    assert not_modified.status_code == 304 and empty == b"" and "content-encoding" not in not_modified.headers
    changed = await client.patch(path, json={"address": "新地址"}, headers={**auth(WRITER), "If-Match": etag})
    assert changed.status_code == 200, changed.text


async def test_problem_documents_are_compressed_too(client, auth):
    """A large problem+json (many field errors) is gzipped like any answer."""
    members = [{**person("child"), "id_number": "1" * 18} for _ in range(20)]
    r, body = await _raw(
        client, "POST", "/api/v1/households", "gzip", headers=auth(WRITER), json=household(members=members)
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["content-encoding"] == "gzip"
    assert len(orjson.loads(gzip.decompress(body))["errors"]) >= 20


async def test_the_threshold_is_a_setting(settings, db, auth, households):
    app = create_app(settings.model_copy(update={"compression": CompressionSettings(min_bytes=100_000)}), database=db)
    async with _client(app) as c:
        r, _ = await _raw(c, "GET", "/api/v1/households", "gzip", params={"limit": 12}, headers=auth(WRITER))
    assert r.status_code == 200 and "content-encoding" not in r.headers


async def test_the_docs_page_keeps_its_script_hashes_when_gzipped(settings, db):
    """Compression wraps the security headers: they hash the page's inline scripts from the
    uncompressed HTML. (The page is under 1 KB: a lower threshold makes it compressed.)"""
    app = create_app(settings.model_copy(update={"compression": CompressionSettings(min_bytes=256)}), database=db)
    async with _client(app) as c:
        plain, html = await _raw(c, "GET", "/docs", None)
        zipped, body = await _raw(c, "GET", "/docs", "gzip")
    assert zipped.headers["content-encoding"] == "gzip" and gzip.decompress(body) == html
    assert zipped.headers["content-security-policy"] == plain.headers["content-security-policy"]
    assert "'sha256-" in plain.headers["content-security-policy"]


async def _through_starlette(raw, status, body, zipped: bool, settings) -> tuple[list, bytes]:
    """What Starlette's GZipMiddleware (as ``Compression`` uses it) sends for one answer."""
    from starlette.middleware.gzip import GZipMiddleware, IdentityResponder

    async def answer(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": list(raw)})
        await send({"type": "http.response.body", "body": body})

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"accept-encoding", b"gzip")] if zipped else []}
    if zipped:
        middleware = GZipMiddleware(
            answer, minimum_size=settings.compression.min_bytes, compresslevel=settings.compression.level
        )
    else:
        middleware = IdentityResponder(answer, settings.compression.min_bytes)
    await middleware(scope, None, send)
    return sent[0]["headers"], sent[1]["body"]


async def test_the_fast_lanes_compression_is_starlettes_byte_for_byte(settings):
    """``compression.whole_body`` (the fast lane's) against the middleware, on every
    combination that changes what it does."""
    from itertools import product

    from services.api.compression import whole_body

    bodies = [b"{}", b'{"items": [' + b'{"name": "\xe5\xbc\xa0"},' * 400 + b"{}]}"]
    header_sets = [
        [(b"content-type", b"application/json"), (b"content-length", b"0")],
        [(b"content-type", b"application/problem+json"), (b"vary", b"Authorization"), (b"content-length", b"0")],
        [(b"content-type", b"application/json"), (b"vary", b"A"), (b"vary", b"B"), (b"content-length", b"0")],
        [(b"content-type", b"image/png"), (b"content-length", b"0")],
        [(b"content-type", b"application/json"), (b"content-encoding", b"br"), (b"content-length", b"0")],
        [(b"etag", b'"x"')],
    ]
    for body, headers, status, zipped in product(bodies, header_sets, (200, 206, 404), (True, False)):
        headers = [(n, str(len(body)).encode()) if n == b"content-length" else (n, v) for n, v in headers]
        ours = list(headers)
        ours_body = whole_body(ours, status, body, zipped, settings)
        assert (ours, ours_body) == await _through_starlette(headers, status, body, zipped, settings), (
            headers,
            status,
            zipped,
        )
