"""``sync_runs`` is written by one module, ``services.core.sync.runs``: the API, the worker,
the spreadsheet import and the registry check call its functions. A statement that writes
the table anywhere else (raw SQL or a new ``SyncRun`` row) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import services

SERVICES = Path(services.__file__).resolve().parent
WRITER = SERVICES / "core" / "sync" / "runs.py"
MODELS = SERVICES / "core" / "sync" / "models.py"
WRITES = re.compile(r"\b(UPDATE\s+sync_runs|INSERT\s+INTO\s+sync_runs|DELETE\s+FROM\s+sync_runs)\b|\bSyncRun\(", re.I)


def test_only_the_runs_module_writes_sync_runs():
    writers = sorted(
        f"{path.relative_to(SERVICES)}:{n}"
        for path in SERVICES.rglob("*.py")
        if path not in (WRITER, MODELS)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRITES.search(line)
    )
    assert writers == []


def test_the_runs_module_does_write_it():
    """The check above looks for the right thing: it finds the writes in ``runs``."""
    assert len(WRITES.findall(WRITER.read_text(encoding="utf-8"))) >= 10
