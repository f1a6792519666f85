"""Risk-clue intake benchmark: the sync worker raising N risk clues from open findings.

    .venv/bin/python -m benchmarks --only clues [--clues 20000] [--clue-runs 3] [--clue-baseline 2000]

In its own database ``guardline_bench_clues`` (created and migrated on first use; the
households are kept for later runs): one county of 10 townships × 10 villages and 0.9 × N
active households. Before each run the clue tables and findings are emptied and N open
risk findings of the medical-insurance source are written with one ``INSERT … SELECT``:

* 0.8 × N ``large_medical_cost`` (risk illness), one per household — each creates a clue;
* 0.2 × N ``not_insured`` (risk other), two persons each of 0.1 × N households — the first
  creates a clue, the second (next in the same batch) merges into it.

Measured: what the worker does after a reconciliation (``services.worker.runner.finish``):
``reconcile.raise_clues`` a batch of ``CLUE_BATCH`` (1,000) findings at a time, each batch in
a transaction of its own, until none is left; clues/s = findings given a clue ÷ seconds.
``--clue-runs`` runs (3); printed per run, then the median and the spread (min–max), against
the target of 2,000 clues/s. ``--clue-baseline M`` (2,000; 0: none) also times the former
path on the first M findings — ``clues.report`` for each finding, the loop ``raise_clues``
had before the bulk intake, 200 findings a transaction — so the two are compared on the
same machine and data.
Also printed: the CPU time the benchmark process and the database server used during each
run, and clues per CPU-second — a figure that other load on the machine changes less than
the wall-clock rate (on 2 shared cores the wall-clock rate varies severalfold).
Figures go to ``benchmarks/results/clues.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import plain_dsn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "clues.json"
BENCH_DB = "guardline_bench_clues"
COUNTY = "529901"
SOURCE = "medical-insurance"
TARGET_PER_S = 2000.0
RUN_ID = 1
FORMER_BATCH = 200  # findings per transaction before the bulk intake


_REGIONS = f"""
INSERT INTO regions (code, name, level, parent_code)
SELECT * FROM (VALUES ('520000000000', '省', 1, NULL), ('529900000000', '市', 2, '520000000000'),
                      ('{COUNTY}000000', '基准县', 3, '529900000000')) AS v
UNION ALL
SELECT '{COUNTY}' || lpad(t::text, 3, '0') || '000', '基准' || t || '镇', 4, '{COUNTY}000000'
FROM generate_series(1, 10) AS t
ON CONFLICT DO NOTHING"""

_VILLAGES = f"""
INSERT INTO regions (code, name, level, parent_code)
SELECT '{COUNTY}' || lpad(t::text, 3, '0') || lpad(v::text, 3, '0'), '基准' || t || '-' || v || '村', 5,
       '{COUNTY}' || lpad(t::text, 3, '0') || '000'
FROM generate_series(1, 10) AS t, generate_series(1, 10) AS v
ON CONFLICT DO NOTHING"""

# Households 1 … $1 spread over the 100 villages.
_HOUSEHOLDS = f"""
INSERT INTO households (household_no, region_code, category, status, flags, member_count, version)
SELECT 'BENCH' || g, '{COUNTY}' || lpad((g % 10 + 1)::text, 3, '0') || lpad((g / 10 % 10 + 1)::text, 3, '0'),
       'lifted_out', 'active', '{{}}', 2, 1
FROM generate_series(1, $1) AS g"""

# $1 = N: 0.8 N illness findings (one per household), then 0.2 N not-insured findings (two
# per household, adjacent). Households are taken in id order from the bench ones.
_FINDINGS = f"""
WITH h AS (SELECT id, region_code, row_number() OVER (ORDER BY id) AS n FROM households
           WHERE household_no LIKE 'BENCH%'),
f AS (
    SELECT 1 AS part, h.n AS k, 'large_medical_cost' AS rule_id, 'household:' || h.id AS subject, h.id, h.region_code,
           true AS health
    FROM h WHERE h.n <= $1 * 8 / 10
    UNION ALL
    SELECT 2, h.n * 2 + p, 'not_insured', 'person:' || h.id || '-' || p, h.id, h.region_code, false
    FROM h, generate_series(0, 1) AS p WHERE h.n <= $1 / 10)
INSERT INTO sync_findings (fingerprint, rule_id, severity, source, county, region_code, household_id, records, "values",
                           health, status, first_run_id, last_run_id, version)
SELECT f.rule_id || ':{SOURCE}:{COUNTY}:' || f.subject, f.rule_id, 'high', '{SOURCE}', '{COUNTY}', f.region_code, f.id,
       '[]', jsonb_build_object('year', 2026, 'out_of_pocket', '26000.00'), f.health, 'open', {RUN_ID}, {RUN_ID}, 1
