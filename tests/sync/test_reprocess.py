"""Quarantine re-processed: records refused under one configuration pass once it is
mended, through the worker's own run (trigger ``reprocess``, as the API queues it)."""

from __future__ import annotations

from services.core.db import Database, create_engine
from services.core.sync.config import parse_sources
from services.core.sync.enums import Trigger
from services.worker import queue
from services.worker.runner import Context, execute

SOURCE = """
[[sources]]
name = "civil-affairs"
kind = "civil-affairs"
counties = ["529901"]
[sources.fields]
record_id = ["jzid"]
id_number = ["sfzh"]
name = ["xm"]
benefit = ["jzlx"]
start_date = ["ksrq"]
"""
VALID = "11010519491231002X"


async def test_mended_configuration_lets_quarantined_records_through(pool, dsn, sync_url, settings):
    strict = parse_sources(SOURCE)
    mended = parse_sources(SOURCE + '[sources.values.benefit]\n"农村低保金" = "dibao"\n')
    db = Database(create_engine(sync_url, settings, "tests"))
    try:
        ctx = Context.build(
            settings.model_copy(update={"sync": settings.sync.model_copy(update={"prepare_processes": 0})}),
            strict,
            pool,
            db,
        )
        run_id, _ = await queue.enqueue_run(db, "civil-affairs", "529901", Trigger.manual)
        records = [
            {"jzid": "A", "sfzh": VALID, "xm": "张三", "jzlx": "农村低保金", "ksrq": "2024-01-01"},
            {"jzid": "B", "sfzh": VALID[:-1] + "1", "xm": "李四", "jzlx": "低保", "ksrq": "2024-01-01"},
        ]
        from services.worker.runner import import_records

        claim = await queue.claim(dsn, ["civil-affairs"], "test", run_id=run_id)
        try:
            await import_records(
                ctx, strict.get("civil-affairs"), claim, [("row 3", records[0]), ("row 4", records[1])], None
            )
        finally:
            await claim.release()
        reasons = dict(await pool.fetch("SELECT external_key, reason FROM sync_quarantine"))
        assert reasons == {"A": "invalid.benefit", "B": "id_number.check_digit"}

        ctx.sources = mended
        again, _ = await queue.enqueue_run(db, "civil-affairs", "529901", Trigger.reprocess)
        claim = await queue.claim(dsn, ["civil-affairs"], "test")
        assert claim is not None and claim.run_id == again
        try:
            assert await execute(ctx, claim) == "succeeded"
        finally:
            await claim.release()
        rows = {
            r["external_key"]: r["status"] for r in await pool.fetch("SELECT external_key, status FROM sync_quarantine")
        }
        assert rows == {"A": "reprocessed", "B": "open"}  # the bad check digit stays where it is
        staged = await pool.fetchrow(
            "SELECT record_type, data->>'benefit' AS benefit FROM dept_records WHERE external_key = 'A'"
        )
        assert tuple(staged) == ("assistance", "dibao")
        run = await pool.fetchrow("SELECT status, fetched, staged, quarantined FROM sync_runs WHERE id = $1", again)
        assert tuple(run) == ("succeeded", 2, 1, 1)
    finally:
        await db.dispose()
