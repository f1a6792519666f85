"""The demo fund year keeps the rules the API enforces."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from services.core.funds.enums import LIFECYCLE
from services.demo.funds import COLUMNS, build

VILLAGES = [f"529901001{n:03d}" for n in range(1, 21)]
HOUSEHOLDS = {
    v: [(i * 100 + k, "lifted_out" if k % 3 else "ordinary") for k in range(30)] for i, v in enumerate(VILLAGES)
}


def _table(built, name):
    return [dict(zip(COLUMNS.get(name, ()) or range(99), row, strict=False)) for row in built.rows[name]]


@pytest.mark.parametrize("today", [date(2026, 2, 1), date(2026, 6, 30), date(2026, 12, 2)])
def test_the_demo_year_keeps_the_rules(today):
    built = build(VILLAGES, HOUSEHOLDS, "529901", today)
    funds = _table(built, "funds")
    projects = _table(built, "projects")
    allocations = _table(built, "fund_allocations")
    payments = _table(built, "fund_disbursements")
    assert funds and projects
    assert all(f["received_on"] <= today for f in funds)
    allocated = defaultdict(Decimal)
    for a in allocations:
        fund = funds[a["fund_id"] - 1]
        assert fund["received_on"] <= a["allocated_on"] <= today
        allocated[a["fund_id"]] += a["amount"]
        assert projects[a["project_id"] - 1]["reviewed_on"] is not None
    assert all(allocated[i + 1] <= f["amount"] for i, f in enumerate(funds))
    paid = defaultdict(Decimal)
    for p in payments:
        given = [a for a in allocations if (a["fund_id"], a["project_id"]) == (p["fund_id"], p["project_id"])]
        assert given and min(a["allocated_on"] for a in given) <= p["paid_on"] <= today
        paid[(p["fund_id"], p["project_id"])] += p["amount"]
        assert p["amount"] > 0
    for (fund_id, project_id), amount in paid.items():
        assert amount <= sum(
            a["amount"] for a in allocations if (a["fund_id"], a["project_id"]) == (fund_id, project_id)
        )
    steps = [s.value for s in LIFECYCLE]
    for p in projects:
        days = [p[f"{s}_on"] for s in steps if p[f"{s}_on"] is not None]
        assert days == sorted(days) and all(d <= today for d in days)
        assert len(days) == steps.index(p["status"]) + 1 if p["status"] != "cancelled" else days
    assets = _table(built, "project_assets")
    for a in assets:
        assert projects[a["project_id"] - 1]["accepted_on"] <= a["handover_on"] <= today
    if today.month == 12:
        assert assets and _table(built, "asset_incomes")


def test_the_same_seed_and_day_give_the_same_year():
    a = build(VILLAGES, HOUSEHOLDS, "529901", date(2026, 9, 1))
    b = build(VILLAGES, HOUSEHOLDS, "529901", date(2026, 9, 1))
    assert a.rows == b.rows
