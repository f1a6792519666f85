"""The demo generator's worker processes (``services.demo.streams``): their chunks are the
in-process ones, and a worker that fails stops the stream with an error (no database)."""

import asyncio
import gc
from datetime import date

import pytest

from services.core.crypto import decode_key, keyring
from services.core.settings import Settings
from services.demo.layout import LOADED_TABLES
from services.demo.loader import demo_villages
from services.demo.plan import STREAMS, placeholder_cadres, plan_chunks
from services.demo.render import render
from services.demo.streams import _streams, local_chunks, worker_chunks

TODAY = date(2026, 5, 20)
PERSONS, CHUNK = 3_000, 700  # five chunks: each worker makes more than one


def _params() -> dict:
    settings = Settings(env="test", database_url=None)
    protection = settings.data_protection
    villages = demo_villages()
    return {
        "villages": villages,
        "seed": 7,
        "today": TODAY,
        "key": settings.id_hash_key,
        "keyring": keyring(settings),
        "enc_key": decode_key(
            protection.active_key, protection.encryption_keys[protection.active_key].get_secret_value()
        ),
        "deduct": settings.income.deduct_eligible_spending,
        "cadres": placeholder_cadres(villages),
        "persons": PERSONS,
        "chunk_persons": CHUNK,
    }


async def _collect(source) -> list:
    return [chunk async for chunk in source]


async def test_worker_chunks_are_the_in_process_chunks_in_order():
    params = _params()
    plans = plan_chunks(PERSONS, seed=7, today=TODAY, chunk_persons=CHUNK)
    assert len(plans) > 2 * STREAMS
    local = await _collect(local_chunks(params, plans))
    workers = await asyncio.wait_for(_collect(worker_chunks(params, plans)), 120)
    assert len(workers) == len(local) == len(plans)
    for mine, theirs in zip(workers, local, strict=True):
        assert [table for table, _, _ in mine] == list(LOADED_TABLES)
        for (table, data, rows), (_, their_data, their_rows) in zip(mine, theirs, strict=True):
            assert rows == their_rows
            if table != "persons":  # the persons' sealed values have random nonces
                assert data == their_data, table
    assert sum(rows for chunk in workers for table, _, rows in chunk if table == "persons") == PERSONS


async def test_a_failing_worker_stops_the_stream_with_an_error():
    params = {**_params(), "enc_key": b"too short"}  # the worker's keyring refuses it
    plans = plan_chunks(PERSONS, seed=7, today=TODAY, chunk_persons=CHUNK)
    with pytest.raises(RuntimeError, match="demo generator process"):
        await asyncio.wait_for(_collect(worker_chunks(params, plans)), 120)


def test_a_chunk_leaves_no_reference_cycles():
    """The worker processes run with the cyclic garbage collector off: generating and
    rendering chunks must leave nothing that only the collector would free."""
    params = _params()
    plans = plan_chunks(PERSONS, seed=7, today=TODAY, chunk_persons=CHUNK)
    streams = _streams(params, range(STREAMS))
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for plan in plans:
            rendered = render(streams[plan.index % STREAMS].chunk(plan), params["key"], params["keyring"])
            assert rendered
            del rendered
            assert gc.collect() == 0, f"chunk {plan.index} left reference cycles"
    finally:
        if was_enabled:
            gc.enable()
