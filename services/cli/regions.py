"""``guardline regions-import``: region codes from a CSV file (code,name)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from services.cli.common import migrated_database, reporter, system_session


def cmd_regions_import(args) -> int:
    from services.core.regions.importer import import_regions_csv

    settings, url = migrated_database()

    async def run():
        with reporter(args) as progress:
            async with system_session(settings, url) as session:
                return await import_regions_csv(session, Path(args.file), progress=progress)

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
