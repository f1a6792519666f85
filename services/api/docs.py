"""Interactive docs served entirely by the service (closed government networks have no CDN).

``/docs`` is Swagger UI 5 (it reads OpenAPI 3.1), ``/redoc`` is ReDoc 2; both are the builds
shipped in the pinned ``fastapi-offline`` package, whose ``static`` folder is mounted at
``/docs-static``. The pages are our own routes (the app is built in services/api/app.py, not by
``FastAPIOffline()``), and security_headers.py gives them their Content-Security-Policy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.staticfiles import StaticFiles

STATIC_PREFIX = "/docs-static"
TITLE = "Guardline API 防止返贫监测帮扶"
SWAGGER_UI_PARAMETERS = {
    "persistAuthorization": True,
    "displayRequestDuration": True,
    "validatorUrl": None,  # no badge from validator.swagger.io: nothing leaves the network
}
# ReDoc's "API docs by Redocly" footer shows a logo from Redocly's CDN; an empty image instead.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = b"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def docs_assets() -> Path:
    """The folder of the Swagger UI and ReDoc builds inside the fastapi-offline package."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle as shipped but for the one file it would fetch from the internet."""
    return (docs_assets() / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO, EMPTY_IMAGE)


def install(app: FastAPI) -> None:
    favicon = f"{STATIC_PREFIX}/favicon.png"

    @app.get(f"{STATIC_PREFIX}/redoc.standalone.js", include_in_schema=False)
    async def redoc_js():
        return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")

    app.mount(STATIC_PREFIX, StaticFiles(directory=docs_assets()), name="docs-static")  # after: the route wins

    @app.get("/docs", include_in_schema=False)
    async def swagger():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{TITLE} — 接口文档 (Swagger UI)",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect():
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{TITLE} — 接口参考 (ReDoc)",
            redoc_js_url=f"{STATIC_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
