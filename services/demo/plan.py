"""Planning a demo county before any row is made: its villages, the households' sizes and
monitoring histories, and the chunks (whole households with the ids they start from) that
independent generator streams then fill in — in this process or in worker processes — and
that still come out identical."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

from services.demo.cases import LIFTED_SHARE, Fate, draw_fate
from services.demo.income import income_quarters


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    township_name: str


@dataclass
class Batch:
    """Rows of a run of whole households (column orders: the ``*_COLUMNS`` constants)."""

    households: list[tuple] = field(default_factory=list)
    persons: list[tuple] = field(default_factory=list)
    memberships: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    income_records: list[tuple] = field(default_factory=list)
    income_years: list[tuple] = field(default_factory=list)
    guarantees: list[tuple] = field(default_factory=list)
    # monitoring (column orders: ``monitoring.*_COLUMNS``)
    monitoring_cases: list[tuple] = field(default_factory=list)
    risk_clues: list[tuple] = field(default_factory=list)
    clue_reports: list[tuple] = field(default_factory=list)
    case_transitions: list[tuple] = field(default_factory=list)
    assistance_measures: list[tuple] = field(default_factory=list)
    case_visits: list[tuple] = field(default_factory=list)


def cumulative(pairs):
    """(values, cumulative weights) of (value, weight) pairs, for ``bisect``."""
    values = tuple(v for v, _ in pairs)
    cum = tuple(accumulate(w for _, w in pairs))
    return values, cum


# Household sizes 1–7 (rural registered households average ≈ 3.4 people).
_SIZE_VALUES, _SIZE_CUM = cumulative(((1, 12), (2, 22), (3, 22), (4, 20), (5, 14), (6, 7), (7, 3)))


def placeholder_cadres(villages: Sequence[Village], per_village: int = 3) -> dict[str, tuple[int, ...]]:
    """User ids standing in for the villages' assistance cadres when the generator runs
    without a database (the loader passes the ids of real accounts)."""
    return {v.code: tuple(100_000 + i * per_village + k for k in range(per_village)) for i, v in enumerate(villages)}


def villages_from_regions(rows: Sequence[tuple[str, str]]) -> list[Village]:
    """Villages (level 5) of (code, name) region rows, each with its township's name."""
    names = dict(rows)
    out = []
    for code, name in rows:
        if len(code) == 12 and code.isdigit() and code[9:] != "000":
            out.append(Village(code, name, names.get(code[:9] + "000", "")))
    return sorted(out, key=lambda v: v.code)


STREAMS = 2  # independent generator streams; chunk c comes from stream c % STREAMS


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """Whole households of one chunk, with the ids they start from. Planning all chunks
    first lets independent streams (processes) generate chunks with contiguous ids. Each
    household's category before any monitoring (``lifted``: formerly poor) and its
    monitoring history (``fates``, see ``monitoring.draw_fate``) are planned here too, as
    they fix how many cases, clues, reports and transitions the chunk holds."""

    index: int
    sizes: tuple[int, ...]
    first_household_id: int
    first_person_id: int
    first_income_id: int
    lifted: tuple[bool, ...] = ()
    fates: tuple[Fate | None, ...] = ()
    first_case_id: int = 1
    first_clue_id: int = 1
    first_report_id: int = 1
    first_transition_id: int = 1
    # rows of the chunk: (cases, clues, reports, transitions)
    monitoring_rows: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def persons(self) -> int:
        return sum(self.sizes)


def plan_chunks(persons: int, *, seed: int, today: date, chunk_persons: int = 50_000) -> list[ChunkPlan]:
    """Household sizes (1–7, rural registered households average ≈ 3.4 people) until
    exactly ``persons`` people, grouped into chunks of at most ``chunk_persons`` people."""
    if persons < 0:
        raise ValueError("persons must not be negative")
    if chunk_persons < 7:
        raise ValueError("a chunk must hold at least 7 people")
    rng = random.Random(f"{seed}/sizes")
    r = rng.random
    top = _SIZE_CUM[-1]
    sizes = []
    left = persons
    while left > 0:
        size = min(left, _SIZE_VALUES[bisect(_SIZE_CUM, r() * top)])  # only the last one is cut short
        sizes.append(size)
        left -= size
    # The households' monitoring histories, from a stream of their own (the sizes above
    # stay what they were).
    fate_rng = random.Random(f"{seed}/monitoring")
    fr = fate_rng.random
    lifted = []
    fates = []
    for _ in sizes:
        was_poor = fr() < LIFTED_SHARE
        lifted.append(was_poor)
        fates.append(draw_fate(fr, was_poor))
    per_household = sum(q for q in income_quarters(today) if q)  # income records per household
    plans: list[ChunkPlan] = []
    hid = pid = iid = 1
    case_id = clue_id = report_id = transition_id = 1
    start = 0
    while start < len(sizes):
        end = start
        people = 0
        while end < len(sizes) and people + sizes[end] <= chunk_persons:
            people += sizes[end]
            end += 1
        rows = [0, 0, 0, 0]
        for fate in fates[start:end]:
            if fate is not None:
                for i, n in enumerate(fate.counts()):
                    rows[i] += n
        plans.append(
            ChunkPlan(
                len(plans),
                tuple(sizes[start:end]),
                hid,
                pid,
                iid,
                tuple(lifted[start:end]),
                tuple(fates[start:end]),
                case_id,
                clue_id,
                report_id,
                transition_id,
                (rows[0], rows[1], rows[2], rows[3]),
            )
        )
        hid += end - start
        pid += people
        iid += (end - start) * per_household
        case_id += rows[0]
        clue_id += rows[1]
        report_id += rows[2]
        transition_id += rows[3]
        start = end
    return plans
