"""The hot reads' pool (services/core/readpool.py) on real connections: at most ``size``
open, the last given back taken first, waits in line and bounded, and no place lost when a
wait is cancelled or times out, a connection dies, or opening one fails."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from services.core.db import asyncpg_dsn
from services.core.readpool import ReadPool


@pytest.fixture
def connect(engine):
    dsn = asyncpg_dsn(engine.url.render_as_string(hide_password=False))
    opened: list[asyncpg.Connection] = []

    async def connect():
        connection = await asyncpg.connect(dsn)
        opened.append(connection)
        return connection

    connect.opened = opened  # type: ignore[attr-defined]
    return connect


@pytest.fixture
async def pools():
    """``pools(connect, size)``: a read pool, closed after the test."""
    made: list[ReadPool] = []

    def make(connect, size: int) -> ReadPool:
        made.append(ReadPool(connect, size))
        return made[-1]

    yield make
    for pool in made:
        await pool.close()


async def test_at_most_size_open_and_the_last_given_back_is_taken_first(connect, pools):
    pool = pools(connect, 2)
    a = await pool.acquire(5)
    b = await pool.acquire(5)
    assert a is not b and len(connect.opened) == 2
    assert pool.figures() == {"max": 2, "open": 2, "checked_out": 2}
    pool.release(a)
    pool.release(b)
    assert pool.figures() == {"max": 2, "open": 2, "checked_out": 0}
    assert await pool.acquire(5) is b  # warm first
    assert await pool.acquire(5) is a
    assert len(connect.opened) == 2
    assert await a.fetchval("SELECT 1") == 1


async def test_a_full_pool_hands_a_released_connection_to_the_first_waiting(connect, pools):
    pool = pools(connect, 1)
    held = await pool.acquire(5)
    first = asyncio.create_task(pool.acquire(5))
    second = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    pool.release(held)
    assert await first is held
    assert not second.done()
    pool.release(held)
    assert await second is held
    assert len(connect.opened) == 1


async def test_a_wait_is_bounded_and_leaves_nothing_behind(connect, pools):
    pool = pools(connect, 1)
    held = await pool.acquire(5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.acquire(0.2)
    assert 0.15 < time.monotonic() - started < 2
    cancelled = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0.05)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    # Neither the timed-out nor the cancelled wait takes the connection given back.
    pool.release(held)
    assert pool.figures() == {"max": 1, "open": 1, "checked_out": 0}
    assert await pool.acquire(0.2) is held


async def test_a_wait_that_timed_out_leaves_the_line_to_the_next(connect, pools):
    """Two in line, the first with the shorter bound: it times out, and the connection given
    back afterwards goes to the second, not to the one that gave up."""
    pool = pools(connect, 1)
    held = await pool.acquire(5)
    short = asyncio.create_task(pool.acquire(0.1))
    patient = asyncio.create_task(pool.acquire(5))
    with pytest.raises(TimeoutError):
        await short
    assert not patient.done()
    pool.release(held)
    assert await patient is held
    assert pool.figures() == {"max": 1, "open": 1, "checked_out": 1}
    # A wait that got its connection in time: nothing happens to it after its bound.
    waiting = asyncio.create_task(pool.acquire(0.3))
    await asyncio.sleep(0.05)
    pool.release(held)
    got = await waiting
    await asyncio.sleep(0.4)
    assert got is held and await got.fetchval("SELECT 4") == 4
    assert pool.figures() == {"max": 1, "open": 1, "checked_out": 1}


async def test_a_dead_connection_leaves_and_its_place_goes_to_the_next_in_line(connect, pools):
    pool = pools(connect, 1)
    held = await pool.acquire(5)
    waiting = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0.05)
    held.terminate()  # as after a statement cut short, or a server gone away
    pool.release(held)
    fresh = await waiting
    assert fresh is not held and not fresh.is_closed()
    assert await fresh.fetchval("SELECT 2") == 2
    pool.release(fresh)
    # One that died while idle is passed over, and replaced.
    fresh.terminate()
    again = await pool.acquire(5)
    assert again is not fresh and await again.fetchval("SELECT 3") == 3
    assert pool.figures() == {"max": 1, "open": 1, "checked_out": 1}


async def test_a_connection_that_cannot_be_opened_frees_its_place(connect, pools):
    failures = [ConnectionRefusedError(111, "Connection refused")]

    async def flaky():
        if failures:
            raise failures.pop()
        return await connect()

    pool = pools(flaky, 1)
    with pytest.raises(ConnectionRefusedError):
        await pool.acquire(5)
    assert pool.figures() == {"max": 1, "open": 0, "checked_out": 0}
    connection = await pool.acquire(5)
    assert await connection.fetchval("SELECT 4") == 4


async def test_opening_a_connection_counts_against_the_wait(pools):
    async def hanging():
        await asyncio.sleep(30)  # a server that accepts and never answers

    pool = ReadPool(hanging, 1)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.acquire(0.2)
    assert time.monotonic() - started < 2
    assert pool.figures() == {"max": 1, "open": 0, "checked_out": 0}
    await pool.close()


async def test_close_ends_every_connection_and_refuses_more(connect):
    pool = ReadPool(connect, 2)
    idle = await pool.acquire(5)
    busy = await pool.acquire(5)
    pool.release(idle)
    await pool.close()
    assert idle.is_closed() and busy.is_closed()
    with pytest.raises(RuntimeError):
        await pool.acquire(1)
    pool.release(busy)  # a request still holding one gives it back without harm
    assert pool.figures() == {"max": 2, "open": 0, "checked_out": 0}
