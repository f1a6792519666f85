"""The OpenAPI document tells the truth about what the server does, rule by rule
(docs/api-contract.md). Each test lists the operations that break its rule.

The first half reads the generated document; the second sends real requests and checks that
the headers the document declares for an answer are the ones that arrive."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from services.api.app import create_app
from services.api.deps import scoped_session
from services.api.params import MAX_LIMIT
from services.api.routing import GuardlineRoute, _calls
from services.core.settings import IdempotencySettings, RateLimitSettings, Settings
from services.core.types import MONEY_PATTERN, SIGNED_MONEY_PATTERN
from tests.factories import household

ROOT = Path(__file__).resolve().parents[2]
APP = create_app(Settings(env="test"))
DOCUMENT = APP.openapi()
PROBLEM = {"$ref": "#/components/schemas/Problem"}
WRITES = {"post", "put", "patch", "delete"}


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            yield path, method, op


def routes() -> dict[tuple[str, str], GuardlineRoute]:
    """Every GuardlineRoute by (path as documented, method)."""
    return {
        (ctx.path, method.lower()): ctx.original_route
        for ctx in iter_route_contexts(APP.router.routes)
        if isinstance(ctx.original_route, GuardlineRoute)
        for method in ctx.methods
    }


def label(path: str, method: str, op: dict) -> str:
    return f"{op.get('operationId', '?')} ({method.upper()} {path})"


def header_names(op: dict) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}


def resolve(node: dict) -> dict:
    ref = node.get("$ref", "")
    if ref.startswith("#/components/"):
        kind, name = ref.split("/")[2:]
        return DOCUMENT["components"][kind][name]
    return node


def offending(found: list[str]) -> str:
    return "\n".join(sorted(found)) + f"\n({len(found)} operations)"


# ---- 1. tags -----------------------------------------------------------------------------


def test_tags_are_ascii_identifiers_with_their_chinese_shown():
    defined = {t["name"]: t for t in DOCUMENT["tags"]}
    bad = [name for name in defined if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name)]
    assert not bad, bad
    for name, tag in defined.items():
        chinese = tag["x-displayName"].removeprefix(name + " ")
        assert tag["x-displayName"].startswith(name + " ") and re.search(r"[\u4e00-\u9fff]", chinese), tag
        assert tag["description"].startswith(chinese), tag
    undefined = [
        label(*o) + f": {o[2].get('tags')}"
        for o in operations()
        if len(o[2].get("tags", [])) != 1 or o[2]["tags"][0] not in defined
    ]
    assert not undefined, offending(undefined)
    unused = set(defined) - {o[2]["tags"][0] for o in operations()}
    assert not unused, unused


def test_routers_name_tags_by_constant():
    """Tags are defined once (services/api/tags.py): no router spells a tag out."""
    spelled = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in (ROOT / "services" / "api").rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if p.name != "tags.py" and re.search(r"tags=\[\s*[\"']|= \[\"[a-z][a-z ]* [\u4e00-\u9fff]", line)
    ]
    assert not spelled, spelled


# ---- 2. errors -----------------------------------------------------------------------------


def test_every_error_is_problem_json_with_the_problem_schema():
    bad = [
        f"{label(path, method, op)} {status}: {sorted(r.get('content', {}))}"
        for path, method, op in operations()
        for status, r in op["responses"].items()
        if status[0] in "45" and r.get("content") != {"application/problem+json": {"schema": PROBLEM}}
    ]
    assert not bad, offending(bad)
    assert {"type", "title", "status", "detail", "code"} <= set(
        DOCUMENT["components"]["schemas"]["Problem"]["required"]
    )
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


def test_every_operation_that_reaches_the_database_documents_503_with_retry_after():
    missing = [
        label(*o)
        for o in operations()
        if o[2]["operationId"] != "healthz"
        and ("503" not in o[2]["responses"] or "Retry-After" not in o[2]["responses"]["503"]["headers"])
    ]
    assert not missing, offending(missing)


def test_every_operation_with_a_body_documents_the_413_of_the_body_limit():
    missing = [label(*o) for o in operations() if "requestBody" in o[2] and "413" not in o[2]["responses"]]
    assert not missing, offending(missing)
    assert any("requestBody" in o[2] for o in operations())


def test_every_write_documents_the_409_of_a_lost_race():
    missing = [
        label(path, method, op)
        for path, method, op in operations()
        if method in WRITES
        and not routes()[(path, method)].endpoint.__dict__.get("guardline_read_only")
        and "409" not in op["responses"]
    ]
    assert not missing, offending(missing)


# ---- 3. rate limits ------------------------------------------------------------------------------

_COUNTS_A_LIMIT = re.compile(r"\b(limit\(request|check_reveal_rate\(|TooManyRequests\()")


def test_every_rate_limited_operation_documents_429_and_its_headers():
    from services.api.ratelimit import RATE_LIMITED

    found, checked = [], 0
    for (path, method), route in routes().items():
        op = DOCUMENT["paths"][path][method]
        source = inspect.getsource(route.endpoint)
        by_hand = bool(_COUNTS_A_LIMIT.search(source))
        limited = bool(RATE_LIMITED & _calls(route.dependant)) or by_hand
        checked += limited
        if limited:
            r429 = op["responses"].get("429", {})
            if "Retry-After" not in r429.get("headers", {}):
                found.append(label(path, method, op) + ": no 429 with Retry-After")
        if (limited and "limit(request" in source) or RATE_LIMITED & _calls(route.dependant):
            success = op["responses"][str(route.status_code or 200)]
            if not {"RateLimit", "RateLimit-Policy"} <= set(success.get("headers", {})):
                found.append(label(path, method, op) + ": no RateLimit headers on its answer")
        if not limited and "429" in op["responses"]:
            found.append(label(path, method, op) + ": 429 documented but nothing limits it")
    assert not found, offending(found)
    assert checked >= 25  # the lists, the public disclosure, login, the ID reveal …
    for name in ("login", "unmaskIdNumber", "listHouseholds", "listPublicProjects"):
        assert any(o[2]["operationId"] == name and "429" in o[2]["responses"] for o in operations()), name


async def test_counting_a_limit_on_a_route_that_does_not_declare_it_fails():
    from starlette.requests import Request

    from services.api.ratelimit import limit

    undeclared = type("Route", (), {"path": "/x", "declares": frozenset()})()
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": [], "route": undeclared, "app": APP})
    with pytest.raises(RuntimeError, match="does not declare"):
        await limit(request, "test", "key", 10)


# ---- 4. request and response headers ---------------------------------------------------------------


def test_if_match_is_declared_exactly_where_it_is_checked():
    """Declared with the 412 it may answer (and the 428 of an empty one); every endpoint that
    checks it in its body declares it (``deps.check_if_match`` also refuses to run otherwise)."""
    found = []
    for (path, method), route in routes().items():
        op = DOCUMENT["paths"][path][method]
        checks = re.search(r"\bcheck_(optional_)?if_match\(", inspect.getsource(route.endpoint))
        declared = "If-Match" in header_names(op)
        if (
            (checks and not declared)
            or declared != ("412" in op["responses"])
            or (declared and "428" not in op["responses"])
        ):
            found.append(label(path, method, op))
    assert not found, offending(found)
    assert sum("If-Match" in header_names(o[2]) for o in operations()) >= 36
    required = {
        o[2]["operationId"]
        for o in operations()
        for p in o[2].get("parameters", [])
        if p["name"] == "If-Match" and p["required"]
    }
    assert {"updateHousehold", "updatePerson", "updateFinding"} <= required
    assert "addMember" not in required  # an action that checks a stale If-Match only when sent


def test_idempotency_key_is_declared_on_every_post_that_honours_it():
    longest = IdempotencySettings().max_key_length
    found, honoured = [], 0
    for (path, method), route in routes().items():
        op = DOCUMENT["paths"][path][method]
        endpoint = route.endpoint
        honours = (
            method == "post"
            and scoped_session in _calls(route.dependant)
            and not (
                getattr(endpoint, "guardline_read_only", False) or getattr(endpoint, "guardline_no_idempotency", False)
            )
        )
        honoured += honours
        params = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if honours != bool(params):
            found.append(label(path, method, op) + f": honours={honours}")
        elif params and (params[0]["required"] or params[0]["schema"]["maxLength"] != longest):
            found.append(label(path, method, op) + f": {params[0]}")
    assert not found, offending(found)
    assert honoured >= 40
    for name in ("login", "lookupPerson", "unmaskIdNumber"):  # no session of theirs / read only / never replayed
        op = next(o[2] for o in operations() if o[2]["operationId"] == name)
        assert "Idempotency-Key" not in header_names(op), name


def test_every_response_declares_x_request_id_and_retry_after_where_sent():
    found = []
    for path, method, op in operations():
        for status, r in op["responses"].items():
            headers = r.get("headers", {})
            if "X-Request-ID" not in headers:
                found.append(f"{label(path, method, op)} {status}: no X-Request-ID")
            if status in ("409", "429", "503") and "Retry-After" not in headers:
                found.append(f"{label(path, method, op)} {status}: no Retry-After")
            if status in ("429", "503") and not resolve(headers["Retry-After"])["required"]:
                found.append(f"{label(path, method, op)} {status}: Retry-After optional")
    assert not found, offending(found)


# ---- 5. servers, licence -------------------------------------------------------------------------------


def test_servers_license_and_contact():
    assert DOCUMENT["servers"] == [{"url": "/", "description": DOCUMENT["servers"][0]["description"]}]
    assert DOCUMENT["servers"][0]["description"]
    assert DOCUMENT["info"]["license"] == {"name": "Apache-2.0", "identifier": "Apache-2.0"}
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert DOCUMENT["info"]["contact"]["name"]


# ---- 6. limit ------------------------------------------------------------------------------------------


def test_every_limit_states_its_range():
    found, seen = [], 0
    for path, method, op in operations():
        for p in op.get("parameters", []):
            if p["name"] == "limit":
                seen += 1
                schema = next((s for s in p["schema"].get("anyOf", [p["schema"]]) if s.get("type") == "integer"), {})
                if schema.get("minimum") != 1 or not schema.get("maximum"):
                    found.append(f"{label(path, method, op)}: {p['schema']}")
                elif path != "/api/v1/regions" and schema["maximum"] != MAX_LIMIT:
                    found.append(f"{label(path, method, op)}: maximum {schema['maximum']}")
    assert not found, offending(found)
    assert seen >= 30


# ---- 7. money --------------------------------------------------------------------------------------------


def _request_schemas() -> set[str]:
    names: set[str] = set()
    todo = [json.dumps(op.get("requestBody", {})) + json.dumps(op.get("parameters", [])) for _, _, op in operations()]
    while todo:
        for name in re.findall(r'"#/components/schemas/([^"]+)"', todo.pop()):
            if name not in names:
                names.add(name)
                todo.append(json.dumps(DOCUMENT["components"]["schemas"][name]))
    return names


def test_money_is_a_decimal_string_in_every_request():
    """No input accepts a number where money is meant: every amount is a string of the money pattern."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            kinds = {node.get("type")} | {s.get("type") for s in node.get("anyOf", []) if isinstance(s, dict)}
            if "number" in kinds:
                found.append(where)
            pattern = node.get("pattern", "")
            if pattern.startswith("^[0-9]{1,10}") and pattern not in (MONEY_PATTERN, SIGNED_MONEY_PATTERN):
                found.append(where + ": " + pattern)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for name in sorted(_request_schemas()):
        walk(DOCUMENT["components"]["schemas"][name], name)
    assert not found, offending(found)
    amount = DOCUMENT["components"]["schemas"]["IncomeCreate"]["properties"]["wages"]
    assert (amount["type"], amount["pattern"], amount["examples"]) == ("string", MONEY_PATTERN, ["1250.00"])


