"""Run Alembic migrations from code (CLI, tests, the API's ``serve``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def _project_root() -> Path:
    """The folder holding ``migrations/``: the source tree, or the working directory when
    the package is installed elsewhere (as in the container image)."""
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / "migrations" / "env.py").exists():
            return candidate
    raise FileNotFoundError("migrations/ not found next to the package or in the working directory")


def alembic_config(url: str | None = None) -> Config:
    root = _project_root()
    cfg = Config(str(root / "alembic.ini")) if (root / "alembic.ini").exists() else Config()
    cfg.set_main_option("script_location", str(root / "migrations"))
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_on(connection, revision: str = "head") -> None:
    """Upgrade through an open (sync-facing) connection: ``await conn.run_sync(upgrade_on)``."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
