"""The arguments of every ``guardline`` command, in the order ``--help`` lists them; each
names the function of its module that runs it."""

from __future__ import annotations

import argparse
from datetime import date

from services.cli.accounts import cmd_admin, cmd_grant_app
from services.cli.audit import cmd_audit_purge, cmd_audit_verify
from services.cli.backup import cmd_backup, cmd_restore
from services.cli.events import cmd_events_deliver
from services.cli.funds import cmd_funds_scan
from services.cli.keys import cmd_keys
from services.cli.openapi import OPENAPI_FILE, cmd_openapi
from services.cli.regions import cmd_regions_import
from services.cli.schedule import cmd_calendar_set, cmd_calendar_show
from services.cli.serve import DEFAULT_DEMO_PERSONS, cmd_demo_data, cmd_migrate, cmd_serve
from services.cli.sync import cmd_simulate, cmd_sync


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
        help="import a department spreadsheet (CSV, XLSX or XLS) through the same normaliser, quarantine and reconciliation",
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
        "education, housing) on the registry's data, or export its records",
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

    events = sub.add_parser("events", help="events: deliver them to the subscribers' callback URLs")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    p = events_sub.add_parser(
        "deliver",
        help="fan the events out to the subscriptions and deliver them, with retries, until stopped "
        "(the sync worker does the same beside its runs)",
    )
    p.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    p.set_defaults(func=cmd_events_deliver)

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
