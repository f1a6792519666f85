"""``guardline funds scan``: the asset checks (fund findings) of a region as of a day."""

from __future__ import annotations

import asyncio
import json
import sys

from services.cli.common import migrated_database, system_session


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
    settings, url = migrated_database()

    async def run() -> dict:
        from services.core.funds.findings import scan_assets
        from services.core.policy.funds import policy_for

        async with system_session(settings, url) as session:
            return await scan_assets(session, region, as_of, policy_for)

    counts = asyncio.run(run())
    print(json.dumps({"region": region, "as_of": as_of.isoformat(), "rules": counts}, ensure_ascii=False))
    return 0
