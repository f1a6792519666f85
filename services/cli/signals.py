"""How a command ends: Ctrl-C and SIGTERM alike, cleanly (``main`` turns them into exit
status 130), and the logging every command writes with."""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
from collections.abc import Iterator
from types import FrameType
from typing import NoReturn


def configure_logging(settings=None, level: str | int = logging.INFO, access_log: bool = True) -> None:
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


@contextlib.contextmanager
def signals_end_the_command() -> Iterator[list[int]]:
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
        atexit.unregister(ignore_interrupts)
        atexit.register(ignore_interrupts)  # runs before the handlers registered earlier: LIFO


def ignore_interrupts() -> None:
    """From now on this process finishes what it is doing whatever signal asks it to stop
    (but SIGKILL); so do the programs it starts (pg_ctl), which inherit this."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
