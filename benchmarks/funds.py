"""Funds benchmark (issue 6): the compliance indicator set of one county and of the whole
province on province-sized data, and the public project list of a county.

    .venv/bin/python -m benchmarks --only funds [--funds-scale 0.05] [--funds-runs 20]

Data, in the bench database ``guardline_bench`` (generated once, kept for later runs):

* regions: the demo regions, and synthetic counties under province 52 (cities 5281…, named
  基准…) until the province has ``COUNTIES`` counties of 10 townships × 10 villages each
  (the demo province has a single county; a province has about 90);
* for year ``YEAR``: per county one fund per level × kind of ``FUND_KINDS`` (10 funds),
  20,000 projects spread over the villages (categories and lifecycle steps in realistic
  shares, with their dates), 1–3 allocations per project from approval on, 200,000
  disbursements over the year (mostly construction, materials and labour pay, some
  management fees) and 50,000 assets of accepted projects — all times ``--funds-scale``.

Rows are written with asyncpg ``COPY`` in text format. The generated rows are recognised by
their names (projects ``基准项目…``, funds ``基准…``, assets ``基准资产…``): when as many bench
projects as wanted are there, nothing is generated; otherwise the old bench rows are deleted
and generated anew (so a small ``--funds-scale`` smoke run is followed by a full
regeneration, once).

Measured, each ``--funds-runs`` times after two warm-ups, in a session of its own as a
request would be: ``services.core.funds.indicators.compute(session, prefix, YEAR, as_of)``
for the county with the most projects and for the province (prefix ``52``), and the first
page of ``GET /api/v1/public/projects?region=<county>&year=YEAR`` and the fund allocation
summary ``GET /api/v1/public/fund-allocations`` of the county and of the province, through
the app (in process, no server). Printed: p50, p95 and max in ms, PASS/FAIL against p50 < 300 ms.
Figures go to ``benchmarks/results/funds.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.harness import plain_dsn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "funds.json"
YEAR = 2026
PROVINCE = "52"
COUNTIES = 88  # county-level divisions of the province (Guizhou has 88)
TOWNSHIPS = 10  # per synthetic county
VILLAGES = 10  # per synthetic township
PROJECTS = 20_000
DISBURSEMENTS = 200_000
ASSETS = 50_000
TARGET_P50_MS = 300.0  # issue 6: the indicator set, one county and the province, p50
WARMUPS = 2
SEED = 2026
PROJECT_MARK = "基准项目"
FUND_MARK = "基准"
ASSET_MARK = "基准资产"
CITY_CODES = range(81, 90)  # synthetic cities 5281 … 5289

FUND_KINDS = {  # level -> kinds: 10 funds per county
    "central": ("transition", "work_relief"),
    "provincial": ("transition", "work_relief", "east_west"),
    "city": ("transition",),
    "county": ("transition", "work_relief", "designated", "social"),
}
CATEGORIES = (
    ("industry", 50),
    ("infrastructure", 18),
    ("work_relief", 10),
    ("village_construction", 8),
    ("employment", 5),
    ("microcredit_interest", 4),
    ("education_subsidy", 3),
    ("other", 2),
)
STATUSES = (
    ("proposed", 5),
    ("reviewed", 5),
    ("approved", 5),
    ("tendering", 5),
    ("started", 28),
    ("completed", 20),
    ("accepted", 20),
    ("handed_over", 9),
    ("cancelled", 3),
)
ITEMS = (
    ("construction", 45),
    ("materials", 28),
    ("labour_pay", 17),
    ("management_fee", 3),
    ("training", 2),
    ("other", 5),
)
RELIEF_ITEMS = (("construction", 30), ("materials", 25), ("labour_pay", 40), ("management_fee", 3), ("other", 2))
LIFECYCLE = ("proposed", "reviewed", "approved", "tendering", "started", "completed", "accepted", "handed_over")
PAID = frozenset(LIFECYCLE[LIFECYCLE.index("started") :])
ALLOCATED = frozenset(LIFECYCLE[LIFECYCLE.index("approved") :]) | {"cancelled"}
ASSETS_OF = frozenset({"accepted", "handed_over"})
LAST_DAY = date(YEAR, 11, 30)  # nothing generated happens after this day

N = "\\N"


def scale_of(value: float | None) -> float:
    scale = value if value is not None else float(os.environ.get("GUARDLINE_BENCH_FUNDS_SCALE", "1"))
    if not 0 < scale <= 10:
        raise SystemExit("--funds-scale must be in (0, 10]")
    return scale


# ---- helpers for the text COPY ------------------------------------------------------------


def _t(value) -> str:
    if value is None:
        return N
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cents(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


def _line(*values) -> str:
    return "\t".join(_t(v) for v in values) + "\n"


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` cents in ``parts`` positive parts (roughly even, randomly uneven)."""
    if parts <= 1:
        return [total]
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    s = sum(weights)
    out = [max(1, int(total * w / s)) for w in weights[:-1]]
    out.append(max(1, total - sum(out)))
    return out


