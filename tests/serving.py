"""``guardline serve`` as a real process on a port of its own, for the tests that meet the
service as a user or an operator does (over HTTP, its log, its signals)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a new machine: none of our settings, only the data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update({"GUARDLINE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


@contextmanager
def serving(
    cwd: Path, env: dict[str, str], port: int, *args: str, ready_seconds: float = 120
) -> Iterator[tuple[str, subprocess.Popen, IO[bytes]]]:
    """``guardline serve --port PORT ARGS`` until it answers /readyz; stopped (SIGINT, then
    SIGKILL) at the end. Yields the base URL, the process and its log (stdout and stderr)."""
    log = open(cwd / "serve.log", "w+b")  # noqa: SIM115 (yielded; closed in finally)
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"serve exited with {proc.returncode}:\n{log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not become ready in {ready_seconds} s")
            time.sleep(0.3)
        yield base, proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
