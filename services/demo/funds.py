"""The demo county's fund year: funds of every level and kind, two projects per village at
the lifecycle step their dates have reached by today, allocations, payments, beneficiary
households, the assets of accepted projects and their income shared with households.

Deterministic for a seed and a day, and consistent with the rules the API enforces (no fund
overspent, no payment before its allocation, steps in order and never in the future), so
the compliance indicators, the public pages and the asset checks have something true to
show. Written after the registry (beneficiaries are its households); the funds tables are
emptied first, the funds policy's overrides are kept."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.core.events.triggers import trigger_names
from services.core.funds.enums import DATE_OF, LIFECYCLE, ProjectCategory, ProjectStatus

TABLES = (
    "funds",
    "projects",
    "fund_allocations",
    "fund_disbursements",
    "project_beneficiaries",
    "project_assets",
    "asset_incomes",
    "asset_income_shares",
    "fund_findings",
)

# (level, kind, name, yuan, month and day received)
FUNDS = (
    ("central", "transition", "中央财政衔接推进乡村振兴补助资金", 12_000_000, (1, 15)),
    ("provincial", "transition", "省级财政衔接推进乡村振兴补助资金", 5_000_000, (2, 10)),
    ("city", "transition", "市级财政衔接资金", 1_500_000, (3, 1)),
    ("county", "transition", "县级财政衔接资金", 2_000_000, (3, 10)),
    ("central", "work_relief", "中央以工代赈专项资金", 1_800_000, (3, 20)),
    ("provincial", "east_west", "东西部协作财政援助资金", 3_000_000, (4, 10)),
)
# Which funds pay for which category, in order of preference.
SOURCES = {
    "industry": ("central/transition", "provincial/transition", "east_west"),
    "work_relief": ("work_relief", "provincial/transition"),
}
OTHER_SOURCES = ("county/transition", "city/transition", "east_west", "central/transition")
CATEGORIES = (
    (ProjectCategory.industry, 45),
    (ProjectCategory.infrastructure, 18),
    (ProjectCategory.village_construction, 10),
    (ProjectCategory.work_relief, 12),
    (ProjectCategory.employment, 5),
    (ProjectCategory.microcredit_interest, 5),
    (ProjectCategory.education_subsidy, 5),
)
NAMES = {
    "industry": ("茶叶种植基地", "食用菌大棚", "生猪养殖场", "中药材种植", "农产品冷链仓储"),
    "infrastructure": ("通组路硬化", "产业路建设", "人饮管网改造"),
    "village_construction": ("村庄人居环境整治", "村级活动场所改造"),
    "work_relief": ("以工代赈灌溉渠", "以工代赈机耕道"),
    "employment": ("劳动力技能培训",),
    "microcredit_interest": ("小额信贷贴息",),
    "education_subsidy": ("雨露计划补助",),
}
# Days after 1 January at which each step of core's lifecycle is usually taken (a spread is added).
STEP_DAY = {
    ProjectStatus.proposed: 10,
    ProjectStatus.reviewed: 35,
    ProjectStatus.approved: 55,
    ProjectStatus.tendering: 75,
    ProjectStatus.started: 100,
    ProjectStatus.completed: 230,
    ProjectStatus.accepted: 260,
    ProjectStatus.handed_over: 285,
}
if tuple(STEP_DAY) != LIFECYCLE:
    raise RuntimeError("the demo's projects need a day for every step of the lifecycle, in its order")


@dataclass
class Built:
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def add(self, table: str, row: tuple) -> int:
        self.rows[table].append(row)
        return len(self.rows[table])  # ids are 1, 2, … in each table (RESTART IDENTITY)


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, -2))).quantize(Decimal("0.01"))


def build(
    villages: list[str], households: dict[str, list[tuple[int, str]]], county: str, today: date, seed: int = 2026
) -> Built:
    """The rows, in memory: ``households`` are (id, category) per village."""
    r = random.Random(seed)
    year = today.year
    start = date(year, 1, 1)
    out = Built()

    def day(offset: int) -> date:
        return start + timedelta(days=offset)

    funds: dict[str, list] = {}
    for level, kind, name, amount, (month, dd) in FUNDS:
        received = date(year, month, dd)
        if received > today:
            continue
        fid = out.add(
            "funds",
            (
                year,
                level,
                kind,
                f"{year}年{name}",
                f"清财农〔{year}〕{len(funds) + 1}号",
                f"{county}000000",
                Decimal(amount).quantize(Decimal("0.01")),
                received,
            ),
        )
        funds[f"{level}/{kind}"] = [fid, Decimal(amount), received, kind]
    funds_by = {
        **funds,
        **{
            key.split("/")[1]: value
            for key, value in funds.items()
            if key.split("/")[1] in ("work_relief", "east_west")
        },
    }

    categories = [c for c, w in CATEGORIES for _ in range(w)]
    for village in villages:
        for _n in range(2):
            category = r.choice(categories)
            budget = _money(r.uniform(80_000, 600_000) if category != "employment" else r.uniform(30_000, 90_000))
            spread = r.randint(-5, 12)
            days = {
                s: day(STEP_DAY[s] + spread + (r.randint(0, 40) if s != "proposed" else 0) * (i > 3))
                for i, s in enumerate(STEP_DAY)
            }
            # Each step follows the previous one; some projects stop early, a few are cancelled.
            stop = r.choices(range(len(LIFECYCLE)), weights=(2, 4, 8, 6, 12, 18, 25, 25))[0]
            taken: dict[str, date] = {}  # day of each step reached, by status
            for i, step in enumerate(LIFECYCLE):
                on = max(days[step], *(taken.values() or [start]))
                if i > stop or on > today:
                    break
                taken[step.value] = on
            status = list(taken)[-1]
            cancelled = None
            if status in ("reviewed", "approved") and r.random() < 0.08 and taken[status] + timedelta(days=20) <= today:
                cancelled = taken[status] + timedelta(days=20)
            name = f"{r.choice(NAMES[category.value])}（{village[-3:]}）"
            planned_start = day(STEP_DAY[ProjectStatus.started] + spread)
            planned_end = min(day(STEP_DAY[ProjectStatus.completed] + spread + 20), date(year, 12, 31))
            history = [
                {"status": s, "on": d.isoformat(), "by": None, "at": None, "note": "演示数据"} for s, d in taken.items()
            ]
            if cancelled:
                history.append(
                    {"status": "cancelled", "on": cancelled.isoformat(), "by": None, "at": None, "note": "选址调整"}
                )
            pid = out.add(
                "projects",
                (
                    year,
                    name,
                    category.value,
                    village,
                    f"{village[-3:]}组",
                    "县农业农村局"
                    if category == "industry"
                    else "县交通运输局"
                    if category == "infrastructure"
                    else "乡镇人民政府",
                    f"{name}，计划投资 {budget} 元",
                    budget,
                    [{"indicator": "带动脱贫户、监测户", "target": str(r.randint(10, 60)), "unit": "户"}],
                    "务工就业、土地流转、入股分红",
                    planned_start,
                    planned_end,
                    "cancelled" if cancelled else status,
                    *(taken.get(s.value) for s in LIFECYCLE),
                    cancelled,
                    "选址调整" if cancelled else None,
                    history,
                ),
            )
            if "reviewed" not in taken:
                continue
            # Money from the funds this category draws on, while they have it.
            on = max(taken.get("approved", taken["reviewed"]), max(f[2] for f in funds.values()) if funds else start)
            on = min(on, today)
            allocated = []
            remaining = budget
            for key in SOURCES.get(category.value, OTHER_SOURCES):
                fund = funds_by.get(key)
                if fund is None or fund[2] > on or remaining <= 0:
                    continue
                amount = min(remaining, fund[1], _money(float(budget) * r.uniform(0.5, 1.0)))
                if amount <= 0:
                    continue
                fund[1] -= amount
                remaining -= amount
                out.add("fund_allocations", (fund[0], pid, village, amount, on))
                allocated.append((fund, amount))
            if "started" not in taken or cancelled:
                continue
            # Payments from the start to completion (or today), not all of the money.
            end = max(min(taken.get("completed", today) + timedelta(days=30), today), on)
            for fund, amount in allocated:
                left = amount * Decimal(str(round(r.uniform(0.45, 0.95), 2)))
                parts = r.randint(2, 4)
                for k in range(parts):
                    paid = _money(float(left) / parts)
                    if paid <= 0:
                        continue
                    first = max(taken["started"], on)
                    when = first + timedelta(days=int((end - first).days * (k + 1) / parts))
                    item = (
                        "labour_pay"
                        if category == "work_relief" and k == 0
                        else "management_fee"
                        if k == parts - 1 and r.random() < 0.2
                        else r.choice(("construction", "materials"))
                    )
                    if item == "management_fee":
                        paid = max(_money(float(amount) * r.uniform(0.004, 0.015)), Decimal("100.00"))
                    out.add(
                        "fund_disbursements",
                        (fund[0], pid, village, paid, when, f"记-{pid:04d}-{k + 1}", item, "实施单位"),
                    )
            # Households it benefits; labour pay for work-relief projects.
            pool = households.get(village, [])
            for hid, _category in r.sample(pool, min(len(pool), r.randint(5, 15))):
                labour = category == "work_relief"
                days_worked = r.randint(10, 40) if labour else 0
                out.add(
                    "project_beneficiaries",
                    (
                        pid,
                        hid,
                        village,
                        "以工代赈务工" if labour else "务工、分红",
                        _money(r.uniform(500, 5000)),
                        days_worked,
                        _money(days_worked * 120) if labour else Decimal("0.00"),
                    ),
                )
            if "accepted" not in taken:
                continue
            # Its asset, handed to the village; operating ones earn income shared with households.
            asset_class = (
                "operating"
                if category == "industry"
                else "public_welfare"
                if category in ("infrastructure", "village_construction", "work_relief")
                else None
            )
            if asset_class is None:
                continue
            handover = taken.get("handed_over", taken["accepted"])
            custodian = None if r.random() < 0.1 else f"{village[-3:]}村民委员会"
            aid = out.add(
                "project_assets",
                (
                    pid,
                    village,
                    f"{name}资产",
                    asset_class,
                    sum(a for _, a in allocated),
                    f"{village[-3:]}村股份经济合作社",
                    custodian,
                    handover,
                ),
            )
            if asset_class == "operating" and r.random() < 0.8:
                received = handover + timedelta(days=r.randint(20, 60))
                if received <= today and pool:
                    income = _money(r.uniform(8_000, 40_000))
                    priority = [h for h in pool if h[1] in ("lifted_out", "monitored")] or pool
                    chosen = r.sample(priority, min(len(priority), 8))
                    each = _money(float(income) * 0.6 / len(chosen))
                    iid = out.add(
                        "asset_incomes",
                        (
                            aid,
                            village,
                            received,
                            income,
                            each * len(chosen),
                            sum((each for h in chosen if h[1] in ("lifted_out", "monitored")), Decimal("0.00")),
                        ),
                    )
                    for hid, cat in chosen:
                        out.add("asset_income_shares", (iid, hid, village, cat, each))
                    out.rows["project_assets"][-1] = (*out.rows["project_assets"][-1], received)
            if len(out.rows["project_assets"][-1]) == 8:
                out.rows["project_assets"][-1] = (*out.rows["project_assets"][-1], None)
    return out


COLUMNS = {
    "funds": ("year", "level", "kind", "name", "document_ref", "region_code", "amount", "received_on"),
    "projects": (
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
        *(DATE_OF[s] for s in LIFECYCLE),  # the day each step was taken, as core stores it
        DATE_OF[ProjectStatus.cancelled],
        "cancel_reason",
        "history",
    ),
    "fund_allocations": ("fund_id", "project_id", "region_code", "amount", "allocated_on"),
    "fund_disbursements": ("fund_id", "project_id", "region_code", "amount", "paid_on", "voucher_ref", "item", "payee"),
    "project_beneficiaries": (
        "project_id",
        "household_id",
        "region_code",
        "benefit",
        "amount",
        "labour_days",
        "labour_pay",
    ),
    "project_assets": (
        "project_id",
        "region_code",
        "name",
        "asset_class",
        "value",
        "owner",
        "custodian",
        "handover_on",
        "last_income_on",
    ),
    "asset_incomes": ("asset_id", "region_code", "received_on", "amount", "distributed", "priority_distributed"),
    "asset_income_shares": ("income_id", "household_id", "region_code", "category", "amount"),
}


# Columns the ORM fills in on its side (its defaults are not the database's).
CONSTANTS: dict[str, dict[str, Any]] = {
    "funds": {"version": 1},
    "projects": {"version": 1},
    "project_assets": {"status": "in_use", "version": 1},
    "fund_disbursements": {"imported": False},
}


async def load_funds(conn: asyncpg.Connection, county: str, today: date, seed: int = 2026) -> dict[str, int]:
    """Replace the funds, projects and assets with the demo county's fund year."""
    villages = [
        row["code"]
        for row in await conn.fetch(
            "SELECT code FROM regions WHERE level = 5 AND code LIKE $1 ORDER BY code", f"{county}%"
        )
    ]
    households: dict[str, list[tuple[int, str]]] = {}
    for row in await conn.fetch(
        "SELECT id, region_code, category FROM households WHERE status = 'active' AND region_code LIKE $1 ORDER BY id",
        f"{county}%",
    ):
        households.setdefault(row["region_code"], []).append((row["id"], row["category"]))
    built = build(villages, households, county, today, seed)
    # The demo's fund year is history, not news: no event per row (services.core.events).
    switched = [(table, name) for table in TABLES for name in trigger_names(table)]
    async with conn.transaction():
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
        for table, name in switched:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        for table, columns in COLUMNS.items():
            rows = built.rows[table]
            if table == "projects":
                rows = [
                    (
                        *row[:8],
                        json.dumps(row[8], ensure_ascii=False),
                        *row[9:23],
                        json.dumps(row[23], ensure_ascii=False),
                    )
                    for row in rows
                ]
            constants = CONSTANTS.get(table, {})
            if rows:
                await conn.copy_records_to_table(
                    table, records=[(*row, *constants.values()) for row in rows], columns=(*columns, *constants)
                )
        for table, name in switched:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
    return {table: len(built.rows[table]) for table in COLUMNS}
