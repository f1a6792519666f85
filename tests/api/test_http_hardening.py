"""Requests built to hurt: a value the database cannot hold, raw UTF-8 in the query string,
a chunked body over the cap, ``If-Match: *``. Each answers one problem document and leaves the
connection and the logs clean."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from services.api.app import create_app
from services.api.ratelimit import RateLimiter
from tests.api.live import address as _address
from tests.api.live import live_server, raw_exchange, read_response
from tests.factories import household, person

SECRET_ADDRESS = "机密地址幸福路1234号"


# Validation refuses a NUL in body text (the text rule); a login name is compared, not
# validated as text, so a NUL in it reaches the database, which refuses it. Nothing is written.
SECRET_NAME = "王五\x00" + SECRET_ADDRESS


async def _unstorable(c) -> httpx.Response:
    return await c.post("/api/v1/auth/token", data={"username": SECRET_NAME, "password": "Secret-Guess-1"})


def _leaks(records: list[logging.LogRecord]) -> list[str]:
    out = []
    for r in records:
        text = r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        if SECRET_ADDRESS in text or "Exception in ASGI application" in text:
            out.append(f"{r.name}: {text[:300]}")
    return out


async def test_an_unstorable_value_is_422_and_nothing_is_raised_after_the_answer(settings, db, auth, caplog):
    # raise_app_exceptions: an exception that leaves the app after its response is a failure here
    app = create_app(settings, database=db)
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await _unstorable(c)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "value_not_storable"
    assert SECRET_ADDRESS not in r.text
    assert not _leaks(caplog.records)


async def test_an_unexpected_error_is_logged_without_its_message(settings, db, auth, caplog, monkeypatch):
    """A 500's log names the exception's class and where it was raised, never its message
    (a database error's message carries the statement's values)."""
    from services.api.households import listing
    from services.core.households import service

    async def broken(*args, **kwargs):
        raise ValueError(f"invalid literal: {SECRET_ADDRESS}")

    def broken_read(*args, **kwargs):  # the list's direct handler (routing.fast_path) fails the same way
        raise ValueError(f"invalid literal: {SECRET_ADDRESS}")

    monkeypatch.setattr(service, "list_households", broken)
    monkeypatch.setattr(listing, "household_list_read", broken_read)
    app = create_app(settings, database=db)
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/api/v1/households", headers=auth("county_staff.county"))
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert not _leaks(caplog.records)
    logged = [rec.getMessage() for rec in caplog.records if "unhandled error" in rec.getMessage()]
    assert len(logged) == 1 and "ValueError" in logged[0] and "in broken" in logged[0], logged


@pytest.fixture
def server(settings, engine):
    # (its own rate limiter: counts committed to the shared table would reach other tests)
    with live_server(settings, engine.url.render_as_string(hide_password=False), RateLimiter()) as base:
        yield base


def _request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: test",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def test_an_unstorable_value_keeps_the_connection_and_the_log_clean(server, auth, caplog):
    caplog.set_level(logging.INFO)
    body = urlencode({"username": SECRET_NAME, "password": "Secret-Guess-1"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with socket.create_connection(_address(server), timeout=10) as s:
        s.sendall(_request("POST", "/api/v1/auth/token", headers, body))
        first = read_response(s)
        assert first.startswith(b"HTTP/1.1 422 ") and b"value_not_storable" in first, first[:300]
        assert b"connection: close" not in first.lower()
        # the same keep-alive connection serves the next request
        s.sendall(_request("GET", "/healthz", {}))
        assert read_response(s).startswith(b"HTTP/1.1 200 ")
    assert not _leaks(caplog.records)


def _chunked(method: str, target: str, headers: dict[str, str], chunks: list[bytes]) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: test",
        "Transfer-Encoding: chunked",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


async def test_a_chunked_body_over_the_cap_is_413(client, auth, settings):
    big = orjson.dumps(household(address="x" * (settings.max_body_bytes + 10)))

    async def chunks():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    for path in ("/api/v1/households", "/api/v1/persons/lookup"):  # a FastAPI route and a hot read
        r = await client.post(
            path, content=chunks(), headers={**auth("village_staff.village"), "Content-Type": "application/json"}
        )
        assert "content-length" not in r.request.headers
        assert (r.status_code, r.headers["content-type"]) == (413, "application/problem+json"), (path, r.text)
        assert r.json()["code"] == "payload_too_large"


def test_a_chunked_body_over_the_cap_is_413_on_the_wire(server, auth, settings):
    big = orjson.dumps(household(address="x" * (settings.max_body_bytes + 10)))
    headers = {**auth("village_staff.village"), "Content-Type": "application/json"}
    answer = raw_exchange(
        server, _chunked("POST", "/api/v1/households", headers, [big[i : i + 65536] for i in range(0, len(big), 65536)])
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"application/problem+json" in answer and b"payload_too_large" in answer


async def test_if_match_star_does_not_pass_for_the_current_etag(client, auth):
    h = auth("village_staff.village")
    created = await client.post("/api/v1/households", json=household(members=[person("head")]), headers=h)
    path = f"/api/v1/households/{created.json()['id']}"
    for star in ("*", '*, "household-0-v0"'):
        r = await client.patch(path, json={"address": "新地址"}, headers={**h, "If-Match": star})
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (412, "precondition_failed", "If-Match")
        assert r.json()["errors"][0]["code"] == "if_match_wildcard"
        assert created.headers["etag"] in r.json()["errors"][0]["message"]
    assert (await client.get(path, headers=h)).json()["address"] == created.json()["address"]
    r = await client.patch(path, json={"address": "新地址"}, headers={**h, "If-Match": created.headers["etag"]})
    assert r.status_code == 200 and r.json()["address"] == "新地址"


def test_raw_utf8_in_the_query_string_is_read_as_utf8(server, auth):
    """``curl 'http://…/households?name=张'`` sends the name's UTF-8 bytes unencoded; the
    meaning is clear, so it is read as if percent-encoded."""
    headers = {**auth("county_staff.county"), "Accept": "application/json"}
    raw = raw_exchange(server, _request("GET", "/api/v1/households?name=张", headers))
    encoded = raw_exchange(server, _request("GET", "/api/v1/households?name=%E5%BC%A0", headers))
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:400]
    assert raw.partition(b"\r\n\r\n")[2] == encoded.partition(b"\r\n\r\n")[2]
    # bytes that are not UTF-8 are read as their percent-encoded form is
    odd = raw_exchange(server, _request("GET", "/api/v1/households?name=x", headers).replace(b"=x", b"=\xff\xfe"))
    odd_encoded = raw_exchange(server, _request("GET", "/api/v1/households?name=%FF%FE", headers))
    assert odd.split(b"\r\n")[0] == odd_encoded.split(b"\r\n")[0]
    assert odd.partition(b"\r\n\r\n")[2] == odd_encoded.partition(b"\r\n\r\n")[2]


def test_a_request_the_parser_refuses_gets_a_problem_document(server):
    for bad in (
        b"GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header: x\r\n\r\n",
        b"GET /heal\x00thz HTTP/1.1\r\nHost: test\r\n\r\n",
    ):
        answer = raw_exchange(server, bad)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"content-type: application/problem+json" in head.lower()
        assert orjson.loads(body)["code"] == "bad_request"
