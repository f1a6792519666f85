"""``guardline audit``: verify the audit trail's hash chain, purge the rows past retention."""

from __future__ import annotations

import asyncio
import sys

from services.cli.common import load_settings, system_engine


def cmd_audit_verify(args) -> int:
    from services.core.audit.chain import parse_head, verify_database

    settings = load_settings()
    expect = None
    if args.expect_head:
        try:
            expect = parse_head(args.expect_head)
        except ValueError as exc:
            print(f"guardline: --expect-head: {exc}", file=sys.stderr)
            return 2

    async def run():
        async with system_engine(settings) as engine:
            return await verify_database(engine, expect)

    report = asyncio.run(run())
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

    settings = load_settings()
    days = settings.audit.retention_days

    async def run():
        async with system_engine(settings) as engine:
            return await purge_database(engine, days, dry_run=args.dry_run)

    report = asyncio.run(run())
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
