"""What gzip costs per answer (``services.api.compression``), in process:

    .venv/bin/python -m benchmarks.compression [--pages 2000] [--rounds 5]

One body, a households list page of 50 varied rows (about 9 KB of JSON, Chinese names and
addresses, as the API writes them), answered by a bare ASGI app through the project's
``Compression`` middleware at its settings, four ways: without the middleware (the floor),
through it to a client that does not accept gzip (identity), and gzipped at zlib levels 1,
6 (the default) and 9. The ways are interleaved page by page, so that whatever else the
machine does falls on all of them alike, and the whole is repeated ``--rounds`` times;
it prints the median microseconds per answer of each round, their median and spread, and
the bytes on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import zlib

from services.api.compression import Compression
from services.api.responses import dumps

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"


def page_body(seed: int = 7, rows: int = 50) -> bytes:
    """A list page shaped like ``GET /api/v1/households`` (items + next_cursor)."""
    rnd = random.Random(seed)
    items = []
    for n in range(rows):
        village = f"5299010{rnd.randint(1, 9):02d}{rnd.randint(1, 30):03d}"
        items.append(
            {
                "id": 100_000 + n * rnd.randint(1, 40),
                "household_no": f"{village}{rnd.randint(0, 9999):04d}",
                "region_code": village,
                "head_name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                "category": rnd.choice(["lifted_out", "monitored", "ordinary"]),
                "status": "active",
                "members": rnd.randint(1, 7),
                "address": f"{rnd.choice(SURNAMES)}家村{rnd.randint(1, 12)}组{rnd.randint(1, 99)}号",
                "phone": f"1{rnd.randint(30, 99)}****{rnd.randint(1000, 9999)}",
                "per_capita_net_income": f"{rnd.randint(6000, 40000)}.{rnd.randint(0, 99):02d}",
                "income_year": 2025,
                "version": rnd.randint(1, 9),
                "updated_at": f"2026-{rnd.randint(1, 11):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(8, 18):02d}:"
                f"{rnd.randint(0, 59):02d}:00+08:00",
            }
        )
    return dumps({"items": items, "next_cursor": "eyJpZCI6IDEwMjM0NX0"})


def _app(body: bytes):
    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def _answer(app, accept: bytes) -> int:
    sent = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal sent
        if message["type"] == "http.response.body":
            sent += len(message.get("body", b""))

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", accept)] if accept else []}
    await app(scope, receive, send)
    return sent


async def measure(pages: int, rounds: int) -> None:
    body = page_body()
    bare = _app(body)
    ways = {
        "no middleware": (bare, b""),
        "identity (no gzip asked)": (Compression(bare, minimum_size=1024, compresslevel=6), b""),
        "gzip level 1": (Compression(bare, minimum_size=1024, compresslevel=1), b"gzip"),
        "gzip level 6 (default)": (Compression(bare, minimum_size=1024, compresslevel=6), b"gzip"),
        "gzip level 9": (Compression(bare, minimum_size=1024, compresslevel=9), b"gzip"),
    }
    sizes = {name: await _answer(app, accept) for name, (app, accept) in ways.items()}
    medians: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        took: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(pages):
            for name, (app, accept) in ways.items():  # interleaved: one of each, then again
                start = time.perf_counter()
                await _answer(app, accept)
                took[name].append(time.perf_counter() - start)
        for name in ways:
            medians[name].append(statistics.median(took[name]) * 1e6)
    print(
        f"one list page of 50 households, {len(body):,} bytes of JSON (zlib level 6 alone: "
        f"{len(zlib.compress(body, 6)):,}); {pages} answers per way per round, {rounds} rounds, interleaved"
    )
    print(f"{'way':28} {'bytes sent':>10} {'µs per answer, median of rounds':>32}  {'spread (min–max)':>18}  rounds")
    for name, values in medians.items():
        print(
            f"{name:28} {sizes[name]:>10,} {statistics.median(values):>32.1f}  "
            f"{min(values):>8.1f}–{max(values):<8.1f}  {', '.join(f'{v:.1f}' for v in values)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.pages, max(3, args.rounds)))


if __name__ == "__main__":
    main()
