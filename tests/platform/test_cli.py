"""The command line as a user runs it: real processes sharing the embedded server."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUARDLINE = [sys.executable, "-m", "services.cli"]


def _env(settings, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update({"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test", **extra})
    return env


async def test_worker_process_shares_the_embedded_server(engine, settings):
    """The test process already holds the embedded server; a second process (the sync
    worker) joins it, and leaving does not stop it for the others."""
    if os.environ.get("GUARDLINE_TEST_DATABASE_URL"):
        return
    env = _env(settings, GUARDLINE_DATABASE_NAME="guardline_test")
    out = await asyncio.to_thread(
        subprocess.run, [*GUARDLINE, "sync", "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout.strip().splitlines()[-1])
    assert status["schema"]
    assert [s["name"] for s in status["sources"]] == ["civil-affairs", "medical-insurance", "education", "housing"]
    from sqlalchemy import text

    async with engine.connect() as conn:  # still up for us
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


def test_production_settings_without_secrets_exit_cleanly(settings, tmp_path):
    out = subprocess.run(
        [*GUARDLINE, "migrate"],
        cwd=tmp_path,
        env=_env(settings, GUARDLINE_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "GUARDLINE_AUTH__SECRET_KEY" in out.stderr and "Traceback" not in out.stderr


def test_demo_data_refused_in_production(settings, tmp_path):
    env = _env(
        settings,
        GUARDLINE_ENV="production",
        GUARDLINE_AUTH__SECRET_KEY="s" * 40,
        GUARDLINE_DATA_PROTECTION__ID_HASH_KEY="h" * 40,
        GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS='{"k1": "cHJpdmF0ZS10ZXN0LWtleS1ub3QtdGhlLWRlbW8tMDE="}',
        GUARDLINE_DATA_PROTECTION__ACTIVE_KEY="k1",
    )
    out = subprocess.run(
        [*GUARDLINE, "demo-data", "--persons", "10"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "refused in production" in out.stderr


def test_ctrl_c_while_the_command_starts_up_ends_it_quietly(monkeypatch, capsys):
    """A Ctrl-C that reaches a child of ``serve`` (simulator, worker) while it is still importing
    ends it with 130 and no traceback, like one during the command."""
    import services.cli as cli

    def starting(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_main", starting)
    assert cli.main(["sync", "worker"]) == 130
    assert "Traceback" not in capsys.readouterr().err
