"""Start a simulator as a child process and wait until it answers (``guardline serve
--demo`` and the end-to-end tests use it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from services.core.sync.config import INSTANCE_HEADER

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 90.0  # a deadline only (it answers sooner): a loaded machine starts Python slowly


class SimulatorDidNotStart(RuntimeError):
    pass


class PortTaken(SimulatorDidNotStart):
    """Another program answers on the port (it does not show the simulator's instance)."""


class Simulator(subprocess.Popen[bytes]):
    """A simulator's process, whose output goes to the file ``log_path``."""

    log_path: str


def spawn(
    kind: str,
    port: int,
    *extra_args: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    timeout: float = STARTUP_TIMEOUT,
    instance: str | None = None,
) -> Simulator:
    """``guardline simulate KIND --port PORT *extra_args`` in a child process, returned once
    ``GET /health`` answers 200. Its output goes to a temporary file (``proc.log_path``),
    so a chatty server never blocks on a full pipe; the file is quoted if it fails.

    With ``instance`` the simulator shows that token on every answer, and only an answer
    that shows it counts: anything else on the port raises ``PortTaken`` (without it, a
    simulator left running there would pass for the new one, which cannot bind)."""
    if instance:
        extra_args = (*extra_args, f"--instance={instance}")  # one word: a token may begin with "-"
    command = [sys.executable, "-m", "services.cli", "simulate", kind, "--port", str(port), "--host", host, *extra_args]
    environ = dict(os.environ if env is None else env)
    environ.setdefault("PYTHONUNBUFFERED", "1")  # the log file shows what happened up to a crash
    with tempfile.NamedTemporaryFile(prefix=f"guardline-sim-{kind}-", suffix=".log", delete=False) as log:
        proc = Simulator(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    proc.log_path = log.name
    deadline = time.monotonic() + timeout
    url = f"http://{host}:{port}/health"
    while True:
        if proc.poll() is not None:
            output = _tail(proc)
            stop(proc)
            raise SimulatorDidNotStart(f"the {kind} simulator exited with status {proc.returncode}:\n{output}")
        try:
            answer = httpx.get(url, timeout=1.0)
        except httpx.HTTPError:
            answer = None
        if answer is not None and instance and answer.headers.get(INSTANCE_HEADER) != instance:
            stop(proc)
            raise PortTaken(f"port {port} is taken: another program answers {url}")
        if answer is not None and answer.status_code == 200:
            return proc
        if time.monotonic() > deadline:
            output = _tail(proc)
            stop(proc)
            raise SimulatorDidNotStart(f"the {kind} simulator did not answer {url} within {timeout:.0f} s:\n{output}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Ask the simulator to stop, kill it if it does not, and remove its log.

    SIGINT, not SIGTERM: uvicorn shuts down cleanly on either, then raises the signals it
    caught again — and a process ended by SIGTERM skips its exit handlers, among them the
    one by which each process leaves the embedded PostgreSQL's list of users (the server
    stops when the list is empty). SIGINT ends it through KeyboardInterrupt, handlers run."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    path = getattr(proc, "log_path", None)
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _tail(proc: Simulator, lines: int = 30) -> str:
    try:
        text = Path(proc.log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"
