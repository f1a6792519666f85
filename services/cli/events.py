"""``guardline events deliver``: the delivery of events to the subscribers' callback URLs
(``services.core.events.delivery``), as a process of its own. The sync worker carries the
same loop beside its runs (``guardline sync worker``); start this one instead or as well
when the deliveries need more hands: the workers share the work and never take the same
delivery twice."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from services.cli.common import load_settings

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the worker on uvloop where it is installed (a dependency on Linux and macOS): at a
    thousand calls a second the event loop's own work is a tenth of the worker's time."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def cmd_events_deliver(args) -> int:
    from services.core.db import application_url, create_engine
    from services.core.events import delivery
    from services.worker import queries
    from services.worker.worker import stop_on_signals

    settings = load_settings()

    async def run() -> int:
        engine = create_engine(application_url(settings), settings, "events")
        try:
            async with engine.connect() as conn:
                if not (await conn.execute(queries.MIGRATED)).scalar_one():
                    print("guardline: the database is not migrated yet: run `guardline migrate`", file=sys.stderr)
                    return 1
            stop = asyncio.Event()
            stop_on_signals(stop)
            attempted = await delivery.deliver_on(engine, settings, stop=stop, once=args.once)
        finally:
            await engine.dispose()
        print(json.dumps({"attempted": attempted}))
        return 0

    return run_loop(run())
