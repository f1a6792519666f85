"""Security headers: nosniff on every response, no-store on every API response but the
public disclosure, a CSP on HTML pages that lets the docs run but nothing else (no framing,
no inline script but the page's own, by hash)."""

import base64
import hashlib
import re

import httpx
import pytest

from services.api.app import create_app
from services.api.security_headers import API_CSP
from tests.api.test_households import create
from tests.conftest import _client


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


async def _everything(client, auth, settings) -> dict[str, httpx.Response]:
    created = await create(client, auth)
    h = auth("county_staff.county")
    return {
        "household": await client.get(f"/api/v1/households/{created['id']}", headers=h),
        "person": await client.get(f"/api/v1/persons/{created['members'][0]['id']}", headers=h),
        "list": await client.get("/api/v1/households", headers=h),
        "findings": await client.get("/api/v1/findings", headers=h),
        "audit": await client.get("/api/v1/audit/events", headers=auth("auditor.county")),
        "unauthenticated": await client.get("/api/v1/households"),
        "not found": await client.get("/api/v1/no-such-thing", headers=h),
        "invalid": await client.post("/api/v1/persons/lookup", json={"id_number": "1"}, headers=h),
        "too large": await client.post(
            "/api/v1/households",
            content=b"x" * (settings.max_body_bytes + 1),
            headers={**h, "Content-Type": "application/json"},
        ),
        "public": await client.get("/api/v1/public/projects", params={"region": "529901", "year": 2026}),
        "health": await client.get("/healthz"),
        "openapi": await client.get("/openapi.json"),
        "docs": await client.get("/docs"),
        "oauth2 redirect": await client.get("/docs/oauth2-redirect"),
        "redoc": await client.get("/redoc"),
        "redoc bundle": await client.get("/docs-static/redoc.standalone.js"),
        "static": await client.get("/docs-static/swagger-ui.css"),
    }


async def test_every_response_says_nosniff_and_deny(client, auth, settings):
    for name, r in (await _everything(client, auth, settings)).items():
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert r.headers.get("x-frame-options") == "DENY", name
        policy = _directives(r.headers["content-security-policy"])
        assert policy["frame-ancestors"] == ["'none'"], name


async def test_personal_responses_are_never_cached_and_the_public_disclosure_is(client, auth, settings):
    responses = await _everything(client, auth, settings)
    for name in (
        "household",
        "person",
        "list",
        "findings",
        "audit",
        "unauthenticated",
        "not found",
        "invalid",
        "too large",
    ):
        r = responses[name]
        assert r.headers.get("cache-control") == "no-store", (name, r.status_code, r.headers)
    public = responses["public"]
    assert public.status_code == 200, public.text
    assert public.headers["cache-control"] == "public, max-age=300"
    assert responses["household"].headers["content-security-policy"] == API_CSP


async def test_the_docs_page_runs_under_its_policy_and_nothing_else_would(client, auth, settings):
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        policy = _directives(r.headers["content-security-policy"])
        scripts = policy["script-src"]
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts
        assert policy["default-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["img-src"] == ["'self'", "data:"] and policy["connect-src"] == ["'self'"]
        # ReDoc's search runs in a worker made from a blob: URL; nothing else may start one.
        assert policy["worker-src"] == ["'self'", "blob:"]
        # Every external script, stylesheet and icon is the service's own…
        for url in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert url.startswith("/") and not url.startswith("//"), url
        # …and every inline script is allowed by its hash, nothing more.
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.S)
        assert bool(inline) == (path != "/redoc"), path  # ReDoc's page has none
        wanted = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline}
        assert set(scripts) == {"'self'"} | wanted
        # A script injected into the page would have another hash: refused.
        assert "'sha256-" + base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode() + "'" not in scripts


async def test_a_server_error_carries_the_headers_too(settings, db):
    app = create_app(settings, database=db)

    @app.get("/api/v1/test-boom")
    async def boom():
        raise RuntimeError("boom")

    async with _client(app) as client:
        r = await client.get("/api/v1/test-boom")
    assert r.status_code == 500
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"


def _reference(raw: list[tuple[bytes, bytes]], private: bool) -> tuple[list[tuple[bytes, bytes]], bool]:
    """What ``secure`` does, spelled with Starlette's MutableHeaders (its former body)."""
    from starlette.datastructures import MutableHeaders

    from services.api.security_headers import _ALWAYS, API_CSP

    raw = list(raw)
    headers = MutableHeaders(raw=raw)
    for name, value in _ALWAYS.items():
        headers[name] = value
    if private:
        headers["cache-control"] = "no-store"
        headers["pragma"] = "no-cache"
    if headers.get("content-type", "").startswith("text/html"):
        return raw, False
    if "content-security-policy" not in headers:
        headers["content-security-policy"] = API_CSP
    return raw, True


@pytest.mark.parametrize("private", [True, False])
def test_secure_sets_each_header_once_as_mutable_headers_would(private):
    from itertools import combinations

    from services.api.security_headers import secure

    pool = [
        (b"content-type", b"application/json"),
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"max-age=60"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"x-frame-options", b"ALLOW"),
        (b"content-security-policy", b"default-src 'self'"),
        (b"etag", b'"household-1-v2"'),
        (b"pragma", b"x"),
    ]
    for size in range(len(pool) + 1):
        for chosen in combinations(pool, size):
            raw = list(chosen)
            html = secure(raw, private)
            assert (raw, html) == _reference(list(chosen), private), chosen