def _day(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randint(0, (end - start).days))


# ---- regions -----------------------------------------------------------------------------


async def ensure_regions(conn, url: str, settings) -> list[tuple[str, list[str]]]:
    """The province's counties, each with its villages; the demo regions and synthetic
    counties are added when missing."""
    if await conn.fetchval("SELECT count(*) FROM regions WHERE code = '529901000000'") == 0:
        from services.demo.loader import _import_regions

        await _import_regions(url, settings)
    have = await conn.fetchval("SELECT count(*) FROM regions WHERE level = 3 AND code LIKE $1", PROVINCE + "%")
    if have < COUNTIES:
        rows = []
        existing = {r[0] for r in await conn.fetch("SELECT code FROM regions WHERE code LIKE $1", PROVINCE + "%")}
        wanted = COUNTIES - have
        for city in CITY_CODES:
            if wanted <= 0:
                break
            city_code = f"{PROVINCE}{city:02d}"
            rows.append((city_code.ljust(12, "0"), f"基准市{city}", 2, f"{PROVINCE}0000000000"))
            for county in range(1, 11):
                if wanted <= 0:
                    break
                county_code = f"{city_code}{county:02d}"
                if county_code.ljust(12, "0") in existing:
                    continue
                wanted -= 1
                rows.append((county_code.ljust(12, "0"), f"基准{city}{county:02d}县", 3, city_code.ljust(12, "0")))
                for township in range(1, TOWNSHIPS + 1):
                    township_code = f"{county_code}{township:03d}"
                    rows.append((township_code.ljust(12, "0"), f"基准{township}镇", 4, county_code.ljust(12, "0")))
                    for village in range(1, VILLAGES + 1):
                        rows.append(
                            (
                                f"{township_code}{village:03d}",
                                f"基准{township}-{village}村",
                                5,
                                township_code.ljust(12, "0"),
                            )
                        )
        rows = [r for r in rows if r[0] not in existing]
        # Parents before children (the FK), in one COPY.
        rows.sort(key=lambda r: r[2])
        await conn.copy_records_to_table("regions", records=rows, columns=["code", "name", "level", "parent_code"])
        print(
            f"regions: {sum(1 for r in rows if r[2] == 3)} synthetic counties added under province {PROVINCE} "
            f"({len(rows):,} regions)",
            flush=True,
        )
    counties = [
        r[0]
        for r in await conn.fetch(
            "SELECT code FROM regions WHERE level = 3 AND code LIKE $1 ORDER BY code", PROVINCE + "%"
        )
    ]
    villages: dict[str, list[str]] = {c: [] for c in counties}
    for (code,) in await conn.fetch(
        "SELECT code FROM regions WHERE level = 5 AND code LIKE $1 ORDER BY code", PROVINCE + "%"
    ):
        villages.setdefault(code[:6].ljust(12, "0"), []).append(code)
    return [(c, villages[c]) for c in counties if villages.get(c)]


# ---- generation --------------------------------------------------------------------------


