"""The embedded server runs with its own settings (``services.core.db.EMBEDDED_SETTINGS``):
written into its data folder before it starts, for a new folder and an old one alike, and in
effect on the server the tests use."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from services.core.db import EMBEDDED_CONF, EMBEDDED_SETTINGS, tune_embedded
from tests.cli import needs_embedded_server


def test_the_settings_are_written_once_and_included(tmp_path: Path):
    (tmp_path / "postgresql.conf").write_text("shared_buffers = 128MB\n")
    tune_embedded(tmp_path)
    tune_embedded(tmp_path)  # a second start adds nothing
    main = (tmp_path / "postgresql.conf").read_text()
    assert main.count(f"include_if_exists = '{EMBEDDED_CONF}'") == 1
    assert main.startswith("shared_buffers = 128MB\n")  # the rest is kept
    conf = (tmp_path / EMBEDDED_CONF).read_text()
    for name, value in EMBEDDED_SETTINGS.items():
        assert f"\n{name} = {value}\n" in conf


def test_changed_settings_replace_the_old_file(tmp_path: Path):
    (tmp_path / "postgresql.conf").write_text("")
    (tmp_path / EMBEDDED_CONF).write_text("wal_level = replica\n")
    tune_embedded(tmp_path)
    assert "wal_level = replica" not in (tmp_path / EMBEDDED_CONF).read_text()


@needs_embedded_server
async def test_the_running_embedded_server_has_them(engine):
    async with engine.connect() as conn:
        for name in ("wal_level", "max_wal_senders"):
            shown = (await conn.execute(text(f"SHOW {name}"))).scalar_one()
            assert shown == EMBEDDED_SETTINGS[name].strip("'")
