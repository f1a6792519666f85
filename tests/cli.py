"""Running ``guardline`` as an operator does, against a scratch database whose rows are really
committed (dropped afterwards). Shared by the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from services.core.db import create_engine
from tests.conftest import scratch_database

ROOT = Path(__file__).resolve().parents[1]
GUARDLINE = [sys.executable, "-m", "services.cli"]

# The CLI starts or joins the embedded server; an external test database is not its to use.
needs_embedded_server = pytest.mark.skipif(
    bool(os.environ.get("GUARDLINE_TEST_DATABASE_URL")), reason="the CLI joins the embedded server"
)


@asynccontextmanager
async def committed_engine(engine, settings, name: str) -> AsyncIterator:
    async with scratch_database(engine, name) as url:
        eng = create_engine(url, settings, "tests")
        try:
            yield eng
        finally:
            await eng.dispose()


def run_guardline(settings, database: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    environ.update(
        {
            "GUARDLINE_DATA_DIR": str(settings.data_dir),
            "GUARDLINE_ENV": "test",
            "GUARDLINE_DATABASE_NAME": database,
            **env,
        }
    )
    return subprocess.run([*GUARDLINE, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)