async def bench_counts(conn) -> dict[str, int]:
    return {
        "projects": await conn.fetchval("SELECT count(*) FROM projects WHERE name LIKE $1", PROJECT_MARK + "%"),
        "funds": await conn.fetchval("SELECT count(*) FROM funds WHERE name LIKE $1", FUND_MARK + "%"),
        "allocations": await conn.fetchval(
            "SELECT count(*) FROM fund_allocations a JOIN projects p ON p.id = a.project_id WHERE p.name LIKE $1",
            PROJECT_MARK + "%",
        ),
        "disbursements": await conn.fetchval(
            "SELECT count(*) FROM fund_disbursements d JOIN projects p ON p.id = d.project_id WHERE p.name LIKE $1",
            PROJECT_MARK + "%",
        ),
        "assets": await conn.fetchval("SELECT count(*) FROM project_assets WHERE name LIKE $1", ASSET_MARK + "%"),
    }


async def delete_bench_rows(conn) -> None:
    bench = f"(SELECT id FROM projects WHERE name LIKE '{PROJECT_MARK}%')"
    async with conn.transaction():
        for table in ("asset_incomes",):
            await conn.execute(
                f"DELETE FROM {table} WHERE asset_id IN (SELECT id FROM project_assets WHERE project_id IN {bench})"
            )
        for table in (
            "fund_findings",
            "project_assets",
            "fund_disbursements",
            "fund_allocations",
            "project_beneficiaries",
        ):
            await conn.execute(f"DELETE FROM {table} WHERE project_id IN {bench}")
        await conn.execute(f"DELETE FROM projects WHERE name LIKE '{PROJECT_MARK}%'")
        await conn.execute(
            f"DELETE FROM fund_disbursements WHERE fund_id IN (SELECT id FROM funds WHERE name LIKE '{FUND_MARK}%')"
        )
        await conn.execute(
            f"DELETE FROM fund_allocations WHERE fund_id IN (SELECT id FROM funds WHERE name LIKE '{FUND_MARK}%')"
        )
        await conn.execute(f"DELETE FROM funds WHERE name LIKE '{FUND_MARK}%'")


