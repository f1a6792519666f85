"""What an operator meets when a county's installation is set up (docs/operations.md): a
worker without its sources file, a machine without a database, the install from the lock."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.settings import Settings
from services.core.sync.config import BUILTIN_SOURCES, load_sources, sources_path
from tests.cli import GUARDLINE, ROOT, committed_engine, run_guardline

# Private values of the length production wants (never the demo's).
KEY = base64.b64encode(b"k" * 32).decode()
PRODUCTION = {
    "GUARDLINE_ENV": "production",
    "GUARDLINE_AUTH__SECRET_KEY": "s" * 40,
    "GUARDLINE_DATA_PROTECTION__ID_HASH_KEY": "h" * 40,
    "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS": f'{{"k1": "{KEY}"}}',
    "GUARDLINE_DATA_PROTECTION__ACTIVE_KEY": "k1",
}


def guardline(*args: str, env: dict[str, str], code: str | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    environ.update(env)
    argv = [sys.executable, "-c", code, *args] if code else [*GUARDLINE, *args]
    return subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "worker"],
        ["sync", "run", "--source", "civil-affairs"],
        ["sync", "import", "--source", "civil-affairs", "file.csv"],
    ],
)
def test_a_production_worker_without_a_sources_file_refuses_to_start(command, tmp_path):
    """It would otherwise pull the demo's simulators on 127.0.0.1; it says what to set
    before it touches any database (there is none here)."""
    out = guardline(*command, env={**PRODUCTION, "GUARDLINE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 2, out.stderr
    assert "GUARDLINE_SYNC__SOURCES_FILE" in out.stderr and "deploy/sources.toml" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "pgdata").exists()  # no embedded server was started


BROKEN_SOURCE = """
[[sources]]
name = "civil-affairs"
kind = "civil-affairs"
counties = ["529901"]
[sources.auth]
client_secret = 987654321
[sources.fields]
id_number = ["sfzh"]
record_id = ["jzid"]
"""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[[sources]\nname = ", "Expected"),  # not TOML
        (BROKEN_SOURCE, "sources.0.auth.client_secret"),  # a value of the wrong type, named by its place
        (None, "No such file"),
    ],
)
def test_a_sources_file_that_cannot_be_used_is_refused_before_anything_starts(text, said, tmp_path):
    path = tmp_path / "sources.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    out = guardline(
        "sync",
        "worker",
        env={**PRODUCTION, "GUARDLINE_DATA_DIR": str(tmp_path), "GUARDLINE_SYNC__SOURCES_FILE": str(path)},
    )
    assert out.returncode == 2, out.stderr
    assert f"sources file {path}" in out.stderr and said in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "987654321" not in out.stderr  # the secret is not printed
    assert not (tmp_path / "pgdata").exists()


def test_production_without_a_sources_file_has_no_sources_never_the_demos(tmp_path):
    production = Settings.model_validate({**_production_settings(), "env": "production"})
    assert sources_path(production) is None and len(load_sources(production)) == 0
    development = Settings.model_validate({"env": "development"})
    assert sources_path(development) == BUILTIN_SOURCES
    assert load_sources(development).names() == ["civil-affairs", "medical-insurance", "education", "housing"]
    county = tmp_path / "sources.toml"
    county.write_text((ROOT / "deploy" / "sources.toml").read_text(encoding="utf-8"), encoding="utf-8")
    configured = Settings.model_validate(
        {**_production_settings(), "env": "production", "sync": {"sources_file": str(county)}}
    )
    assert sources_path(configured) == county and len(load_sources(configured)) == 0


def _production_settings() -> dict:
    return {
        "auth": {"secret_key": "s" * 40},
        "data_protection": {"id_hash_key": "h" * 40, "active_key": "k1", "encryption_keys": {"k1": KEY}},
    }


async def test_a_worker_on_the_shipped_sources_file_runs_only_the_daily_checks(engine, settings):
    """deploy/sources.toml as shipped lists no source: the worker starts and says so."""
    async with committed_engine(engine, settings, "guardline_ops_worker") as eng:
        url = eng.url.render_as_string(hide_password=False)
        out = await asyncio.to_thread(
            run_guardline,
            settings,
            "guardline_ops_worker",
            "sync",
            "worker",
            "--once",
            GUARDLINE_DATABASE_URL=url,
            GUARDLINE_SYNC__SOURCES_FILE=str(ROOT / "deploy" / "sources.toml"),
        )
    assert out.returncode == 0, out.stderr
    assert "lists no department source" in out.stderr and "0 runs carried out" in out.stderr


def test_without_a_database_url_or_the_embedded_server_the_cli_says_what_to_set(tmp_path):
    """The image has no pgserver: a command run there without GUARDLINE_DATABASE_URL gets a
    sentence, not a traceback."""
    block = (
        "import sys; sys.modules['pgserver'] = None; sys.argv[0] = 'guardline'; "
        "from services.cli import main; raise SystemExit(main(sys.argv[1:]))"
    )
    out = guardline("migrate", env={"GUARDLINE_DATA_DIR": str(tmp_path)}, code=block)
    assert out.returncode == 2, out.stderr
    assert "GUARDLINE_DATABASE_URL" in out.stderr and "guardline[embedded]" in out.stderr
    assert "Traceback" not in out.stderr


# ---- tasks.py: the install from the lock ----------------------------------------------------


@pytest.fixture
def tasks_in(tmp_path, monkeypatch):
    """tasks.py acting on a copy of the checkout's pyproject.toml and lock in ``tmp_path``,
    with pip's commands recorded instead of run."""
    import tasks

    (tmp_path / "requirements").mkdir()
    for name in ("pyproject.toml", "requirements/dev.txt"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    venv = tmp_path / ".venv"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")  # .venv exists: no new one is created
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    monkeypatch.setattr(tasks, "LOCK_DEV", tmp_path / "requirements" / "dev.txt")
    monkeypatch.setattr(tasks, "VENV", venv)
    monkeypatch.setattr(tasks, "BIN", venv / "bin")
    monkeypatch.setattr(tasks, "STAMP", venv / ".guardline-installed")
    ran: list[list[str]] = []
    monkeypatch.setattr(tasks.subprocess, "run", lambda argv, check: ran.append(list(argv)))
    return tasks, tmp_path, ran


def test_bootstrap_installs_the_locked_versions_then_the_project_alone(tasks_in):
    tasks, root, ran = tasks_in
    tasks.bootstrap()
    installs = [argv[argv.index("install") + 1 :] for argv in ran if "install" in argv and "--upgrade" not in argv]
    assert installs == [
        ["--require-hashes", "--no-deps", "-r", str(root / "requirements" / "dev.txt")],
        ["--no-deps", "-e", str(root)],
    ]
    assert tasks.STAMP.read_text() == tasks.install_fingerprint()
    ran.clear()
    tasks.bootstrap()
    assert ran == []  # nothing changed: nothing installed


@pytest.mark.parametrize("changed", ["requirements/dev.txt", "pyproject.toml"])
def test_a_changed_lock_or_pyproject_reinstalls(tasks_in, changed: str):
    tasks, root, ran = tasks_in
    tasks.bootstrap()
    ran.clear()
    path: Path = root / changed
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    tasks.bootstrap()
    assert any("--require-hashes" in argv for argv in ran)
    assert tasks.STAMP.read_text() == tasks.install_fingerprint()
