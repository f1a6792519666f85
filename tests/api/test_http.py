"""Protocol-level behaviour: problem details, body cap, request ids, probes, offline docs."""

import re

from tests.factories import household


async def test_unknown_route_and_method_are_problems(client, auth):
    r = await client.get("/api/v1/nothing-here", headers=auth("county_staff.county"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "route_not_found"
    r = await client.delete("/api/v1/households", headers=auth("county_staff.county"))
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


async def test_malformed_json_names_the_body(client, auth):
    r = await client.post(
        "/api/v1/households",
        content=b'{"region_code": ',
        headers={**auth("village_staff.village"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "json_invalid"


async def test_oversized_body_is_413(client, auth, settings):
    big = household(address="x" * (settings.max_body_bytes + 10))
    r = await client.post("/api/v1/households", json=big, headers=auth("village_staff.village"))
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    r = await client.post(
        "/api/v1/households", json=big, headers={**auth("village_staff.village"), "Accept-Language": "zh"}
    )
    assert "字节" in r.json()["detail"]


async def test_request_id_is_echoed_or_made(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


async def test_probes(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_reports_an_unreachable_database(settings):
    import httpx

    from services.api.app import create_app
    from services.core.db import Database, create_engine

    broken = Database(create_engine("postgresql+asyncpg://nobody@/nodb?host=/nonexistent", settings, "tests"))
    app = create_app(settings, database=broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert (r.status_code, r.json()["code"]) == (503, "service_unavailable")
    assert "nonexistent" not in r.text
    await broken.dispose()


async def test_an_unreachable_database_is_503_on_every_read_path(settings, auth):
    """The hot reads (read pool) and the session reads answer alike: 503 with Retry-After,
    in the caller's language, naming nothing of the server."""
    import httpx

    from services.api.app import create_app
    from services.core.db import Database, create_engine

    broken = Database(create_engine("postgresql+asyncpg://nobody@/nodb?host=/nonexistent", settings, "tests"))
    app = create_app(settings, database=broken)
    headers = auth("county_staff.county")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as c:
            for method, path, extra in (
                ("GET", "/api/v1/households/1", {}),
                ("POST", "/api/v1/persons/lookup", {"json": {"id_number": "11010519491231002X"}}),
                ("GET", "/api/v1/households", {}),
                ("GET", "/api/v1/households/1/history", {"headers": {**headers, "Accept-Language": "zh"}}),
            ):
                r = await c.request(method, path, **{"headers": headers, **extra})
                assert (path, r.status_code, r.headers.get("retry-after")) == (path, 503, "5"), r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "service_unavailable" and "nonexistent" not in r.text
            assert r.json()["detail"] == "数据库暂时不可用（无法连接或繁忙），请在 Retry-After 所示秒数后重试。"
    finally:
        await broken.dispose()


async def test_docs_load_nothing_from_the_internet(client):
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        assert "防止返贫监测帮扶" in re.search(r"<title>(.*?)</title>", page.text).group(1)
        urls = (
            re.findall(r'(?:src|href)=["\']([^"\']+)', page.text)
            + re.findall(r"url: ?'([^']+)'", page.text)
            + re.findall(r'spec-url="([^"]+)"', page.text)
        )
        assert urls, page.text
        assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert "http://" not in page.text and "https://" not in page.text, path
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            r = await client.get(asset)
            assert r.status_code == 200 and len(r.content) > 1_000, asset
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200 and '"OAuth2"' in spec.text


async def test_the_docs_are_swagger_ui_5_and_redoc_2(client):
    """Swagger UI 4 cannot read OpenAPI 3.1 ("Unable to render this definition")."""
    swagger = await client.get("/docs-static/swagger-ui-bundle.js")
    assert swagger.status_code == 200
    versions = set(re.findall(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', swagger.text))
    assert versions == {"5"}, versions
    assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")
    page = await client.get("/docs")
    assert '"persistAuthorization": true' in page.text and '"displayRequestDuration": true' in page.text
    assert '"validatorUrl": null' in page.text  # no badge fetched from validator.swagger.io
    redoc = await client.get("/docs-static/redoc.standalone.js")
    assert redoc.status_code == 200 and redoc.headers["content-type"].startswith("text/javascript")
    assert set(re.findall(r'ReDoc Version: ","(\d+)\.\d+\.\d+"', redoc.text)) == {"2"}
    # The one file ReDoc would fetch from the internet, the logo of its footer, is not asked for.
    assert "cdn.redoc.ly" not in redoc.text and "data:image/gif;base64," in redoc.text
    assert len(redoc.content) > 1_000_000


async def test_errors_never_leak_internals(client, auth):
    r = await client.get("/api/v1/households/1", headers=auth("county_staff.county"))
    for word in ("Traceback", "SELECT", "sqlalchemy", "asyncpg"):
        assert word not in r.text