def generate(counties: list[tuple[str, list[str]]], scale: float, ids: dict[str, int]) -> dict[str, tuple]:
    """The rows of every table as COPY text: {table: (columns, text, rows)}. ``ids`` are
    the first free ids of each table."""
    rng = random.Random(SEED)
    n_projects = max(1, round(PROJECTS * scale))
    n_disbursements = max(1, round(DISBURSEMENTS * scale))
    n_assets = max(1, round(ASSETS * scale))

    # Funds: per county, per level × kind.
    funds: dict[str, list[dict]] = {}
    fund_id = ids["funds"]
    for county, _villages in counties:
        funds[county] = []
        for level, kinds in FUND_KINDS.items():
            for kind in kinds:
                funds[county].append({"id": fund_id, "level": level, "kind": kind, "allocated": 0})
                fund_id += 1

    projects, allocations, by_project = [], [], {}
    project_id, allocation_id = ids["projects"], ids["fund_allocations"]
    for i in range(n_projects):
        county, villages = counties[rng.randrange(len(counties))]
        village = villages[rng.randrange(len(villages))]
        category = _pick(rng, CATEGORIES)
        status = _pick(rng, STATUSES)
        budget = rng.randint(50_000, 2_000_000) * 100
        planned_start = _day(rng, date(YEAR, 2, 1), date(YEAR, 5, 31))
        planned_end = min(planned_start + timedelta(days=rng.randint(90, 270)), date(YEAR, 12, 31))
        dates = dict.fromkeys(
            (
                "reviewed_on",
                "approved_on",
                "tendering_on",
                "started_on",
                "completed_on",
                "accepted_on",
                "handed_over_on",
                "cancelled_on",
            )
        )
        proposed_on = _day(rng, date(YEAR - 1, 9, 1), date(YEAR - 1, 11, 15))
        step = LIFECYCLE.index(status) if status != "cancelled" else rng.randint(1, 4)
        day = proposed_on
        if step >= 1:
            day = dates["reviewed_on"] = day + timedelta(days=rng.randint(10, 40))
        if step >= 2:
            day = dates["approved_on"] = _day(rng, date(YEAR, 1, 5), date(YEAR, 3, 20))
        if step >= 3:
            day = dates["tendering_on"] = min(day + timedelta(days=rng.randint(5, 20)), LAST_DAY)
        if step >= 4:
            day = dates["started_on"] = min(day + timedelta(days=rng.randint(5, 90)), LAST_DAY)
        if step >= 5:
            day = dates["completed_on"] = min(day + timedelta(days=rng.randint(45, 200)), LAST_DAY)
        if step >= 6:
            day = dates["accepted_on"] = min(day + timedelta(days=rng.randint(5, 20)), LAST_DAY)
        if step >= 7:
            day = dates["handed_over_on"] = min(day + timedelta(days=rng.randint(3, 15)), LAST_DAY)
        if status == "cancelled":
            dates["cancelled_on"] = min(day + timedelta(days=rng.randint(10, 60)), LAST_DAY)
        name = f"{PROJECT_MARK}{i + 1:05d}"
        history = json.dumps([{"status": "proposed", "on": proposed_on.isoformat(), "by": None}])
        targets = json.dumps(
            [{"indicator": "带动脱贫户增收", "target": str(rng.randint(10, 200)), "unit": "户"}], ensure_ascii=False
        )
        projects.append(
            _line(
                project_id,
                YEAR,
                name,
                category,
                village,
                f"{village[-3:]}组",
                "县农业农村局",
                "建设内容及规模",
                _cents(budget),
                targets,
                "务工带动、入股分红",
                planned_start,
                planned_end,
                status,
                proposed_on,
                dates["reviewed_on"],
                dates["approved_on"],
                dates["tendering_on"],
                dates["started_on"],
                dates["completed_on"],
                dates["accepted_on"],
                dates["handed_over_on"],
                dates["cancelled_on"],
                "调整" if status == "cancelled" else None,
                history,
                1,
            )
        )
        mine = []
        if status in ALLOCATED and dates["approved_on"] is not None:
            county_funds = funds[county]
            k = rng.choice((1, 1, 2, 2, 3))
            chosen = []
            if category == "work_relief":
                chosen.append(rng.choice([f for f in county_funds if f["kind"] == "work_relief"]))
            while len(chosen) < k:
                f = rng.choice([f for f in county_funds if f["kind"] == "transition"] * 3 + county_funds)
                if f not in chosen:
                    chosen.append(f)
            for f, amount in zip(chosen, _split(rng, budget, len(chosen)), strict=True):
                f["allocated"] += amount
                allocations.append(
                    _line(allocation_id, f["id"], project_id, village, _cents(amount), dates["approved_on"], None, None)
                )
                mine.append((f["id"], amount))
                allocation_id += 1
        by_project[project_id] = (status, category, village, dates, mine)
        project_id += 1

    fund_rows = []
    for county, county_funds in funds.items():
        for f in county_funds:
            amount = int(f["allocated"] * rng.uniform(1.05, 1.3)) + 10_000_000
            fund_rows.append(
                _line(
                    f["id"],
                    YEAR,
                    f["level"],
                    f["kind"],
                    f"{FUND_MARK}{f['level']}-{f['kind']}资金",
                    f"基准文〔{YEAR}〕{f['id']}号",
                    county,
                    _cents(amount),
                    _day(rng, date(YEAR, 1, 2), date(YEAR, 3, 31)),
                    None,
                    None,
                    1,
                )
            )

    # Disbursements: spread over projects that started and have money.
    paying = [pid for pid, (status, _c, _v, _d, mine) in by_project.items() if status in PAID and mine]
    per_project: dict[int, int] = {}
    for _ in range(n_disbursements):
        pid = paying[rng.randrange(len(paying))]
        per_project[pid] = per_project.get(pid, 0) + 1
    disbursements = []
    disbursement_id = ids["fund_disbursements"]
    for pid, count in per_project.items():
        status, category, village, dates, mine = by_project[pid]
        spent = {"started": (0.2, 0.7), "completed": (0.6, 0.95)}.get(status, (0.85, 1.0))
        slots: dict[int, int] = {}
        for _ in range(count):
            which = rng.randrange(len(mine))
            slots[which] = slots.get(which, 0) + 1
        end = dates["completed_on"] or LAST_DAY
        for which, m in slots.items():
            fund, allocated = mine[which]
            for amount in _split(rng, max(m, int(allocated * rng.uniform(*spent))), m):
                item = _pick(rng, RELIEF_ITEMS if category == "work_relief" else ITEMS)
                started_on = dates["started_on"]
                assert started_on is not None  # only started projects are paid
                paid_on = _day(rng, started_on, end)
                disbursements.append(
                    _line(
                        disbursement_id,
                        fund,
                        pid,
                        village,
                        _cents(amount),
                        paid_on,
                        f"记-{disbursement_id}",
                        item,
                        "某建设有限公司",
                        None,
                        "f",
                        None,
                    )
                )
                disbursement_id += 1

    # Assets of accepted projects.
    accepted = [pid for pid, (status, *_rest) in by_project.items() if status in ASSETS_OF]
    assets = []
    asset_id = ids["project_assets"]
    for i in range(n_assets if accepted else 0):
        pid = accepted[rng.randrange(len(accepted))]
        status, category, village, dates, _mine = by_project[pid]
        asset_class = rng.choices(("operating", "public_welfare", "household"), weights=(35, 45, 20))[0]
        accepted_on = dates["accepted_on"]
        assert accepted_on is not None  # an accepted project
        handover = dates["handed_over_on"] or min(accepted_on + timedelta(days=10), LAST_DAY)
        custodian = None if asset_class == "public_welfare" and rng.random() < 0.05 else f"{village[-6:]}村委会"
        asset_status = rng.choices(("in_use", "idle", "damaged"), weights=(90, 7, 3))[0]
        last_income = _day(rng, handover, LAST_DAY) if asset_class == "operating" and rng.random() < 0.8 else None
        assets.append(
            _line(
                asset_id,
                pid,
                village,
                f"{ASSET_MARK}{i + 1:05d}",
                asset_class,
                _cents(rng.randint(10_000, 500_000) * 100),
                f"{village[-6:]}股份经济合作社",
                custodian,
                None,
                handover,
                asset_status,
                None,
                None,
                None,
                None,
                last_income,
                None,
                None,
                1,
            )
        )
        asset_id += 1

    return {
        "funds": (
            (
                "id",
                "year",
                "level",
                "kind",
                "name",
                "document_ref",
                "region_code",
                "amount",
                "received_on",
                "note",
                "created_by",
                "version",
            ),
            fund_rows,
        ),
        "projects": (
            (
                "id",
                "year",
                "name",
                "category",
                "region_code",
                "location",
                "implementing_unit",
                "content",
                "budget",
                "performance_targets",
                "farmer_links",
                "planned_start",
                "planned_end",
                "status",
                "proposed_on",
                "reviewed_on",
                "approved_on",
                "tendering_on",
                "started_on",
                "completed_on",
                "accepted_on",
                "handed_over_on",
                "cancelled_on",
                "cancel_reason",
                "history",
                "version",
            ),
            projects,
        ),
        "fund_allocations": (
            ("id", "fund_id", "project_id", "region_code", "amount", "allocated_on", "note", "created_by"),
            allocations,
        ),
        "fund_disbursements": (
            (
                "id",
                "fund_id",
                "project_id",
                "region_code",
                "amount",
                "paid_on",
                "voucher_ref",
                "item",
                "payee",
                "note",
                "imported",
                "created_by",
            ),
            disbursements,
        ),
        "project_assets": (
            (
                "id",
                "project_id",
                "region_code",
                "name",
                "asset_class",
                "value",
                "owner",
                "custodian",
                "household_id",
                "handover_on",
                "status",
                "disposal_method",
                "disposal_reason",
                "disposal_approval",
                "disposed_on",
                "last_income_on",
                "note",
                "created_by",
                "version",
            ),
            assets,
        ),
    }


