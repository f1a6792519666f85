"""``GET /metrics`` (Prometheus text format) and the access log (docs/observability.md).

* HTTP: requests by method, route *template* (``/api/v1/households/{household_id}``, never
  the path a client sent: no ids, names or query values in a label) and status; their
  duration; requests in flight. ``/metrics`` itself is not counted.
* This process: its database pools (the ORM's and the hot reads'), the sensitive-read audit
  buffer, and the usual ``process_*`` figures.
* Department sync: counted in the database at scrape time (the workers are other
  processes, possibly on other machines, and come and go), at most every
  ``observability.metrics_db_cache_seconds``; totals only, per source or rule, never per
  region.

Not in the OpenAPI document: it is the operators' interface, not the API's (like /docs), and
outside ``/api/`` so that a reverse proxy can keep it off the public side with one rule. With
``observability.metrics_token`` set it answers only that bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.logs import ACCESS_LOGGER
from services.core.settings import ObservabilitySettings

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"  # no route took the request (unknown path, refused before routing)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: from a cached read (a few ms) to a large import or report (tens of seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger("guardline.api")


def route_of(scope: Scope) -> str:
    """The template of the route that took the request, or ``UNMATCHED``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    root = scope.get("root_path") or ""
    if root and scope.get("endpoint") is not None:  # a mounted app (the docs' static files)
        return root + "/{path}"
    return UNMATCHED


class Metrics:
    """The figures of one application (a registry of its own: tests build many apps)."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "guardline_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "guardline_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "guardline_http_requests_in_flight", "Requests being handled now", registry=self.registry
        )
        # Each label set's child, looked up once (``labels`` takes a lock and builds a key).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}
        self.registry.register(ProcessFigures(app))
        self.sync = SyncFigures()
        self.registry.register(self.sync)
        ProcessCollector(registry=self.registry)

    def counted(self, method: str, route: str, status: int):
        """The request counter of these labels (routes are templates: the set is bounded)."""
        child = self._counted.get((method, route, status))
        if child is None:
            child = self._counted[(method, route, status)] = self.requests.labels(method, route, str(status))
        return child

    def timed(self, method: str, route: str):
        """The duration histogram of these labels."""
        child = self._timed.get((method, route))
        if child is None:
            child = self._timed[(method, route)] = self.duration.labels(method, route)
        return child


class HttpObserver:
    """Counts and times every HTTP request but those of ``/metrics``, and writes the
    access log line: method, route template, status, duration and request id (no query
    string, no client address: the audit trail has who did what, by request id). Wraps
    ``RequestContext``, so it sees its answers too (413, the last-resort 500)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts (nothing does when the client went away)
        started = self.begin()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.end(scope, status, started)

    def begin(self) -> float:
        """A request arrives: it is in flight from now (the time to give ``end``)."""
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        return time.perf_counter()

    def end(self, scope: Scope, status: int, started: float) -> None:
        """The request's answer is complete (or it ended without one): count and time it,
        and write its access log line."""
        elapsed = time.perf_counter() - started
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = route_of(scope)
        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight.dec()
            metrics.counted(method, route, status).inc()
            metrics.timed(method, route).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            ms = round(elapsed * 1000, 1)
            access_log.info(
                "%s %s %s %sms",
                method,
                route,
                status,
                ms,
                extra={
                    "request_id": scope.get("state", {}).get("request_id"),
                    "fields": {"method": method, "route": route, "status": status, "duration_ms": ms},
                },
            )

    def withdraw(self) -> None:
        """A request ``begin`` counted goes elsewhere to be answered (and observed there)."""
        if self.metrics is not None:
            self.metrics.in_flight.dec()


