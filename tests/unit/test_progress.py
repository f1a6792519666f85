"""The progress output of long commands: a bar on a terminal, plain lines elsewhere, nothing
with --json (services.core.progress), and a sync run's counts as a step."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from services.core import progress
from services.core.progress import Reporter, Step
from services.worker.worker import run_step


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_a_step_reads_as_its_line_or_its_counts():
    assert str(Step("regions", "regions: 3 inserted")) == "regions: 3 inserted"
    assert str(Step("persons", done=1500, total=20000, unit="persons")) == "persons 1,500/20,000 persons"
    assert str(Step("run 7", done=42, unit="records")) == "run 7 42 records"
    assert str(Step("commit")) == "commit"


def test_the_mode_follows_the_stream_and_json():
    assert Reporter.for_command(False, Terminal()).mode == "bar"
    assert Reporter.for_command(False, io.StringIO()).mode == "plain"
    assert Reporter.for_command(True, Terminal()).mode == "json"
    with pytest.raises(ValueError):
        Reporter("fancy")


def test_plain_lines_are_few_and_carry_rate_and_time_left(clock):
    out = io.StringIO()
    with Reporter("plain", out) as report:
        report(Step("regions", "regions: 27 unchanged"))
        report(Step("persons", "persons 0/1,000", 0, 1000, "persons"))
        clock[0] += 1
        report(Step("persons", "persons 100/1,000", 100, 1000, "persons"))  # too soon: not shown
        clock[0] += 9
        report(Step("persons", "persons 500/1,000", 500, 1000, "persons"))
        clock[0] += 1
        report(Step("persons", "persons 1,000/1,000", 1000, 1000, "persons"))  # the end: always shown
        report(Step("run 3", "run 3 succeeded", 40, None, "records", last=True))
    lines = out.getvalue().splitlines()
    assert lines[0] == "regions: 27 unchanged"
    assert lines[1] == "persons 0/1,000 (0 %)"
    assert lines[2] == "persons 500/1,000 (50 %, 50 persons/s, about 10 s left)"
    assert lines[3].startswith("persons 1,000/1,000 (100 %, ") and "left" not in lines[3]
    assert lines[4] == "run 3 succeeded"
    assert len(lines) == 5


def test_json_mode_writes_nothing(clock):
    out = Terminal()
    with Reporter("json", out) as report:
        report(Step("regions", "regions: 27 unchanged"))
        report(Step("persons", "persons 10/10", 10, 10, "persons"))
    assert out.getvalue() == ""


def test_a_terminal_gets_a_bar_with_rate_and_eta(clock):
    out = Terminal()
    with Reporter("bar", out) as report:
        report(Step("backup", "counting rows"))
        report(Step("dump", "dump: persons", 0, 4 << 20, "bytes"))
        clock[0] += 2
        report(Step("dump", "dump: persons", 2 << 20, 4 << 20, "bytes"))
    shown = out.getvalue()
    assert "counting rows" in shown and "dump" in shown
    assert "2.0 MiB/4.0 MiB" in shown and "1.0 MiB/s" in shown and "ETA" in shown


def test_a_sync_run_is_counted_in_records_read():
    running = {
        "id": 9,
        "status": "running",
        "phase": "fetching",
        "pages": 2,
        "fetched": 300,
        "staged": 250,
        "unchanged": 40,
        "quarantined": 10,
        "matched": None,
    }
    step = run_step(running)
    assert (step.stage, step.done, step.total, step.unit, step.last) == ("run 9", 300, None, "records", False)
    assert str(step).startswith("run 9 running/fetching: 2 pages, 300 fetched, 250 staged")
    assert run_step({**running, "status": "failed"}).last is True
    roster = run_step(
        {**running, "roster_region": "529901", "roster_period": "2026", "roster_records": 180, "roster_rejected": 2}
    )
    assert str(roster).endswith("; roster 2026 of 529901: 180 rows, 2 refused")  # the line shows the declaration
