"""``guardline``: serve, migrate, demo-data, openapi, regions-import, keys, audit, calendar, sync, simulate, funds,
admin, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import logging
import re
import signal
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import FrameType
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_FILE = ROOT / "openapi" / "openapi.json"
DEFAULT_DEMO_PERSONS = 20_000


def _settings(hint: str = "", **overrides):
    from services.core.settings import Settings, get_settings

    try:
        return Settings(**overrides) if overrides else get_settings()
    except Exception as exc:  # pydantic ValidationError: say what is wrong, no traceback
        print(f"guardline: settings refused:\n{exc}{hint}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve_settings(demo: bool):
    """``serve`` is production unless GUARDLINE_ENV says otherwise (or ``--demo`` asks for
    the demo): a server started with nothing set must not sign tokens with the published
    key, and production refuses to start without private keys."""
    from services.core.settings import Environment

    settings = _settings()
    if "env" not in settings.model_fields_set:
        hint = (
            "\n(`guardline serve` runs in production unless GUARDLINE_ENV says otherwise; "
            "`guardline serve --demo` runs the demo)"
        )
        settings = _settings(hint, env=Environment.demo if demo else Environment.production)
    return settings


async def _demo_accounts_left(url: str, settings) -> list[str]:
    from services.core.accounts.service import demo_accounts

    async with _owner_session(url, settings, readonly=True) as session:
        return [u.username for u in await demo_accounts(session)]


@contextlib.asynccontextmanager
async def _owner_session(url: str, settings, readonly: bool = False):
    """A session of the database's owner that sees every region, for a command's one unit of
    work (its engine is disposed of afterwards)."""
    from services.core.db import Database, create_engine
    from services.core.scope import UNRESTRICTED, bind_scope

    db = Database(create_engine(url, settings, "cli"))
    try:
        async with db.session(readonly=readonly) as session:
            bind_scope(session, UNRESTRICTED)
            yield session
    finally:
        await db.dispose()


def _url(settings) -> str:
    from services.core.db import resolve_database_url

    return resolve_database_url(settings)


def cmd_migrate(args) -> int:
    from services.core.migrate import upgrade

    settings = _settings()
    upgrade(_url(settings), args.revision)
    print(f"database migrated to {args.revision}")
    return 0


async def _household_count(url: str, settings) -> int:
    from sqlalchemy import text

    from services.core.db import create_engine

    engine = create_engine(url, settings, "cli")
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM households"))).scalar_one()
    finally:
        await engine.dispose()


def _reporter(args):
    """The progress output of a long command: a bar on a terminal, plain lines otherwise,
    nothing with ``--json`` (services.core.progress)."""
    from services.core.progress import Reporter

    return Reporter.for_command(getattr(args, "json", False))


async def _load_demo(url: str, settings, persons: int, json_output: bool = False) -> dict:
    from services.core.demo.loader import create_demo_users, load_demo
    from services.core.progress import Reporter

    started = time.perf_counter()
    with Reporter.for_command(json_output) as reporter:
        summary = await load_demo(url, settings, persons=persons, progress=reporter)
    async with _owner_session(url, settings) as session:
        users = await create_demo_users(session, settings)
        await session.commit()
    seconds = round(time.perf_counter() - started, 1)
    if not json_output:
        print(f"demo county loaded in {seconds:.1f} s: {summary}; {len(users)} demo users")
    return {
        "persons": persons,
        "rows": {k: v for k, v in summary.items() if k != "seconds"},
        "demo_users": len(users),
        "seconds": seconds,
    }


def cmd_demo_data(args) -> int:
    from services.core.migrate import upgrade

    settings = _settings()
    if not settings.demo_allowed:
        print("guardline: demo data is refused in production (GUARDLINE_ENV=production)", file=sys.stderr)
        return 2
    url = _url(settings)
    upgrade(url)
    result = asyncio.run(_load_demo(url, settings, args.persons, args.json))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from services.api.app import create_app
    from services.api.server import uvicorn_options
    from services.core.migrate import upgrade
    from services.core.settings import DEMO_PASSWORD, Environment

    settings = _serve_settings(args.demo)
    # Logs as serve's settings say (production: JSON); the access log is the app's own, without the query string.
    _configure_logging(settings, args.log_level, access_log=args.access_log)
    url = _url(settings)
    upgrade(url)
    if settings.env == Environment.production:
        left = asyncio.run(_demo_accounts_left(url, settings))
        if left:
            shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            print(
                f"guardline: refusing to start in production: {len(left)} demo account(s) still open with the "
                f"published demo password ({shown}). Deactivate them with `guardline admin disable-demo` "
                f"(or reset their passwords), then start again.",
                file=sys.stderr,
            )
            return 2
    if args.demo:
        if not settings.demo_allowed:
            print("guardline: --demo is refused in production (GUARDLINE_ENV=production)", file=sys.stderr)
            return 2
        if asyncio.run(_household_count(url, settings)) == 0:
            asyncio.run(_load_demo(url, settings, args.persons))
        else:
            print("demo county already loaded (use `guardline demo-data` to reload it)")
    departments = None
    if args.demo and args.departments:
        departments, settings = _start_departments(settings, args.port)
    children = departments.children if departments else []
    base = f"http://{args.host}:{args.port}"
    print(f"\nGuardline API on {base}\n  interactive docs: {base}/docs (Swagger UI), {base}/redoc (ReDoc)")
    if args.demo:
        print(
            f"  demo login: user county_staff.county (or any <role>.<county|township|village>), "
            f"password {DEMO_PASSWORD}"
        )
        if departments:
            ports = ", ".join(f"{name} :{port}" for name, port in departments.ports.items())
            print(
                f"  department simulators {ports} (derived from --port, checked by their instance "
                f"token) and a sync worker are running; findings appear at /api/v1/findings as their first "
                f"runs finish (GET /api/v1/sync/runs)\n"
            )
    try:
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            loop="uvloop",
            log_level=args.log_level,
            access_log=False,
            log_config=None,
            **uvicorn_options(),
        )
    except KeyboardInterrupt:  # uvicorn stopped on Ctrl-C or SIGTERM, then raised it again: asked for, no failure
        pass
    finally:
        _ignore_interrupts()  # stopped (uvicorn took the first signal): stop the children to the end
        _stop_children(children)
        if children and not settings.database_url:
            from services.core.db import forget_departed_users

            forget_departed_users(Path(settings.data_dir))
    return 0


def _start_departments(settings, api_port: int):
    """The demo's department simulators (on ports derived from the API's, showing a token
    drawn now: ``services.simulators.demo``) and a sync worker reading exactly those, as
    child processes: the worker queues each source's first run at once (they are
    scheduled and never ran). The settings returned point the API at the same sources."""
    import os
    import subprocess

    from services.simulators import demo

    # The children join this process's embedded server wherever they start, in its environment.
    env = {
        **os.environ,
        "GUARDLINE_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "GUARDLINE_ENV": settings.env.value,
    }
    departments = demo.start(settings, api_port, env)
    env["GUARDLINE_SYNC__SOURCES_FILE"] = str(departments.sources_file)
    departments.children.append(subprocess.Popen([sys.executable, "-m", "services.cli", "sync", "worker"], env=env))
    settings = settings.model_copy(
        update={"sync": settings.sync.model_copy(update={"sources_file": departments.sources_file})}
    )
    return departments, settings


def _stop_children(children: list) -> None:
    from services.simulators import launch

    for proc in children:
        launch.stop(proc)


def openapi_document() -> str:
    from services.api.app import create_app
    from services.core.settings import Settings

    spec = create_app(Settings(env="development")).openapi()
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def cmd_openapi(args) -> int:
    document = openapi_document()
    target = Path(args.output)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != document:
            print(f"{target} is stale: run `guardline openapi` and commit the result", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def cmd_regions_import(args) -> int:
    from services.core.migrate import upgrade
    from services.core.regions.importer import import_regions_csv

    settings = _settings()
    url = _url(settings)
    upgrade(url)

    async def run():
        with _reporter(args) as reporter:
            async with _owner_session(url, settings) as session:
                report = await import_regions_csv(session, Path(args.file), progress=reporter)
                await session.commit()
                return report

    report = asyncio.run(run())
    if args.json:
        print(
            json.dumps(
                {
                    "file": args.file,
                    "inserted": report.inserted,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "rejected": [
                        {"line": line, "code": code, "reason": reason} for line, code, reason in report.rejected
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 1 if report.rejected else 0
    print(f"regions: {report.inserted} inserted, {report.updated} updated, {len(report.rejected)} rejected")
    for line, code, reason in report.rejected:
        print(f"  line {line}: {code!r}: {reason}")
    return 1 if report.rejected else 0


def cmd_keys(args) -> int:
    """Encryption keys: ``status`` (rows per key id), ``rotate`` (move every value to the
    active key), ``new`` (print a fresh key for the settings)."""
    if args.action == "new":
        from services.core.crypto import new_key

        print(new_key())
        return 0
    from services.core.crypto import keyring
    from services.core.db import create_engine
    from services.core.keys import key_counts, rotate
    from services.core.migrate import upgrade

    if args.action == "rotate" and args.batch < 1:
        print("guardline: --batch must be at least 1", file=sys.stderr)
        return 2
    settings = _settings()
    url = _url(settings)
    upgrade(url)
    ring = keyring(settings)

    async def run() -> int:
        engine = create_engine(url, settings, "cli")
        try:
            if args.action == "rotate":
                moved = await rotate(engine, ring, batch=args.batch, progress=print)
                for column, count in moved.items():
                    print(f"{column}: {count} rows re-encrypted")
            counts = await key_counts(engine)
        finally:
            await engine.dispose()
        print(f"active key: {ring.active}")
        stale = 0
        for column, per_key in counts.items():
            shown = ", ".join(f"{key_id}: {n}" for key_id, n in per_key.items()) or "no rows"
            print(f"{column}: {shown}")
            stale += sum(n for key_id, n in per_key.items() if key_id != ring.active)
        if stale:
            print(f"{stale} values are under an older key: run `guardline keys rotate` before removing it")
        return 0

    return asyncio.run(run())


# Why a production worker without a sources file does not start (``cmd_sync``).
NO_SOURCES_FILE = (
    "guardline: no department sources file: set GUARDLINE_SYNC__SOURCES_FILE to the county's "
    'sources file (deploy/sources.toml is the template; docs/operations.md, "Department sources"). '
    "In production the worker does not fall back to the demo's simulators; a file that lists no "
    "source yet starts a worker that runs only the daily checks."
)


def cmd_sync(args) -> int:
    from services.core.settings import Environment
    from services.core.sync.config import SourcesFileError, load_sources
    from services.sync import worker as w

    settings = _settings()
    if (
        args.sync_command in ("worker", "run", "import")
        and settings.env == Environment.production
        and settings.sync.sources_file is None
    ):
        print(NO_SOURCES_FILE, file=sys.stderr)
        return 2
    try:
        load_sources(settings)  # a file that cannot be read or is not valid: said before anything starts
    except SourcesFileError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return 2
    if args.sync_command == "status":
        try:
            print(json.dumps(asyncio.run(w.status(settings)), ensure_ascii=False, default=str))
        except w.NotReady as exc:
            print(f"guardline: {exc}", file=sys.stderr)
            return 1
        return 0

    async def run() -> int:
        try:
            session = await w.Session.open(settings)
        except w.NotReady as exc:
            print(f"guardline: {exc}", file=sys.stderr)
            return 1
        try:
            if args.sync_command == "worker":
                if not len(session.ctx.sources):
                    print(
                        f"guardline: {settings.sync.sources_file} lists no department source: this worker runs "
                        f"only the daily checks (assets, visits, registry)",
                        file=sys.stderr,
                    )
                stop = asyncio.Event()
                w.stop_on_signals(stop)
                done = await w.work(session, stop=stop, once=args.once)
                w.log.info("%s runs carried out", done)
                return 0
            if args.sync_command == "check-registry":
                return await _check_registry(w, session, args.county)
            try:
                source = session.source(args.source)
                county = w.county_of(source, args.county)
            except LookupError:
                print(
                    f"guardline: unknown source {args.source!r} (configured: {', '.join(session.ctx.sources.names())})",
                    file=sys.stderr,
                )
                return 2
            except ValueError as exc:
                print(f"guardline: {exc}", file=sys.stderr)
                return 2
            roster = None
            if args.sync_command == "import":
                path = Path(args.file)
                if not path.is_file():  # noqa: ASYNC240 (one stat before the import: nothing else runs yet)
                    print(f"guardline: no such file: {path}", file=sys.stderr)
                    return 2
                if args.roster is not None:
                    from services.core.sync.rosters import RosterError, declare

                    try:
                        roster = declare(source.kind, county, args.roster, args.roster_region)
                    except RosterError as exc:
                        print(f"guardline: {exc}", file=sys.stderr)
                        return 2
                elif args.roster_region is not None:
                    print("guardline: --roster-region needs --roster PERIOD", file=sys.stderr)
                    return 2
            with _reporter(args) as reporter:

                def progress(run: dict) -> None:
                    reporter(w.run_step(run))

                try:
                    if args.sync_command == "run":
                        result = await w.run_now(session, source, county, progress, full=args.full)
                    else:
                        result = await w.import_file(session, source, county, path, progress, roster)
                except RuntimeError as exc:
                    refused: RuntimeError | None = exc
                else:
                    refused = None
                    progress(result)
            if refused is not None:
                print(f"guardline: {refused}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(result, ensure_ascii=False, default=str))
            if result.get("status") != "succeeded":
                print(
                    f"guardline: run {result.get('id')} failed: {result.get('error_code')}: {result.get('error')}",
                    file=sys.stderr,
                )
                return 1
            return 0
        finally:
            await session.close()

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return 130


async def _check_registry(w, session, county: str | None) -> int:
    """``guardline sync check-registry``: the registry checks of one county (or of every
    county with households), each a run of source ``registry``; the counts as JSON."""
    from services.core.sync.enums import Trigger

    if county is not None and not re.fullmatch(r"\d{6}", county):
        print(f"guardline: --county {county!r} is not a 6-digit county code", file=sys.stderr)
        return 2
    counties = [county] if county is not None else await w.registry_counties(session.ctx)
    results = []
    for code in counties:
        try:
            results.append(await w.check_registry(session.ctx, code, Trigger.manual))
        except LookupError as exc:
            print(f"guardline: {exc}", file=sys.stderr)
            return 2
    print(json.dumps({"counties": results}, ensure_ascii=False, default=str))
    return 0


def cmd_simulate(args) -> int:
    from services.simulators.main import run

    return run(args, _settings())


async def _with_engine(settings, work):
    from services.core.db import create_engine

    engine = create_engine(_url(settings), settings, "cli")
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def cmd_grant_app(args) -> int:
    from services.core.grants import grant_application_role

    settings = _settings()
    try:
        asyncio.run(_with_engine(settings, lambda engine: grant_application_role(engine, args.role)))
    except ValueError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return 2
    print(f"{args.role} may now read and write the data, append to audit_log and nothing more")
    return 0


def cmd_audit_verify(args) -> int:
    from services.core.audit.chain import parse_head, verify_database

    settings = _settings()
    expect = None
    if args.expect_head:
        try:
            expect = parse_head(args.expect_head)
        except ValueError as exc:
            print(f"guardline: --expect-head: {exc}", file=sys.stderr)
            return 2
    report = asyncio.run(_with_engine(settings, lambda engine: verify_database(engine, expect)))
    for note in report.notes:
        print(f"note: {note}")
    if not report.ok:
        b = report.broken
        print(
            f"audit chain BROKEN at row {b.row_id}: {b.reason}\n  expected: {b.expected}\n  stored:   {b.stored}\n"
            f"  ({report.rows_checked} rows before it are intact)"
        )
        return 1
    if report.head_id is None:
        print("audit chain intact: the audit log is empty")
    else:
        print(
            f"audit chain intact: {report.rows_checked} rows checked (ids {report.first_id}–{report.head_id})\n"
            f"head: {report.head}\n(note the head down; pass it as --expect-head next time to detect rows "
            f"removed from the end)"
        )
    return 0


def cmd_audit_purge(args) -> int:
    from services.core.audit.chain import purge_database

    settings = _settings()
    days = settings.audit.retention_days
    report = asyncio.run(_with_engine(settings, lambda engine: purge_database(engine, days, dry_run=args.dry_run)))
    if not report.purged:
        print(f"nothing to purge: no audit rows older than {days} days (before {report.cutoff:%Y-%m-%d %H:%M})")
    elif args.dry_run:
        print(f"would purge {report.purged} audit rows (ids {report.from_id}–{report.to_id}), older than {days} days")
    else:
        print(
            f"purged {report.purged} audit rows (ids {report.from_id}–{report.to_id}), older than {days} days; "
            f"marker event {report.marker_id} records the last purged hash {report.last_hash.hex()}"
        )
    return 0


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

    settings = _settings()
    target = Path(args.path)
    try:
        with _reporter(args) as reporter:
            manifest = asyncio.run(backup.backup(settings, _url(settings), target, force=args.force, report=reporter))
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

    settings = _settings()
    try:
        with _reporter(args) as reporter:
            result = asyncio.run(
                backup.restore(
                    settings, _url(settings), Path(args.path), clean=args.clean, app_role=args.app_role, report=reporter
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


def cmd_calendar_set(args) -> int:
    """Enter a year's official schedule from CSV (``date,workday,name``): every line is
    checked first, and one bad line writes nothing. The stored deadlines of open cases and
    clues are recomputed with the new calendar (they may stop being provisional)."""
    from services.core.monitoring.schedule import official_status, parse_schedule

    path = Path(args.file)
    if not 2000 <= args.year <= 2100:
        print(f"guardline: the year must lie between 2000 and 2100, not {args.year}", file=sys.stderr)
        return 2
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"guardline: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    days, bad = parse_schedule(args.year, content.splitlines())
    if bad:
        print(f"{path}: {len(bad)} bad line(s); nothing was written:", file=sys.stderr)
        for line in bad:
            where = f"line {line.line}" if line.line else "file"
            print(f"  {where}: {line.reason}" + (f"  ({line.text})" if line.text else ""), file=sys.stderr)
        return 1
    if official_status(args.year):
        print(f"note: the chinese-calendar package knows {args.year}; the entered days take precedence over it")
    settings = _settings()
    url = _url(settings)
    from services.core.migrate import upgrade

    upgrade(url)

    async def run() -> int:
        from services.core.monitoring.schedule import enter_schedule
        from services.core.monitoring.service import refresh_deadlines
        from services.core.scope import UNRESTRICTED

        async with _owner_session(url, settings) as session:
            await enter_schedule(session, args.year, days, f"{path.name} ({len(days)} days)")
            changed = await refresh_deadlines(session, UNRESTRICTED)
            await session.commit()
            return changed

    changed = asyncio.run(run())
    holidays = sum(1 for d in days if not d.workday)
    print(
        f"{args.year}: {len(days)} days entered ({holidays} days off, {len(days) - holidays} working days); "
        f"the year is no longer provisional; {changed} stored deadlines recomputed"
    )
    return 0


def cmd_funds_scan(args) -> int:
    """The asset checks (fund findings) under a region prefix as of a day: raised, refreshed
    and resolved in one transaction; the counts per rule printed as JSON."""
    from services.core.regions.rules import is_valid_prefix
    from services.core.timeutil import today

    region = args.region or ""
    if region and not is_valid_prefix(region):
        print(f"guardline: --region {region!r} is not a region prefix (2, 4, 6, 9 or 12 digits)", file=sys.stderr)
        return 2
    as_of = args.as_of or today()
    settings = _settings()
    url = _url(settings)
    from services.core.migrate import upgrade

    upgrade(url)

    async def run() -> dict:
        from services.core.funds.findings import scan_assets
        from services.core.policy.funds import policy_for

        async with _owner_session(url, settings) as session:
            counts = await scan_assets(session, region, as_of, policy_for)
            await session.commit()
            return counts

    counts = asyncio.run(run())
    print(json.dumps({"region": region, "as_of": as_of.isoformat(), "rules": counts}, ensure_ascii=False))
    return 0


def cmd_calendar_show(args) -> int:
    """The year's standing (official, entered, provisional) and each day that is not
    ordinary (a weekday off, a weekend worked)."""
    settings = _settings()
    url = _url(settings)
    from services.core.migrate import upgrade

    upgrade(url)

    async def run():
        from services.core.monitoring.schedule import year_schedule

        async with _owner_session(url, settings, readonly=True) as session:
            return await year_schedule(session, args.year)

    status, days = asyncio.run(run())
    explain = {
        "official": "the published schedule, as the chinese-calendar package carries it",
        "entered": "the published schedule, entered with `guardline calendar set`",
        "provisional": "not known yet: Monday to Friday count as working days and deadlines over this year are "
        "marked provisional; enter it with `guardline calendar set`",
    }[status.value]
    print(f"{args.year}: {status.value} ({explain})")
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for d in days:
        kind = "working day" if d.workday else "day off"
        print(f"  {d.day.isoformat()} {weekdays[d.day.weekday()]}  {kind:<11}  {d.name or ''}".rstrip())
    if not days and status.value != "provisional":
        print("  (no day differs from Monday to Friday)")
    return 0


def cmd_admin(args) -> int:
    """``admin create``: the first administrator, with a one-time password printed once;
    ``admin disable-demo``: deactivate the demo's accounts (production refuses to start
    while they still open with the published password)."""
    from services.core.migrate import upgrade
    from services.core.regions.rules import is_valid_prefix

    if args.admin_command == "create":
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{3,64}", args.username):
            print(f"guardline: --username {args.username!r}: 3 to 64 letters, digits, '_', '.', '-'", file=sys.stderr)
            return 2
        if not is_valid_prefix(args.region):
            print(
                f"guardline: --region {args.region!r} is not a region prefix (2, 4, 6, 9 or 12 digits)", file=sys.stderr
            )
            return 2
    settings = _settings()
    url = _url(settings)
    upgrade(url)

    async def run():
        from services.core.accounts import service
        from services.core.audit import AuditRecord, record
        from services.core.errors import Conflict

        async with _owner_session(url, settings) as session:
            if args.admin_command == "create":
                try:
                    user, password = await service.create_first_admin(
                        session, settings, args.username, args.region, args.display_name
                    )
                except Conflict:
                    print(f"guardline: the username {args.username!r} is taken", file=sys.stderr)
                    return 1
                await record(
                    session,
                    AuditRecord(
                        action="user.create",
                        actor_name="guardline admin create",
                        role="cli",
                        object_type="user",
                        object_id=str(user.id),
                        region_code=user.region_prefix,
                        after={
                            "username": user.username,
                            "role": user.role.value,
                            "region_prefix": user.region_prefix,
                            "must_change_password": True,
                        },
                    ),
                )
                await session.commit()
                print(
                    f"administrator {user.username} (id {user.id}, region {user.region_prefix}) created.\n"
                    f"one-time password: {password}\n"
                    f"It is shown only now. Log in with it and set your own password "
                    f"(POST /api/v1/auth/password); until then every other call answers 403."
                )
                return 0
            users = await service.disable_demo_accounts(session)
            for user in users:
                await record(
                    session,
                    AuditRecord(
                        action="user.deactivate",
                        actor_name="guardline admin disable-demo",
                        role="cli",
                        object_type="user",
                        object_id=str(user.id),
                        region_code=user.region_prefix or None,
                        detail={"reason": "demo_account"},
                    ),
                )
            await session.commit()
            print(f"{len(users)} demo account(s) deactivated")
            return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardline", description="Guardline — 防止返贫动态监测和帮扶")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate the database, then run the API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--demo",
        action="store_true",
        help="load the demo county first if the database is empty, and "
        "start the department simulators and a sync worker",
    )
    p.add_argument(
        "--no-departments",
        dest="departments",
        action="store_false",
        help="with --demo: start neither the department simulators nor the sync worker",
    )
    p.add_argument("--persons", type=int, default=DEFAULT_DEMO_PERSONS, help="persons in the demo county")
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-access-log", dest="access_log", action="store_false")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo-data", help="(re)load the demo county with synthetic households")
    p.add_argument("--persons", type=int, default=DEFAULT_DEMO_PERSONS)
    p.add_argument("--json", action="store_true", help="no progress output; print the counts as one JSON object")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("openapi", help="write openapi/openapi.json")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    p.add_argument("--output", default=str(OPENAPI_FILE))
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser("regions-import", help="import region codes from a CSV file (code,name)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="no progress output; print the counts as one JSON object")
    p.set_defaults(func=cmd_regions_import)

    p = sub.add_parser("keys", help="encryption keys of personal data: status, rotate, new")
    keys = p.add_subparsers(dest="action", required=True)
    keys.add_parser("status", help="rows per key id in every encrypted column")
    rotate = keys.add_parser("rotate", help="re-encrypt every value under the active key (resumable)")
    rotate.add_argument("--batch", type=int, default=5000, help="rows per transaction")
    keys.add_parser("new", help="print a fresh key (base64 of 32 random bytes) for the settings")
    p.set_defaults(func=cmd_keys)

    sync = sub.add_parser("sync", help="department data: the worker, one run, a spreadsheet import, status")
    sync_sub = sync.add_subparsers(dest="sync_command", required=True)
    p = sync_sub.add_parser(
        "worker",
        help="take runs from the queue and queue scheduled ones, until stopped (start several to share the work)",
    )
    p.add_argument("--once", action="store_true", help="carry out the runs that are ready, then exit")
    p.set_defaults(func=cmd_sync)
    p = sync_sub.add_parser("run", help="pull one source now (for one county), with a progress line")
    p.add_argument("--source", required=True)
    p.add_argument("--county", help="6-digit county code (needed when the source serves several)")
    p.add_argument(
        "--full",
        action="store_true",
        help="read everything from the start, not only what changed since the last run (updated-since "
        "sources); a roster source's full pull is a complete roster (docs/rosters.md)",
    )
    p.add_argument("--json", action="store_true", help="print the finished run as JSON on stdout")
    p.set_defaults(func=cmd_sync)
    p = sync_sub.add_parser(
        "import",
        help="import a department spreadsheet (CSV or XLSX) through the same normaliser, quarantine and reconciliation",
    )
    p.add_argument("--source", required=True)
    p.add_argument("--county", help="6-digit county code (needed when the source serves several)")
    p.add_argument("file")
    p.add_argument(
        "--roster",
        metavar="PERIOD",
        help="declare the file the complete roster of PERIOD: the enrolment of a year (medical "
        "insurance, e.g. 2026) or the students of a term (education, e.g. 2026秋); people it "
        "leaves out are then absent (docs/rosters.md). Counts only if the import succeeds",
    )
    p.add_argument(
        "--roster-region", metavar="PREFIX", help="the region code prefix the roster covers (default: the county)"
    )
    p.add_argument("--json", action="store_true", help="print the finished run as JSON on stdout")
    p.set_defaults(func=cmd_sync)
    p = sync_sub.add_parser("status", help="configured sources and their last runs (JSON)")
    p.set_defaults(func=cmd_sync)
    p = sync_sub.add_parser(
        "check-registry",
        help="run the registry checks (rules on the registry alone: head and "
        "spouse of one sex, invalid phones, a child employed …) now, as "
        "runs of source 'registry'; the counts as JSON",
    )
    p.add_argument("--county", help="6-digit county code (default: every county with households)")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser(
        "simulate",
        help="run a simulated department system (civil affairs, medical insurance, "
        "education) on the registry's data, or export its records",
    )
    from services.simulators.main import add_arguments  # options only: nothing heavy is imported

    add_arguments(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "grant-app",
        help="as the tables' owner: give the application role its privileges "
        "(data read/write, audit_log append-only, no DDL)",
    )
    p.add_argument("role", help="the role the API and the worker connect as")
    p.set_defaults(func=cmd_grant_app)

    calendar = sub.add_parser(
        "calendar", help="China's working-day calendar: enter a year's official schedule, show a year"
    )
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    p = calendar_sub.add_parser(
        "set",
        help="enter YEAR's official schedule from a CSV file (date,workday,name); replaces the year's entered days",
    )
    p.add_argument("year", type=int)
    p.add_argument("file")
    p.set_defaults(func=cmd_calendar_set)
    p = calendar_sub.add_parser(
        "show", help="whether YEAR is official, entered or provisional, and its holidays and adjusted working days"
    )
    p.add_argument("year", type=int)
    p.set_defaults(func=cmd_calendar_show)

    funds = sub.add_parser("funds", help="funds, projects and assets: the asset checks")
    funds_sub = funds.add_subparsers(dest="funds_command", required=True)
    p = funds_sub.add_parser(
        "scan",
        help="raise and resolve the asset findings (idle operating assets, public "
        "assets without a custodian, household assets of households gone)",
    )
    p.add_argument("--region", help="region prefix (default: every region)")
    p.add_argument("--as-of", type=date.fromisoformat, help="the day to judge by, YYYY-MM-DD (default today)")
    p.set_defaults(func=cmd_funds_scan)

    admin = sub.add_parser("admin", help="accounts from the command line: the first administrator, the demo's accounts")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    p = admin_sub.add_parser(
        "create", help="create an administrator and print a one-time password (to be changed at the first login)"
    )
    p.add_argument("--username", required=True)
    p.add_argument("--region", required=True, help="the region prefix the administrator manages (2/4/6/9/12 digits)")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_admin)
    p = admin_sub.add_parser(
        "disable-demo", help="deactivate the demo's accounts that still have the published demo password"
    )
    p.set_defaults(func=cmd_admin)

    p = sub.add_parser(
        "backup",
        help="pg_dump the database into PATH (custom format) with PATH.manifest.json: "
        "row counts, audit head, key ids needed (docs/backup.md)",
    )
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace a backup already at PATH")
    p.add_argument("--json", action="store_true", help="no progress output; print the manifest as one JSON object")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore",
        help="restore a backup into the configured, empty database, then verify the "
        "audit chain, row counts and keys; exit 0 ok, 1 checks failed, 2 refused, "
        "3 no pg_restore, 4 pg_restore failed, 5 keys missing",
    )
    p.add_argument("path")
    p.add_argument(
        "--clean",
        action="store_true",
        help="replace the database's schema public (and all it holds, dropped once the restore has "
        "succeeded) instead of refusing a database that is not empty",
    )
    p.add_argument(
        "--app-role",
        metavar="ROLE",
        help="grant the application role its privileges afterwards (as `guardline grant-app ROLE`)",
    )
    p.add_argument("--json", action="store_true", help="no progress output; print the result as one JSON object")
    p.set_defaults(func=cmd_restore)

    audit = sub.add_parser("audit", help="check the audit trail's hash chain, purge old audit rows")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    p = audit_sub.add_parser("verify", help="recompute the hash chain; exit 1 at the first broken link")
    p.add_argument(
        "--expect-head",
        metavar="ID:HEX",
        help="a head printed by an earlier verify: fail if that row is gone or differs (rows removed from the end)",
    )
    p.set_defaults(func=cmd_audit_verify)
    p = audit_sub.add_parser(
        "purge",
        help="delete audit rows older than GUARDLINE_AUDIT__RETENTION_DAYS (needs the table owner's connection)",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be purged")
    p.set_defaults(func=cmd_audit_purge)
    return parser


def _configure_logging(settings=None, level: str | int = logging.INFO, access_log: bool = True) -> None:
    """One JSON object per line, or text (``observability.log_format``; docs/observability.md)."""
    from services.core.logs import configure
    from services.core.settings import LogFormat

    if settings is None:
        try:
            from services.core.settings import get_settings

            settings = get_settings()
        except Exception:  # the command itself reports refused settings
            configure(LogFormat.text, level)
            return
    configure(settings.observability.format_for(settings.env), level, access_log=access_log)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up (importing, reading settings): nothing to clean up
        return 130


def _main(argv: list[str] | None) -> int:
    _configure_logging()
    from services.core.db import NoDatabase

    args = build_parser().parse_args(argv)
    with _signals_end_the_command() as interrupted:
        try:
            return args.func(args)
        except KeyboardInterrupt:
            return 130
        except NoDatabase as exc:  # no DATABASE_URL and no embedded server: say so, no traceback
            print(f"guardline: {exc}", file=sys.stderr)
            return 2
        except Exception:
            if interrupted:  # what failed was stopped by the same Ctrl-C (a psql the command ran)
                return 130
            raise


@contextlib.contextmanager
def _signals_end_the_command() -> Iterator[list[int]]:
    """Ctrl-C (SIGINT) and SIGTERM end a command alike and cleanly: as KeyboardInterrupt
    where the command is, so that its ``finally`` blocks and the exit handlers run — among
    them the one by which a process leaves the embedded PostgreSQL, which the last one to
    leave stops. (SIGTERM's default action would skip them and leave the server running.)
    ``main`` turns it into exit status 130, without a traceback; the list it yields is not
    empty once a signal came. Once the command is over, neither signal interrupts the exit
    handlers: a second Ctrl-C must not abandon the server half-stopped."""
    received: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
        received.append(signum)
        raise KeyboardInterrupt

    # Also instead of asyncio.run's own handling of SIGINT (which cancels the main task
    # and lets a blocking call in it, such as a psql that the Ctrl-C ended, fail).
    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        atexit.unregister(_ignore_interrupts)
        atexit.register(_ignore_interrupts)  # runs before the handlers registered earlier: LIFO


def _ignore_interrupts() -> None:
    """From now on this process finishes what it is doing whatever signal asks it to stop
    (but SIGKILL); so do the programs it starts (pg_ctl), which inherit this."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    raise SystemExit(main())