class ProcessFigures(Collector):
    """The database pools and the sensitive-read audit buffer of this process, as they are now."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "guardline_db_pool_size", "Connections a pool keeps (the hot reads' pool: at most)", labels=["pool"]
        )
        opened = GaugeMetricFamily(
            "guardline_db_pool_connections", "Connections a pool holds open now", labels=["pool"]
        )
        out = GaugeMetricFamily("guardline_db_pool_checked_out", "Connections in use by requests now", labels=["pool"])
        overflow = GaugeMetricFamily(
            "guardline_db_pool_overflow", "Connections open beyond the pool's size (db_max_overflow)", labels=["pool"]
        )
        db = getattr(self.app.state, "db", None)
        pool = getattr(getattr(getattr(db, "engine", None), "sync_engine", None), "pool", None)
        if pool is not None and hasattr(pool, "checkedout"):
            size.add_metric(["orm"], pool.size())
            opened.add_metric(["orm"], pool.checkedin() + pool.checkedout())
            out.add_metric(["orm"], pool.checkedout())
            overflow.add_metric(["orm"], max(pool.overflow(), 0))
        read = db.read_pool_figures() if db is not None and hasattr(db, "read_pool_figures") else None
        if read is not None:
            size.add_metric(["read"], read["max"])
            opened.add_metric(["read"], read["open"])
            out.add_metric(["read"], read["checked_out"])
        yield from (size, opened, out, overflow)

        buffer = getattr(self.app.state, "read_audit", None)
        queued = GaugeMetricFamily(
            "guardline_audit_read_events_queued", "Sensitive-read audit events waiting to be written"
        )
        queued.add_metric([], len(buffer.pending) if buffer is not None else 0)
        yield queued
        for name, attribute, doc in (
            ("guardline_audit_read_events_written", "written", "Sensitive-read audit events written"),
            (
                "guardline_audit_read_flush_failures",
                "failures",
                "Failed writes of a batch of sensitive-read audit events (kept and retried)",
            ),
            (
                "guardline_audit_read_backpressure_waits",
                "waits",
                "Requests that waited for the buffer to be written (it had reached its high-water mark)",
            ),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], getattr(buffer, attribute, 0) if buffer is not None else 0)
            yield counter


class SyncFigures(Collector):
    """The sync figures, read from the database by ``refresh`` (awaited before a scrape is
    rendered) and kept for ``metrics_db_cache_seconds``."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.read_at = float("-inf")
        self.up = 0
        self.lock = asyncio.Lock()

    async def refresh(self, db: Any, settings: ObservabilitySettings) -> None:
        if time.monotonic() - self.read_at < settings.metrics_db_cache_seconds:
            return
        async with self.lock:  # concurrent scrapes: one count, the others wait for it
            if time.monotonic() - self.read_at < settings.metrics_db_cache_seconds:
                return
            from services.core.scope import UNRESTRICTED, bind_scope
            from services.core.sync import queries as sync_queries

            try:
                if db is None:
                    raise RuntimeError("no database yet")
                async with asyncio.timeout(5):
                    async with db.session(readonly=True) as session:
                        bind_scope(session, UNRESTRICTED)  # totals of every region, no row leaves
                        rows = {
                            name: [tuple(r) for r in (await session.execute(text(sql))).all()]
                            for name, sql in (
                                ("runs", sync_queries.METRICS_RUNS),
                                ("quarantine", sync_queries.METRICS_QUARANTINE),
                                ("findings", sync_queries.METRICS_FINDINGS),
                                ("sources", sync_queries.METRICS_SOURCES),
                            )
                        }
            except Exception as exc:  # the scrape still answers, with up 0
                log.warning(
                    "sync figures not counted (%s); /metrics reports guardline_sync_figures_up 0", type(exc).__name__
                )
                self.up = 0
            else:
                self.rows, self.up = rows, 1
            self.read_at = time.monotonic()  # a failure too: a database that is down is not asked every scrape

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "guardline_sync_figures_up", "1 when the last count of the sync figures in the database succeeded"
        )
        up.add_metric([], self.up)
        yield up
        active = GaugeMetricFamily(
            "guardline_sync_runs_active",
            "Sync runs queued or running, by source and status",
            labels=["source", "status"],
        )
        ended = CounterMetricFamily(
            "guardline_sync_runs", "Sync runs ended, by source and outcome", labels=["source", "outcome"]
        )
        records = {
            kind: CounterMetricFamily(f"guardline_sync_records_{kind}", doc, labels=["source"])
            for kind, doc in (
                ("fetched", "Department records received by sync runs"),
                ("staged", "Department records staged (new or changed) by sync runs"),
                ("quarantined", "Department records quarantined (refused by the normaliser) by sync runs"),
            )
        }
        totals: dict[str, list[int]] = {}
        for source, status, runs, fetched, staged, quarantined in self.rows.get("runs", []):
            (active if status in ("queued", "running") else ended).add_metric([source, status], runs)
            sums = totals.setdefault(source, [0, 0, 0])
            for i, value in enumerate((fetched, staged, quarantined)):
                sums[i] += int(value)
        for source, sums in sorted(totals.items()):
            for family, value in zip(records.values(), sums, strict=True):
                family.add_metric([source], value)
        yield from (active, ended, *records.values())
        quarantine = GaugeMetricFamily(
            "guardline_sync_quarantine_open",
            "Quarantined department records not yet reprocessed, by source",
            labels=["source"],
        )
        for source, count in self.rows.get("quarantine", []):
            quarantine.add_metric([source], count)
        yield quarantine
        findings = GaugeMetricFamily(
            "guardline_sync_findings_open",
            "Department cross-check findings not resolved, by rule, severity and status (open, acknowledged)",
            labels=["rule", "severity", "status"],
        )
        for rule, severity, status, count in self.rows.get("findings", []):
            findings.add_metric([rule, severity, status], count)
        yield findings
        failures = GaugeMetricFamily(
            "guardline_sync_source_consecutive_failures",
            "Failed runs in a row of a source (its circuit breaker opens at sync.breaker_threshold)",
            labels=["source"],
        )
        breaker = GaugeMetricFamily(
            "guardline_sync_source_circuit_open",
            "1 while a source's circuit breaker keeps its runs from starting",
            labels=["source"],
        )
        success = GaugeMetricFamily(
            "guardline_sync_source_last_success_timestamp_seconds",
            "When a source's last successful run ended (Unix time)",
            labels=["source"],
        )
        for source, failed, last_success, open_now in self.rows.get("sources", []):
            failures.add_metric([source], failed)
            breaker.add_metric([source], 1 if open_now else 0)
            if last_success is not None:
                success.add_metric([source], float(last_success))
        yield from (failures, breaker, success)


def _authorised(request: Request, settings: ObservabilitySettings) -> bool:
    if settings.metrics_token is None:
        return True
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def install(app: FastAPI, settings: Any) -> None:
    """The observer around ``RequestContext`` (call right after adding it) and, unless
    ``observability.metrics`` is off, the ``/metrics`` route."""
    enabled = settings.observability.metrics
    metrics = Metrics(app) if enabled else None
    app.state.metrics = metrics
    app.add_middleware(HttpObserver, metrics=metrics)
    if metrics is None:
        return

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        from services.api.problems import problem

        current = request.app.state.settings.observability
        if not _authorised(request, current):
            return problem(request, 401, "not_authenticated", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        await metrics.sync.refresh(getattr(request.app.state, "db", None), current)
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(metrics.registry), media_type=content_type, headers={"Cache-Control": "no-store"})
