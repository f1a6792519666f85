"""Ctrl-C in a terminal on ``python3 tasks.py demo`` stops everything it started: the
service, its department simulators and sync worker, and the embedded PostgreSQL, with no
traceback. The test runs it in a pseudo-terminal of its own and types the terminal's
interrupt character, so that the kernel sends SIGINT to the whole foreground process
group (tasks.py, ``guardline serve`` and its children), as a real Ctrl-C does."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from services.core.sync.config import builtin_sources_on
from tests.processes import with_argument

termios = pytest.importorskip("termios")  # POSIX terminals

ROOT = Path(__file__).resolve().parents[2]

# tasks.py's own ``main``, with the interpreter running the tests standing in for .venv
# (the checkout under test may have none; bootstrapping one is not what is tested here).
# First the new session (start_new_session) takes the pseudo-terminal, its stdin, as its
# controlling terminal, as a login shell's session does.
TASKS = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
from pathlib import Path
sys.path.insert(0, {root!r})
import tasks
tasks.bootstrap = lambda: None
tasks.BIN = Path(sys.executable).parent
sys.argv = ["tasks.py", *sys.argv[1:]]
raise SystemExit(tasks.main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Terminal:
    """A command in a pseudo-terminal of its own, everything it prints collected."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        master, slave = os.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
        os.close(slave)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not printed within {timeout:.0f} s:\n{self.output[-4000:]}")
            time.sleep(0.05)

    def ctrl_c(self) -> None:
        os.write(self.master, termios.tcgetattr(self.master)[6][termios.VINTR])

    def closed_by_all(self, timeout: float) -> bool:
        self._reader.join(timeout)
        return not self._reader.is_alive()

    def close(self) -> None:
        # whatever of the session is left (the group is the session's: start_new_session)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(5)
        os.close(self.master)


def _postgres_of(pgdata: Path) -> list[int]:
    """The processes whose command line names ``pgdata`` (the postmaster and its children)."""
    return with_argument(str(pgdata))


def _wait_until_ready(term: Terminal, url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if term.proc.poll() is not None:
            pytest.fail(f"tasks.py demo exited with {term.proc.returncode}:\n{term.output[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the demo did not answer {url} within {timeout:.0f} s:\n{term.output[-4000:]}")
        time.sleep(0.3)


@pytest.fixture
def demo_in_a_terminal(tmp_path):
    port = _free_port()
    ports = {name: _free_port() for name in ("civil-affairs", "medical-insurance", "education")}
    (tmp_path / "sources.toml").write_text(builtin_sources_on(ports), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {
            "GUARDLINE_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            "GUARDLINE_SYNC__SOURCES_FILE": str(tmp_path / "sources.toml"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    term = Terminal(
        [sys.executable, "-c", TASKS.format(root=str(ROOT)), "demo", "--persons", "300", "--port", str(port)],
        env,
        tmp_path,
    )
    try:
        yield term, f"http://127.0.0.1:{port}", tmp_path / "data" / "pgdata"
    finally:
        term.close()
        for pid in _postgres_of(tmp_path / "data" / "pgdata"):  # whatever the test left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("stop", ["ctrl-c", "ctrl-c-twice", "sigterm"])
def test_stopping_the_demo_stops_everything_it_started(demo_in_a_terminal, stop):
    term, base, pgdata = demo_in_a_terminal
    _wait_until_ready(term, f"{base}/healthz")
    assert _postgres_of(pgdata), "the demo runs on an embedded PostgreSQL in its data folder"

    if stop == "sigterm":  # to tasks.py alone (a process manager's stop): it passes it on
        term.proc.send_signal(signal.SIGTERM)
    else:
        term.ctrl_c()
    if stop == "ctrl-c-twice":  # again, impatient, while the service is stopping its children and the database
        term.wait_for("Finished server process")
        term.ctrl_c()
    try:
        code = term.proc.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tasks.py demo still running 60 s after {stop}:\n{term.output[-4000:]}")
    # Every process of the terminal (serve's children among them) is gone: the terminal is
    # closed by its last user.
    assert term.closed_by_all(30), f"processes still hold the terminal:\n{term.output[-4000:]}"
    assert code in (0, 130), term.output[-4000:]
    assert "Traceback" not in term.output, term.output[-6000:]
    assert not (pgdata / "postmaster.pid").exists(), term.output[-4000:]
    assert _postgres_of(pgdata) == [], term.output[-4000:]
