"""The hot reads' connections: a small pool of plain asyncpg connections, made for one
statement at a time.

asyncpg's own ``Pool`` hands out proxies and gives a connection back through
``asyncio.shield`` — a task of its own and a turn of the event loop for every release —
and bounds a wait with ``wait_for``, another task. On the busiest reads (one household,
one person) that cost about a fifth of the request's CPU (measured in process: 204 → 163 µs
a request). This pool does only what those reads need:

* ``acquire(wait)``: the most recently used idle connection (its pages are warm), else
  a new one while fewer than ``size`` are open, else a wait in line — all of it, the
  opening of a connection included, bounded by ``wait`` seconds (then ``TimeoutError``);
* ``release(connection)``: synchronous, so a cancelled request cannot leave a connection
  half given back. A closed connection (the server went away, or ``terminate`` after a
  statement was cut short) leaves the pool, and its place goes to the next in line;
* nothing is reset between uses: the statements run here leave no session state (single
  SELECTs, or a statement in a transaction that ends with it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

Connect = Callable[[], Awaitable[Any]]  # opens an ``asyncpg.Connection``


class ReadPool:
    def __init__(self, connect: Connect, size: int):
        if size < 1:
            raise ValueError("a read pool needs at least one connection")
        self._connect = connect
        self.size = size
        self._idle: list[Any] = []  # a stack: the last given back is the next taken
        self._open: set[Any] = set()
        self._opening = 0  # places taken by connections being opened
        # Requests waiting for a connection. A waiter's result is a connection, or None: a
        # place is free (counted in ``_opening``) and the waiter opens a connection itself.
        self._waiters: deque[asyncio.Future] = deque()
        self._closed = False

    async def acquire(self, wait: float) -> Any:
        if self._closed:
            raise RuntimeError("the read pool is closed")
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.is_closed():
                return connection
            self._open.discard(connection)  # lost while idle: its place is free again
        if len(self._open) + self._opening < self.size:
            self._opening += 1
            return await self._opened(wait)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        # The wait's bound is a timer that fails the waiter, not ``asyncio.timeout`` (whose
        # bookkeeping around the task cost ≈ 3 % of a single-household read's CPU at 64
        # clients, where most requests wait here).
        timer = loop.call_later(wait, _time_out, waiter)
        try:
            connection = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed over just as the wait ended (the caller was cancelled): pass it on.
                handed = waiter.result()
                if handed is None:
                    self._opening -= 1
                    self._place_freed()
                else:
                    self.release(handed)
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()
        if connection is None:  # a place came free: open a connection in it
            return await self._opened(wait)
        return connection

    async def _opened(self, wait: float) -> Any:
        """A new connection in a place already counted in ``_opening``."""
        try:
            async with asyncio.timeout(wait):
                connection = await self._connect()
        except BaseException:
            self._opening -= 1
            self._place_freed()
            raise
        self._opening -= 1
        if self._closed:
            connection.terminate()
            raise RuntimeError("the read pool is closed")
        self._open.add(connection)
        return connection

    def release(self, connection: Any) -> None:
        if connection.is_closed() or self._closed:
            self._open.discard(connection)
            if not connection.is_closed():
                connection.terminate()
            self._place_freed()
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _place_freed(self) -> None:
        """A place in the pool is free: the first waiter still waiting opens a connection in it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opening += 1
                waiter.set_result(None)
                return

    def figures(self) -> dict[str, int]:
        """As ``/metrics`` shows them: the most connections, those open, those in use."""
        opened = len(self._open)
        return {"max": self.size, "open": opened, "checked_out": opened - len(self._idle)}

    async def close(self) -> None:
        """Close the idle connections (politely) and end those still in use."""
        self._closed = True
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()
        idle, self._idle = self._idle, []
        for connection in idle:
            self._open.discard(connection)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
        for connection in self._open:
            connection.terminate()
        self._open.clear()


def _time_out(waiter: asyncio.Future) -> None:
    """A wait in line that reached its bound: ``TimeoutError`` in the waiting request (unless
    a connection or a place was handed to it in the same turn of the loop)."""
    if not waiter.done():
        waiter.set_exception(TimeoutError())
