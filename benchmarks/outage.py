"""The API through database outages, measured: how long after the database returns the
service answers again, and what the clients met meanwhile (issue 22).

    .venv/bin/python -m benchmarks.outage [--persons 2000] [--clients 8] [--repeat 3]

Starts ``guardline serve --demo`` on a fresh embedded PostgreSQL, then, ``--repeat`` times,
runs the clients of ``tests/outage.py`` (reads of one household as county staff, a page of
the list, income writes with Idempotency-Keys retried after a 503 or a lost answer) while
the database is restarted (fast), stopped, and started two seconds later. Prints per
repetition: answers by status, connections closed without an answer, writes acknowledged
and retried, the longest failure, and the recovery: from the database's return to the
last failure and to the first success of each kind of request. Medians and spread at the
end. The test ``tests/platform/test_database_outage.py`` asserts the same with bounds."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from services.core.settings import DEMO_PASSWORD
from tests.outage import Cluster, Load
from tests.serving import clean_env, free_port, serving


async def _one(base: str, token: str, households: list[int], cluster: Cluster, clients: int) -> dict:
    load = Load(base, token, households, clients=clients)
    moments: dict[str, float] = {}

    async def outage() -> None:
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.restart)
        moments["restarted"] = load.now()
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.start)
        moments["started"] = load.now()

    seen, _ = await asyncio.gather(load.run(11), outage())
    back = moments["started"]
    failures = [t for t, _, s in seen.statuses if s >= 500]
    first_ok = {
        label: min((t for t, lab, s in seen.statuses if lab == label and s < 400 and t > back), default=None)
        for label in ("household", "list", "income")
    }
    return {
        "answers": dict(Counter(f"{label} {status}" for _, label, status in seen.statuses)),
        "closed_without_answer": len(seen.closed),
        "status_500": sum(1 for _, _, s in seen.statuses if s == 500),
        "writes_acknowledged": len(seen.acknowledged),
        "writes_attempted": seen.attempted,
        "writes_retried": len(seen.retried),
        "last_failure_after_return_s": round(max([t - back for t in failures if t > back], default=0.0), 3),
        "first_success_after_return_s": {k: (round(v - back, 3) if v else None) for k, v in first_ok.items()},
    }


async def _measure(base: str, data_dir: Path, clients: int, repeat: int) -> list[dict]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        token = (
            await http.post("/api/v1/auth/token", data={"username": "county_staff.county", "password": DEMO_PASSWORD})
        ).json()["access_token"]
        page = await http.get(
            "/api/v1/households", params={"limit": 40 * repeat}, headers={"Authorization": f"Bearer {token}"}
        )
        households = [h["id"] for h in page.json()["items"]]
    cluster = Cluster(data_dir / "pgdata")
    out = []
    for n in range(repeat):
        # Households of their own for each repetition: every write is a new household-quarter.
        result = await _one(base, token, households[n::repeat], cluster, clients)
        print(f"run {n + 1}: {result}", flush=True)
        out.append(result)
        await asyncio.sleep(1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = clean_env(
            folder / "data", GUARDLINE_AUDIT__READ_FLUSH_MS="100", GUARDLINE_RATE_LIMITS__BULK_READS_PER_MINUTE="100000"
        )
        serve_args = ("--demo", "--no-departments", "--persons", str(args.persons), "--no-access-log")
        try:
            with serving(folder, env, free_port(), *serve_args) as (base, _proc, _log):
                results = asyncio.run(_measure(base, folder / "data", args.clients, args.repeat))
        finally:
            Cluster.stop_left_running(folder / "data" / "pgdata")
    last = [r["last_failure_after_return_s"] for r in results]
    firsts = [max(v for v in r["first_success_after_return_s"].values() if v is not None) for r in results]
    print(
        f"\n{args.clients} clients, {args.repeat} outages (restart, stop, start):"
        f"\n  500s: {sum(r['status_500'] for r in results)}; closed without an answer: "
        f"{sum(r['closed_without_answer'] for r in results)}"
        f"\n  writes acknowledged / attempted: {sum(r['writes_acknowledged'] for r in results)} / "
        f"{sum(r['writes_attempted'] for r in results)}; retried: {sum(r['writes_retried'] for r in results)}"
        f"\n  last failure after the database's return: median {statistics.median(last):.3f} s "
        f"({min(last):.3f}–{max(last):.3f})"
        f"\n  every kind of request succeeding again after: median {statistics.median(firsts):.3f} s "
        f"({min(firsts):.3f}–{max(firsts):.3f}); target < 2 s"
    )


if __name__ == "__main__":
    main()