async def test_money_accepts_the_documented_string_and_exact_numbers_only(client, auth):
    from tests.api.test_households import create
    from tests.api.test_income import quarter

    h = auth("grid_worker.village")
    path = f"/api/v1/households/{(await create(client, auth))['id']}/income-records"
    for q, wages, expected in ((1, "1250.5", "1250.50"), (2, 1250.5, "1250.50"), (3, 1000, "1000.00")):
        r = await client.post(path, json=quarter(q, wages=wages), headers=h)
        assert (r.status_code, r.json().get("wages")) == (201, expected), r.text
    for wages, code in (
        ("1e3", "decimal_parsing"),
        (" 12", "decimal_parsing"),
        ("+12", "decimal_parsing"),
        ("NaN", "decimal_parsing"),
        (10.125, "decimal_max_places"),
        ("10.125", "decimal_max_places"),
        (True, "decimal_type"),
        ("-1", "greater_than_equal"),
        ("12345678901", "decimal_whole_digits"),
    ):
        r = await client.post(path, json=quarter(4, wages=wages), headers=h)
        assert (r.status_code, r.json()["field"], r.json()["errors"][0]["code"]) == (422, "wages", code), (
            wages,
            r.text,
        )


# ---- 8. lists -------------------------------------------------------------------------------------------


