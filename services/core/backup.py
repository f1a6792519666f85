"""Backups of the database (``guardline backup PATH`` / ``guardline restore PATH``).

A backup is two files: ``PATH``, a plain ``pg_dump`` archive in the custom format (any
PostgreSQL tool reads it: ``pg_restore -l PATH``), and ``PATH.manifest.json`` beside it,
which says what the archive holds: when and by which Guardline version it was made, the
migration head, the row count of every table, the head of the audit trail's hash chain,
the ids of the encryption keys the data is encrypted under (never a key), and the
archive's size and sha256 (a manifest that does not match its archive is refused).

The counts and the audit head are read in the very snapshot that ``pg_dump`` dumps
(``pg_export_snapshot``), so they describe the archive exactly while the API keeps writing.

A restore goes only into an empty database (or, with ``clean``, one whose schema it drops
first, saying what it drops), in one transaction (all or nothing), without the archive's
owners and grants (the restoring role owns everything; the application role is granted
again). Afterwards it checks what it restored: the audit chain, up to the manifest's head;
the row counts; that the configured keys open the data (key ids, and one ID number's keyed
hash). docs/backup.md has the operator's side.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.core.progress import Report, Step, silent
from services.core.settings import Settings

FORMAT = "guardline-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
# Where ``restore --clean`` keeps the schema it replaces until the restore has succeeded.
ASIDE = "guardline_before_restore"
CHINA = ZoneInfo("Asia/Shanghai")

# Exit codes of ``guardline backup`` / ``restore`` (docs/backup.md).
EXIT_OK = 0
EXIT_VERIFY_FAILED = 1  # restored, but a check of what was restored failed
EXIT_REFUSED = 2  # refused before anything was written
EXIT_NO_TOOL = 3  # no usable pg_dump / pg_restore
EXIT_TOOL_FAILED = 4  # pg_dump / pg_restore failed (nothing kept, nothing restored)
EXIT_KEYS_MISSING = 5  # the configured key ring lacks key ids the data needs


class BackupError(Exception):
    exit_code = EXIT_REFUSED


class Refused(BackupError):
    """Nothing was written: the target exists, the database is not empty, the manifest …"""


class ToolMissing(BackupError):
    exit_code = EXIT_NO_TOOL


class ToolFailed(BackupError):
    exit_code = EXIT_TOOL_FAILED


class KeysMissing(BackupError):
    exit_code = EXIT_KEYS_MISSING

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(
            f"the configured key ring lacks encryption key id(s) {', '.join(missing)} that the backup's data is "
            f"encrypted under: set them in GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS (from where the key ring is "
            f"kept) and run the restore again; nothing was restored"
        )


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


# ---- pg_dump and pg_restore ----------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int
    version: str


_VERSION = re.compile(r"\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)")


def _probe(path: Path) -> Tool | None:
    if not path.is_file() or not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return Tool(path, int(match.group(2)), match.group(1)) if match else None


def _candidates(name: str, bin_dir: Path | None) -> list[Path]:
    if bin_dir is not None:  # the setting alone decides
        return [Path(bin_dir) / name]
    found: list[Path] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import POSTGRES_BIN_PATH  # the embedded server's own binaries
        found.append(Path(POSTGRES_BIN_PATH) / name)
    except ImportError:
        pass
    which = shutil.which(name)
    if which:
        found.append(Path(which))
    # Debian and Ubuntu keep several client versions side by side.
    found.extend(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}")))
    return found


def find_tool(name: str, at_least: int, bin_dir: Path | None, prefer: int | None = None) -> Tool:
    """A ``name`` (pg_dump, pg_restore) of major version ``at_least`` or newer: ``prefer``'s
    major if there is one, else the oldest that will do. ``bin_dir`` (GUARDLINE_PG_BIN_DIR)
    replaces the search: the embedded server's binaries, PATH, /usr/lib/postgresql/*/bin."""
    seen: dict[Path, Tool | None] = {}
    for path in _candidates(name, bin_dir):
        real = path.resolve() if path.exists() else path
        if real not in seen:
            seen[real] = _probe(path)
    tools = [t for t in seen.values() if t is not None]
    usable = sorted((t for t in tools if t.major >= at_least), key=lambda t: t.major)
    if usable:
        exact = [t for t in usable if t.major == prefer]
        return (exact or usable)[0]
    where = (
        f"in {bin_dir} (GUARDLINE_PG_BIN_DIR)"
        if bin_dir is not None
        else "with the embedded server, on PATH or in /usr/lib/postgresql/*/bin"
    )
    found = ", ".join(f"{t.path} ({t.version})" for t in tools) or "none"
    raise ToolMissing(
        f"no usable {name} {where}: PostgreSQL {at_least} needs {name} {at_least} or newer "
        f"(found: {found}). Install the PostgreSQL {at_least} client programs (Debian: "
        f"postgresql-client-{at_least}) or point GUARDLINE_PG_BIN_DIR at their folder"
    )


