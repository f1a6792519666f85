"""The baseline: plain Starlette + an asyncpg pool, no SQLAlchemy, no pydantic, no auth.

It runs the very SQL text our API runs (compiled from the service's statements by the
parent process and handed over in the JSON file named by ``GUARDLINE_BENCH_BARE_CONFIG``),
with the same parameter values, and returns PostgreSQL's JSON document with the decrypted
health details added (as for a role that may see them) as the body with an ETag, or 404
when there is no row.

Run: ``python -m uvicorn benchmarks.bare_app:app --loop uvloop --http httptools``.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.core.crypto import Keyring, decode_key
from services.core.households.sensitive import household_with_health, person_with_health
from services.core.idnumber import keyed_hash

CONFIG_ENV = "GUARDLINE_BENCH_BARE_CONFIG"

_config = orjson.loads(Path(os.environ[CONFIG_ENV]).read_bytes())
_key: bytes = _config["id_hash_key"].encode()
# The caller of the benchmark may see health details: they are decrypted and added to the
# document, as our API does for such a role.
_keyring = Keyring(
    {kid: decode_key(kid, secret) for kid, secret in _config["encryption_keys"].items()}, _config["active_key"]
)

_HOUSEHOLD_SQL: str = _config["household"]["sql"]
_HOUSEHOLD_PARAMS: list = _config["household"]["params"]
_HOUSEHOLD_SLOT: int = _config["household"]["slot"]  # index of the household id in the params

_LOOKUP_SQL: str = _config["lookup"]["sql"]
_LOOKUP_PARAMS: list = _config["lookup"]["params"]
_LOOKUP_SLOT: int = _config["lookup"]["slot"]  # index of the ID-number hash in the params

_NOT_FOUND = b'{"status":404,"title":"Not Found"}'
_BAD_REQUEST = b'{"status":400,"title":"Bad Request"}'

pool: asyncpg.Pool | None = None


def _pool() -> asyncpg.Pool:
    if pool is None:
        raise RuntimeError("the pool is made when the app starts (lifespan)")
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one more round trip): these read-only
    queries change no session state, and our API's engine sends no reset either."""


@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(
        _config["dsn"],
        min_size=_config["pool_min"],
        max_size=_config["pool_max"],
        # The same session settings as the API's engine (the timezone shapes the JSON).
        server_settings=_config["server_settings"],
        reset=None if _config.get("pool_reset") else _keep_session,
    )
    try:
        yield
    finally:
        await pool.close()


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def household(request: Request) -> Response:
    household_id = request.path_params["household_id"]
    params = list(_HOUSEHOLD_PARAMS)
    params[_HOUSEHOLD_SLOT] = household_id
    async with _pool().acquire() as conn:
        row = await conn.fetchrow(_HOUSEHOLD_SQL, *params)
    if row is None:
        return Response(_NOT_FOUND, status_code=404, media_type="application/problem+json")
    return Response(
        household_with_health(row[1], row[2], _keyring),
        media_type="application/json",
        headers={"ETag": f'"household-{household_id}-v{row[0]}"'},
    )


async def lookup(request: Request) -> Response:
    try:
        number = orjson.loads(await request.body())["id_number"]
        id_hash = keyed_hash(number, _key)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeEncodeError):
        return Response(_BAD_REQUEST, status_code=400, media_type="application/problem+json")
    params = list(_LOOKUP_PARAMS)
    params[_LOOKUP_SLOT] = id_hash
    async with _pool().acquire() as conn:
        row = await conn.fetchrow(_LOOKUP_SQL, *params)
    if row is None:
        return Response(_NOT_FOUND, status_code=404, media_type="application/problem+json")
    return Response(
        person_with_health(row[2], row[3], _keyring),
        media_type="application/json",
        headers={"ETag": f'"person-{row[1]}-v{row[0]}"'},
    )


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/households/{household_id:int}", household),
        Route("/persons/lookup", lookup, methods=["POST"]),
    ],
    lifespan=lifespan,
)