async def ensure_data(url: str, settings, scale: float) -> dict:
    """Regions and the bench rows; generated when the wanted number of projects is not there."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        counties = await ensure_regions(conn, url, settings)
        wanted = max(1, round(PROJECTS * scale))
        have = await bench_counts(conn)
        if have["projects"] == wanted:
            print(f"funds data: {have['projects']:,} bench projects already generated (scale {scale:g})", flush=True)
            return {"counties": len(counties), **have}
        started = time.perf_counter()
        print(
            f"funds data: {have['projects']:,} bench projects, {wanted:,} wanted: generating over "
            f"{len(counties)} counties ...",
            flush=True,
        )
        await delete_bench_rows(conn)
        ids = {
            table: await conn.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
            for table in ("funds", "projects", "fund_allocations", "fund_disbursements", "project_assets")
        }
        tables = generate(counties, scale, ids)
        print(
            f"  rows built in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{t} {len(rows):,}" for t, (_c, rows) in tables.items()),
            flush=True,
        )
        from services.core.events.triggers import trigger_names

        async with conn.transaction():
            # Bench data, not news: no event per row (services.core.events.triggers).
            switched = [(table, name) for table in tables for name in trigger_names(table)]
            for table, name in switched:
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
            for table, (columns, rows) in tables.items():
                if rows:
                    data = "".join(rows).encode()
                    # asyncpg takes any buffer (Connection._copy_in); its stubs name only paths, files
                    # and async iterables.
                    await conn.copy_to_table(
                        table,
                        source=memoryview(data),  # type: ignore[arg-type]
                        columns=list(columns),
                        format="text",
                    )
            for table, name in switched:
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
            for table in tables:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        await conn.execute(
            "ANALYZE regions, funds, projects, fund_allocations, fund_disbursements, project_assets, fund_project_totals"
        )
        print(f"  copied and analysed in {time.perf_counter() - started:.1f} s", flush=True)
        return {"counties": len(counties), **await bench_counts(conn)}
    finally:
        await conn.close()


# ---- measuring ---------------------------------------------------------------------------


def summary(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"runs": len(ordered), "p50_ms": statistics.median(ordered), "p95_ms": p95, "max_ms": ordered[-1]}


async def timed(call, runs: int) -> dict:
    for _ in range(WARMUPS):
        await call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return summary(times)


async def measure(url: str, settings, runs: int, compute=None) -> tuple[list[dict], dict]:
    """The scenarios' figures. ``compute`` defaults to the real indicator set (a stub can be
    given to test the harness)."""
    import asyncpg
    import httpx

    from services.api.app import create_app
    from services.core.db import Database, create_engine
    from services.core.scope import bind_scope
    from services.core.settings import RateLimitSettings
    from services.core.timeutil import today

    if compute is None:
        from services.core.funds.indicators import compute
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        county_row = await conn.fetchrow(
            "SELECT substr(region_code, 1, 6) AS county, count(*) AS projects FROM projects WHERE year = $1 "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
            YEAR,
        )
        facts = {
            "province_projects": await conn.fetchval(
                "SELECT count(*) FROM projects WHERE year = $1 AND region_code LIKE $2", YEAR, PROVINCE + "%"
            ),
            "postgresql": await conn.fetchval("SHOW server_version"),
        }
    finally:
        await conn.close()
    if county_row is None:
        raise SystemExit(f"no projects of {YEAR} in the bench database")
    county = county_row["county"]
    facts.update(county=county, county_projects=county_row["projects"])
    as_of = min(today(), date(YEAR, 12, 31))
    facts["as_of"] = as_of.isoformat()

    db = Database(create_engine(url, settings, "bench-funds"))
    rows = []
    try:
        ids: dict[str, list[str]] = {}

        def indicators(prefix: str):
            async def call():
                async with db.session(readonly=True) as session:
                    bind_scope(session, prefix)
                    result = await compute(session, prefix, YEAR, as_of)
                # Only the ids are kept: a large result kept alive would slow the
                # collector's passes in the scenarios after it.
                ids.setdefault(prefix, sorted(_ids(result)))

            return call

        for name, prefix, what in (
            ("indicators-county", county, f"indicator set of county {county}"),
            ("indicators-province", PROVINCE, f"indicator set of province {PROVINCE}"),
        ):
            print(f"{name}: {what}, {WARMUPS} warm-ups + {runs} runs ...", flush=True)
            figures = await timed(indicators(prefix), runs)
            rows.append({"scenario": name, "title": what, **figures})

        public_settings = settings.model_copy(
            update={"rate_limits": RateLimitSettings(public_reads_per_minute=1_000_000)}
        )
        app = create_app(public_settings, database=db)
        path = f"/api/v1/public/projects?region={county}&year={YEAR}"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            first = await client.get(path)
            if first.status_code != 200:
                raise SystemExit(f"GET {path} answered {first.status_code}: {first.text[:300]}")
            facts["public_page_items"] = len(first.json()["items"])

            async def public_list():
                r = await client.get(path)
                if r.status_code != 200:
                    raise SystemExit(f"GET {path} answered {r.status_code}")

            print(f"public-list: GET {path} (first page, in process), {WARMUPS} warm-ups + {runs} runs ...", flush=True)
            rows.append(
                {
                    "scenario": "public-list",
                    "title": f"public project list of county {county}, first page",
                    **await timed(public_list, runs),
                }
            )
            for name, prefix in (("public-funds-county", county), ("public-funds-province", PROVINCE)):
                summary_path = f"/api/v1/public/fund-allocations?region={prefix}&year={YEAR}"

                async def fund_summary(summary_path=summary_path):
                    r = await client.get(summary_path)
                    if r.status_code != 200:
                        raise SystemExit(f"GET {summary_path} answered {r.status_code}: {r.text[:300]}")

                print(f"{name}: GET {summary_path} (in process), {WARMUPS} warm-ups + {runs} runs ...", flush=True)
                rows.append(
                    {
                        "scenario": name,
                        "title": f"public fund allocation summary of {prefix}",
                        **await timed(fund_summary, runs),
                    }
                )
        facts["indicator_ids"] = ids.get(county, [])
    finally:
        await db.dispose()
    for row in rows:
        row["pass"] = row["p50_ms"] < TARGET_P50_MS
    return rows, facts


def _ids(result) -> list[str]:
    """Indicator ids in a result of ``compute`` (whatever its exact shape)."""
    if isinstance(result, dict):
        items = result.get("indicators", result)
        if isinstance(items, list):
            return [str(i.get("id")) for i in items if isinstance(i, dict)]
        if isinstance(items, dict):
            return [str(k) for k in items]
    return []


def print_table(rows: list[dict], data: dict, facts: dict, scale: float) -> None:
    print()
    print(
        f"Funds — scale {scale:g}: {data['projects']:,} projects, {data['funds']:,} funds, "
        f"{data['allocations']:,} allocations, {data['disbursements']:,} disbursements, {data['assets']:,} assets "
        f"over {data['counties']} counties; county {facts['county']} has {facts['county_projects']:,} projects of "
        f"{YEAR}, the province {facts['province_projects']:,}; as of {facts['as_of']}; "
        f"PostgreSQL {facts['postgresql']}, {os.cpu_count()} CPUs"
    )
    header = f"{'scenario':<22} {'runs':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target"
    print(header)
    print("-" * (len(header) + 18))
    for row in rows:
        print(
            f"{row['scenario']:<22} {row['runs']:>4} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
            f"{row['max_ms']:>8.1f}  p50 < {TARGET_P50_MS:g} ms {'PASS' if row['pass'] else 'FAIL'}"
        )
    print("-" * (len(header) + 18))
    overall = all(row["pass"] for row in rows)
    print(f"overall: {'PASS' if overall else 'FAIL'}   (figures in {RESULTS.relative_to(ROOT)})")


def run(url: str, settings, scale: float | None = None, runs: int = 20, compute=None) -> dict:
    """Generate (once) and measure; prints the table and writes ``RESULTS``."""
    scale = scale_of(scale)
    data = asyncio.run(ensure_data(url, settings, scale))
    rows, facts = asyncio.run(measure(url, settings, runs, compute))
    print_table(rows, data, facts, scale)
    out = {
        "meta": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "scale": scale,
            "year": YEAR,
            "target_p50_ms": TARGET_P50_MS,
            "warmups": WARMUPS,
            "cpus": os.cpu_count(),
            **data,
            **facts,
        },
        "scenarios": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return out
