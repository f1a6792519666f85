"""The funds benchmark's generated data obeys the rules the API would enforce (money within
what was allocated, dates in lifecycle order, allocations only from approval on), and its
figures are computed right. No database: the generator's COPY text is parsed back."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from benchmarks import funds as bench

COUNTIES = [(f"5281{c:02d}000000", [f"5281{c:02d}001{v:03d}" for v in range(1, 6)]) for c in range(1, 5)]
IDS = {"funds": 1, "projects": 100, "fund_allocations": 1000, "fund_disbursements": 1, "project_assets": 1}


def _rows(tables, name):
    columns, lines = tables[name]
    return [
        dict(zip(columns, [None if v == "\\N" else v for v in line.rstrip("\n").split("\t")], strict=True))
        for line in lines
    ]


def _day(value):
    return None if value is None else date.fromisoformat(value)


def test_generated_rows_are_consistent():
    scale = 0.01
    tables = bench.generate(COUNTIES, scale, IDS)
    projects = {int(p["id"]): p for p in _rows(tables, "projects")}
    allocations = _rows(tables, "fund_allocations")
    disbursements = _rows(tables, "fund_disbursements")
    assets = _rows(tables, "project_assets")
    fund_rows = {int(f["id"]): f for f in _rows(tables, "funds")}
    assert len(projects) == 200 and len(disbursements) == 2000 and len(assets) == 500
    assert len(fund_rows) == 10 * len(COUNTIES)
    assert all(p["name"].startswith(bench.PROJECT_MARK) for p in projects.values())

    allocated = defaultdict(Decimal)
    per_fund = defaultdict(Decimal)
    for a in allocations:
        p = projects[int(a["project_id"])]
        assert p["status"] in bench.ALLOCATED and p["approved_on"] is not None
        assert a["region_code"] == p["region_code"]
        assert fund_rows[int(a["fund_id"])]["region_code"][:6] == p["region_code"][:6]  # the project's county
        allocated[(int(a["project_id"]), int(a["fund_id"]))] += Decimal(a["amount"])
        per_fund[int(a["fund_id"])] += Decimal(a["amount"])
    for fund_id, given in per_fund.items():
        assert Decimal(fund_rows[fund_id]["amount"]) > given

    paid = defaultdict(Decimal)
    for d in disbursements:
        p = projects[int(d["project_id"])]
        assert p["status"] in bench.PAID
        assert _day(p["started_on"]) <= _day(d["paid_on"]) <= bench.LAST_DAY
        assert Decimal(d["amount"]) > 0
        paid[(int(d["project_id"]), int(d["fund_id"]))] += Decimal(d["amount"])
    for key, amount in paid.items():
        assert amount <= allocated[key], key

    for p in projects.values():
        assert _day(p["planned_start"]) <= _day(p["planned_end"])
        steps = [
            _day(p[f])
            for f in (
                "proposed_on",
                "reviewed_on",
                "approved_on",
                "tendering_on",
                "started_on",
                "completed_on",
                "accepted_on",
                "handed_over_on",
            )
            if p[f] is not None
        ]
        assert steps == sorted(steps), p
        if p["status"] == "proposed":
            assert p["reviewed_on"] is None
    for a in assets:
        assert projects[int(a["project_id"])]["status"] in bench.ASSETS_OF


def test_generation_is_repeatable():
    assert bench.generate(COUNTIES, 0.005, IDS) == bench.generate(COUNTIES, 0.005, IDS)


def test_summary_figures():
    figures = bench.summary([float(i) for i in range(1, 21)])
    assert figures == {"runs": 20, "p50_ms": 10.5, "p95_ms": 19.0, "max_ms": 20.0}


async def test_harness_times_a_stub():
    calls = []

    async def stub():
        calls.append(1)

    figures = await bench.timed(stub, 5)
    assert len(calls) == 5 + bench.WARMUPS and figures["runs"] == 5
