"""The attack matrix, generated from the OpenAPI document: what an attacker sends, on every
route it applies to, and what must come back.

* **Crafted cursors**: every list that takes one, with three dozen crafted values →
  422 naming ``cursor`` (``tests/api/test_cursors.py``, driven by this document too).
* **Control characters, bidi overrides and zero-width characters** in every free-text
  field of every request body → refused, naming the field (checked on the body models the
  routes validate with, and end to end for a few routes: a 422 naming the field).
* **Forged tokens** (signed with a wrong key, ``alg: none``, expired, naming a user that
  does not exist, naming an existing user with a wider region or a stronger role than the
  account's, a system client that does not exist) on every route that needs a login → 401.
* **A spoofed ``X-Forwarded-For``** → the recorded client address (audit, rate limits)
  does not change, in-process and through a real uvicorn server.
* Never a 5xx, anywhere.

"""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from fastapi.routing import iter_route_contexts
from pydantic import TypeAdapter, ValidationError

from services.api.app import create_app
from services.api.ratelimit import RateLimiter
from services.core.accounts.roles import PERMISSIONS, Permission, Role
from services.core.settings import Settings
from tests.api.test_schemathesis import DOCUMENT, pools
from tests.api.test_schemathesis_live import live  # noqa: F401  (the fixture: uvicorn on a free port)
from tests.api.world import MISSING, make_world
from tests.factories import USERS, VILLAGE

# ---- the document ----------------------------------------------------------------------------

OPERATIONS = {
    op["operationId"]: (method.upper(), path, op)
    for path, item in DOCUMENT["paths"].items()
    for method, op in item.items()
}
SCHEMAS = DOCUMENT["components"]["schemas"]

# Who sends a request needing these permissions: the first of these roles that has them all.
SENDERS = ("county_staff.county", "county_approver.county", "auditor.county", "admin.county")


def _scopes(op: dict) -> list[str] | None:
    """The permissions the operation needs; None when it needs no login."""
    bearer = [req["OAuth2"] for req in op.get("security", []) if "OAuth2" in req]  # login: only clientBasic
    return bearer[0] if bearer else None


def _sender(op: dict) -> str | None:
    scopes = _scopes(op)
    if scopes is None:
        return None
    for user in SENDERS:
        role = USERS[user][0]
        if {Permission(s) for s in scopes} <= PERMISSIONS[Role(role)]:
            return user
    return None


def _path(path: str, values: dict) -> str:
    """The path with each parameter taken from the seeded registry (its first, inside value)."""
    import re

    def value(match):
        name = match.group(1)
        pool = values.get(name)
        return str(pool[0]) if pool else "1"

    return re.sub(r"\{(\w+)\}", value, path)


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _not_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url} -> {response.status_code} {response.text[:300]}"
    )


def _error_fields(response: httpx.Response) -> list[str]:
    try:
        return [e["field"] for e in response.json().get("errors") or []]
    except (ValueError, AttributeError):
        return []


# ---- crafted cursors -------------------------------------------------------------------------

# ---- control characters, bidi overrides, zero-width characters in text ----------------------

EVIL = {
    "control": "张\x1b[31m三",
    "bidi": "张\u202e三",
    "zero_width": "张\u200b三",
}


def _secret(location: tuple) -> bool:
    """Passwords, secrets, tokens and one-time codes are compared, never shown: what is
    wrong with one is that it does not match (401), whatever its characters."""
    return any(isinstance(p, str) and any(w in p for w in ("password", "secret", "token", "otp")) for p in location)


