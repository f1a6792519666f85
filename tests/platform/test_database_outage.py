"""The API through a database restart and a stop, as an operator meets them: ``guardline
serve`` on its own PostgreSQL (the embedded server in a fresh data folder), eight clients
reading households (county staff: health decrypted, each read audited) and writing income
records with Idempotency-Keys, retrying after a 503 or a lost answer as mobile apps do. The
database is restarted, later stopped, and started again, while they work.

What must hold: no 500, no connection closed without an answer, every 503 a problem with
Retry-After; every acknowledged write in the database once; every audited read in the
audit trail once and in its order; and no failure from 2 seconds after the database is
back. The server's log has one line per failure and no traceback."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.core.db import asyncpg_dsn, embedded_url
from services.core.settings import DEMO_PASSWORD
from tests.outage import Cluster, Load
from tests.serving import clean_env, free_port, serving

RECOVERY_SECONDS = 2.0


@pytest.fixture
def served(tmp_path):
    env = clean_env(
        tmp_path / "data", GUARDLINE_AUDIT__READ_FLUSH_MS="100", GUARDLINE_RATE_LIMITS__BULK_READS_PER_MINUTE="100000"
    )
    args = ("--demo", "--no-departments", "--persons", "300", "--no-access-log")
    try:
        with serving(tmp_path, env, free_port(), *args) as (base, proc, log):
            yield base, proc, log, tmp_path / "data"
    finally:
        Cluster.stop_left_running(tmp_path / "data" / "pgdata")


async def _outage(load: Load, cluster: Cluster) -> dict[str, float]:
    """A fast restart at 3 s; a stop at 6.5 s; a start 2 s later. Returns when each ended."""
    moments: dict[str, float] = {}
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.restart)
    moments["restarted"] = load.now()
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.stop)
    moments["stopped"] = load.now()
    await asyncio.sleep(2)
    await asyncio.to_thread(cluster.start)
    moments["started"] = load.now()
    return moments


async def _audited(url: str, request_ids: list[str], expected: int) -> list[asyncpg.Record]:
    """The audit rows of the reads, once the read buffer has written them all (it retries
    what it could not write while the database was away)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for _ in range(100):
            rows = await conn.fetch(
                "SELECT id, request_id FROM audit_log WHERE action = 'household.read_health' "
                "AND request_id = ANY($1::text[]) ORDER BY id",
                request_ids,
            )
            if len(rows) >= expected:
                return rows
            await asyncio.sleep(0.2)
        return rows
    finally:
        await conn.close()


async def test_a_restart_and_a_stop_of_the_database_under_load(served):
    import httpx

    base, _proc, log, data_dir = served
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        login = await http.post(
            "/api/v1/auth/token", data={"username": "county_staff.county", "password": DEMO_PASSWORD}
        )
        token = login.json()["access_token"]
        page = await http.get("/api/v1/households", params={"limit": 40}, headers={"Authorization": f"Bearer {token}"})
        households = [h["id"] for h in page.json()["items"]]
    cluster = Cluster(data_dir / "pgdata")
    load = Load(base, token, households, clients=8)
    seen, moments = await asyncio.gather(load.run(13), _outage(load, cluster))

    # The outage was met (the test would prove nothing otherwise), and answered properly.
    failures = seen.failures_after(0)
    assert any(status == 503 for _, _, status in failures), "no request met the outage"
    assert [f for f in failures if f[2] != 503] == [], "every failure is a 503"
    assert seen.closed == [], "a connection was closed without an answer"
    assert seen.missing_retry_after == [] and seen.bad_bodies == []
    # Back to normal within RECOVERY_SECONDS of the database's return.
    assert seen.failures_after(moments["started"] + RECOVERY_SECONDS) == []
    assert any(t > moments["started"] + RECOVERY_SECONDS and s == 200 for t, _, s in seen.statuses)

    # Every acknowledged write is there, once; a retried write took effect once.
    url = embedded_url(data_dir)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT id, household_id, year, quarter FROM income_records WHERE year BETWEEN 2000 AND 2020"
        )
    finally:
        await conn.close()
    assert seen.attempted == len(seen.acknowledged), "a write was never acknowledged"
    assert seen.retried, "no write was retried: the outage did not reach the writes"
    assert sorted(str(r["id"]) for r in rows) == sorted(str(i) for i in seen.acknowledged.values())

    # Every audited read is in the audit trail once, in the order each client made them.
    request_ids = [request_id for _, request_id in seen.reads]
    audited = await _audited(url, request_ids, len(request_ids))
    assert sorted(r["request_id"] for r in audited) == sorted(request_ids)
    position = {r["request_id"]: r["id"] for r in audited}
    for client in range(load.clients):
        ids = [position[request_id] for number, request_id in seen.reads if number == client]
        assert ids == sorted(ids), f"client {client}'s reads are out of order in the audit trail"

    # The log: one line per failure, no traceback, nothing of the requests' values.
    log.seek(0)
    text = log.read().decode(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text[-4000:]
    assert "database unavailable" in text
