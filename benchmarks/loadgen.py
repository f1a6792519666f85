"""A minimal, cheap HTTP/1.1 keep-alive load generator (runs in its own process).

``python -m benchmarks.loadgen CONFIG.json`` opens ``concurrency`` persistent connections to
127.0.0.1, each sending one request at a time from a pre-built list, reads the status line,
the headers and a Content-Length body, and records the latency of every response with
``time.perf_counter``. The first ``warmup`` seconds are not recorded; then it measures for
``seconds`` and stops by itself. It prints one JSON object (the summary) on stdout.

It is an ``asyncio.Protocol`` on uvloop rather than a general client (httpx would use more
CPU than the servers it measures on a 2-core machine); chunked responses are not supported
and count as errors.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


class ProtocolError(Exception):
    pass


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``request(data)`` sends and resolves to the status code."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.need = -1  # bytes of the whole response once the headers are parsed
        self.status = 0
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None:
            return
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            try:
                self.status = int(head[9:12])
                at = head.index(b"\r\ncontent-length:")
                eol = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : eol if eol >= 0 else len(head)])
            except ValueError:
                self._fail(ProtocolError("response without a status or a Content-Length"))
                return
            self.need = end + 4 + length
        if len(self.buf) >= self.need:
            del self.buf[: self.need]
            self.need = -1
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(self.status)

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(ConnectionError("connection closed by the server"))

    def request(self, data: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.need = -1
        self.buf.clear()
        if self.transport is None:
            raise ConnectionError("not connected")
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def build_requests(config: dict) -> list[bytes]:
    host = f"Host: 127.0.0.1:{config['port']}\r\n"
    auth = f"Authorization: Bearer {config['token']}\r\n" if config.get("token") else ""
    if config.get("accept_encoding"):  # e.g. gzip, as mobile apps' HTTP clients send it
        auth += f"Accept-Encoding: {config['accept_encoding']}\r\n"
    out = []
    if config["kind"] == "get":
        for value in config["values"]:
            path = config["path"].format(value)
            out.append(f"GET {path} HTTP/1.1\r\n{host}{auth}Accept: application/json\r\n\r\n".encode())
    else:
        # Whole bodies (``bodies``: JSON texts), or one field of each value.
        bodies = config.get("bodies") or [
            json.dumps({config["body_field"]: value}, separators=(",", ":")) for value in config["values"]
        ]
        for text in bodies:
            body = text.encode()
            out.append(
                f"POST {config['path']} HTTP/1.1\r\n{host}{auth}Accept: application/json\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
    return out


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _children_of(ppid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used by the server process and by all PostgreSQL backends meanwhile."""

    def __init__(self, server_pid: int | None, postmaster_pid: int | None) -> None:
        self.server_pid = server_pid
        self.postmaster_pid = postmaster_pid
        self.start: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        pids = [p for p in (self.server_pid,) if p]
        if self.postmaster_pid:
            pids += [self.postmaster_pid, *_children_of(self.postmaster_pid)]
        return {pid: cpu for pid in pids if (cpu := _cpu_seconds(pid)) is not None}

    @staticmethod
    def _machine() -> tuple[int, int]:
        """(busy, total) jiffies of all CPUs from /proc/stat."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields) - idle, sum(fields)

    def begin(self) -> None:
        self.start = self._sample()
        self.machine_start = self._machine()

    def end(self) -> dict[str, float | None]:
        now = self._sample()
        server = None
        if self.server_pid in now and self.server_pid in self.start:
            server = now[self.server_pid] - self.start[self.server_pid]
        db = None
        if self.postmaster_pid:
            db = sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items() if pid != self.server_pid)
        busy, total = self._machine()
        busy0, total0 = self.machine_start
        machine = (busy - busy0) / (total - total0) * (os.cpu_count() or 1) if total > total0 else None
        return {"server_cpu_s": server, "db_cpu_s": db, "machine_busy_cpus": machine}


async def run(config: dict) -> dict:
    loop = asyncio.get_running_loop()
    requests = build_requests(config)
    n = len(requests)
    concurrency = config["concurrency"]
    warmup = config["warmup"]
    seconds = config["seconds"]
    latencies: list[float] = []
    statuses: Counter = Counter()
    failures: Counter = Counter()
    meter = CpuMeter(config.get("server_pid"), config.get("postmaster_pid"))

    async def connect() -> Connection:
        _, conn = await loop.create_connection(Connection, "127.0.0.1", config["port"])
        return conn

    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker(index: int) -> None:
        conn = await connect()
        position = index * n // concurrency
        perf = time.perf_counter
        record = latencies.append
        while True:
            t0 = perf()
            if t0 >= stop_at:
                break
            data = requests[position % n]
            position += 1
            try:
                status = await conn.request(data)
            except (ConnectionError, ProtocolError, OSError) as exc:
                t1 = perf()
                if measure_from <= t1 < stop_at:
                    failures[type(exc).__name__] += 1
                conn.close()
                if t1 >= stop_at:
                    break
                await asyncio.sleep(0.01)
                conn = await connect()
                continue
            t1 = perf()
            if measure_from <= t1 < stop_at:
                record(t1 - t0)
                statuses[status] += 1
        conn.close()

    async def db_sessions(db) -> int | None:
        if db is None:
            return None
        await db.execute("SELECT pg_stat_clear_snapshot()")
        return await db.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")

    async def cpu_window() -> None:
        db = None
        if config.get("dsn"):
            import asyncpg

            db = await asyncpg.connect(config["dsn"])
        try:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            meter.begin()
            sessions0 = await db_sessions(db)
            await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
            cpu.update(meter.end())
            # Backends report their start to the statistics within a second or so.
            await asyncio.sleep(1.0)
            sessions1 = await db_sessions(db)
            if sessions0 is not None and sessions1 is not None:
                cpu["db_sessions_per_s"] = (sessions1 - sessions0) / seconds
        finally:
            if db is not None:
                await db.close()

    cpu: dict = {}
    client_cpu_0 = time.process_time()
    tasks = [asyncio.ensure_future(worker(i)) for i in range(concurrency)]
    meter_task = asyncio.ensure_future(cpu_window())
    # Everything is bounded by time: a request hanging past the end (plus grace) is dropped.
    done, pending = await asyncio.wait([*tasks, meter_task], timeout=warmup + seconds + 15)
    for task in pending:
        task.cancel()
        failures["timeout"] += 1
    for task in done:
        if task.exception() is not None:
            failures[type(task.exception()).__name__] += 1
    client_cpu = time.process_time() - client_cpu_0

    latencies.sort()
    count = len(latencies)

    def pct(p: float) -> float | None:
        if not count:
            return None
        return latencies[min(count - 1, int(p / 100 * count))] * 1000

    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    errors = count - ok + sum(failures.values())
    return {
        "requests": count,
        "ok": ok,
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "failures": dict(failures),
        "seconds": seconds,
        "rps": count / seconds,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if count else None,
        "mean_ms": sum(latencies) / count * 1000 if count else None,
        "client_cpu_s": client_cpu,
        **cpu,
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        result = asyncio.run(run(config))
    else:
        result = uvloop.run(run(config))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
