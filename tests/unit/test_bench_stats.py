"""The benchmark suite's method, without running a benchmark: the order of the runs
(interleaved), the medians and spread, ours/bare per repetition, and the verdicts of the
targets table (benchmarks/stats.py and the pure parts of benchmarks/__main__.py)."""

from __future__ import annotations

import random

import pytest

from benchmarks import __main__ as bench
from benchmarks import stats


def test_runs_alternate_and_every_other_pair_is_reversed():
    assert stats.interleaved(["ours", "bare"], 3) == [
        (0, "ours"),
        (0, "bare"),
        (1, "bare"),
        (1, "ours"),
        (2, "ours"),
        (2, "bare"),
    ]


def test_each_repetition_runs_every_app_once_and_none_always_first():
    order = stats.interleaved(["staging-1", "copy", "staging-2"], 4)
    for rep in range(4):
        assert sorted(app for r, app in order if r == rep) == ["copy", "staging-1", "staging-2"]
    firsts = {order[i][1] for i in range(0, len(order), 3)}
    assert firsts == {"staging-1", "staging-2"}
    # The COPY loads what a staging wrote: it is never the first run.
    assert order[0][1] != "copy"


def test_an_app_alone_is_simply_repeated():
    assert stats.interleaved(["ours"], 3) == [(0, "ours"), (1, "ours"), (2, "ours")]


def test_spread_gives_median_min_max_and_iqr():
    figures = stats.spread([5.0, 1.0, 3.0, 4.0, 2.0])
    assert figures == {"median": 3.0, "min": 1.0, "max": 5.0, "iqr": 2.0, "n": 5, "missing": 0}
    assert stats.spread([1.0, 2.0, 10.0, 20.0])["median"] == 6.0  # even: the mean of the middle two


def test_spread_leaves_out_runs_without_a_figure():
    assert stats.spread([None, 2.0, 4.0]) == {
        "median": 3.0,
        "min": 2.0,
        "max": 4.0,
        "iqr": 1.0,
        "n": 2,
        "missing": 1,
    }
    nothing = stats.spread([None])
    assert nothing["median"] is None and nothing["n"] == 0 and nothing["missing"] == 1
    assert stats.spread(iter([7.0]))["median"] == 7.0  # any iterable


def test_ratios_are_taken_per_repetition():
    assert stats.ratios([100.0, 90.0, 80.0], [200.0, 100.0, 0.0]) == [0.5, 0.9, None]
    with pytest.raises(ValueError):
        stats.ratios([1.0], [1.0, 2.0])


def test_the_median_of_ratios_is_not_the_ratio_of_medians():
    # Side by side per repetition: a slow moment of the machine hits both runs of a pair.
    ours, bare = [50.0, 100.0, 200.0], [100.0, 125.0, 400.0]
    assert stats.spread(stats.ratios(ours, bare))["median"] == 0.5
    assert stats.spread(ours)["median"] / stats.spread(bare)["median"] == 0.8


def test_summarise_adds_up_errors_and_requests():
    runs = [
        {"rps": 10.0, "p99_ms": 5.0, "errors": 1, "requests": 30},
        {"rps": 30.0, "p99_ms": None, "errors": 0, "requests": 90},
        {"rps": 20.0, "p99_ms": 7.0, "errors": 2, "requests": 60},
    ]
    out = stats.summarise(runs, ("rps", "p99_ms"))
    assert out["rps"]["median"] == 20.0 and out["rps"]["min"] == 10.0 and out["rps"]["max"] == 30.0
    assert out["p99_ms"]["median"] == 6.0 and out["p99_ms"]["missing"] == 1
    assert out["errors"] == 3 and out["requests"] == 180


@pytest.mark.parametrize(
    ("value", "operator", "bound", "errors", "expected"),
    [
        (0.7, "at_least", 0.7, 0, "PASS"),
        (0.69, "at_least", 0.7, 0, "FAIL"),
        (0.9, "at_least", 0.7, 1, "FAIL"),  # errors fail a target whatever the figure
        (149.9, "below", 150.0, 0, "PASS"),
        (150.0, "below", 150.0, 0, "FAIL"),
        (2.0, "at_most", 2.0, 0, "PASS"),
        (2.01, "at_most", 2.0, 0, "FAIL"),
        (None, "below", 150.0, 0, "n/a"),
    ],
)
def test_verdicts(value, operator, bound, errors, expected):
    assert stats.verdict(value, operator, bound, errors) == expected


def test_load_target_is_scaled_to_the_persons_loaded():
    assert stats.scaled_target(30.0, 1_000_000) == 30.0
    assert stats.scaled_target(30.0, 50_000) == pytest.approx(1.5)
    row = bench.load_target(1.2, 50_000)
    assert row["verdict"] == "PASS" and row["limit"] == pytest.approx(1.5) and "scaled" in row["note"]
    assert bench.load_target(1.6, 50_000)["verdict"] == "FAIL"
    assert bench.load_target(None, 50_000)["verdict"] == "n/a"


