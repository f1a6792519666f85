"""``guardline backup`` / ``restore`` as an operator runs them, on real databases next to the
test database: a small demo county with audit events, a regions import and a department
spreadsheet is backed up, restored into a fresh database and compared; then what must be
refused is (a database that is not empty, a backup already there, keys that are missing,
no pg_dump, a changed archive, a newer schema) and a tampered audit row is caught.

The long commands' ``--json`` output (demo-data, regions-import, sync import and run,
backup, restore) is checked on the way."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from services.core.audit import AuditRecord, record
from services.core.audit.chain import verify_database
from services.core.backup import FORMAT, manifest_path
from services.core.db import create_engine
from services.core.settings import DEMO_ENCRYPTION_KEY_ID
from services.core.sync.config import builtin_sources_on
from tests.conftest import scratch_database
from tests.dbstate import fingerprint

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "guardline_backup_source"
PERSONS = 200


def guardline(settings, url: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test", "GUARDLINE_DATABASE_URL": url, **extra}
    )
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


async def run(settings, url: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(guardline, settings, url, *args, **extra)


def one_json(out: subprocess.CompletedProcess) -> dict:
    """``--json``: standard output is exactly one JSON object."""
    return json.loads(out.stdout)


def empty_database(engine, name: str):
    """URL of a new database with nothing in it (not migrated); dropped afterwards."""
    return scratch_database(engine, name, migrated=False)


async def state(url: str, settings) -> tuple[dict, int]:
    """Every table's count and digest (audit trail aside), and the audit rows."""
    eng = create_engine(url, settings, "tests")
    try:
        async with eng.connect() as conn:
            return await fingerprint(conn), (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()
    finally:
        await eng.dispose()


async def tables_in(url: str, settings) -> int:
    eng = create_engine(url, settings, "tests")
    try:
        async with eng.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))).scalar_one()
    finally:
        await eng.dispose()


# ---- the source: a demo county, audit events, an import, a spreadsheet ----------------------


