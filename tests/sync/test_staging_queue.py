"""Staging pages and the run queue, against a committed database: unchanged records
skipped, bad ones quarantined once, the cursor written with the page, runs claimed by
exactly one worker and taken up again when a worker's connection dies."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.core.crypto import keyring
from services.core.sync.config import load_sources
from services.core.sync.enums import Trigger
from services.core.sync.normalise import Normaliser
from services.core.sync.sealing import QUARANTINE_AAD, RAW_AAD
from services.worker import queue
from services.worker.preparing import Stager
from services.worker.staging import write_page

VALID = "11010519491231002X"


def stager(settings) -> Stager:
    source = load_sources(settings).get("civil-affairs")
    return Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )


def rec(key: str, **over) -> dict:
    raw = {"jzid": key, "sfzh": VALID, "xm": "张三", "jzlx": "低保", "ksrq": "2023-05-01", "yje": "580.00"}
    raw.update(over)
    return raw


async def _close_and_wait(pool, connection) -> None:
    """Close ``connection`` and wait until its server process has ended (and so released its
    advisory locks): the server notices a closed connection a moment later, longer on a
    loaded machine."""
    pid = connection.get_server_pid()
    await connection.close()
    for _ in range(600):
        if not await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"server process {pid} still there 30 s after its connection closed")


async def new_run(pool, source="civil-affairs", county="529901") -> int:
    """A queued run, written as ``runs.enqueue`` would (the queue's tests below use it)."""
    return await pool.fetchval(
        "INSERT INTO sync_runs (source, county, trigger, status, phase, not_before, attempts, pages, fetched, staged, "
        "unchanged, quarantined, retries) VALUES ($1, $2, 'manual', 'queued', 'fetching', now(), 0, 0, 0, 0, 0, 0, 0) "
        "RETURNING id",
        source,
        county,
    )


async def stage(pool, settings, run_id, records, position=None, complete=False):
    prepared = stager(settings).prepare(records)
    async with pool.acquire() as conn, conn.transaction():
        return await write_page(
            conn, prepared, source="civil-affairs", county="529901", run_id=run_id, position=position, complete=complete
        )


async def test_a_page_is_staged_with_its_cursor_and_counts(pool, settings):
    run_id = await new_run(pool)
    counts = await stage(
        pool, settings, run_id, [rec("A"), rec("B", sfzh="110105194912310021"), rec("C")], position={"cursor": "p2"}
    )
    assert (counts.fetched, counts.staged, counts.unchanged, counts.quarantined) == (3, 2, 0, 1)
    row = await pool.fetchrow("SELECT * FROM dept_records WHERE external_key = 'A'")
    assert row["record_type"] == "assistance" and row["id_masked"] == "110105************"
    assert orjson.loads(row["data"])["benefit"] == "dibao"
    # The payload is kept, encrypted: the full number only inside the blob.
    assert orjson.loads(keyring(settings).decrypt(row["raw_enc"], RAW_AAD))["sfzh"] == VALID
    assert VALID.encode() not in bytes(row["raw_enc"])
    q = await pool.fetchrow("SELECT * FROM sync_quarantine")
    assert (q["reason"], q["field"], q["external_key"], q["status"]) == (
        "id_number.check_digit",
        "id_number",
        "B",
        "open",
    )
    assert q["id_masked"] == "110105************"  # for the finding id_number_invalid; never the full number
    assert orjson.loads(keyring(settings).decrypt(q["raw_enc"], QUARANTINE_AAD))["jzid"] == "B"
    cursor = await pool.fetchrow("SELECT * FROM sync_cursors")
    assert orjson.loads(cursor["position"]) == {"cursor": "p2"} and cursor["run_id"] == run_id
    run = await pool.fetchrow("SELECT * FROM sync_runs WHERE id = $1", run_id)
    assert (run["pages"], run["fetched"], run["staged"], run["unchanged"], run["quarantined"]) == (1, 3, 2, 0, 1)


async def test_the_same_page_again_changes_nothing_and_a_change_is_written(pool, settings):
    run_id = await new_run(pool)
    await stage(pool, settings, run_id, [rec("A"), rec("B", sfzh="bad")])
    before = await pool.fetchrow("SELECT id, changed_run_id, changed_at FROM dept_records")
    again = await stage(pool, settings, run_id, [rec("A"), rec("B", sfzh="bad")])
    assert (again.staged, again.unchanged, again.quarantined) == (0, 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM sync_quarantine") == 1  # the same bad record: one row
    assert (await pool.fetchrow("SELECT id, changed_run_id, changed_at FROM dept_records")) == before
    changed = await stage(pool, settings, run_id, [rec("A", yje="600.00")])
    assert (changed.staged, changed.unchanged) == (1, 0)
    assert orjson.loads(await pool.fetchval("SELECT data FROM dept_records"))["amount"] == "600.00"


async def test_a_page_of_new_records_with_a_known_key_the_sample_missed(pool, settings):
    """A page is COPYed as new when none of a sample of its keys is known; a known key
    outside the sample makes that COPY fail, and the page is then looked up in full: the
    known record unchanged (or changed) and the others new, as always."""
    run_id = await new_run(pool)
    await stage(pool, settings, run_id, [rec("K01"), rec("K03", yje="1.00")])
    before = await pool.fetchrow("SELECT id, changed_run_id, changed_at FROM dept_records WHERE external_key = 'K01'")
    page = [rec(f"K{n:02}") for n in range(40)]  # a sample of every other key: K01 and K03 are not in it
    page[3] = rec("K03", yje="2.00")
    counts = await stage(pool, settings, run_id, page)
    assert (counts.staged, counts.unchanged, counts.quarantined) == (39, 1, 0)
    assert await pool.fetchval("SELECT count(*) FROM dept_records") == 40
    after = await pool.fetchrow("SELECT id, changed_run_id, changed_at FROM dept_records WHERE external_key = 'K01'")
    assert after == before
    changed = await pool.fetchval("SELECT data FROM dept_records WHERE external_key = 'K03'")
    assert orjson.loads(changed)["amount"] == "2.00"
    # A page whose sampled keys are all new but which repeats a key keeps the last of it.
    again = await stage(pool, settings, run_id, [rec("N1", yje="1.00"), rec("N1", yje="3.00")])
    assert (again.staged, again.unchanged) == (1, 1)  # the earlier of the two is not written
    assert orjson.loads(await pool.fetchval("SELECT data FROM dept_records WHERE external_key = 'N1'"))["amount"] == (
        "3.00"
    )


def test_preparing_processes_by_default_are_the_idle_cores(monkeypatch):
    import os

    from services.worker.staging import idle_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert idle_cores() == 2  # both of two cores of an otherwise idle machine
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert idle_cores() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 5.0, 5.0))
    assert idle_cores() == 1  # never none
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert idle_cores() == 4