def test_targets_table_prints_every_target_and_the_overall_verdict():
    rows = [
        stats.target_row("list throughput", stats.spread([0.5, 0.7, 0.6]), "at_least", 0.6, unit="×"),
        stats.target_row("funds p95", stats.spread([120.0, 160.0, 140.0]), "below", 150.0, unit=" ms", spec=".1f"),
    ]
    table = stats.targets_table(rows)
    assert "0.60× (0.50–0.70)" in table and "≥ 0.6×" in table
    assert "140.0 ms (120.0–160.0)" in table and "< 150 ms" in table
    assert table.count("  PASS") == 2 and table.endswith("overall: PASS")
    rows.append(stats.target_row("load", stats.spread([40.0]), "below", 30.0, unit=" s"))
    assert stats.targets_table(rows).endswith("overall: FAIL")
    unmeasured = [rows[0], stats.target_row("sync", {}, "at_least", 0.5)]
    assert stats.targets_table(unmeasured).endswith("overall: INCOMPLETE")


def _run(rps: float, p99: float, errors: int = 0) -> dict:
    return {
        "rps": rps,
        "p50_ms": p99 / 3,
        "p95_ms": p99 / 1.5,
        "p99_ms": p99,
        "max_ms": p99 * 2,
        "errors": errors,
        "requests": int(rps),
        "server_cpu_s": 1.0,
        "db_cpu_s": None,
    }


def test_a_scenario_is_judged_on_its_median_ratios():
    runs = {
        "ours": [_run(600, 20), _run(500, 30), _run(700, 10)],
        "bare": [_run(1000, 10), _run(1000, 10), _run(1000, 10)],
    }
    row = bench.aggregate("households-list", 16, runs)
    assert row["ratio"]["rps"]["median"] == 0.6 and row["ratio"]["rps"]["min"] == 0.5
    assert row["ratio"]["p99_ms"]["median"] == 2.0 and row["ratio"]["p99_ms"]["max"] == 3.0
    assert [(t["target"], t["verdict"]) for t in row["targets"]] == [
        ("households-list ours/bare throughput, 16 clients", "PASS"),
        ("households-list ours/bare p99, 16 clients", "PASS"),
    ]
    runs["bare"][1] = _run(1000, 10, errors=1)
    assert {t["verdict"] for t in bench.aggregate("households-list", 16, runs)["targets"]} == {"FAIL"}


def test_a_scenario_of_ours_alone_is_judged_on_its_medians():
    runs = {"ours": [_run(10, 90), _run(10, 120), _run(10, 95)]}
    row = bench.aggregate("statistics", 8, runs)
    assert "ratio" not in row
    assert [(t["target"], t["measured"], t["verdict"]) for t in row["targets"]] == [
        ("statistics p50, 8 clients", "31.7 ms (30.0–40.0)", "PASS"),
        ("statistics p99, 8 clients", "95.0 ms (90.0–120.0)", "PASS"),
    ]


def test_every_target_scenario_has_targets_and_the_masked_reads_do_the_same_work():
    for name in bench.TARGET_SCENARIOS:
        assert bench.SCENARIO_TARGETS[name], name
    # The masked scenarios ask the bare app's masked endpoints (no decryption there either).
    assert bench.SCENARIOS["household-masked"]["bare"]["path"].startswith("/masked/")
    assert bench.SCENARIOS["lookup-masked"]["bare"]["path"].startswith("/masked/")
    assert bench.role_reads("county_staff")[0] is True
    assert bench.role_reads(bench.SCENARIOS["household-masked"]["role"])[0] is False
    assert bench.role_reads(bench.SCENARIOS["lookup-masked"]["role"])[0] is False


def test_list_cursors_reach_every_depth():
    from services.core.paging import decode_cursor

    ids = list(range(1000, 11000))
    queries = bench.list_cursors(ids, 400, random.Random(1))
    assert len(queries) == 400 and queries.count("") == 20  # one in twenty: the first page
    after = [decode_cursor(q.removeprefix("&cursor="), (int,))[0] for q in queries if q]
    assert all(i in set(ids) for i in after)
    # Deep pages as well as shallow ones: every tenth of the list is reached.
    assert {(i - 1000) * 10 // len(ids) for i in after} == set(range(10))


def test_clients_default_to_16_and_64_and_repeat_to_3():
    args = bench.parse_args([])
    assert args.clients == (16, 64) and args.repeat == 3 and not args.targets
    assert bench.parse_args(["--clients", "8,32"]).clients == (8, 32)
    assert bench.parse_args(["--concurrency", "32"]).clients == (32,)  # the former option still works
    with pytest.raises(SystemExit):
        bench.parse_args(["--clients", "x"])
