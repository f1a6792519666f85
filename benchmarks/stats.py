"""The pure parts of the method: the order of the runs, medians and spread, target verdicts.

Kept apart from the runners (no processes, no database) so that they can be unit-tested
(tests/unit/test_bench_stats.py), and so that every scenario reports the same way:

* **interleaved** — the runs of our app and of the bare app alternate (ours, bare, bare,
  ours, ours, bare …: each repetition is a pair, every other pair reversed), so that a
  drift of the machine (another process, the page cache, the CPU's clock) falls on both
  alike instead of on whichever app ran second;
* **repeated** — at least three repetitions; a figure is the **median** of the runs with
  its **spread** (min–max), and a ratio ours/bare is taken per repetition (the two runs of
  one pair, side by side) before its median;
* **verdicts** — a target is a bound on a median (``at_least``, ``below``, ``at_most``);
  it passes when the median keeps it. The spread is shown beside it, not judged.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

MIN_REPEAT = 3


def interleaved(apps: Sequence[str], repeat: int) -> list[tuple[int, str]]:
    """(repetition, app) in the order to run them: each repetition runs every app once,
    and every other repetition in the reverse order (``ours, bare, bare, ours, ours, bare``)
    so neither app always runs first."""
    order: list[tuple[int, str]] = []
    for rep in range(repeat):
        for app in apps if rep % 2 == 0 else list(reversed(apps)):
            order.append((rep, app))
    return order


def spread(values: Iterable[float | None]) -> dict[str, Any]:
    """Median, min, max and the interquartile range of the figures (None values, a run
    that produced no figure, are left out and counted)."""
    values = list(values)
    present = sorted(v for v in values if v is not None)
    missing = len(values) - len(present)
    if not present:
        return {"median": None, "min": None, "max": None, "iqr": None, "n": 0, "missing": missing}
    if len(present) >= 2:
        q1, _, q3 = statistics.quantiles(present, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    return {
        "median": statistics.median(present),
        "min": present[0],
        "max": present[-1],
        "iqr": iqr,
        "n": len(present),
        "missing": missing,
    }


def ratios(ours: Sequence[float | None], bare: Sequence[float | None]) -> list[float | None]:
    """ours/bare per repetition (the i-th run of each), None where a run has no figure."""
    if len(ours) != len(bare):
        raise ValueError("ours and bare need the same number of runs")
    return [None if o is None or not b else o / b for o, b in zip(ours, bare, strict=True)]


def summarise(runs: Sequence[dict], keys: Sequence[str] = ("rps", "p50_ms", "p95_ms", "p99_ms")) -> dict:
    """{key: spread} over the runs of one app, plus the errors of all runs together."""
    out: dict[str, Any] = {key: spread([run.get(key) for run in runs]) for key in keys}
    out["errors"] = sum(run.get("errors", 0) for run in runs)
    out["requests"] = sum(run.get("requests", 0) for run in runs)
    return out


OPERATORS = {
    "at_least": (lambda value, bound: value >= bound, "≥"),
    "below": (lambda value, bound: value < bound, "<"),
    "at_most": (lambda value, bound: value <= bound, "≤"),
}


def verdict(value: float | None, operator: str, bound: float, errors: int = 0) -> str:
    """PASS when the (median) figure keeps the bound and there were no errors; FAIL
    otherwise; ``n/a`` when there is no figure (the target was not measured)."""
    if value is None:
        return "n/a"
    check, _ = OPERATORS[operator]
    return "PASS" if check(value, bound) and errors == 0 else "FAIL"


def bound_text(operator: str, bound: float, unit: str = "") -> str:
    return f"{OPERATORS[operator][1]} {bound:g}{unit}"


def figure_text(figures: dict, spec: str = ".2f", unit: str = "") -> str:
    """``median (min–max)`` of a spread, or ``—`` without a figure."""
    if figures.get("median") is None:
        return "—"
    median = format(figures["median"], spec)
    if figures["n"] < 2:
        return f"{median}{unit}"
    return f"{median}{unit} ({format(figures['min'], spec)}–{format(figures['max'], spec)})"


def scaled_target(seconds_at_full: float, persons: int, full: int = 1_000_000) -> float:
    """A time target given for ``full`` persons, scaled in proportion to ``persons`` (a
    smaller load must take proportionally less)."""
    return seconds_at_full * persons / full


def target_row(
    name: str,
    figures: dict,
    operator: str,
    bound: float,
    *,
    unit: str = "",
    spec: str = ".2f",
    errors: int = 0,
    note: str = "",
) -> dict:
    """One line of the targets table: the target, the median (spread) and the verdict."""
    return {
        "target": name,
        "bound": bound_text(operator, bound, unit),
        "operator": operator,
        "limit": bound,
        "median": figures.get("median"),
        "min": figures.get("min"),
        "max": figures.get("max"),
        "iqr": figures.get("iqr"),
        "runs": figures.get("n", 0),
        "measured": figure_text(figures, spec, unit),
        "errors": errors,
        "verdict": verdict(figures.get("median"), operator, bound, errors),
        "note": note,
    }


def targets_table(rows: Sequence[dict]) -> str:
    """The targets as a fixed-width table, one line each, and the overall verdict."""
    width = max([len(r["target"]) for r in rows] + [6])
    mwidth = max([len(r["measured"]) for r in rows] + [8])
    bwidth = max([len(r["bound"]) for r in rows] + [6])
    lines = [
        f"{'target':<{width}}  {'median (min–max)':<{mwidth}}  {'bound':<{bwidth}}  verdict",
        "-" * (width + mwidth + bwidth + 15),
    ]
    for r in rows:
        line = f"{r['target']:<{width}}  {r['measured']:<{mwidth}}  {r['bound']:<{bwidth}}  {r['verdict']}"
        if r.get("errors"):
            line += f"  ({r['errors']} errors)"
        if r.get("note"):
            line += f"  [{r['note']}]"
        lines.append(line)
    lines.append("-" * (width + mwidth + bwidth + 15))
    verdicts = [r["verdict"] for r in rows]
    overall = "FAIL" if "FAIL" in verdicts else ("PASS" if verdicts and "n/a" not in verdicts else "INCOMPLETE")
    lines.append(f"overall: {overall}")
    return "\n".join(lines)
