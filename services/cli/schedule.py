"""``guardline calendar``: China's working-day calendar (enter a year's official schedule,
show a year), by which the monitoring deadlines are counted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from services.cli.common import migrated_database, system_session


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
    settings, url = migrated_database()

    async def run() -> int:
        from services.core.monitoring.schedule import enter_schedule
        from services.core.monitoring.service import refresh_deadlines
        from services.core.scope import UNRESTRICTED

        async with system_session(settings, url) as session:
            await enter_schedule(session, args.year, days, f"{path.name} ({len(days)} days)")
            return await refresh_deadlines(session, UNRESTRICTED)

    changed = asyncio.run(run())
    holidays = sum(1 for d in days if not d.workday)
    print(
        f"{args.year}: {len(days)} days entered ({holidays} days off, {len(days) - holidays} working days); "
        f"the year is no longer provisional; {changed} stored deadlines recomputed"
    )
    return 0


def cmd_calendar_show(args) -> int:
    """The year's standing (official, entered, provisional) and each day that is not
    ordinary (a weekday off, a weekend worked)."""
    settings, url = migrated_database()

    async def run():
        from services.core.monitoring.schedule import year_schedule

        async with system_session(settings, url, readonly=True) as session:
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
