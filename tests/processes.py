"""The machine's processes as the tests that stop things look at them (Linux: /proc)."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: state, ppid, …; None when gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run. An orphan that ended stays a zombie when the
    machine's init does not reap it (as in some containers): that counts as ended."""
    return [pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"]


def children_of(pid: int) -> list[int]:
    return running([child for child in _pids() if (stat := _stat(child)) is not None and stat[1] == str(pid)])


def with_argument(text: str) -> list[int]:
    """The running processes one of whose command-line arguments contains ``text``."""
    found = []
    for pid in _pids():
        try:
            args = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if any(text.encode() in arg for arg in args):
            found.append(pid)
    return running(found)