def _text_fields(schema: dict, prefix: tuple = (), depth: int = 0) -> list[tuple]:
    """Locations of the free-text fields of a request body schema: strings without enum or
    date/time format (nested objects and the first item of arrays too)."""
    schema = _resolve(schema)
    if depth > 4:
        return []
    out = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        out += _text_fields(option, prefix, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            out += _text_fields(sub, (*prefix, name), depth + 1)
    elif kind == "array" and "items" in schema:
        out += _text_fields(schema["items"], (*prefix, 0), depth + 1)
    elif (
        kind == "string"
        and "enum" not in schema
        and schema.get("format") not in ("date", "date-time", "binary", "password")
        and not _secret(prefix)
        and not schema.get("readOnly")
    ):
        out.append(prefix)
    return list(dict.fromkeys(out))


def _body_schema(op: dict) -> dict | None:
    content = op.get("requestBody", {}).get("content", {})
    for media_type in ("application/json", "application/x-www-form-urlencoded"):
        if media_type in content:
            return content[media_type].get("schema")
    return None


def _placed(location: tuple, value) -> object:
    """``("members", 0, "name")`` → ``{"members": [{"name": value}]}``."""
    if not location:
        return value
    head, rest = location[0], location[1:]
    return [_placed(rest, value)] if isinstance(head, int) else {head: _placed(rest, value)}


APP = create_app(Settings(env="test"))
ROUTES = [context.original_route for context in iter_route_contexts(APP.router.routes)]
BODY_MODELS = {
    route.operation_id: route.body_field
    for route in ROUTES
    if getattr(route, "body_field", None) is not None and getattr(route, "operation_id", None)
}
TEXT_FIELDS = {
    op_id: _text_fields(_body_schema(op))
    for op_id, (_, _, op) in OPERATIONS.items()
    if _body_schema(op) and op_id in BODY_MODELS
}
TEXT_FIELDS = {op_id: fields for op_id, fields in TEXT_FIELDS.items() if fields}
# The login form's names are credentials: compared, never stored. A name holding hidden
# characters matches no account (401) and the attempt reaches the auditor with them removed
# (test_account_security.py::test_the_county_auditor_sees_failed_logins_under_unknown_names).
TEXT_FIELDS.pop("login", None)


def _refused_at(op_id: str, location: tuple, value: str) -> bool:
    field = BODY_MODELS[op_id]
    annotation = field.field_info.annotation
    try:
        TypeAdapter(annotation).validate_python(_placed(location, value))
    except ValidationError as exc:
        return any(tuple(e["loc"][: len(location)]) == location and e["type"] != "missing" for e in exc.errors())
    return False


def _text_cases():
    for op_id in sorted(TEXT_FIELDS):
        for kind in EVIL:
            yield pytest.param(op_id, kind, id=f"{op_id}-{kind}")


def test_the_matrix_sees_the_text_fields():
    """The walk of the document finds the fields it should (so an empty matrix cannot pass)."""
    assert ("members", 0, "name") in TEXT_FIELDS["createHousehold"]
    assert ("address",) in TEXT_FIELDS["updateHousehold"]
    assert ("evidence",) in TEXT_FIELDS["reportRiskClue"]
    assert len(TEXT_FIELDS) > 30


@pytest.mark.parametrize("operation_id, kind", list(_text_cases()))
def test_text_fields_refuse_invisible_characters(operation_id, kind):
    accepted = [
        ".".join(map(str, loc)) for loc in TEXT_FIELDS[operation_id] if not _refused_at(operation_id, loc, EVIL[kind])
    ]
    assert not accepted, f"accepted {kind} characters in: {accepted}"


def _http_text_cases():
    for kind in EVIL:
        yield pytest.param(kind, id=f"http-{kind}")


@pytest.mark.parametrize("kind", list(_http_text_cases()))
async def test_invisible_characters_are_422_naming_the_field(kind, client, auth, db):
    """End to end: the body models' refusal is a 422 naming the field, and nothing changes."""
    from tests.dbstate import fingerprint
    from tests.factories import household, person

    world = await make_world(client, auth)
    h = auth("county_staff.county")
    before = await fingerprint(db.connection)
    evil = EVIL[kind]
    requests = [
        (
            lambda: client.post(
                "/api/v1/households", headers=h, json=household(region=VILLAGE, members=[person("head", name=evil)])
            ),
            "members[0].name",
        ),
        (
            lambda: client.patch(
                f"/api/v1/households/{world.home['id']}", headers={**h, "If-Match": "*"}, json={"address": evil}
            ),
            "address",
        ),
        (
            lambda: client.patch(
                f"/api/v1/persons/{world.member('home', 2)}", headers={**h, "If-Match": "*"}, json={"name": evil}
            ),
            "name",
        ),
    ]
    for request, field in requests:
        r = await request()
        _not_5xx(r)
        assert r.status_code == 422 and field in _error_fields(r), r.text
    assert await fingerprint(db.connection) == before


# ---- forged tokens ---------------------------------------------------------------------------


def _claims(settings, sub: str, name: str, role: str, prefix: str, **extra) -> dict:
    now = time.time()
    return {
        "iss": settings.auth.issuer,
        "sub": sub,
        "name": name,
        "role": role,
        "scope_prefix": prefix,
        "iat": now,
        "exp": int(now) + 600,
        "jti": uuid.uuid4().hex,
        **extra,
    }


def _signed(settings, claims: dict) -> str:
    return jwt.encode(claims, settings.auth.secret_key.get_secret_value(), algorithm=settings.auth.algorithm)


def _unsigned(claims: dict) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{body}."


def forgeries(settings, user_ids: dict, user: str) -> dict[str, str]:
    """Tokens that must not be believed, modelled on ``user``'s own (a real account)."""
    role, prefix = USERS[user]
    uid = user_ids[user]
    own = _claims(settings, f"user:{uid}", user, role, prefix)
    stronger = "admin" if role != "admin" else "county_staff"
    return {
        "wrong_key": jwt.encode(own, "not-the-secret-" + "x" * 40, algorithm=settings.auth.algorithm),
        "alg_none": _unsigned(own),
        "expired": _signed(settings, {**own, "iat": time.time() - 7200, "exp": int(time.time()) - 3600}),
        "unknown_user": _signed(settings, {**own, "sub": f"user:{MISSING}", "name": "nobody"}),
        # the province ("52") for anyone below it; every region ("") for the province's own staff
        "wider_region": _signed(settings, {**own, "scope_prefix": "52" if prefix != "52" else ""}),
        "stronger_role": _signed(settings, {**own, "role": stronger}),
        "unknown_client": _signed(
            settings,
            _claims(
                settings,
                f"client:{MISSING}",
                "ghost",
                "department_system",
                "52",
                perms=sorted(p.value for p in Permission),
            ),
        ),
    }


FORGERIES = ("wrong_key", "alg_none", "expired", "unknown_user", "wider_region", "stronger_role", "unknown_client")
LOGIN_OPERATIONS = sorted(op_id for op_id, (_, _, op) in OPERATIONS.items() if _scopes(op) is not None)


async def _sweep(client, settings, user_ids, values, user: str, forgery: str, operations) -> list[str]:
    token = forgeries(settings, user_ids, user)[forgery]
    wrong = []
    for op_id in operations:
        method, path, op = OPERATIONS[op_id]
        body = {} if "requestBody" in op else None
        headers = {"Authorization": f"Bearer {token}", "If-Match": "*"}
        r = await client.request(
            method, _path(path, values), headers=headers, **({"json": body} if body is not None else {})
        )
        _not_5xx(r)
        if r.status_code != 401:
            wrong.append(f"{op_id}: {r.status_code}")
    return wrong


@pytest.fixture
async def values(client, auth) -> dict:
    """Ids of real objects for the paths (a forged token must not reach them)."""
    return pools(await make_world(client, auth))


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_forged_tokens_are_401_on_every_route(forgery, client, settings, user_ids, values):
    """Every route needing a login, a forged token modelled on a village grid worker's."""
    wrong = await _sweep(client, settings, user_ids, values, "grid_worker.village", forgery, LOGIN_OPERATIONS)
    assert not wrong, f"{len(wrong)} route(s) believed a {forgery} token: {wrong[:20]}"


ROLE_ROUTES = (
    "whoAmI",
    "listHouseholds",
    "getHousehold",
    "updateHousehold",
    "listUsers",
    "listAuditEvents",
    "lookupPerson",
    "listFunds",
)


def _forgery_by_role_cases():
    for forgery in ("wider_region", "stronger_role", "alg_none", "wrong_key"):
        yield pytest.param(forgery, id=f"every_user-{forgery}")


@pytest.mark.parametrize("forgery", list(_forgery_by_role_cases()))
async def test_forged_claims_of_every_user_are_401(forgery, client, settings, user_ids, values):
    """Every test user's own id with a claim its account does not have, on routes of each kind."""
    operations = [op for op in ROLE_ROUTES if op in OPERATIONS]
    assert len(operations) == len(ROLE_ROUTES)
    wrong = []
    for user in sorted(USERS):
        wrong += [f"{user}: {w}" for w in await _sweep(client, settings, user_ids, values, user, forgery, operations)]
    assert not wrong, f"believed {forgery} tokens: {wrong[:30]}"


async def test_genuine_tokens_still_work(client, auth, settings, user_ids):
    """The matrix's own tokens are well made: the account's real claims are accepted."""
    role, prefix = USERS["grid_worker.village"]
    uid = user_ids["grid_worker.village"]
    token = _signed(settings, _claims(settings, f"user:{uid}", "grid_worker.village", role, prefix))
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


# ---- spoofed X-Forwarded-For -----------------------------------------------------------------

SPOOFED = "203.0.113.9"


async def _failed_login_address(http, auth_headers) -> str | None:
    name = "grid_worker.village"  # a real account (the county's auditor sees its events), a wrong password
    r = await http.post(
        "/api/v1/auth/token",
        data={"username": name, "password": "wrong-Password-1"},
        headers={"X-Forwarded-For": SPOOFED, "Forwarded": f"for={SPOOFED}", "X-Real-IP": SPOOFED},
    )
    _not_5xx(r)
    assert r.status_code == 401, r.text
    events = await http.get(
        "/api/v1/audit/events", params={"action": "auth.login", "result": "failure"}, headers=auth_headers
    )
    assert events.status_code == 200, events.text
    mine = [e for e in events.json()["items"] if e.get("actor_name") == name]
    assert mine, events.text  # newest first
    return mine[0]["ip"]


async def _public_limit_evaded(http) -> bool:
    """With one public read a minute, a second one from a 'new' address must still be 429."""
    first = await http.get(
        "/api/v1/public/projects",
        params={"region": "529901", "year": 2025},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )
    _not_5xx(first)
    second = await http.get(
        "/api/v1/public/projects",
        params={"region": "529901", "year": 2025},
        headers={"X-Forwarded-For": "198.51.100.2"},
    )
    _not_5xx(second)
    return second.status_code != 429


def _one_public_read(app, settings):
    app.state.rate_limiter = RateLimiter()
    limits = settings.rate_limits.model_copy(update={"public_reads_per_minute": 1})
    app.state.settings = settings.model_copy(update={"rate_limits": limits})


async def _spoof(app, http, auth, settings) -> None:
    assert await _failed_login_address(http, auth("auditor.county")) == "127.0.0.1"  # where it came from
    _one_public_read(app, settings)
    assert not await _public_limit_evaded(http)


async def test_spoofed_forwarded_for_changes_nothing(client, auth, settings):
    await _spoof(client._transport.app, client, auth, settings)


async def test_spoofed_forwarded_for_changes_nothing_through_uvicorn(live, auth, settings):  # noqa: F811 (the fixture)
    """Through a real server from 127.0.0.1: uvicorn believes X-Forwarded-For from
    127.0.0.1 by default (``forwarded_allow_ips``), so a local client could pose as anyone."""
    app, base = live
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await _spoof(app, http, auth, settings)
