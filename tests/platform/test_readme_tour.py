"""The README's tour, word for word: every bash block of its section "## A tour" runs, in
order and in one bash process (``set -euo pipefail``, so the shell variables the tour sets
carry over and a failing command stops it), against a fresh ``guardline serve --demo``;
each curl's status must be the one the README prints next to it (``# → 200``).

Only three things of the text are replaced: the address of the demo (the README's
``http://127.0.0.1:8000``), ``.venv/bin/guardline`` (the ``guardline`` of the Python running
the tests) and ``/tmp/`` (this test's folder). curl is wrapped by a shell function that adds
``-w`` writing each answer's status to stderr, so the test reads the statuses in the order
the commands ran; the README's commands therefore never use ``-w`` themselves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.core.settings import DEMO_PASSWORD
from tests.platform.test_serve_e2e import served  # noqa: F401  (the live demo, a fixture)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO_BASE = "http://127.0.0.1:8000"
STATUS = "@@tour-status "
# The curl the tour runs: the real one, writing each answer's status on its own stderr line.
PRELUDE = f"""set -euo pipefail
curl() {{ command curl -w '%{{stderr}}{STATUS}%{{http_code}}\\n' "$@"; }}
"""


def tour_section(text: str) -> str:
    start = text.index("\n## A tour\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def tour_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```$", tour_section(text), flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The block's commands, a continued line (ending in a backslash) joined to the next."""
    return [c.strip() for c in re.sub(r"\\\n", " ", block).splitlines() if c.strip()]


CURL = re.compile(r"(^|[\s($|])curl\s")


def expected_statuses(blocks: list[str]) -> list[tuple[str, set[int]]]:
    """Each curl command of the tour with the statuses its ``# → …`` comment allows (the
    three-digit numbers before any parenthesis: ``# → 202 or 200 (…)``)."""
    wanted = []
    for block in blocks:
        for command in commands(block):
            if command.startswith("#") or not CURL.search(command):
                continue
            assert "# →" in command, f"a tour command without its expected status (# → 200): {command}"
            said = command.split("# →", 1)[1].split("(", 1)[0]
            codes = {int(c) for c in re.findall(r"\b\d{3}\b", said)}
            assert codes, command
            assert len(CURL.findall(command.split("# →", 1)[0])) == 1, f"one curl per command: {command}"
            wanted.append((command, codes))
    return wanted


def test_the_tour_is_found_and_every_curl_states_its_status():
    """The parser itself: the tour has its blocks, every curl names a status, and a curl
    without one is refused (so a new command cannot slip in unchecked)."""
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    wanted = expected_statuses(blocks)
    assert len(blocks) >= 8 and len(wanted) >= 30
    assert any(codes == {202, 200} for _, codes in wanted) and any(codes == {412} for _, codes in wanted)
    assert DEMO_BASE in "".join(blocks) and "-w " not in "".join(blocks)
    with pytest.raises(AssertionError, match="without its expected status"):
        expected_statuses(['curl -sS "$BASE/api/v1/funds"\n'])
    [(command, codes)] = expected_statuses(['X=$(curl -sS \\\n  "$BASE/x" | python3 -c 1)    # → 201 or 200 (1)\n'])
    assert command.startswith("X=$(curl -sS ") and "\\" not in command and codes == {201, 200}


def _wait_for_first_sync_runs(base: str) -> None:
    """The README's sync part follows "a minute or so after start": the departments' first
    runs have finished."""
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post("/api/v1/auth/token", data={"username": "county_staff.county", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = http.get("/api/v1/sync/runs", headers=headers).json()["items"]
            if {r["source"] for r in runs if r["status"] == "succeeded"} >= {
                "civil-affairs",
                "medical-insurance",
                "education",
            }:
                return
            time.sleep(1)
        pytest.fail(f"the demo's first sync runs did not finish: {runs}")


def test_the_readme_tour_works_word_for_word(served, tmp_path):  # noqa: F811
    base, proc, log, _other_demo = served
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    wanted = expected_statuses(blocks)
    guardline = Path(sys.executable).parent / "guardline"
    assert guardline.exists(), guardline
    script = PRELUDE + "\n".join(blocks)
    # One pass, so that a replacement is never replaced again (a checkout under /tmp/ names a
    # guardline whose path holds "/tmp/").
    swaps = {DEMO_BASE: base, ".venv/bin/guardline": str(guardline), "/tmp/": f"{tmp_path}/"}
    script = re.sub("|".join(map(re.escape, swaps)), lambda m: swaps[m.group(0)], script)
    (tmp_path / "tour.sh").write_text(script, encoding="utf-8")
    _wait_for_first_sync_runs(base)

    # The CLI commands join the demo's database as they would from the checkout's folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    # The CLI commands join the demo's database (its data folder) and read the built-in sources,
    # as they do for a reader in the checkout.
    env.update({"GUARDLINE_DATA_DIR": str(tmp_path / "data")})
    done = subprocess.run(
        ["bash", str(tmp_path / "tour.sh")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    statuses = [int(line[len(STATUS) :]) for line in done.stderr.splitlines() if line.startswith(STATUS)]
    shown = f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    for (command, codes), status in zip(wanted, statuses, strict=True):
        assert status in codes, f"{command}\nanswered {status}\n{shown}"
    assert done.returncode == 0, shown
    assert len(statuses) == len(wanted), shown

    # The tour's CLI commands joined the demo's embedded PostgreSQL and left it: stopping the
    # service (SIGINT to it alone, as its own children are stopped one by one) stops it.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 0
    pgdata = tmp_path / "data" / "pgdata"
    deadline = time.monotonic() + 60
    while (pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    log.seek(0)
    assert not (pgdata / "postmaster.pid").exists(), log.read().decode(errors="replace")[-3000:]
