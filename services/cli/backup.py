"""``guardline backup`` and ``guardline restore`` (docs/backup.md)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from services.cli.common import database_url, load_settings, reporter


def _key_reminder(manifest: dict) -> str:
    keys = manifest.get("keys") or {}
    ids = ", ".join(keys.get("encryption_key_ids") or []) or "none (no encrypted values)"
    hash_key = " and the id hash key (GUARDLINE_DATA_PROTECTION__ID_HASH_KEY)" if keys.get("id_hash_key_needed") else ""
    return (
        f"REMINDER: the backup holds no keys. Its encrypted columns open only with encryption key id(s) {ids}"
        f"{hash_key} of the key ring; keep the key ring safe and apart from the backups (docs/backup.md)"
    )


def cmd_backup(args) -> int:
    """``guardline backup PATH``: pg_dump of the configured database and its manifest."""
    from services.core import backup

    settings = load_settings()
    target = Path(args.path)
    try:
        with reporter(args) as progress:
            manifest = asyncio.run(
                backup.backup(settings, database_url(settings), target, force=args.force, report=progress)
            )
    except backup.BackupError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return exc.exit_code
    manifest_file = backup.manifest_path(target)
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(target),
                    "manifest_path": str(manifest_file),
                    **{k: v for k, v in manifest.items() if k != "table_bytes"},
                    "reminder": _key_reminder(manifest),
                },
                ensure_ascii=False,
            )
        )
        return 0
    audit = manifest["audit"]
    print(
        f"backup written: {target} ({manifest['dump']['bytes']:,} bytes, sha256 {manifest['dump']['sha256'][:16]}…) "
        f"and {manifest_file}\n  migration {', '.join(manifest['migration_heads'])}; "
        f"{sum(manifest['row_counts'].values()):,} rows in {len(manifest['row_counts'])} tables; "
        f"audit head {audit['head'] or '(empty)'}"
    )
    print(_key_reminder(manifest), file=sys.stderr)
    return 0


def cmd_restore(args) -> int:
    """``guardline restore PATH``: into the configured (empty) database, then checked."""
    from services.core import backup

    settings = load_settings()
    try:
        with reporter(args) as progress:
            result = asyncio.run(
                backup.restore(
                    settings,
                    database_url(settings),
                    Path(args.path),
                    clean=args.clean,
                    app_role=args.app_role,
                    report=progress,
                )
            )
    except backup.BackupError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return exc.exit_code
    code = backup.EXIT_OK if result.ok else backup.EXIT_VERIFY_FAILED
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
        return code
    made = result.manifest
    print(f"restored {args.path} (made {made.get('created_at')} by Guardline {made.get('guardline_version')})")
    for check in result.checks:
        print(f"  {'ok    ' if check.ok else 'FAILED'} {check.name}: {check.detail}")
    for note in result.notes:
        print(f"note: {note}")
    if result.app_role is None:
        print(
            "note: the restored tables are owned by the restoring role and carry no grants: give the application "
            "role its privileges with `guardline grant-app ROLE` (the embedded server does it at the next start)"
        )
    if not result.ok:
        print(
            "guardline: the restored database failed its checks (above): do not put it into service before the "
            "failure is understood",
            file=sys.stderr,
        )
    return code
