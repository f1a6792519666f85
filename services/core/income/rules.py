"""Income arithmetic (docs/domain.md "Income"): plain functions, no I/O.

Net income = wages + business + property + transfers − production costs (and, where the
province counts it, − eligible out-of-pocket spending 合规自付支出). Per-capita net income
(人均纯收入) = net income ÷ household members. All in Decimal yuan, rounded half-up to fen.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
PARTS = ("wages", "business", "property", "transfers")

# Detail items (明细) allowed under each part, as the national system records them.
DETAIL_ITEMS: dict[str, tuple[str, ...]] = {
    "wages": ("local_wages", "migrant_wages", "public_welfare_post_pay"),  # 务工, 公益岗位工资
    "business": ("planting", "breeding", "other_business"),  # 种植, 养殖
    "property": ("asset_dividends", "land_rent", "other_property"),  # 资产收益分红, 土地流转
    "transfers": ("pensions", "dibao", "tekun", "eco_compensation", "awards", "other_transfers"),
    # 养老金, 低保金, 特困供养金, 生态补偿金, 产业/就业奖补
}


def yuan(value: Decimal | int | str) -> Decimal:
    """An amount in yuan (元), rounded half up to the fen (分)."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """A quarter's or year's income parts: wages (工资性收入), production and business
    (生产经营性收入), property (财产性收入), transfers (转移性收入), production costs
    (生产经营费用支出) and eligible out-of-pocket spending (合规自付支出)."""

    wages: Decimal
    business: Decimal
    property: Decimal
    transfers: Decimal
    production_costs: Decimal
    eligible_spending: Decimal

    @builtins.property  # ``property`` is a member here
    def gross(self) -> Decimal:
        return self.wages + self.business + self.property + self.transfers


def net_income(f: Figures, *, deduct_eligible_spending: bool) -> Decimal:
    """Net income (纯收入): the four parts less production costs, and less eligible
    out-of-pocket spending (合规自付支出) where the province counts it
    (``deduct_eligible_spending``)."""
    net = f.gross - f.production_costs
    if deduct_eligible_spending:
        net -= f.eligible_spending
    return yuan(net)


def per_capita(net: Decimal, members: int) -> Decimal:
    """Per-capita net income (人均纯收入): net income divided by the household's members
    (家庭人口); what the monitoring line (监测标准) is compared with."""
    if members <= 0:
        raise ValueError("per-capita income needs at least one member")
    return yuan(net / members)


def detail_problems(
    parts: Mapping[str, Decimal], details: Mapping[str, Mapping[str, Decimal]]
) -> list[tuple[str, str, dict]]:
    """(field, code, params) for each unknown item or part whose items exceed it: the detail
    items (收入明细, ``DETAIL_ITEMS``) of each part add up to at most the part."""
    problems: list[tuple[str, str, dict]] = []
    for part, items in details.items():
        if part not in DETAIL_ITEMS:
            problems.append((f"details.{part}", "income_detail_unknown", {"item": part, "part": "details"}))
            continue
        for item in items:
            if item not in DETAIL_ITEMS[part]:
                problems.append((f"details.{part}.{item}", "income_detail_unknown", {"item": item, "part": part}))
        total = sum(items.values(), Decimal("0"))
        if total > parts[part]:
            problems.append(
                (
                    f"details.{part}",
                    "income_details_exceed_part",
                    {"part": part, "total": str(yuan(total)), "amount": str(parts[part])},
                )
            )
    return problems


@dataclass(frozen=True)
class YearTotals:
    """A year's income (年度收入): quarters recorded, summed parts, members, net income
    (纯收入) and per-capita net income (人均纯收入)."""

    quarters: int
    figures: Figures
    member_count: int
    net_income: Decimal
    per_capita_net: Decimal


def year_totals(quarters: Iterable[tuple[int, Figures, int, Decimal]]) -> YearTotals:
    """Sum the recorded quarters (quarter, figures, member_count, net). Household size is the
    latest quarter's, as the income is shared by the people living there now (年度收入 from
    the quarterly collection 按季度采集)."""
    rows = sorted(quarters, key=lambda q: q[0])
    if not rows:
        raise ValueError("no quarters")
    zero = Decimal("0")
    sums = {
        name: sum((getattr(r[1], name) for r in rows), zero)
        for name in ("wages", "business", "property", "transfers", "production_costs", "eligible_spending")
    }
    members = rows[-1][2]
    net = yuan(sum((r[3] for r in rows), zero))
    return YearTotals(len(rows), Figures(**sums), members, net, per_capita(net, members))
