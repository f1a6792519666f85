"""GET /metrics: what it counts (by route template, never the path sent), the pools, the
read-audit buffer, the sync figures counted in the database and their cache, the token, and
what it does not do (count itself, be rate limited, appear in the API's document)."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from services.api.app import create_app
from services.api.auditing import ReadAuditBuffer
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import ObservabilitySettings, Settings
from tests.api.sync_helpers import add_finding, add_quarantined, add_run, open_breaker
from tests.factories import household, person

TOKEN = "metrics-token-for-the-tests-0123"
NAME, ID_NUMBER, PHONE = "欧阳娜娜", "529901198005170019", "13912345678"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
    )


def _app(settings: Settings, db, **observability):
    validated = ObservabilitySettings(**{**settings.observability.model_dump(), **observability})
    changed = settings.model_copy(update={"observability": validated})
    return create_app(changed, database=db)


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """Sample name -> {sorted label pairs: value}."""
    out: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(settings, db, auth):
    app = create_app(settings, database=db)
    h = auth("village_staff.village")
    async with _client(app) as c:
        created = await c.post("/api/v1/households", json=household(members=[person("head")]), headers=h)
        assert created.status_code == 201
        hid = created.json()["id"]
        assert (await c.get(f"/api/v1/households/{hid}", headers=h)).status_code == 200
        assert (await c.get("/api/v1/households/999999999", headers=h)).status_code == 404
        assert (await c.get(f"/api/v1/persons/by-name/{NAME}?id_number={ID_NUMBER}&phone={PHONE}")).status_code == 404
        assert (await c.get("/healthz")).status_code == 200
        for _ in range(3):  # scraping is not counted, however often
            first = await c.get("/metrics")
        text = first.text
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert first.headers["cache-control"] == "no-store"
    found = samples(text)
    counted = "guardline_http_requests_total"
    template = "/api/v1/households/{household_id}"
    assert value(found, counted, method="POST", route="/api/v1/households", status="201") == 1
    assert value(found, counted, method="GET", route=template, status="200") == 1
    assert value(found, counted, method="GET", route=template, status="404") == 1
    assert value(found, counted, method="GET", route="<unmatched>", status="404") == 1
    assert value(found, counted, method="GET", route="/healthz", status="200") == 1
    assert value(found, "guardline_http_request_duration_seconds_count", method="GET", route=template) == 2
    routes = {dict(labels)["route"] for labels in found[counted]}
    assert "/metrics" not in routes
    assert not [r for r in routes if any(part.isdigit() for part in r.split("/"))]  # ids never become labels
    for secret in (NAME, ID_NUMBER, PHONE):
        assert secret not in text
    assert value(found, "guardline_http_requests_in_flight") == 0


async def test_the_database_pools_are_reported(settings, db):
    async with _client(create_app(settings, database=db)) as c:
        found = samples((await c.get("/metrics")).text)
    assert value(found, "guardline_db_pool_size", pool="orm") == settings.db_pool_size
    # The test holds its connection for the whole test: one at least is checked out.
    assert value(found, "guardline_db_pool_checked_out", pool="orm") >= 1
    assert value(found, "guardline_db_pool_connections", pool="orm") >= value(
        found, "guardline_db_pool_checked_out", pool="orm"
    )
    assert ("pool", "orm") in dict.fromkeys(k[0] for k in found["guardline_db_pool_overflow"])


class _Failing:
    """A database whose statements fail (the audit buffer's writes, the sync counts)."""

    async def fetch_rows(self, sql, args, *, wait_for_disk=True):
        raise OSError("database gone")

    def session(self, readonly=False):
        raise OSError("database gone")


async def test_the_read_audit_buffer_is_reported(settings, db):
    app = create_app(settings, database=db)
    buffer = ReadAuditBuffer(db, flush_ms=200)
    app.state.read_audit = buffer
    event = {
        "action": "person.read_health",
        "result": "success",
        "status": 200,
        "object_type": "person",
        "object_id": "1",
        "actor_name": "metrics-test",
        "role": "county_staff",
    }
    buffer.add(dict(event))
    buffer.add(dict(event))
    async with _client(app) as c:
        before = samples((await c.get("/metrics")).text)
        await buffer.flush()
        buffer.add(dict(event))
        buffer.database = _Failing()
        with pytest.raises(OSError):
            await buffer.flush()
        after = samples((await c.get("/metrics")).text)
    assert value(before, "guardline_audit_read_events_queued") == 2
    assert value(before, "guardline_audit_read_events_written_total") == 0
    assert value(after, "guardline_audit_read_events_written_total") == 2
    assert value(after, "guardline_audit_read_events_queued") == 1  # the failed one waits for the next try
    assert value(after, "guardline_audit_read_flush_failures_total") == 1


async def test_the_sync_figures_are_counted_in_the_database_and_cached(settings, db):
    app = _app(settings, db, metrics_db_cache_seconds=600)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    source = "obs-metrics-source"
    async with _client(app) as c:
        before = samples((await c.get("/metrics")).text)
        ok = await add_run(session, source, "529901", fetched=100, staged=30, quarantined=4)
        await add_run(session, source, "529901", status="failed", fetched=7, staged=0, quarantined=1)
        await add_run(session, source, "529902", status="queued", fetched=0, staged=0, quarantined=0)
        await add_quarantined(session, settings, source, "529901", ok.id, {"sfzh": "x"})
        await add_finding(
            session, region_code="529901001001", run_id=ok.id, source=source, rule_id="obs_rule", severity="medium"
        )
        await add_finding(
            session,
            region_code="529902001001",
            run_id=ok.id,
            source=source,
            rule_id="obs_rule",
            severity="medium",
            status="acknowledged",
        )
        await add_finding(
            session,
            region_code="529901001001",
            run_id=ok.id,
            source=source,
            rule_id="obs_rule",
            severity="medium",
            status="resolved",
            resolved_at=ok.created_at,
        )
        await open_breaker(session, source, until=None, failures=2)
        await session.commit()
        cached = samples((await c.get("/metrics")).text)
        app.state.settings = app.state.settings.model_copy(
            update={
                "observability": app.state.settings.observability.model_copy(update={"metrics_db_cache_seconds": 0})
            }
        )
        after = samples((await c.get("/metrics")).text)
    await session.close()
    assert value(before, "guardline_sync_figures_up") == 1
    assert value(before, "guardline_sync_runs_total", source=source, outcome="succeeded") == 0
    # Counted less than 600 s ago: the new rows show only once the cache is not wanted.
    assert value(cached, "guardline_sync_runs_total", source=source, outcome="succeeded") == 0
    assert value(after, "guardline_sync_runs_total", source=source, outcome="succeeded") == 1
    assert value(after, "guardline_sync_runs_total", source=source, outcome="failed") == 1
    assert value(after, "guardline_sync_runs_active", source=source, status="queued") == 1
    assert value(after, "guardline_sync_records_fetched_total", source=source) == 107
    assert value(after, "guardline_sync_records_staged_total", source=source) == 30
    assert value(after, "guardline_sync_records_quarantined_total", source=source) == 5
    assert value(after, "guardline_sync_quarantine_open", source=source) == 1
    # Totals over every region (two counties here), never per region.
    assert value(after, "guardline_sync_findings_open", rule="obs_rule", severity="medium", status="open") == 1
    assert value(after, "guardline_sync_findings_open", rule="obs_rule", severity="medium", status="acknowledged") == 1
    assert value(after, "guardline_sync_source_consecutive_failures", source=source) == 2
    assert value(after, "guardline_sync_source_circuit_open", source=source) == 0
    labels = {name for series in after.values() for key in series for name, _ in key}
    assert not labels & {"county", "region", "region_code"}


async def test_a_database_that_fails_leaves_the_scrape_answered_with_up_0(settings, db, caplog):
    app = create_app(settings, database=db)
    app.state.db = _Failing()
    async with _client(app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    found = samples(r.text)
    assert value(found, "guardline_sync_figures_up") == 0
    assert "guardline_http_requests_total" in r.text or "guardline_http_requests_in_flight" in r.text
    assert any("sync figures not counted (OSError)" in rec.getMessage() for rec in caplog.records)
    assert not any("database gone" in rec.getMessage() for rec in caplog.records)


async def test_the_token_is_required_when_set(settings, db):
    app = _app(settings, db, metrics_token=TOKEN)
    async with _client(app) as c:
        missing = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        basic = await c.get("/metrics", headers={"Authorization": "Basic " + TOKEN})
        right = await c.get("/metrics", headers={"Authorization": "Bearer " + TOKEN})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert "guardline_" not in refused.text
    assert right.status_code == 200 and "guardline_http_requests_in_flight" in right.text


def test_a_short_or_empty_token_setting():
    with pytest.raises(ValidationError):
        ObservabilitySettings(metrics_token="short")
    assert ObservabilitySettings(metrics_token="").metrics_token is None


async def test_metrics_can_be_turned_off(settings, db):
    async with _client(_app(settings, db, metrics=False)) as c:
        r = await c.get("/metrics")
        assert (await c.get("/healthz")).status_code == 200  # the rest works as before
    assert r.status_code == 404 and r.json()["code"] == "route_not_found"


async def test_scrapes_are_not_rate_limited_and_not_documented(settings, db):
    app = create_app(settings, database=db)
    limits = settings.rate_limits.model_copy(update={"bulk_reads_per_minute": 1, "public_reads_per_minute": 1})
    app.state.settings = settings.model_copy(update={"rate_limits": limits})
    async with _client(app) as c:
        answers = [await c.get("/metrics") for _ in range(5)]
    assert [r.status_code for r in answers] == [200] * 5
    assert not any("ratelimit" in r.headers or "ratelimit-policy" in r.headers for r in answers)
    assert "/metrics" not in app.openapi()["paths"]


async def test_openmetrics_is_answered_to_who_asks_for_it(settings, db):
    async with _client(create_app(settings, database=db)) as c:
        r = await c.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


async def test_production_without_a_token_says_so_at_start(settings, db, caplog):
    from services.core.settings import Environment

    keys = {
        "auth": {"secret_key": "s" * 40},
        "data_protection": {
            "id_hash_key": "h" * 40,
            "encryption_keys": {"k1": "a2V5LWZvci10aGUtc3RhcnQtd2FybmluZy10ZXN0MDE="},
            "active_key": "k1",
        },
    }
    warned = []
    for token in (None, TOKEN):
        production = Settings(env=Environment.production, observability={"metrics_token": token}, **keys)
        app = create_app(production, database=db)
        caplog.clear()
        async with app.router.lifespan_context(app):
            pass
        warned.append(any("/metrics answers without a token" in r.getMessage() for r in caplog.records))
    assert warned == [True, False]
