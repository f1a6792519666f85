"""``guardline serve``, ``migrate`` and ``demo-data``: the API (with the demo county, its
department simulators and a sync worker under ``--demo``) and the database it runs on."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from services.cli.common import database_url, load_settings, migrated_database, system_engine, system_session
from services.cli.signals import configure_logging, ignore_interrupts

DEFAULT_DEMO_PERSONS = 20_000


def serve_settings(demo: bool):
    """``serve`` is production unless GUARDLINE_ENV says otherwise (or ``--demo`` asks for
    the demo): a server started with nothing set must not sign tokens with the published
    key, and production refuses to start without private keys."""
    from services.core.settings import Environment

    settings = load_settings()
    if "env" not in settings.model_fields_set:
        hint = (
            "\n(`guardline serve` runs in production unless GUARDLINE_ENV says otherwise; "
            "`guardline serve --demo` runs the demo)"
        )
        settings = load_settings(hint, env=Environment.demo if demo else Environment.production)
    return settings


async def _demo_accounts_left(url: str, settings) -> list[str]:
    from services.core.accounts.service import demo_accounts

    async with system_session(settings, url, readonly=True) as session:
        return [u.username for u in await demo_accounts(session)]


def cmd_migrate(args) -> int:
    from services.core.migrate import upgrade

    upgrade(database_url(load_settings()), args.revision)
    print(f"database migrated to {args.revision}")
    return 0


async def _household_count(url: str, settings) -> int:
    from sqlalchemy import text

    async with system_engine(settings, url) as engine, engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM households"))).scalar_one()


async def _load_demo(url: str, settings, persons: int, json_output: bool = False) -> dict:
    from services.core.progress import Reporter
    from services.demo.loader import create_demo_users, load_demo

    started = time.perf_counter()
    with Reporter.for_command(json_output) as reporter:
        summary = await load_demo(url, settings, persons=persons, progress=reporter)
    async with system_session(settings, url) as session:
        users = await create_demo_users(session, settings)
    seconds = round(time.perf_counter() - started, 1)
    if not json_output:
        print(f"demo county loaded in {seconds:.1f} s: {summary}; {len(users)} demo users")
    return {
        "persons": persons,
        "rows": {k: v for k, v in summary.items() if k != "seconds"},
        "demo_users": len(users),
        "seconds": seconds,
    }


def cmd_demo_data(args) -> int:
    settings = load_settings()
    if not settings.demo_allowed:
        print("guardline: demo data is refused in production (GUARDLINE_ENV=production)", file=sys.stderr)
        return 2
    settings, url = migrated_database(settings)
    result = asyncio.run(_load_demo(url, settings, args.persons, args.json))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from services.api.app import create_app
    from services.api.server import uvicorn_options
    from services.core.settings import DEMO_PASSWORD, Environment

    settings = serve_settings(args.demo)
    # Logs as serve's settings say (production: JSON); the access log is the app's own, without the query string.
    configure_logging(settings, args.log_level, access_log=args.access_log)
    settings, url = migrated_database(settings)
    if settings.env == Environment.production:
        left = asyncio.run(_demo_accounts_left(url, settings))
        if left:
            shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            print(
                f"guardline: refusing to start in production: {len(left)} demo account(s) still open with the "
                f"published demo password ({shown}). Deactivate them with `guardline admin disable-demo` "
                f"(or reset their passwords), then start again.",
                file=sys.stderr,
            )
            return 2
    if args.demo:
        if not settings.demo_allowed:
            print("guardline: --demo is refused in production (GUARDLINE_ENV=production)", file=sys.stderr)
            return 2
        if asyncio.run(_household_count(url, settings)) == 0:
            asyncio.run(_load_demo(url, settings, args.persons))
        else:
            print("demo county already loaded (use `guardline demo-data` to reload it)")
    departments = None
    if args.demo and args.departments:
        departments, settings = _start_departments(settings, args.port)
    children = departments.children if departments else []
    base = f"http://{args.host}:{args.port}"
    print(f"\nGuardline API on {base}\n  interactive docs: {base}/docs (Swagger UI), {base}/redoc (ReDoc)")
    if args.demo:
        print(
            f"  demo login: user county_staff.county (or any <role>.<county|township|village>), "
            f"password {DEMO_PASSWORD}"
        )
        if departments:
            ports = ", ".join(f"{name} :{port}" for name, port in departments.ports.items())
            print(
                f"  department simulators {ports} (derived from --port, checked by their instance "
                f"token) and a sync worker are running; findings appear at /api/v1/findings as their first "
                f"runs finish (GET /api/v1/sync/runs)\n"
            )
    try:
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            loop="uvloop",
            log_level=args.log_level,
            access_log=False,
            log_config=None,
            **uvicorn_options(),
        )
    except KeyboardInterrupt:  # uvicorn stopped on Ctrl-C or SIGTERM, then raised it again: asked for, no failure
        pass
    finally:
        ignore_interrupts()  # stopped (uvicorn took the first signal): stop the children to the end
        _stop_children(children)
        if children and not settings.database_url:
            from services.core.db import forget_departed_users

            forget_departed_users(Path(settings.data_dir))
    return 0


def _start_departments(settings, api_port: int):
    """The demo's department simulators (on ports derived from the API's, showing a token
    drawn now: ``services.simulators.demo``) and a sync worker reading exactly those, as
    child processes: the worker queues each source's first run at once (they are
    scheduled and never ran). The settings returned point the API at the same sources."""
    import os
    import subprocess

    from services.simulators import demo

    # The children join this process's embedded server wherever they start, in its environment.
    env = {
        **os.environ,
        "GUARDLINE_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "GUARDLINE_ENV": settings.env.value,
    }
    departments = demo.start(settings, api_port, env)
    env["GUARDLINE_SYNC__SOURCES_FILE"] = str(departments.sources_file)
    departments.children.append(subprocess.Popen([sys.executable, "-m", "services.cli", "sync", "worker"], env=env))
    settings = settings.model_copy(
        update={"sync": settings.sync.model_copy(update={"sources_file": departments.sources_file})}
    )
    return departments, settings


def _stop_children(children: list) -> None:
    from services.simulators import launch

    for proc in children:
        launch.stop(proc)
