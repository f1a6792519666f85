"""The sync benchmark's clearing between timed runs (``benchmarks.sync_pipeline.settle``):
each run must start from a table without the last run's deleted rows, since the next run
writes the same keys again and its unique checks would visit them. VACUUM cannot remove a
deleted row that an open transaction may still see; the clearing then waits for it, and
says what holds it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from benchmarks import sync_pipeline as bench
from services.core.db import asyncpg_dsn
from tests.conftest import scratch_database


@asynccontextmanager
async def _deleted_while_held(engine, name: str) -> AsyncIterator[tuple]:
    """A scratch database whose ``dept_records`` held 5,000 rows, all deleted while another
    connection's transaction (``held``, repeatable read) still sees them: (conn, held)."""
    async with scratch_database(engine, name, migrated=False) as url:
        dsn = asyncpg_dsn(url)
        conn = await asyncpg.connect(dsn)
        holder = await asyncpg.connect(dsn)
        try:
            # No autovacuum here: a worker's ANALYZE would be a holder of its own.
            await conn.execute(
                "CREATE TABLE dept_records (id int PRIMARY KEY, external_key text UNIQUE) "
                "WITH (autovacuum_enabled = false)"
            )
            await conn.execute("CREATE TABLE sync_quarantine (id int) WITH (autovacuum_enabled = false)")
            await conn.execute("INSERT INTO dept_records SELECT g, 'K' || g FROM generate_series(1, 5000) g")
            held = holder.transaction(isolation="repeatable_read")
            await held.start()
            assert await holder.fetchval("SELECT count(*) FROM dept_records") == 5000  # its snapshot
            await conn.execute("DELETE FROM dept_records")
            yield conn, held
        finally:
            await holder.close()
            await conn.close()


async def test_the_clearing_waits_until_the_deleted_rows_can_go(engine, monkeypatch, capsys):
    monkeypatch.setattr(bench, "SETTLE_WAIT_S", 60.0)
    async with _deleted_while_held(engine, "guardline_bench_settle") as (conn, held):

        async def release() -> None:
            await asyncio.sleep(2.0)
            await held.rollback()

        releasing = asyncio.create_task(release())
        began = time.monotonic()
        await bench.settle(conn)
        waited = time.monotonic() - began
        await releasing
        assert waited >= 2.0  # not before the holder let go
        assert await bench.dead_rows(conn) == 0
        out = capsys.readouterr().out
        assert "5,000 deleted rows of dept_records not removable yet" in out
        assert "idle in transaction" in out and "SELECT count(*) FROM dept_records" in out
        assert "still there" not in out

        # Nothing held: no wait, nothing said.
        await conn.execute("INSERT INTO dept_records SELECT g, 'K' || g FROM generate_series(1, 5000) g")
        await conn.execute("DELETE FROM dept_records")
        await bench.settle(conn)
        assert await bench.dead_rows(conn) == 0
        assert "deleted rows" not in capsys.readouterr().out


async def test_the_clearing_gives_up_after_its_wait_and_says_so(engine, monkeypatch, capsys):
    monkeypatch.setattr(bench, "SETTLE_WAIT_S", 2.0)
    async with _deleted_while_held(engine, "guardline_bench_settle_held") as (conn, held):
        await bench.settle(conn)
        assert await bench.dead_rows(conn) == 5000
        assert "5,000 deleted rows still there after 2 s: this run pays for them" in capsys.readouterr().out
        await held.rollback()
