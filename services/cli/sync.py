"""``guardline sync`` (the worker, one run, a spreadsheet import, status, the registry
checks) and ``guardline simulate`` (a simulated department system)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path

from services.cli.common import load_settings, reporter

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
    from services.worker import worker as w

    settings = load_settings()
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
                done, delivered = await asyncio.gather(
                    w.work(session, stop=stop, once=args.once), w.deliver_events(session, stop=stop, once=args.once)
                )
                w.log.info("%s runs carried out", done)
                if delivered:
                    logging.getLogger("guardline.events").info("%s event deliveries attempted", delivered)
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
            with reporter(args) as progress_of:

                def progress(run: dict) -> None:
                    progress_of(w.run_step(run))

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

    return run(args, load_settings())
