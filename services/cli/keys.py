"""``guardline keys``: the encryption keys of personal data (status, rotate, new)."""

from __future__ import annotations

import asyncio
import sys

from services.cli.common import migrated_database, system_engine


def cmd_keys(args) -> int:
    """Encryption keys: ``status`` (rows per key id), ``rotate`` (move every value to the
    active key), ``new`` (print a fresh key for the settings)."""
    if args.action == "new":
        from services.core.crypto import new_key

        print(new_key())
        return 0
    from services.core.crypto import keyring
    from services.core.keys import key_counts, rotate

    if args.action == "rotate" and args.batch < 1:
        print("guardline: --batch must be at least 1", file=sys.stderr)
        return 2
    settings, url = migrated_database()
    ring = keyring(settings)

    async def run() -> int:
        async with system_engine(settings, url) as engine:
            if args.action == "rotate":
                moved = await rotate(engine, ring, batch=args.batch, progress=print)
                for column, count in moved.items():
                    print(f"{column}: {count} rows re-encrypted")
            counts = await key_counts(engine)
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