FROM f ORDER BY f.part, f.k"""


async def prepare(url: str, n: int) -> None:
    """Regions and households (kept), then fresh findings and no clues."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(_REGIONS)
        await conn.execute(_VILLAGES)
        wanted = n * 9 // 10
        have = await conn.fetchval("SELECT count(*) FROM households WHERE household_no LIKE 'BENCH%'")
        if have < wanted:
            await conn.execute("TRUNCATE clue_reports, risk_clues, sync_findings")
            await conn.execute("DELETE FROM households WHERE household_no LIKE 'BENCH%'")
            await conn.execute(_HOUSEHOLDS, wanted)
        await conn.execute("TRUNCATE clue_reports, risk_clues, sync_findings")
        await conn.execute(_FINDINGS, n)
        await conn.execute("VACUUM ANALYZE households, sync_findings, risk_clues, clue_reports")
    finally:
        await conn.close()


def _db_cpu_seconds(data_dir: Path) -> float:
    """CPU time used so far by the embedded server's processes (the postmaster and its
    children: our backend, the WAL writer, the checkpointer, autovacuum), from /proc."""
    try:
        pid = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            todo.extend(int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


def source_config():
    from services.core.sync.config import SourceConfig

    return SourceConfig(
        name=SOURCE, kind=SOURCE, counties=[COUNTY], fields={"record_id": ["id"], "id_number": ["sfzh"]}
    )


async def _raise_all(
    db, settings, source, raise_batch, batch: int, limit_findings: int | None = None
) -> tuple[int, float]:
    """The worker's loop: a batch per transaction until nothing is left (or ``limit_findings``
    findings were given clues). Returns (clues raised, seconds)."""
    from services.core.scope import UNRESTRICTED, bind_scope

    after, raised = 0, 0
    started = time.perf_counter()
    while limit_findings is None or raised < limit_findings:
        limit = batch if limit_findings is None else min(batch, limit_findings - raised)
        async with db.session() as session, session.begin():
            bind_scope(session, UNRESTRICTED)
            n, after = await raise_batch(session, settings, source, COUNTY, after=after, limit=limit)
        if after is None:
            break
        raised += n
    return raised, time.perf_counter() - started


async def sequential_batch(session, settings, source, county, *, after: int = 0, limit: int = 200):
    """``raise_clues`` as it was before the bulk intake: ``clues.report`` for each finding."""
    from sqlalchemy import text

    from services.core.monitoring.clues import report
    from services.core.monitoring.context import load_policy_context
    from services.core.monitoring.enums import Channel
    from services.core.monitoring.schemas import ClueIn, Reporter
    from services.core.sync.queries import CLUES_TODO as _CLUES_TODO
    from services.core.sync.reconcile import clue_ref, clue_source, evidence
    from services.core.sync.rules import rules_for

    risky = {r.id: r for r in rules_for(source.kind) if r.risk}
    batch = (
        await session.execute(
            text(_CLUES_TODO),
            {"source": source.name, "county": county, "risk_ids": list(risky), "after": after, "limit": limit},
        )
    ).all()
    if not batch:
        return 0, None
    rules = await load_policy_context(session)
    reporter = Reporter(user_id=None, client_id=None)
    finding_ids, clue_ids = [], []
    for finding_id, fingerprint, rule_id, household_id, detail, clue_round in batch:
        rule = risky[rule_id]
        data = ClueIn(
            household_id=household_id,
            channel=Channel.department_screening,
            risk_types=[rule.risk_type],
            evidence=evidence(source, rule, detail),
            source=clue_source(source.name),
            external_ref=clue_ref(fingerprint, clue_round),
        )
        clue, _ = await report(session, rules, data, reporter)
        finding_ids.append(finding_id)
        clue_ids.append(clue.id)
    await session.execute(
        text(
            "UPDATE sync_findings f SET clue_id = v.clue_id, version = f.version + 1 "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:clue_ids AS bigint[])) AS v(id, clue_id) WHERE f.id = v.id"
        ),
        {"ids": finding_ids, "clue_ids": clue_ids},
    )
    return len(batch), batch[-1][0]


async def _facts(url: str) -> dict:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM risk_clues) AS clues, (SELECT count(*) FROM clue_reports) AS reports, "
            "(SELECT count(*) FROM risk_clues WHERE report_count > 1) AS merged_into, "
            "(SELECT count(*) FROM sync_findings WHERE clue_id IS NULL) AS without_clue, "
            "(SELECT count(*) FROM risk_clues WHERE next_deadline IS NULL) AS without_deadline"
        )
        assert row is not None  # a SELECT without FROM has its one row
        return dict(row)
    finally:
        await conn.close()