def test_every_list_is_a_page_with_limit_and_cursor():
    found = []
    for path, method, op in operations():
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        target = resolve(schema)
        if method == "get" and target.get("type") == "array":
            found.append(label(path, method, op) + ": a bare array")
        paged = set(target.get("properties", {})) == {"items", "next_cursor"}
        if paged and {"limit", "cursor"} - {p["name"] for p in op.get("parameters", [])}:
            found.append(label(path, method, op) + ": a page without limit and cursor")
    assert not found, offending(found)


def test_the_committed_document_is_the_generated_one():
    from services.cli import openapi_document

    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_document(), "run `guardline openapi` and commit openapi/openapi.json"


# ---- the headers really sent ----------------------------------------------------------------------------------


def _operation_of(request: httpx.Request) -> tuple[str, str, dict]:
    """The operation a request named: of the paths that match, the one with the fewest
    parameters (``/persons/lookup`` before ``/persons/{person_id}``)."""
    method = request.method.lower()
    matching = [
        (path.count("{"), path)
        for path, item in DOCUMENT["paths"].items()
        if method in item and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", path), request.url.path)
    ]
    assert matching, f"no operation for {request.method} {request.url.path}"
    path = min(matching)[1]
    return path, method, DOCUMENT["paths"][path][method]


def assert_declared_headers(response: httpx.Response) -> None:
    """Every header the document declares required for this answer is there and matches its schema."""
    path, method, op = _operation_of(response.request)
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, f"{label(path, method, op)} answered an undocumented {response.status_code}"
    for name, header in declared.get("headers", {}).items():
        header = resolve(header)
        value = response.headers.get(name)
        if value is None:
            assert not header.get("required"), f"{label(path, method, op)} {response.status_code}: no {name}"
            continue
        schema = header["schema"]
        if schema["type"] == "integer":
            assert value.isdigit() and int(value) >= schema.get("minimum", 0), (name, value)
        if "pattern" in schema:
            assert re.match(schema["pattern"], value), (name, value)
        if "enum" in schema:
            assert value in schema["enum"], (name, value)


