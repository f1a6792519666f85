"""Per-capita net income over the last twelve months (滚动12个月人均纯收入): the one figure
that is compared with a yearly income line.

The monitoring line is a yearly amount, so a household is judged on a year of income: the
four consecutive quarters that end with its latest recorded quarter (on or before a given
quarter). Never a part year: a household with three quarters of this year and all of last
year is judged on last year's fourth quarter and this year's three.

When any of those four quarters is missing (only Q1 recorded, or a gap in the ledger), the
year is **incomplete**: the figure over what is recorded is still given, so a finding can
show it, but no rule may call the household below (or above) the line on it. Why not "the
last four recorded quarters" across a gap: they would span more than twelve months, and a
quarter that was never collected is an unknown, not a zero.

Household size is the latest quarter's (as in ``rules.year_totals``): the year's income is
shared by the people living there now. Rounded half-up to the fen, like every income figure.

One definition, two forms that must agree (``tests/households/test_income_rolling.py`` runs both
on the same quarters):

* ``income_rolling(household_id, upto)``, a SQL function (created by the migration
  ``a1c3e5f70b21_rolling_income``), for set-based rules (``LEFT JOIN LATERAL income_rolling(h.id, :upto)``);
  ``upto`` is a quarter index (``quarter_index``);
* ``rolling`` below, for code that already holds the quarters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.core.income.rules import yuan

WINDOW = 4  # quarters in a year of income


def quarter_index(year: int, quarter: int) -> int:
    """Quarters (季度) counted from year 0: consecutive quarters differ by one across years."""
    return year * 4 + quarter - 1


def quarter_of_index(index: int) -> tuple[int, int]:
    """(year, quarter) of a quarter index (年度, 季度)."""
    return index // 4, index % 4 + 1


def quarter_of(day: date) -> int:
    """The quarter index of the quarter (季度) ``day`` lies in."""
    return quarter_index(day.year, (day.month - 1) // 3 + 1)


def label(index: int) -> str:
    """A quarter index as "2026Q3" (2026年第三季度)."""
    year, quarter = quarter_of_index(index)
    return f"{year}Q{quarter}"


@dataclass(frozen=True)
class RollingIncome:
    """A household's rolling year of income (滚动十二个月收入): the four quarters ending with
    the latest recorded one, its net income (纯收入) and per-capita net income (人均纯收入);
    judged against the monitoring line (监测标准) only when complete."""

    quarters: int  # recorded quarters in the window (4: complete)
    first: int  # quarter index of the window's first quarter
    last: int  # quarter index of the latest recorded quarter
    net_income: Decimal
    member_count: int
    per_capita_net: Decimal | None  # None when the latest quarter has no members

    @property
    def complete(self) -> bool:
        return self.quarters == WINDOW

    @property
    def period(self) -> str:
        """The window as "2025Q4–2026Q3"."""
        return f"{label(self.first)}–{label(self.last)}"

    def below(self, line: Decimal | None) -> bool | None:
        """Below the yearly line: True / False, or None when it cannot be judged (an
        incomplete year, no line, no members)."""
        if not self.complete or line is None or self.per_capita_net is None:
            return None
        return self.per_capita_net < line


def rolling(records: Iterable[tuple[int, int, Decimal, int]], upto: int) -> RollingIncome | None:
    """The window's figures from a household's quarters (year, quarter, net_income,
    member_count), considering only quarters up to the index ``upto``; None when none is
    recorded by then. Income is always judged over a whole year (全年收入), never a part year
    (docs/domain.md "Income")."""
    by_index = {quarter_index(y, q): (net, members) for y, q, net, members in records if quarter_index(y, q) <= upto}
    if not by_index:
        return None
    last = max(by_index)
    first = last - WINDOW + 1
    window = [by_index[i] for i in range(first, last + 1) if i in by_index]
    net = yuan(sum((n for n, _ in window), Decimal("0")))
    members = by_index[last][1]
    return RollingIncome(len(window), first, last, net, members, yuan(net / members) if members > 0 else None)