@pytest.fixture(scope="module")
async def source(engine, settings, tmp_path_factory) -> AsyncIterator[str]:
    async with scratch_database(engine, SOURCE) as url:
        out = await run(settings, url, "demo-data", "--persons", str(PERSONS), "--json")
        assert out.returncode == 0, out.stderr[-3000:]
        loaded = one_json(out)
        assert loaded["persons"] == PERSONS and loaded["rows"]["persons"] == PERSONS
        assert loaded["rows"]["households"] > 0 and loaded["demo_users"] > 0 and loaded["seconds"] >= 0
        assert "persons " not in out.stderr  # no progress lines with --json

        folder = tmp_path_factory.mktemp("backup-source")
        regions = folder / "regions.csv"
        regions.write_text("code,name\n529901001098,备份测试村\n529901001099,备份二村\n", encoding="utf-8")
        out = await run(settings, url, "regions-import", str(regions), "--json")
        assert out.returncode == 0, out.stderr[-3000:]
        assert one_json(out) == {"file": str(regions), "inserted": 2, "updated": 0, "unchanged": 0, "rejected": []}

        sheet = folder / "低保名单.xlsx"
        out = await run(
            settings,
            url,
            "simulate",
            "civil-affairs",
            "--export",
            str(sheet),
            "--county",
            "529901",
            "--database-url",
            url,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        sources = folder / "sources.toml"
        sources.write_text(
            builtin_sources_on({"civil-affairs": 9, "medical-insurance": 9, "education": 9}), encoding="utf-8"
        )
        out = await run(
            settings,
            url,
            "sync",
            "import",
            "--source",
            "civil-affairs",
            str(sheet),
            "--json",
            GUARDLINE_SYNC__SOURCES_FILE=str(sources),
        )
        assert out.returncode == 0, out.stderr[-3000:]
        imported = one_json(out)
        assert imported["status"] == "succeeded" and imported["trigger"] == "spreadsheet"
        assert imported["staged"] > 0 and imported["file_name"] == sheet.name
        assert f"run {imported['id']} " not in out.stderr  # no progress lines with --json
        # A source that is down: the run fails, and --json still prints it, once.
        out = await run(
            settings,
            url,
            "sync",
            "run",
            "--source",
            "education",
            "--json",
            GUARDLINE_SYNC__SOURCES_FILE=str(sources),
            GUARDLINE_SYNC__PAGE_ATTEMPTS="1",
        )
        assert out.returncode == 1
        failed = one_json(out)
        assert failed["status"] == "failed" and failed["source"] == "education" and failed["error_code"]

        eng = create_engine(url, settings, "tests")
        try:
            async with eng.begin() as conn:
                for n in range(5):
                    await record(
                        conn,
                        AuditRecord(
                            action="person.unmask",
                            actor=f"user:{n}",
                            object_type="person",
                            object_id=str(n + 1),
                            region_code="529901001001",
                            request_id=f"backup-{n}",
                        ),
                    )
        finally:
            await eng.dispose()
        yield url


@pytest.fixture(scope="module")
async def backup_file(source, settings, tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("backups") / "county.dump"
    out = await run(settings, source, "backup", str(path), "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    made = one_json(out)
    assert made["path"] == str(path) and made["manifest_path"] == str(manifest_path(path))
    return path, made


# ---- backup and restore ---------------------------------------------------------------------


async def test_a_backup_restores_into_a_fresh_database_as_it_was(engine, settings, source, backup_file):
    path, made = backup_file
    manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT and manifest["dump"]["bytes"] == path.stat().st_size
    assert {k: v for k, v in manifest.items() if k != "table_bytes"} == {
        k: v for k, v in made.items() if k not in ("path", "manifest_path", "reminder")
    }
    assert DEMO_ENCRYPTION_KEY_ID in made["reminder"] and "ID_HASH_KEY" in made["reminder"]
    # The manifest describes the source exactly: counts, the audit head, the keys in use.
    source_state, audit_rows = await state(source, settings)
    assert {t: n for t, (n, _) in source_state.items()} == {
        t: n for t, n in manifest["row_counts"].items() if t in source_state
    }
    assert set(manifest["row_counts"]) == set(source_state) | {"alembic_version", "audit_log", "rate_limit_counts"}
    assert manifest["row_counts"]["persons"] == PERSONS and manifest["row_counts"]["dept_records"] > 0
    assert manifest["audit"]["rows"] == audit_rows >= 5
    eng = create_engine(source, settings, "tests")
    try:
        assert manifest["audit"]["head"] == (await verify_database(eng)).head
    finally:
        await eng.dispose()
    assert manifest["keys"]["encryption_key_ids"] == [DEMO_ENCRYPTION_KEY_ID]
    assert manifest["keys"]["per_column"]["persons.id_number_enc"] == {DEMO_ENCRYPTION_KEY_ID: PERSONS}
    assert manifest["keys"]["id_hash_key_needed"] is True
    assert manifest["migration_heads"] and manifest["created_at"].endswith("+08:00")
    text_dump = json.dumps(manifest)
    assert "Z3VhcmRsaW5l" not in text_dump and "guardline-demo-id-hash-key" not in text_dump  # no key material
    # A plain pg_dump archive: PostgreSQL's own tools read it.
    assert path.read_bytes()[:5] == b"PGDMP"

    async with empty_database(engine, "guardline_backup_restored") as target:
        out = await run(settings, target, "restore", str(path), "--json")
        assert out.returncode == 0, out.stdout + out.stderr[-3000:]
        restored = one_json(out)
        assert restored["ok"] is True and restored["notes"] == [] and restored["dropped"] is None
        assert {c["name"]: c["ok"] for c in restored["checks"]} == {
            "audit_chain": True,
            "row_counts": True,
            "key_ids": True,
            "id_hash_key": True,
        }
        assert restored["audit_head"] == manifest["audit"]["head"]
        assert await state(target, settings) == (source_state, audit_rows)
        # The operator's own check agrees, against the head the manifest noted.
        out = await run(settings, target, "audit", "verify", "--expect-head", manifest["audit"]["head"])
        assert out.returncode == 0 and f"{audit_rows} rows checked" in out.stdout, out.stdout

        # A second restore into it is refused and changes nothing; --clean replaces it.
        out = await run(settings, target, "restore", str(path))
        assert out.returncode == 2
        assert "is not empty" in out.stderr and f"{audit_rows} audit rows" in out.stderr and "--clean" in out.stderr
        assert await state(target, settings) == (source_state, audit_rows)
        out = await run(settings, target, "restore", str(path), "--clean")
        assert out.returncode == 0, out.stdout + out.stderr[-3000:]
        assert "set aside" in out.stderr and "ok     audit_chain" in out.stdout
        assert await state(target, settings) == (source_state, audit_rows)
        # A --clean whose pg_restore fails puts back what it set aside.
        tools = path.parent / "failing-tools"
        tools.mkdir(exist_ok=True)
        failing = tools / "pg_restore"
        failing.write_text(
            "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'pg_restore (PostgreSQL) 16.2'; exit 0; }\n"
            "echo 'pg_restore: error: could not execute query: simulated' >&2; exit 1\n"
        )
        failing.chmod(0o755)
        out = await run(settings, target, "restore", str(path), "--clean", GUARDLINE_PG_BIN_DIR=str(tools))
        assert out.returncode == 4 and "simulated" in out.stderr
        assert await state(target, settings) == (source_state, audit_rows)
        assert await tables_in(target, settings) == len(manifest["row_counts"])


async def test_the_application_role_is_granted_after_a_restore(engine, settings, backup_file):
    path, _ = backup_file
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(
            text(
                "DO $$ BEGIN CREATE ROLE guardline_backup_app NOLOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
    try:
        await _restore_granted(engine, settings, path)
    finally:  # a role is the server's, not the database's
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("DROP ROLE IF EXISTS guardline_backup_app"))


async def _restore_granted(engine, settings, path: Path) -> None:
    async with empty_database(engine, "guardline_backup_granted") as target:
        out = await run(settings, target, "restore", str(path), "--app-role", "no_such_role")
        assert out.returncode == 2 and "does not exist" in out.stderr
        assert await tables_in(target, settings) == 0
        out = await run(settings, target, "restore", str(path), "--app-role", "guardline_backup_app", "--json")
        assert out.returncode == 0, out.stderr[-3000:]
        assert one_json(out)["app_role"] == "guardline_backup_app"
        eng = create_engine(target, settings, "tests")
        try:
            async with eng.connect() as conn:
                privileges = (
                    await conn.execute(
                        text(
                            "SELECT has_table_privilege('guardline_backup_app', 'persons', 'SELECT'), "
                            "has_table_privilege('guardline_backup_app', 'audit_log', 'INSERT'), "
                            "has_table_privilege('guardline_backup_app', 'audit_log', 'UPDATE')"
                        )
                    )
                ).one()
        finally:
            await eng.dispose()
        assert tuple(privileges) == (True, True, False)


# ---- refusals -------------------------------------------------------------------------------


async def test_a_backup_is_never_overwritten_without_force(settings, source, backup_file):
    path, _ = backup_file
    copy = path.with_name("again.dump")
    shutil.copy(path, copy)
    shutil.copy(manifest_path(path), manifest_path(copy))
    before = copy.read_bytes()
    files_before = (copy.stat().st_ino, manifest_path(copy).stat().st_ino)
    out = await run(settings, source, "backup", str(copy))
    assert out.returncode == 2 and "already exist" in out.stderr and "--force" in out.stderr
    assert copy.read_bytes() == before and copy.stat().st_ino == files_before[0]
    out = await run(settings, source, "backup", str(copy), "--force")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "REMINDER" in out.stderr and DEMO_ENCRYPTION_KEY_ID in out.stderr and "ID_HASH_KEY" in out.stderr
    # Written anew, both files (a new file renamed over each; the dump itself may be the same
    # bytes: pg_dump's header keeps the time to the second, and nothing changed in between).
    assert copy.stat().st_ino != files_before[0] and manifest_path(copy).stat().st_ino != files_before[1]
    assert (
        json.loads(manifest_path(copy).read_text())["dump"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    )
    assert not [p.name for p in copy.parent.iterdir() if p.name.endswith(".partial")]


async def test_missing_key_ids_are_named_and_nothing_is_restored(engine, settings, backup_file):
    path, _ = backup_file
    other = base64.b64encode(b"another-32-byte-key-for-a-test!!").decode()
    async with empty_database(engine, "guardline_backup_nokeys") as target:
        out = await run(
            settings,
            target,
            "restore",
            str(path),
            GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS=json.dumps({"other": other}),
            GUARDLINE_DATA_PROTECTION__ACTIVE_KEY="other",
        )
        assert out.returncode == 5, out.stderr
        assert f"lacks encryption key id(s) {DEMO_ENCRYPTION_KEY_ID}" in out.stderr and other not in out.stderr
        assert await tables_in(target, settings) == 0


async def test_without_pg_dump_the_commands_say_what_to_install(engine, settings, source, backup_file, tmp_path):
    path, _ = backup_file
    empty = tmp_path / "no-tools"
    empty.mkdir()
    target = tmp_path / "never.dump"
    out = await run(settings, source, "backup", str(target), GUARDLINE_PG_BIN_DIR=str(empty))
    assert out.returncode == 3
    assert "no usable pg_dump" in out.stderr and "GUARDLINE_PG_BIN_DIR" in out.stderr
    assert list(tmp_path.iterdir()) == [empty]
    # A pg_dump older than the server will not do either.
    old = empty / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    out = await run(settings, source, "backup", str(target), GUARDLINE_PG_BIN_DIR=str(empty))
    assert out.returncode == 3 and "9.6.24" in out.stderr and "or newer" in out.stderr
    async with empty_database(engine, "guardline_backup_notools") as db:
        out = await run(settings, db, "restore", str(path), GUARDLINE_PG_BIN_DIR=str(empty))
        assert out.returncode == 3 and "no usable pg_restore" in out.stderr
        assert await tables_in(db, settings) == 0


async def test_a_changed_archive_or_a_newer_schema_is_refused(engine, settings, backup_file, tmp_path):
    path, _ = backup_file
    changed = tmp_path / "changed.dump"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    changed.write_bytes(bytes(data))
    shutil.copy(manifest_path(path), manifest_path(changed))
    newer = tmp_path / "newer.dump"
    shutil.copy(path, newer)
    manifest = json.loads(manifest_path(path).read_text())
    manifest_path(newer).write_text(json.dumps({**manifest, "migration_heads": ["ffffffffffff"]}))
    alone = tmp_path / "alone.dump"
    shutil.copy(path, alone)
    async with empty_database(engine, "guardline_backup_refused") as target:
        out = await run(settings, target, "restore", str(changed))
        assert out.returncode == 2 and "does not match its manifest" in out.stderr
        out = await run(settings, target, "restore", str(newer))
        assert out.returncode == 2 and "newer than this Guardline" in out.stderr and "ffffffffffff" in out.stderr
        out = await run(settings, target, "restore", str(alone))
        assert out.returncode == 2 and "manifest.json is missing" in out.stderr
        assert await tables_in(target, settings) == 0


async def test_an_older_backup_restores_with_a_call_to_migrate(engine, settings, backup_file, tmp_path):
    path, _ = backup_file
    older = tmp_path / "older.dump"
    shutil.copy(path, older)
    manifest = json.loads(manifest_path(path).read_text())
    manifest_path(older).write_text(json.dumps({**manifest, "migration_heads": ["e50fd8d450de"]}))
    async with empty_database(engine, "guardline_backup_older") as target:
        out = await run(settings, target, "restore", str(older))
        assert out.returncode == 0, out.stderr[-3000:]
        assert "older than this version's" in out.stdout and "guardline migrate" in out.stdout


async def test_a_tampered_audit_row_fails_the_restore_check(engine, settings, backup_file, tmp_path):
    """Someone with the owner's rights edits an audit row of a restored copy, which is then
    backed up and restored again: the restore says the chain is broken, and where."""
    path, _ = backup_file
    tampered = tmp_path / "tampered.dump"
    async with (
        empty_database(engine, "guardline_backup_tampered") as first,
        empty_database(engine, "guardline_backup_tampered_2") as second,
    ):
        out = await run(settings, first, "restore", str(path))
        assert out.returncode == 0, out.stderr[-3000:]
        eng = create_engine(first, settings, "tests")
        try:
            async with eng.begin() as conn:
                await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
                await conn.execute(text("UPDATE audit_log SET actor = 'user:999' WHERE id = 2"))
                await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"))
        finally:
            await eng.dispose()
        out = await run(settings, first, "backup", str(tampered))
        assert out.returncode == 0, out.stderr[-3000:]
        out = await run(settings, second, "restore", str(tampered), "--json")
        assert out.returncode == 1
        result = one_json(out)
        assert result["ok"] is False
        audit = next(c for c in result["checks"] if c["name"] == "audit_chain")
        assert audit["ok"] is False and "BROKEN at row 2" in audit["detail"]
        out = await run(settings, second, "restore", str(tampered), "--clean")
        assert out.returncode == 1
        assert "FAILED audit_chain" in out.stdout and "do not put it into service" in out.stderr
