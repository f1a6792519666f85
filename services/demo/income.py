"""Income of the demo households: the detail items and the parts they belong to, how a
year's amount is paid over its quarters, money as integer fen, and the demo province's
monitoring income line.

The parts and their detail items are core's (``services.core.income.rules``): the demo
records exactly what the income rules accept, in the same order.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.core.income.rules import DETAIL_ITEMS, PARTS

# Detail items, in part order, and the part (index into ``PARTS``) of each: core's lists.
ITEMS = tuple(item for part in PARTS for item in DETAIL_ITEMS[part])
PART_OF_ITEM = tuple(index for index, part in enumerate(PARTS) for _ in DETAIL_ITEMS[part])
# Positions in ``ITEMS`` of the items the generator pays (by name: core's order rules).
LOCAL_WAGES = ITEMS.index("local_wages")
MIGRANT_WAGES = ITEMS.index("migrant_wages")
PWP_PAY = ITEMS.index("public_welfare_post_pay")
PLANTING = ITEMS.index("planting")
BREEDING = ITEMS.index("breeding")
OTHER_BUSINESS = ITEMS.index("other_business")
DIVIDENDS = ITEMS.index("asset_dividends")
LAND_RENT = ITEMS.index("land_rent")
OTHER_PROPERTY = ITEMS.index("other_property")
PENSIONS = ITEMS.index("pensions")
DIBAO = ITEMS.index("dibao")
TEKUN = ITEMS.index("tekun")
ECO = ITEMS.index("eco_compensation")
AWARDS = ITEMS.index("awards")
OTHER_TRANSFERS = ITEMS.index("other_transfers")
# Share of the year's amount paid in each quarter (per mille): migrant workers come home for
# the Spring Festival, harvests come in Q3/Q4, pigs are sold before the festival, land rent
# is paid once a year, dividends at the end of the year. Every item of core's list needs one.
_SHARES = {
    "local_wages": (250, 250, 250, 250),
    "migrant_wages": (200, 260, 270, 270),
    "public_welfare_post_pay": (250, 250, 250, 250),
    "planting": (100, 200, 350, 350),
    "breeding": (350, 150, 150, 350),
    "other_business": (250, 250, 250, 250),
    "asset_dividends": (0, 0, 400, 600),
    "land_rent": (1000, 0, 0, 0),
    "other_property": (250, 250, 250, 250),
    "pensions": (250, 250, 250, 250),
    "dibao": (250, 250, 250, 250),
    "tekun": (250, 250, 250, 250),
    "eco_compensation": (0, 500, 0, 500),
    "awards": (0, 300, 700, 0),
    "other_transfers": (250, 250, 250, 250),
}
QUARTER_SHARES = tuple(_SHARES[item] for item in ITEMS)
ITEM_KEYS = tuple(f'"{name}": "' for name in ITEMS)
PART_KEYS = tuple(f'"{name}": {{' for name in PARTS)

CRITICISED_LINE = 710_000  # fen: households below 7,100 yuan last year "should have been monitored" [003]


# ---- money -----------------------------------------------------------------------------


# The two decimals of every amount of fen: a tuple index is several times cheaper than the
# format spec ``:02d`` (the demo loader writes some 30 million amounts per million persons).
CENTS = tuple(f"{i:02d}" for i in range(100))


def fen_text(fen: int) -> str:
    """12345 -> "123.45" (exact; the text COPY and the JSON details use it)."""
    if fen < 0:
        return "-" + fen_text(-fen)
    return f"{fen // 100}.{CENTS[fen % 100]}"


def fen_decimal(fen: int) -> Decimal:
    return Decimal(fen_text(fen))


def per_capita_fen(net: int, members: int) -> int:
    """net ÷ members, rounded half-up (away from zero) to the fen, as income.rules does."""
    if members <= 0:
        raise ValueError("per-capita income needs at least one member")
    if net >= 0:
        return (2 * net + members) // (2 * members)
    return -((2 * -net + members) // (2 * members))


def income_quarters(today: date) -> tuple[int, int]:
    """Quarterly records per household: the 4 quarters of last year and the quarters of
    this year that have ended before ``today``."""
    return 4, (today.month - 1) // 3


# ---- the monitoring income line --------------------------------------------------------

DEMO_PROVINCE = "52"


def demo_income_line(year: int) -> int:
    """The demo province's monitoring income line of ``year``, in fen. DEMO FIGURES, for
    illustration only — not any province's published standard: 6,000 yuan for 2021 (the
    national starting figure, docs/domain.md) rising by a few hundred yuan a year (7,100 for
    2025, the line ``CRITICISED_LINE`` measures last year's income against)."""
    known = {2021: 600_000, 2022: 630_000, 2023: 660_000, 2024: 685_000, 2025: 710_000, 2026: 740_000}
    if year in known:
        return known[year]
    if year < 2021:
        raise ValueError("the monitoring income line starts in 2021")
    return known[2026] + 30_000 * (year - 2026)


# ---- what each household goes through (planned with the chunks) --------------------------