_LIBPQ_PARAMS = {
    "host",
    "hostaddr",
    "port",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "gssencmode",
    "sslpassword",
}


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy/asyncpg URL as a libpq URI without its password, and the environment
    that carries the password (never on a command line, where ``ps`` shows it)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = {"PGAPPNAME": "guardline-backup", "PGCONNECT_TIMEOUT": "30"}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    query: dict[str, str] = {}
    for key, value in u.query.items():
        value = value[-1] if isinstance(value, tuple) else value
        if key == "ssl":  # asyncpg's name
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        if key in _LIBPQ_PARAMS:
            query[key] = value
    uri = u.set(drivername="postgresql", password=None, query=query).render_as_string(hide_password=False)
    return uri, env


async def _run_tool(argv: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> None:
    """Run ``argv``, handing each line of its standard error (``--verbose``) to ``on_line``;
    ToolFailed with the lines that say what went wrong."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env}
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            on_line(line)
        code = await proc.wait()
    except BaseException:  # interrupted: the tool goes too
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if code != 0:
        told = [ln for ln in lines if re.search(r"error|fatal|warning|detail|hint", ln, re.I)] or lines
        raise ToolFailed(f"{Path(argv[0]).name} failed (exit {code}):\n  " + "\n  ".join(told[-15:]))


# ---- what a database holds -----------------------------------------------------------------


async def _tables(conn) -> list[str]:
    return [
        r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    ]


async def describe(conn) -> dict[str, Any]:
    """Migration head, row counts, table sizes, audit head and the key ids in use, as seen
    by ``conn`` (an asyncpg connection, inside the transaction whose snapshot counts)."""
    from services.core.keys import _KEY_ID_SQL, ENCRYPTED

    tables = await _tables(conn)
    counts = {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}
    sizes = {t: int(await conn.fetchval("SELECT pg_table_size(to_regclass($1))", f'public."{t}"')) for t in tables}
    heads = (
        sorted(r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version"))
        if "alembic_version" in counts
        else []
    )
    audit: dict[str, Any] = {"rows": counts.get("audit_log", 0), "head": None, "first_id": None}
    if "audit_log" in counts:
        last = await conn.fetchrow("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        if last is not None:
            audit["head"] = f"{last['id']}:{bytes(last['hash']).hex()}"
            audit["first_id"] = int(await conn.fetchval("SELECT min(id) FROM audit_log"))
    per_column: dict[str, dict[str, int]] = {}
    for col in ENCRYPTED:
        if col.table in counts:
            rows = await conn.fetch(
                f"SELECT {_KEY_ID_SQL.format(c=col.column)} AS key_id, count(*) AS n "
                f"FROM {col.table} WHERE {col.holds_blob()} GROUP BY 1 ORDER BY 1"
            )
            per_column[col.name] = {r["key_id"]: int(r["n"]) for r in rows}
    key_ids = sorted({k for per_key in per_column.values() for k in per_key})
    return {
        "migration_heads": heads,
        "row_counts": counts,
        "table_bytes": sizes,
        "audit": audit,
        "keys": {
            "encryption_key_ids": key_ids,
            "per_column": per_column,
            "id_hash_key_needed": counts.get("persons", 0) > 0,
        },
    }


def guardline_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("guardline")
    except PackageNotFoundError:
        return "unknown"


def code_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from services.core.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from services.core.migrate import alembic_config

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


async def _connect(url: str):
    import asyncpg

    from services.core.db import asyncpg_dsn

    return await asyncpg.connect(
        asyncpg_dsn(url), server_settings={"application_name": "guardline-backup", "timezone": "Asia/Shanghai"}
    )


class _TableProgress:
    """Follows ``--verbose`` lines naming a table's data, weighted by the tables' sizes."""

    def __init__(self, report: Report, stage: str, sizes: dict[str, int], pattern: str):
        self.report, self.stage, self.sizes = report, stage, sizes
        self.total = max(1, sum(sizes.values()))
        self.pattern = re.compile(pattern)
        self.done = 0
        self.current: str | None = None

    def __call__(self, line: str) -> None:
        match = self.pattern.search(line)
        if not match:
            return
        if self.current is not None:
            self.done += self.sizes.get(self.current, 0)
        self.current = match.group(1)
        self.report(Step(self.stage, f"{self.stage}: {self.current}", min(self.done, self.total), self.total, "bytes"))

    def finish(self) -> None:
        self.report(Step(self.stage, f"{self.stage}: done", self.total, self.total, "bytes"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- backup ---------------------------------------------------------------------------------


async def backup(
    settings: Settings, url: str, path: Path, *, force: bool = False, report: Report = silent
) -> dict[str, Any]:
    """Dump the database at ``url`` (the owner's) into ``path`` and write its manifest;
    returns the manifest. Atomic: written under temporary names, renamed at the end."""
    path = Path(path)
    manifest_file = manifest_path(path)
    if not path.parent.is_dir():
        raise Refused(f"no such folder: {path.parent}")
    if path.is_dir():
        raise Refused(f"{path} is a folder: give the backup's file name")
    existing = [str(p) for p in (path, manifest_file) if p.exists()]
    if existing and not force:
        raise Refused(
            f"{' and '.join(existing)} already exist(s): choose another name, or pass --force to "
            f"replace the backup there"
        )
    conn = await _connect(url)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial_manifest = manifest_file.with_name(f".{manifest_file.name}.{os.getpid()}.partial")
    try:
        server = conn.get_server_version()
        tool = find_tool("pg_dump", server.major, settings.pg_bin_dir, prefer=server.major)
        server_version = await conn.fetchval("SHOW server_version")
        report(Step("backup", f"pg_dump {tool.version} ({tool.path}), PostgreSQL {server_version}"))
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            database = await conn.fetchval("SELECT current_database()")
            report(Step("backup", "counting rows"))
            facts = await describe(conn)
            if not facts["migration_heads"]:
                raise Refused(
                    f"database {database!r} is not a Guardline database (no alembic_version): nothing to back up"
                )
            uri, env = libpq_target(url)
            progress = _TableProgress(
                report, "dump", facts["table_bytes"], r'dumping contents of table "public\.([^"]+)"'
            )
            await _run_tool(
                [
                    str(tool.path),
                    "--format=custom",
                    "--verbose",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={uri}",
                ],
                env,
                progress,
            )
            progress.finish()
        _fsync(partial)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(CHINA).isoformat(timespec="seconds"),
            "guardline_version": guardline_version(),
            "database": {"name": database, "server_version": server_version},
            "pg_dump": {"version": tool.version, "major": tool.major},
            "dump": {"file": path.name, "bytes": partial.stat().st_size, "sha256": _sha256(partial)},
            **facts,
        }
        partial_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _fsync(partial_manifest)
        os.replace(partial, path)
        os.replace(partial_manifest, manifest_file)
        _fsync(path.parent)
        return manifest
    finally:
        await conn.close()
        for leftover in (partial, partial_manifest):
            leftover.unlink(missing_ok=True)


# ---- restore --------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the backup at ``path``, checked against the archive (size, sha256)."""
    path = Path(path)
    manifest_file = manifest_path(path)
    if not path.is_file():
        raise Refused(f"no backup at {path}")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Refused(
            f"{manifest_file} is missing: a backup is the archive and its manifest together "
            f"(`guardline backup` writes both)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"{manifest_file} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Refused(f"{manifest_file} is not a manifest of format {FORMAT}")
    dump = manifest.get("dump") or {}
    size = path.stat().st_size
    if size != dump.get("bytes") or _sha256(path) != dump.get("sha256"):
        raise Refused(
            f"{path} does not match its manifest (size or sha256 differ): the archive was changed, "
            f"cut short, or belongs to another manifest"
        )
    return manifest


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, int] | None = None
    app_role: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [c.__dict__ for c in self.checks],
            "notes": self.notes,
            "dropped": self.dropped,
            "app_role": self.app_role,
            "backup": {k: self.manifest.get(k) for k in ("created_at", "guardline_version", "migration_heads", "dump")},
            "audit_head": self.manifest.get("audit", {}).get("head"),
        }


def migration_notes(manifest: dict[str, Any]) -> list[str]:
    """Refused when the backup's schema is newer than this code's; a note when it is older."""
    heads = list(manifest.get("migration_heads") or [])
    current = code_heads()
    unknown = [h for h in heads if not known_revision(h)]
    if unknown:
        raise Refused(
            f"the backup's schema (migration {', '.join(unknown)}) is newer than this Guardline "
            f"{guardline_version()} knows (head {', '.join(sorted(current))}): restore it with the version "
            f"that made it ({manifest.get('guardline_version')}); nothing was restored"
        )
    if set(heads) != current:
        return [
            f"the backup's schema is at migration {', '.join(heads)}, older than this version's "
            f"{', '.join(sorted(current))}: run `guardline migrate` before starting the API"
        ]
    return []


async def _contents(conn) -> dict[str, int]:
    """What the target holds outside PostgreSQL's own schemas: relations and routines."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
        "          AND n.nspname NOT LIKE 'pg_temp%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')) AS relations, "
        "       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) AS routines, "
        "       (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
        "          AND nspname NOT LIKE 'pg\\_%') AS schemas"
    )
    out = {k: int(row[k]) for k in ("relations", "routines", "schemas")}
    if await conn.fetchval("SELECT to_regclass('public.audit_log') IS NOT NULL"):
        out["audit_rows"] = int(await conn.fetchval("SELECT count(*) FROM public.audit_log"))
    return out


async def restore(
    settings: Settings,
    url: str,
    path: Path,
    *,
    clean: bool = False,
    app_role: str | None = None,
    report: Report = silent,
) -> RestoreResult:
    """Restore the backup at ``path`` into the database at ``url`` (as its owner), then
    check it. Raises a ``BackupError`` when refused before writing or when pg_restore
    fails; otherwise the result says which checks passed."""
    from services.core.crypto import keyring

    path = Path(path)
    manifest = read_manifest(path)
    result = RestoreResult(manifest)
    result.notes.extend(migration_notes(manifest))
    needed = list(manifest.get("keys", {}).get("encryption_key_ids") or [])
    missing = sorted(set(needed) - keyring(settings).key_ids)
    if missing:
        raise KeysMissing(missing)
    conn = await _connect(url)
    try:
        server = conn.get_server_version()
        dumped_by = int(manifest.get("pg_dump", {}).get("major") or 0)
        tool = find_tool("pg_restore", max(dumped_by, 1), settings.pg_bin_dir, prefer=server.major)
        contents = await _contents(conn)
        database = await conn.fetchval("SELECT current_database()")
        if app_role:
            await _check_app_role(conn, app_role)
        if contents["relations"] or contents["routines"] or contents["schemas"]:
            held = f"{contents['relations']} tables, views or sequences, {contents['routines']} functions" + (
                f", {contents['audit_rows']} audit rows" if "audit_rows" in contents else ""
            )
            if not clean:
                raise Refused(
                    f"database {database!r} is not empty ({held}): a restore never overwrites. Restore "
                    f"into a new, empty database, or pass --clean to drop its schema public first"
                )
            if contents["schemas"]:
                names = [
                    r[0]
                    for r in await conn.fetch(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
                        "AND nspname NOT LIKE 'pg\\_%' ORDER BY 1"
                    )
                ]
                raise Refused(
                    f"database {database!r} has schemas other than public ({', '.join(names)}): --clean "
                    f"replaces only public; restore into a new, empty database"
                )
            report(
                Step(
                    "restore",
                    f"--clean: schema public of {database!r} ({held}) set aside as {ASIDE}, "
                    f"dropped once the restore has succeeded",
                )
            )
            async with conn.transaction():
                await conn.execute(f"ALTER SCHEMA public RENAME TO {ASIDE}")
                await conn.execute("CREATE SCHEMA public")
            result.dropped = contents
        report(
            Step(
                "restore",
                f"pg_restore {tool.version} ({tool.path}) into {database!r}, "
                f"PostgreSQL {await conn.fetchval('SHOW server_version')}",
            )
        )
    finally:
        await conn.close()

    uri, env = libpq_target(url)
    progress = _TableProgress(
        report, "restore", manifest.get("table_bytes") or {}, r'processing data for table "public\.([^"]+)"'
    )
    try:
        await _run_tool(
            [
                str(tool.path),
                "--verbose",
                "--no-password",
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                f"--dbname={uri}",
                str(path),
            ],
            env,
            progress,
        )
    except BaseException:
        if result.dropped is not None:  # what --clean set aside comes back
            await _swap_back(url)
        raise
    progress.finish()
    if result.dropped is not None:
        conn = await _connect(url)
        try:
            await conn.execute(f"DROP SCHEMA {ASIDE} CASCADE")
        finally:
            await conn.close()

    conn = await _connect(url)
    try:
        report(Step("verify", "analysing the restored tables"))
        await conn.execute("ANALYZE")
        if app_role:
            from services.core.grants import statements

            async with conn.transaction():
                for sql in statements(app_role):
                    await conn.execute(sql)
            result.app_role = app_role
        report(Step("verify", "checking row counts and keys"))
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            found = await describe(conn)
            result.checks.append(_count_check(manifest.get("row_counts") or {}, found["row_counts"]))
            result.checks.append(_key_check(settings, found["keys"]["encryption_key_ids"]))
            result.checks.append(await _id_hash_check(conn, settings))
    finally:
        await conn.close()
    report(Step("verify", "verifying the audit chain"))
    result.checks.insert(0, await _audit_check(settings, url, manifest))
    return result


async def _swap_back(url: str) -> None:
    conn = await _connect(url)
    try:
        async with conn.transaction():
            await conn.execute("DROP SCHEMA public CASCADE")
            await conn.execute(f"ALTER SCHEMA {ASIDE} RENAME TO public")
    finally:
        await conn.close()


async def _check_app_role(conn, role: str) -> None:
    from services.core.grants import statements

    try:
        statements(role)
    except ValueError as exc:
        raise Refused(f"--app-role: {exc}") from None
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        raise Refused(
            f"--app-role: role {role!r} does not exist (create it first, or leave --app-role out and run "
            f"`guardline grant-app` later)"
        )
    if role == await conn.fetchval("SELECT current_user"):
        raise Refused(
            f"--app-role: {role!r} is the role restoring (and so owning) the tables: the application must "
            f"connect as another role"
        )


def _count_check(expected: dict[str, int], found: dict[str, int]) -> Check:
    differ = {
        t: (expected.get(t), found.get(t)) for t in expected.keys() | found.keys() if expected.get(t) != found.get(t)
    }
    if differ:
        shown = "; ".join(f"{t}: manifest {e}, restored {f}" for t, (e, f) in sorted(differ.items()))
        return Check("row_counts", False, f"row counts differ from the manifest: {shown}")
    return Check("row_counts", True, f"{len(found)} tables, {sum(found.values())} rows, as in the manifest")


def _key_check(settings: Settings, in_data: list[str]) -> Check:
    from services.core.crypto import keyring

    missing = sorted(set(in_data) - keyring(settings).key_ids)
    if missing:
        return Check(
            "key_ids",
            False,
            f"the restored data is encrypted under key id(s) {', '.join(missing)} that the configured key ring lacks",
        )
    return Check("key_ids", True, f"the key ring holds every key id in the data ({', '.join(in_data) or 'none'})")


async def _id_hash_check(conn, settings: Settings) -> Check:
    """One person's ID number, decrypted and hashed with the configured id hash key, must
    give the stored hash: else lookups by ID number would find nobody."""
    from services.core.crypto import DecryptionFailed, UnknownKey, keyring
    from services.core.households.sensitive import open_id_number
    from services.core.idnumber import keyed_hash

    if not await conn.fetchval("SELECT to_regclass('public.persons') IS NOT NULL"):
        return Check("id_hash_key", True, "no persons table")
    row = await conn.fetchrow("SELECT id, id_number_enc, id_hash FROM persons ORDER BY id LIMIT 1")
    if row is None:
        return Check("id_hash_key", True, "no persons: nothing to check")
    try:
        number = open_id_number(keyring(settings), row["id_number_enc"])
    except (UnknownKey, DecryptionFailed) as exc:
        return Check("id_hash_key", False, f"person {row['id']}'s ID number does not open: {exc}")
    if keyed_hash(number, settings.id_hash_key) != bytes(row["id_hash"]):
        return Check(
            "id_hash_key",
            False,
            "the configured id hash key (GUARDLINE_DATA_PROTECTION__ID_HASH_KEY) is "
            "not the one the data was indexed with: lookups by ID number would fail",
        )
    return Check("id_hash_key", True, f"person {row['id']}'s ID number opens and its keyed hash matches")


async def _audit_check(settings: Settings, url: str, manifest: dict[str, Any]) -> Check:
    from services.core.audit.chain import parse_head, verify_database
    from services.core.db import create_engine

    head = (manifest.get("audit") or {}).get("head")
    engine = create_engine(url, settings, "restore")
    try:
        verified = await verify_database(engine, parse_head(head) if head else None)
    finally:
        await engine.dispose()
    if not verified.ok:
        b = verified.broken
        assert b is not None
        return Check(
            "audit_chain",
            False,
            f"audit chain BROKEN at row {b.row_id}: {b.reason} (expected {b.expected}, stored {b.stored})",
        )
    if head and verified.head != head:
        return Check("audit_chain", False, f"the audit chain ends at {verified.head}, the manifest at {head}")
    return Check(
        "audit_chain",
        True,
        f"{verified.rows_checked} rows intact, head {verified.head or '(empty)'} as in the manifest",
    )
