"""``guardline simulate``: the command-line options and what they start."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import fields
from datetime import date
from pathlib import Path

from services.simulators.config import DEFAULT_CLIENT_ID, DEFAULT_SEED, KINDS, Faults, Problems, SimConfig


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate lies between 0 and 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--port", type=int, help="default: 8101 civil-affairs, 8102 medical-insurance, 8103 education")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--database-url", help="read this database's registry instead of the settings' one")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the derived records")
    p.add_argument("--today", type=date.fromisoformat, help="China's date the records are derived for (default: today)")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", help="default: demo-<kind>-secret")
    p.add_argument("--token-ttl", type=int, default=600, help="seconds an access token lives")
    p.add_argument(
        "--instance",
        help="a token shown on every answer (X-Guardline-Instance header) and in /health, "
        "by which `guardline serve --demo` knows its own simulators",
    )
    problems = p.add_argument_group("problems in the data (shares of persons, 0 to 1)")
    for f in fields(Problems):
        problems.add_argument("--" + f.name.replace("_", "-"), type=_rate, default=f.default)
    faults = p.add_argument_group("faults of the data endpoints")
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument("--control", action="store_true", help="serve /_control/faults and /_control/stats")
    for f in fields(Faults):
        kind = _rate if f.name in Faults.RATES else _count
        faults.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default)
    out = p.add_argument_group("spreadsheet export instead of serving")
    out.add_argument("--export", metavar="FILE", help="write the county's records to FILE (.csv or .xlsx) and exit")
    out.add_argument("--county", help="6-digit county code of the export")
    p.add_argument("--log-level", default="warning")
    p.add_argument("--access-log", action="store_true")


def config_of(args) -> SimConfig:
    return SimConfig(
        kind=args.kind,
        seed=args.seed,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        fault_seed=args.fault_seed,
        control=args.control,
        today=args.today,
        instance=args.instance,
        problems=Problems(**{f.name: getattr(args, f.name) for f in fields(Problems)}),
        faults=Faults(**{f.name: getattr(args, f.name) for f in fields(Faults)}),
    )


def database_url(args, settings) -> str:
    from services.core.db import resolve_database_url

    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    return resolve_database_url(settings)


async def _registry_ready(url: str, settings) -> str | None:
    """Why the database cannot be served, or None."""
    from services.core.db import Database, create_engine

    db = Database(create_engine(url, settings, "simulator"), read_pool_size=1)
    try:
        rows = await db.fetch_rows("SELECT to_regclass('persons') IS NOT NULL", [])
        if not rows[0][0]:
            return "the database has no registry yet: run `guardline migrate` and load data (`guardline demo-data`)"
    except Exception as exc:  # any connection failure is reported the same way
        return f"cannot read the database: {exc}"
    finally:
        await db.dispose()
    return None


async def _export(config: SimConfig, settings, url: str, county: str, target: Path) -> int:
    from services.core.crypto import keyring
    from services.core.db import Database, create_engine
    from services.simulators.export import export
    from services.simulators.records import Deriver
    from services.simulators.registry import Registry

    db = Database(create_engine(url, settings, f"simulator-{config.kind}"), read_pool_size=1)
    try:
        registry = Registry(db, keyring(settings))
        deriver = Deriver(config, await registry.county_name(county))
        return await export(registry, deriver, county, target)
    finally:
        await db.dispose()


def run(args, settings) -> int:
    from services.simulators.config import DEFAULT_PORTS
    from services.simulators.registry import COUNTY

    try:
        config = config_of(args)
    except ValueError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return 2
    if args.export and not (args.county and COUNTY.match(args.county)):
        print("guardline: --export needs --county with a 6-digit county code", file=sys.stderr)
        return 2
    if args.export and Path(args.export).suffix.lower() not in (".csv", ".xlsx"):
        print("guardline: the export file must end in .csv or .xlsx", file=sys.stderr)
        return 2
    url = database_url(args, settings)
    problem = asyncio.run(_registry_ready(url, settings))
    if problem:
        print(f"guardline: {problem}", file=sys.stderr)
        return 2
    if args.export:
        target = Path(args.export)
        count = asyncio.run(_export(config, settings, url, args.county, target))
        print(f"wrote {count} {config.kind} records of county {args.county} to {target}")
        return 0

    import uvicorn

    from services.core.idnumber import install_log_redaction
    from services.simulators.app import create_app

    install_log_redaction()
    port = args.port or DEFAULT_PORTS[config.kind]
    print(
        f"{config.kind} simulator on http://{args.host}:{port} (client {config.client_id}, seed {config.seed})",
        flush=True,
    )
    uvicorn.run(
        create_app(config, settings, url),
        host=args.host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0
