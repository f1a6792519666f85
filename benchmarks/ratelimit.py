"""What a rate-limited request pays for counting in PostgreSQL (``services.api.ratelimit``):

    .venv/bin/python -m benchmarks.ratelimit [--hits 5000]

Times ``RateLimiter.hit`` one call after another (as one request of a list counts once),
with the counts shared in the database (what the API does: one statement for a caller's
first request in a window, then blocks of counts for a busy one) and in this process only
(the floor), and prints the median and p99 per hit. It uses its own database
``guardline_bench_ratelimit`` on the embedded server (recreated on every run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from benchmarks import fresh_database

BENCH_DB = "guardline_bench_ratelimit"


async def _time(limiter, hits: int, keys: int) -> list[float]:
    took = []
    for n in range(hits):
        start = time.perf_counter()
        await limiter.hit(f"bulk:user:{n % keys}", 10**9)
        took.append(time.perf_counter() - start)
    return took


async def run(url: str, hits: int) -> list[tuple[str, list[float]]]:
    from services.api.ratelimit import LocalCounts, RateLimiter, SharedCounts
    from services.core.db import Database, create_engine
    from services.core.settings import Settings

    db = Database(create_engine(url, Settings(env="test"), "bench"), read_pool_size=2)
    try:
        shared = RateLimiter(SharedCounts(lambda: db))
        await _time(shared, 200, 50)  # open the pool, prepare the statement
        results = [
            ("shared, each hit a new caller", await _time(shared, hits, hits)),  # one statement each
            ("shared, 50 busy callers (blocks)", await _time(shared, hits, 50)),
            ("shared (PostgreSQL), 1 caller", await _time(shared, hits, 1)),
            ("this process only", await _time(RateLimiter(LocalCounts()), hits, 50)),
        ]
    finally:
        await db.dispose()
    return results


def main(argv=None) -> int:
    from services.core.db import embedded_url
    from services.core.migrate import upgrade
    from services.core.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m benchmarks.ratelimit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=5000, help="hits per scenario (5000)")
    args = parser.parse_args(argv)
    url = embedded_url(Settings(env="test").data_dir, "postgres").replace("/postgres?", f"/{BENCH_DB}?", 1)
    asyncio.run(fresh_database(url.replace("postgresql+asyncpg://", "postgresql://", 1), BENCH_DB))
    upgrade(url)
    print(f"\n{'counts':<34} {'median µs':>10} {'p99 µs':>8}")
    for name, took in asyncio.run(run(url, args.hits)):
        p99 = sorted(took)[int(len(took) * 0.99)]
        print(f"{name:<34} {statistics.median(took) * 1e6:>10.0f} {p99 * 1e6:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