async def measure(url: str, settings, n: int, runs: int, baseline: int) -> dict:
    # The worker imports the monitoring workflow (the three services.core.monitoring modules) with its
    # first batch, once per process: not part of what is measured here.
    import services.core.monitoring.clues
    import services.core.monitoring.context
    import services.core.monitoring.intake  # noqa: F401
    from services.core.db import Database, create_engine
    from services.core.sync.reconcile import CLUE_BATCH, raise_clues

    source = source_config()
    db = Database(create_engine(url, settings, "bench-clues"))
    out: dict = {"runs": [], "baseline": None}
    try:
        for number in range(1, runs + 1):
            await prepare(url, n)
            load = os.getloadavg()[0]
            cpu_app, cpu_db = time.process_time(), _db_cpu_seconds(settings.data_dir)
            raised, seconds = await _raise_all(db, settings, source, raise_clues, CLUE_BATCH)
            cpu_app, cpu_db = time.process_time() - cpu_app, _db_cpu_seconds(settings.data_dir) - cpu_db
            facts = await _facts(url)
            if facts["reports"] != n or facts["without_clue"] or facts["without_deadline"]:
                raise SystemExit(f"run {number}: not every finding got its clue: {facts}")
            out["runs"].append(
                {
                    "clues": raised,
                    "seconds": round(seconds, 3),
                    "per_s": round(raised / seconds, 1),
                    "app_cpu_s": round(cpu_app, 2),
                    "db_cpu_s": round(cpu_db, 2),
                    "per_cpu_s": round(raised / (cpu_app + cpu_db), 1) if cpu_app + cpu_db else None,
                    "load_before": round(load, 2),
                    **facts,
                }
            )
            print(
                f"  run {number}: {raised:,} clue reports in {seconds:.2f} s = {raised / seconds:,.0f} clues/s "
                f"({facts['clues']:,} clues, {facts['merged_into']:,} with merged reports); CPU: app "
                f"{cpu_app:.2f} s, database {cpu_db:.2f} s; load average before {load:.1f}",
                flush=True,
            )
        if baseline:
            await prepare(url, n)
            raised, seconds = await _raise_all(
                db, settings, source, sequential_batch, FORMER_BATCH, limit_findings=baseline
            )
            out["baseline"] = {"clues": raised, "seconds": round(seconds, 3), "per_s": round(raised / seconds, 1)}
            print(
                f"  former path (clues.report one by one), first {raised:,} findings: {seconds:.2f} s = "
                f"{raised / seconds:,.0f} clues/s",
                flush=True,
            )
    finally:
        await db.engine.dispose()
    return out


def run(url: str, settings, n: int = 20_000, runs: int = 3, baseline: int = 2000) -> dict:
    print(f"clue intake: {n:,} findings, {runs} runs, database {BENCH_DB} …", flush=True)
    measured = asyncio.run(measure(url, settings, n, runs, min(baseline, n)))
    rates = [r["per_s"] for r in measured["runs"]]
    median = statistics.median(rates)
    per_cpu = [r["per_cpu_s"] for r in measured["runs"] if r["per_cpu_s"]]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "findings": n,
        "runs": measured["runs"],
        "median_per_s": median,
        "min_per_s": min(rates),
        "max_per_s": max(rates),
        "spread_pct": round((max(rates) - min(rates)) / median * 100, 1),
        "median_per_cpu_s": statistics.median(per_cpu) if per_cpu else None,
        "baseline": measured["baseline"],
        "target_per_s": TARGET_PER_S,
        "verdict": "PASS" if median >= TARGET_PER_S else "FAIL",
    }
    base = measured["baseline"]
    print()
    print("| measure | figure | target | verdict |")
    print("| --- | --- | --- | --- |")
    print(
        f"| risk clues raised in bulk (median of {runs}) | {median:,.0f} clues/s (min {min(rates):,.0f}, max "
        f"{max(rates):,.0f}) | ≥ {TARGET_PER_S:,.0f} | {result['verdict']} |"
    )
    if per_cpu:
        print(
            f"| the same per CPU second (app + database; what a quiet machine of one core each would do) | "
            f"{statistics.median(per_cpu):,.0f} clues/CPU-s (min {min(per_cpu):,.0f}, max {max(per_cpu):,.0f}) "
            f"| | |"
        )
    if base:
        print(
            f"| former path, clues.report one by one ({base['clues']:,} findings) | {base['per_s']:,.0f} clues/s | | |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result
