"""``guardline``: serve, migrate, demo-data, openapi, regions-import, keys, audit, calendar, sync, simulate, funds,
admin, backup, restore.

One module per group of commands (``serve``, ``openapi``, ``regions``, ``keys``, ``sync``,
``accounts``, ``schedule``, ``funds``, ``backup``, ``audit``), the parser that names them
all in ``parser``, and what they share in ``common``: the settings, the migrated database
and ``system_session``, the one unit of work of a command as the system. ``main`` (the
``guardline`` console script, ``python -m services.cli``) runs one of them.
"""

from __future__ import annotations

import sys

from services.cli.common import ROOT
from services.cli.openapi import OPENAPI_FILE, openapi_document
from services.cli.parser import build_parser
from services.cli.signals import configure_logging, signals_end_the_command

__all__ = ["OPENAPI_FILE", "ROOT", "build_parser", "main", "openapi_document"]


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up (importing, reading settings): nothing to clean up
        return 130


def _main(argv: list[str] | None) -> int:
    configure_logging()
    from services.core.db import NoDatabase

    args = build_parser().parse_args(argv)
    with signals_end_the_command() as interrupted:
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
