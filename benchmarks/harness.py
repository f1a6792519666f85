"""What the benchmarks share: free ports, the app servers under uvicorn, the load generator
as a child process, stopping process groups, the plain DSN of a database URL.

``python -m benchmarks`` (``__main__``) and the scenarios it runs (``sync_pipeline``) both
use these; they lived in ``__main__``, which ``sync_pipeline`` then had to import while
``__main__`` imported it (issue 18). This module imports neither.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from services.core.db import asyncpg_dsn

ROOT = Path(__file__).resolve().parents[1]


def plain_dsn(url: str) -> str:
    """The benchmarks' database URL (SQLAlchemy's) as an asyncpg DSN."""
    return asyncpg_dsn(url)


# ---- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, target: list[str], env: dict, logdir: Path, cwd: Path = ROOT):
        """``cwd``: the checkout whose code the server runs (``python -m`` imports from it first)."""
        self.name = name
        self.port = free_port()
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (kept open for the server's life; closed in stop())
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                *target,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str, headers: dict | None = None, body: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST" if body is not None else "GET", path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} server exited (code {self.proc.returncode}):\n{self.log_tail()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} server did not answer /healthz in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def run_load(config: dict, workdir: Path, children: list) -> dict:
    path = workdir / f"load-{config['app']}-{config['scenario']}.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.loadgen", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    children.append(proc)
    try:
        out, _ = proc.communicate(timeout=config["warmup"] + config["seconds"] + 60)
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise SystemExit(f"load generator failed (exit {proc.returncode})")
    return json.loads(out)


def postmaster_pid(url: str) -> int | None:
    host = parse_qs(urlparse(url).query).get("host", [None])[0]
    if host is None:
        return None
    try:
        return int((Path(host) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError, TypeError):
        return None


TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int | None) -> float | None:
    """CPU seconds of a PostgreSQL server so far: the postmaster with its reaped children,
    and its live children (backends, parallel workers)."""
    if postmaster is None:
        return None
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == postmaster:
            total += sum(int(x) for x in fields[11:15]) / TICK
        elif int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def own_cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its children it has waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def io_wait() -> float:
    """Seconds every core of the machine has waited for I/O since it started (``/proc/stat``)."""
    try:
        return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[5]) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0
