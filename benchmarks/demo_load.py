"""Demo-load CPU benchmark (issue 19): where the load of a demo county spends its CPU.

    .venv/bin/python -m benchmarks.demo_load [--persons 100000] [--load]

1. **Generation** (no database): the chunks of ``--persons`` persons are made and rendered
   to COPY text in this process exactly as a generator process of the loader makes them
   (``services.demo.streams``: the same streams, chunk size, and the cyclic collector off).
   CPU seconds by ``time.process_time``, split into making the rows (``generator``) and
   writing their COPY text (``render``: with the encryption and the ID-number hashes), with
   the rows and bytes of every table, and per million persons.
2. With ``--load``: the whole ``load_demo`` into its own database ``guardline_bench_demo`` on
   the embedded server (recreated on every run): wall time and CPU seconds of the loader
   process, of its generator processes (``RUSAGE_CHILDREN``) and of the server (its
   postmaster, with the children it has reaped, and its live children, from ``/proc``),
   stage by stage.
3. With ``--floor`` as well: the same load again into a fresh ``guardline_bench_demo``, its
   generator replaced by a replay of the COPY text the first load's generator processes
   sent (kept in memory: about 1.4 GB a million persons). Same rows, same keys, same
   server work, no generation: the wall time no generator, however fast, could go below
   on this machine with this loader — one transaction, its COPYs on one connection — and
   this county's rows.

CPU seconds, not wall time, are the figures to compare: on a shared machine the wall time
says more about the neighbours. On a quiet 2-core machine the load's wall time is about
``start + (generators + loader + server's COPY) / 2 + the server's tail`` (the COPY stage
keeps both cores busy; the tail — index and constraint rebuilds, commit, ANALYZE — runs
mostly on one). Figures go to ``benchmarks/results/demo_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections import Counter
from datetime import date
from pathlib import Path

from benchmarks.harness import own_cpu, server_cpu

RESULTS = Path(__file__).resolve().parent / "results" / "demo_load.json"
BENCH_DB = "guardline_bench_demo"
SEED = 2026
TODAY = date(2026, 12, 6)  # fixed: the same county on every day


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demo_load", description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=100_000, help="persons of the county (100,000)")
    parser.add_argument("--load", action="store_true", help="also load them into guardline_bench_demo, timed")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="with --load: load again, replaying the COPY text of the first load (the load without its generation)",
    )
    return parser.parse_args(argv)


def generation(persons: int) -> dict:
    """CPU seconds of making and rendering ``persons`` persons in this process."""
    from services.core.crypto import Keyring
    from services.demo.loader import CHUNK_PERSONS, demo_villages
    from services.demo.plan import STREAMS, plan_chunks
    from services.demo.render import render
    from services.demo.streams import _streams

    params = {"villages": demo_villages(), "seed": SEED, "today": TODAY, "deduct": False, "cadres": None}
    ring = Keyring({"bench": bytes(range(32))}, "bench")
    key = bytes(range(32, 64))
    started = time.process_time()
    plans = plan_chunks(persons, seed=SEED, today=TODAY, chunk_persons=CHUNK_PERSONS)
    streams = _streams(params, range(STREAMS))
    planned = time.process_time() - started
    made = rendered = 0.0
    rows: Counter[str] = Counter()
    size: Counter[str] = Counter()
    collecting = gc.isenabled()
    gc.disable()  # as in the generator processes
    try:
        for plan in plans:
            t0 = time.process_time()
            batch = streams[plan.index % STREAMS].chunk(plan)
            t1 = time.process_time()
            out = render(batch, key, ring)
            t2 = time.process_time()
            made += t1 - t0
            rendered += t2 - t1
            for table, data, n in out:
                rows[table] += n
                size[table] += len(data)
            del batch, out
    finally:
        if collecting:
            gc.enable()
    per_million = 1_000_000 / max(persons, 1)
    return {
        "persons": persons,
        "cpu_s": {"plan": round(planned, 2), "generator": round(made, 2), "render": round(rendered, 2)},
        "cpu_s_per_million": {
            "generator": round(made * per_million, 1),
            "render": round(rendered * per_million, 1),
            "total": round((planned + made + rendered) * per_million, 1),
        },
        "tables": {table: {"rows": rows[table], "bytes": size[table]} for table in rows},
    }


async def _fresh_database(url: str) -> None:
    import asyncpg

    from benchmarks.harness import plain_dsn

    conn = await asyncpg.connect(plain_dsn(url).replace(f"/{BENCH_DB}?", "/postgres?", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


def _recording(real, store: list):
    """``real`` (a loader's chunk source), keeping what it yields in ``store``."""
    from contextlib import aclosing

    async def chunks(params, plans):
        async with aclosing(real(params, plans)) as source:
            async for rendered in source:
                store.append(rendered)
                yield rendered

    return chunks


def _replaying(store: list):
    """A chunk source that yields ``store`` again, making nothing."""

    async def chunks(params, plans):
        for rendered in store:
            yield rendered

    return chunks


async def _load(url: str, settings, persons: int, postmaster: int | None, source=None) -> dict:
    """The whole ``load_demo``, stage by stage; ``source`` replaces its chunk source (in and out
    of process alike) while it runs."""
    import services.demo.loader as loader
    from services.demo.loader import load_demo

    stages: list[dict] = []
    pg0 = server_cpu(postmaster)
    me0, kids0 = own_cpu()
    started = time.perf_counter()

    def mark(step) -> None:
        if step.stage == "persons" and step.done != step.total:
            return
        me, kids = own_cpu()
        pg = server_cpu(postmaster)
        stages.append(
            {
                "stage": step.stage,
                "wall_s": round(time.perf_counter() - started, 2),
                "loader_cpu_s": round(me - me0, 2),
                "generators_cpu_s": round(kids - kids0, 2),
                "server_cpu_s": None if pg is None or pg0 is None else round(pg - pg0, 2),
            }
        )
        print(f"  {step}", flush=True)

    saved = loader.worker_chunks, loader.local_chunks
    if source is not None:
        loader.worker_chunks = source(saved[0])
        loader.local_chunks = source(saved[1])
    try:
        await load_demo(url, settings, persons=persons, seed=SEED, today=TODAY, progress=mark)
    finally:
        loader.worker_chunks, loader.local_chunks = saved
    return {"persons": persons, "stages": stages, **{k: v for k, v in stages[-1].items() if k != "stage"}}


def _stage(load: dict, name: str) -> float:
    return next(s["wall_s"] for s in load["stages"] if s["stage"] == name)


def print_stages(load: dict) -> None:
    print(f"\n{'stage':<10} {'wall s':>8} {'loader':>8} {'generators':>11} {'server':>8}  (CPU-s, cumulative)")
    for s in load["stages"]:
        server = "n/a" if s["server_cpu_s"] is None else f"{s['server_cpu_s']:.1f}"
        print(
            f"{s['stage']:<10} {s['wall_s']:>8.1f} {s['loader_cpu_s']:>8.1f} {s['generators_cpu_s']:>11.1f} {server:>8}"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"generating {args.persons:,} persons in this process ...", flush=True)
    gen = generation(args.persons)
    result: dict = {"generation": gen}
    print(f"\n{'table':<22} {'rows':>11} {'MB':>8}")
    for table, t in gen["tables"].items():
        print(f"{table:<22} {t['rows']:>11,} {t['bytes'] / 1e6:>8.1f}")
    cpu, per = gen["cpu_s"], gen["cpu_s_per_million"]
    print(
        f"\nCPU: generator {cpu['generator']:.2f} s, render {cpu['render']:.2f} s "
        f"= {per['total']:.1f} CPU-s per million persons (generator {per['generator']:.1f}, render {per['render']:.1f})"
    )
    if args.load:
        from benchmarks.harness import postmaster_pid
        from services.core.db import embedded_url
        from services.core.migrate import upgrade
        from services.core.settings import Settings

        settings = Settings(env="test")
        url = embedded_url(settings.data_dir, "postgres").replace("/postgres?", f"/{BENCH_DB}?", 1)
        asyncio.run(_fresh_database(url))
        upgrade(url)
        print(f"\nloading {args.persons:,} persons into {BENCH_DB} ...", flush=True)
        sent: list = []
        record = (lambda real: _recording(real, sent)) if args.floor else None
        load = asyncio.run(_load(url, settings, args.persons, postmaster_pid(url), record))
        result["load"] = load
        print_stages(load)
        if args.floor:
            asyncio.run(_fresh_database(url))
            upgrade(url)
            print(f"\nloading the same {args.persons:,} persons again, replaying the COPY text ...", flush=True)
            floor = asyncio.run(_load(url, settings, args.persons, postmaster_pid(url), lambda real: _replaying(sent)))
            del sent
            result["floor"] = floor
            print_stages(floor)
            print(
                f"\nthe load {load['wall_s']:.1f} s; without its generation {floor['wall_s']:.1f} s "
                f"(the rows' COPY stage {_stage(load, 'persons'):.1f} → {_stage(floor, 'persons'):.1f} s)"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