async def test_the_declared_headers_are_sent(client, auth, settings):
    h = auth("county_staff.county")
    samples = [
        await client.get("/api/v1/households", headers=h),  # rate-limited list
        await client.get("/api/v1/households/999999", headers=h),  # 404
        await client.get("/api/v1/households", params={"limit": MAX_LIMIT + 1}, headers=h),  # 422
        await client.get("/api/v1/households"),  # 401
        await client.get("/api/v1/public/projects"),  # public, rate-limited
        await client.get("/healthz"),
        await client.get("/api/v1/regions", headers={**h, "X-Request-ID": "trace-1"}),
        await client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"}),  # login: 401
    ]
    assert samples[-2].headers["x-request-id"] == "trace-1"  # the client's own id comes back
    body = household()
    key = {**auth("village_staff.village"), "Idempotency-Key": "contract-headers-1"}
    first = await client.post("/api/v1/households", json=body, headers=key)
    again = await client.post("/api/v1/households", json=body, headers=key)
    assert (first.status_code, again.status_code, again.headers.get("idempotent-replayed")) == (201, 201, "true")
    samples += [first, again]
    for r in samples:
        assert_declared_headers(r)
    assert {r.status_code for r in samples} >= {200, 401, 404, 422}


async def test_429_and_503_carry_their_declared_headers(settings, db, auth):
    from services.api.middleware import RequestContext  # noqa: F401 (the headers come from there)
    from services.core.db import Database, create_engine

    tight = settings.model_copy(update={"rate_limits": RateLimitSettings(bulk_reads_per_minute=1)})
    app = create_app(tight, database=db)
    h = auth("county_staff.county")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        responses = [await c.get("/api/v1/households", headers=h) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    for r in responses:
        assert_declared_headers(r)
    assert responses[1].headers["ratelimit"].startswith('"bulk";r=0;')

    broken = Database(create_engine("postgresql+asyncpg://nobody@/nodb?host=/nonexistent", settings, "tests"))
    app = create_app(settings, database=broken)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as c:
            for r in (
                await c.get("/api/v1/households/1", headers=h),
                await c.get("/readyz"),
                await c.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
            ):
                assert r.status_code == 503, r.text
                assert_declared_headers(r)
    finally:
        await broken.dispose()