async def test_a_page_that_fails_to_commit_leaves_nothing(pool, settings):
    run_id = await new_run(pool)
    prepared = stager(settings).prepare([rec("A"), rec("B", sfzh="bad")])
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await write_page(
                conn,
                prepared,
                source="civil-affairs",
                county="529901",
                run_id=run_id,
                position={"cursor": "p2"},
                complete=False,
            )
            raise RuntimeError("the worker dies here")
    for table in ("dept_records", "sync_quarantine", "sync_cursors"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await pool.fetchval("SELECT pages FROM sync_runs WHERE id = $1", run_id) == 0


async def test_enqueue_joins_the_active_run(pool, sync_db):
    first, created = await queue.enqueue_run(sync_db, "civil-affairs", "529901", Trigger.manual)
    again, again_created = await queue.enqueue_run(sync_db, "civil-affairs", "529901", Trigger.manual)
    other, other_created = await queue.enqueue_run(sync_db, "education", "529901", Trigger.manual)
    assert created and (again, again_created) == (first, False) and other_created and other != first


async def test_concurrent_enqueues_make_one_run(pool, sync_db):
    results = await asyncio.gather(
        *(queue.enqueue_run(sync_db, "civil-affairs", "529901", Trigger.manual) for _ in range(5))
    )
    assert len({r for r, _ in results}) == 1 and sum(created for _, created in results) == 1


async def test_one_claim_per_run_and_a_dead_workers_run_is_taken_again(pool, dsn):
    run_id = await new_run(pool)
    names = ["civil-affairs"]
    first = await queue.claim(dsn, names, "w1")
    assert first is not None and first.run_id == run_id and first.attempts == 1
    assert await queue.claim(dsn, names, "w2") is None  # held
    await _close_and_wait(pool, first.lock)  # the worker's connection dies (as with SIGKILL)
    second = await queue.claim(dsn, names, "w2")
    assert second is not None and second.run_id == run_id and second.attempts == 2
    row = await pool.fetchrow("SELECT status, worker FROM sync_runs WHERE id = $1", run_id)
    assert tuple(row) == ("running", "w2")
    await second.release()


async def test_open_breaker_holds_the_sources_runs(pool, dsn, settings):
    run_id = await new_run(pool)
    await pool.execute(
        "INSERT INTO sync_source_states (source, consecutive_failures, open_until) "
        "VALUES ('civil-affairs', 3, now() + interval '1 hour')"
    )
    assert await queue.claim(dsn, ["civil-affairs"], "w1") is None
    await pool.execute("UPDATE sync_source_states SET open_until = now() - interval '1 second'")
    claim = await queue.claim(dsn, ["civil-affairs"], "w1")
    assert claim is not None and claim.run_id == run_id
    await claim.release()


async def test_failures_open_the_breaker_and_queue_a_retry_later(pool, sync_db, settings):
    sync = settings.sync.model_copy(update={"breaker_threshold": 2, "run_retry_seconds": 600})
    first = await new_run(pool)
    retry = await queue.record_failure(sync_db, first, "civil-affairs", "unreachable", "down", sync, retry=True)
    row = await pool.fetchrow("SELECT status, error_code, error FROM sync_runs WHERE id = $1", first)
    assert tuple(row) == ("failed", "unreachable", "down")
    queued = await pool.fetchrow(
        "SELECT status, trigger, not_before > now() + interval '9 minutes' AS later FROM sync_runs WHERE id = $1", retry
    )
    assert tuple(queued) == ("queued", "retry", True)
    state = await pool.fetchrow("SELECT consecutive_failures, open_until FROM sync_source_states")
    assert state["consecutive_failures"] == 1 and state["open_until"] is None
    await pool.execute("UPDATE sync_runs SET status = 'running' WHERE id = $1", retry)
    assert await queue.record_failure(sync_db, retry, "civil-affairs", "unreachable", "down", sync, retry=False) is None
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT open_until > now() FROM sync_source_states")
        await queue.record_success(conn, "civil-affairs")
        state = await conn.fetchrow("SELECT consecutive_failures, open_until FROM sync_source_states")
    assert tuple(state) == (0, None)


async def test_an_interrupted_import_is_failed_not_resumed(pool, dsn):
    claim = await queue.open_import(dsn, "civil-affairs", "529901", "list.xlsx", "cli")
    assert claim is not None
    assert await queue.open_import(dsn, "civil-affairs", "529901", "other.xlsx", "cli") is None  # busy
    assert await queue.claim(dsn, ["civil-affairs"], "w1") is None  # alive: not a worker's
    await _close_and_wait(pool, claim.lock)  # the import's process dies
    assert await queue.claim(dsn, ["civil-affairs"], "w1") is None
    row = await pool.fetchrow("SELECT status, error_code FROM sync_runs WHERE id = $1", claim.run_id)
    assert tuple(row) == ("failed", "interrupted")


async def test_schedule_queues_once_per_interval(pool, sync_db):
    due = [("civil-affairs", "529901", 24.0), ("education", "529901", 24.0)]
    first, second = await asyncio.gather(queue.schedule_due(sync_db, due), queue.schedule_due(sync_db, due))
    assert len(first) + len(second) == 2
    await pool.execute("UPDATE sync_runs SET status = 'succeeded'")
    assert await queue.schedule_due(sync_db, due) == []  # ran within the interval
    await pool.execute("UPDATE sync_runs SET created_at = now() - interval '25 hours'")
    assert len(await queue.schedule_due(sync_db, due)) == 2
