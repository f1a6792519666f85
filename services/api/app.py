"""The FastAPI application. ``create_app`` builds it; the database is opened in the
lifespan (or handed in by tests), never at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from services.api import compression, contract, docs, edge, metrics, problems, security_headers
from services.api.admin.router import router as admin_router
from services.api.audit.router import router as audit_router
from services.api.auditing import ReadAuditBuffer
from services.api.auth.router import router as auth_router
from services.api.batch import router as batch_router
from services.api.events.router import router as events_router
from services.api.events.subscriptions import router as subscriptions_router
from services.api.exports.router import router as exports_router
from services.api.fieldwork.router import router as fieldwork_router
from services.api.followup.router import router as followup_router
from services.api.funds.assets import router as assets_router
from services.api.funds.projects import router as projects_router
from services.api.funds.public import router as public_router
from services.api.funds.router import router as funds_router
from services.api.guarantees.router import router as guarantees_router
from services.api.health import router as health_router
from services.api.households.router import router as households_router
from services.api.income.router import router as income_router
from services.api.ledgers.router import router as ledgers_router
from services.api.middleware import RequestContext
from services.api.monitoring.reports import router as monitoring_reports_router
from services.api.monitoring.router import router as monitoring_router
from services.api.ratelimit import RateLimiter, SharedCounts
from services.api.regions.router import router as regions_router
from services.api.reports.router import router as reports_router
from services.api.responses import JSON
from services.api.sync.findings import router as findings_router
from services.api.sync.imports import UPLOAD_PATHS
from services.api.sync.imports import router as imports_router
from services.api.sync.policies import router as sync_policies_router
from services.api.sync.router import router as sync_router
from services.api.tags import TAGS
from services.core.accounts.security import Revocations
from services.core.accounts.service import sync_revocations
from services.core.db import Database, application_url, create_engine
from services.core.idnumber import install_log_redaction
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import Environment, Settings, get_settings

DESCRIPTION = """
**Guardline 防止返贫动态监测和帮扶** — the household registry, income and the
"three guarantees + safe water" of a county, for grid workers, cadres, township and county
staff and department systems.

* Log in with `POST /api/v1/auth/token` (the **Authorize** button above), then try the
  endpoints. Everything you see is limited to your region (区划范围): something outside it
  answers 404, exactly as if it did not exist.
* Errors are RFC 9457 `application/problem+json` with the field at fault; send
  `Accept-Language: zh` for Chinese messages.
* Updates need `If-Match` with the ETag you read; POSTs accept `Idempotency-Key` so that
  retries on a bad network never apply twice.
* Money is a decimal string of yuan with at most two decimals (`"8500.00"`, pattern
  `^[0-9]{1,10}(\\.[0-9]{1,2})?$`), in answers and in requests (a JSON number is still
  accepted where it is exact to two places); times are China time.
* Every response carries `X-Request-ID`; rate-limited operations answer with `RateLimit` and
  `RateLimit-Policy`, and 429 with `Retry-After`; 503 (the database cannot be reached for the
  moment) carries `Retry-After` too.
"""


# Relative: the docs and generated clients call the host that served the document.
SERVERS = [{"url": "/", "description": "This server (the host that serves this document) 当前服务器"}]

log = logging.getLogger("guardline.api")


async def poll_revocations(app: FastAPI) -> None:
    """Learn revocations made by other API processes (logouts, role changes, revoked clients)."""
    while True:
        try:
            async with app.state.db.session(readonly=True) as session:
                bind_scope(session, UNRESTRICTED)
                await sync_revocations(session, app.state.revocations, app.state.settings)
        except Exception:  # the database may be down for a moment; try again next time
            log.warning("could not read revocations", exc_info=True)
        await asyncio.sleep(app.state.settings.auth.revocation_poll_seconds)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = database is None
        if owned:
            url = application_url(settings)  # never the owner: the audit trail stays append-only
            limit_ms = int(settings.api_statement_timeout_seconds * 1000)
            app.state.db = Database(
                create_engine(url, settings, "api", statement_timeout_ms=limit_ms),
                read_pool_size=settings.db_read_pool_size,
                statement_timeout_ms=limit_ms,
            )
        else:
            app.state.db = database
        # Everything built so far (routes, models, mappers) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        poller = asyncio.create_task(poll_revocations(app)) if owned else None
        observability = settings.observability
        if settings.env == Environment.production and observability.metrics and observability.metrics_token is None:
            log.warning(
                "/metrics answers without a token: set GUARDLINE_OBSERVABILITY__METRICS_TOKEN, or keep "
                "/metrics off the public side of the proxy (docs/observability.md)"
            )
        flusher = None
        if owned and settings.audit.read_flush_ms > 0:
            app.state.read_audit = ReadAuditBuffer(app.state.db, settings.audit.read_flush_ms)
            flusher = asyncio.create_task(app.state.read_audit.run())
        try:
            yield
        finally:
            for task in (poller, flusher):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            if flusher is not None:
                await app.state.read_audit.flush()  # nothing pending is lost on a normal stop
                app.state.read_audit = None
            if owned:
                await app.state.db.dispose()

    app = FastAPI(
        title="Guardline API",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        servers=SERVERS,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        contact={"name": "Guardline maintainers"},
        default_response_class=JSON,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": settings.telemetry},
    )
    app.state.settings = settings
    app.state.revocations = Revocations()
    app.state.rate_limiter = RateLimiter(SharedCounts(lambda: app.state.db))
    app.state.read_audit = None  # sensitive reads are recorded one by one until the lifespan starts a buffer
    if database is not None:
        app.state.db = database
    problems.install(app)
    install_log_redaction()
    docs.install(app)
    contract.install(app)
    # Routes are matched in order: the busiest first.
    for router in (
        exports_router,  # before the lists: /households/export is not a household's id
        households_router,
        income_router,
        guarantees_router,
        monitoring_router,
        regions_router,
        auth_router,
        audit_router,
        events_router,
        batch_router,
        subscriptions_router,
        admin_router,
        monitoring_reports_router,
        followup_router,
        findings_router,
        sync_router,
        imports_router,
        sync_policies_router,
        projects_router,
        fieldwork_router,
        funds_router,
        assets_router,
        ledgers_router,
        reports_router,
        public_router,
        health_router,
    ):
        app.include_router(router)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
        uploads=(UPLOAD_PATHS, settings.sync.max_upload_bytes),
    )
    metrics.install(app, settings)  # around RequestContext: /metrics, request counts, the access log
    security_headers.install(app)  # outermost: every response, a 500 too
    compression.install(app, settings)  # around even that: it must see bodies uncompressed
    edge.install(app, settings)  # outside all: the busiest reads, each layer's work in one pass
    return app
