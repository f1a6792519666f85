"""System clients authenticate on the token endpoint with HTTP Basic (RFC 6749 section
2.3.1) or with client_id and client_secret in the body — one of the two, never both."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import httpx
from sqlalchemy import select

from services.api import ratelimit
from services.api.app import create_app
from services.core.audit import AuditEvent
from services.core.settings import RateLimitSettings
from tests.api.test_admin_and_clients import _client_token, _new_client, bearer

TOKEN = "/api/v1/auth/token"
GRANT = {"grant_type": "client_credentials"}


def basic(client_id: str, secret: str) -> dict:
    """As RFC 6749 says: each part form-urlencoded, then base64 of id ":" secret."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def raw_basic(payload: bytes | str) -> dict:
    return {"Authorization": "Basic " + (payload if isinstance(payload, str) else base64.b64encode(payload).decode())}


async def _events(session, response) -> list[AuditEvent]:
    rows = await session.execute(select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"]))
    return list(rows.scalars())


async def test_basic_authentication_gives_the_same_token_as_the_body(client, auth, session):
    created = await _new_client(client, auth)
    # Every character of the id percent-encoded, as a cautious client may: decoded before the lookup.
    encoded = "".join(f"%{b:02X}" for b in created["name"].encode())
    r = await client.post(TOKEN, data=GRANT, headers=raw_basic(f"{encoded}:{created['client_secret']}".encode()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["permissions"] == ["persons:lookup"] and body["refresh_token"] is None
    assert r.headers["cache-control"] == "no-store"
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["kind"] == "client" and me.json()["client_id"] == created["id"]
    [event] = await _events(session, r)
    assert (event.action, event.result, event.status) == ("auth.client_token", "success", 200)
    assert event.object_id == str(created["id"])
    # The body method still works, with the same answer.
    form = await _client_token(client, created["name"], created["client_secret"])
    assert form.status_code == 200 and form.json()["permissions"] == body["permissions"]


async def test_a_wrong_secret_in_basic_is_401_with_a_basic_challenge(client, auth, session):
    created = await _new_client(client, auth)
    r = await client.post(TOKEN, data=GRANT, headers=basic(created["name"], "not-the-secret"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Basic realm="Guardline"')
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["code"] == "login_failed"
    [event] = await _events(session, r)
    assert (event.action, event.result, event.status) == ("auth.client_token", "failure", 401)
    assert event.detail == {"reason": "bad_secret"} and event.actor_name == created["name"]
    # An unknown client answers the same; the body method keeps its Bearer challenge.
    unknown = await client.post(TOKEN, data=GRANT, headers=basic("no.such.client", "x"))
    assert (unknown.status_code, unknown.json()) == (401, {**r.json(), "request_id": unknown.json()["request_id"]})
    form = await _client_token(client, created["name"], "not-the-secret")
    assert form.status_code == 401 and form.headers["www-authenticate"] == "Bearer"


async def test_both_methods_at_once_are_refused(client, auth):
    created = await _new_client(client, auth)
    good = basic(created["name"], created["client_secret"])
    for extra in (
        {"client_id": created["name"], "client_secret": created["client_secret"]},
        {"client_id": created["name"]},
        {"client_secret": created["client_secret"]},
    ):
        r = await client.post(TOKEN, data={**GRANT, **extra}, headers={**good, "Accept-Language": "zh"})
        assert r.status_code == 400, extra
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (problem["code"], problem["field"]) == ("client_authentication_twice", "Authorization")
        assert "不能同时使用" in problem["detail"]


async def test_malformed_basic_headers_are_400_naming_the_header(client, auth):
    created = await _new_client(client, auth)
    name, secret = created["name"], created["client_secret"]
    malformed = {
        "not base64": raw_basic("%%%not-base64%%%"),
        "base64 with garbage": raw_basic(base64.b64encode(f"{name}:{secret}".encode()).decode() + "!"),
        "no colon": raw_basic(f"{name}{secret}".encode()),
        "not UTF-8": raw_basic(b"\xff\xfe:" + secret.encode()),
        "percent-encoding not UTF-8": raw_basic(f"%FF%FE:{secret}".encode()),
        "empty": {"Authorization": "Basic "},
        "id longer than a client name may be": basic("a" * 65, secret),
    }
    for what, headers in malformed.items():
        r = await client.post(TOKEN, data=GRANT, headers=headers)
        assert r.status_code == 400, (what, r.text)
        assert (r.json()["code"], r.json()["field"]) == ("basic_authorization_malformed", "Authorization"), what
    # The scheme name is case-insensitive; a colon in the secret is the secret's.
    r = await client.post(
        TOKEN, data=GRANT, headers={"Authorization": basic(name, secret)["Authorization"].replace("Basic", "bAsIc")}
    )
    assert r.status_code == 200
    r = await client.post(TOKEN, data=GRANT, headers=basic(name, secret + ":x"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")


async def test_user_grants_refuse_client_credentials_but_ignore_an_empty_basic_header(client, auth):
    """A user logs in for himself: no system client takes part (their permissions are not
    the user's), so client credentials on the password or refresh grant are refused rather
    than silently unchecked. Swagger UI's password flow sends ``Basic Og==`` (an empty id
    and secret) by default: that names no client and is ignored."""
    created = await _new_client(client, auth)
    login = {"username": "grid_worker.village", "password": "Test-Password-1"}
    r = await client.post(TOKEN, data=login, headers=basic(created["name"], created["client_secret"]))
    assert r.status_code == 400
    assert (r.json()["code"], r.json()["field"]) == ("client_authentication_not_for_users", "Authorization")
    r = await client.post(TOKEN, data={**login, "client_id": created["name"]})
    assert r.status_code == 400 and r.json()["field"] == "client_id"
    empty = await client.post(TOKEN, data=login, headers=basic("", ""))
    assert empty.status_code == 200, empty.text
    refreshed = await client.post(
        TOKEN,
        headers=basic("", ""),
        data={"grant_type": "refresh_token", "refresh_token": empty.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    r = await client.post(
        TOKEN,
        headers=basic(created["name"], "x"),
        data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
    )
    assert r.status_code == 400 and r.json()["code"] == "client_authentication_not_for_users"


async def test_an_empty_basic_header_on_the_client_grant_is_a_failed_authentication(client):
    r = await client.post(TOKEN, data=GRANT, headers=basic("", ""))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")


async def test_basic_and_body_attempts_count_against_the_same_limits(settings, db, auth, monkeypatch):
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_800_000_010.0)
    limits = RateLimitSettings(login_per_minute=3)
    app = create_app(settings.model_copy(update={"rate_limits": limits}), database=db)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        # Per client name: two from one address by Basic, one from another by the body: the fourth is refused.
        answers = [await c.post(TOKEN, data=GRANT, headers=basic("target.client", "wrong")) for _ in range(2)]
    other = httpx.ASGITransport(app=app, client=("10.0.0.8", 50000))
    async with httpx.AsyncClient(transport=other, base_url="http://testserver") as c:
        answers.append(await _client_token(c, "target.client", "wrong"))
        answers.append(await c.post(TOKEN, data=GRANT, headers=basic("target.client", "wrong")))
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1


def test_the_contract_declares_both_flows_and_basic_client_authentication():
    from services.core.settings import Settings

    spec = create_app(Settings(env="test")).openapi()
    schemes = spec["components"]["securitySchemes"]
    flows = schemes["OAuth2"]["flows"]
    assert set(flows) == {"password", "clientCredentials"}
    assert flows["password"]["tokenUrl"] == flows["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    assert (
        flows["password"]["scopes"] == flows["clientCredentials"]["scopes"]
        and "registry:read" in flows["password"]["scopes"]
    )
    assert "| role | permissions |" in schemes["OAuth2"]["description"]
    assert schemes["clientBasic"] == {
        "type": "http",
        "scheme": "basic",
        "description": schemes["clientBasic"]["description"],
    }
    login = spec["paths"]["/api/v1/auth/token"]["post"]
    assert login["security"] == [{"clientBasic": []}, {}]  # optional
    assert {"400", "401", "429"} <= set(login["responses"])
    assert "WWW-Authenticate" in login["responses"]["401"]["headers"]
    # Operations keep their scopes.
    assert spec["paths"]["/api/v1/households"]["get"]["security"] == [{"OAuth2": ["registry:read"]}]
