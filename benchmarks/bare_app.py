"""The baseline: plain Starlette + an asyncpg pool, no SQLAlchemy, no pydantic, no auth.

It runs the very SQL text our API runs (compiled from the service's statements by the
parent process and handed over in the JSON file named by ``GUARDLINE_BENCH_BARE_CONFIG``),
with the same parameter values, and does the same work per answer as ours for the role of
the scenario, no more and no less:

* ``/households/{id}``, ``/persons/lookup``: the statements of a role that sees health
  details, whose health details are decrypted and added to PostgreSQL's JSON document (as
  ours does for county staff); each such read is a sensitive-read event in the audit trail,
  as ours writes it: the same row (the caller's fields, the moment, the action, the object)
  handed to the same buffer (``services.api.auditing.ReadAuditBuffer``), which writes it
  with the same statement (``INSERT_BATCH_SQL``) every ``audit.read_flush_ms``;
* ``/masked/households/{id}``, ``/masked/persons/lookup``: the statements of a role that
  does not (compiled for that role: no health flags, birth year only where the role sees
  no birth dates), PostgreSQL's document returned as it is, nothing decrypted;
* ``/households?limit=&cursor=``: the list page, the SQL our API sent for the first page
  and for a page after a cursor (captured from the ORM), its rows as a JSON page
  ``{items, next_cursor}``.

Each answers the body with an ETag where ours has one, or 404 when there is no row.

Run: ``python -m uvicorn benchmarks.bare_app:app --loop uvloop --http httptools``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.api.auditing import ReadAuditBuffer
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

# The same reads for a role without health details (see the module docstring).
_HOUSEHOLD_MASKED = _config["household_masked"]
_LOOKUP_MASKED = _config["lookup_masked"]
# The household list: the first page's SQL, and the SQL of a page after a cursor with the
# slot of the cursor's id among its parameters (the limit is in the parameters as sent).
_LIST = _config["households_list"]

_NOT_FOUND = b'{"status":404,"title":"Not Found"}'
_BAD_REQUEST = b'{"status":400,"title":"Bad Request"}'

# The sensitive reads' audit events: the caller's fields, as our API takes them from the token.
_AUDIT = _config["audit"]
_CALLER: dict = _AUDIT["caller"]
API_PREFIX = "/api/v1"

pool: asyncpg.Pool | None = None
audit: ReadAuditBuffer | None = None


class _PoolDatabase:
    """What ``ReadAuditBuffer`` needs of ``services.core.db.Database``: one statement in a
    transaction of its own, whose commit need not wait for the disk (as ``fetch_rows``)."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def fetch_rows(self, sql: str, args: list, *, wait_for_disk: bool = True):
        async with self.pool.acquire() as connection:
            if wait_for_disk:
                return await connection.fetch(sql, *args)
            async with connection.transaction():
                await connection.execute("SET LOCAL synchronous_commit = off")
                return await connection.fetch(sql, *args)


def _audited(request: Request, action: str, object_type: str, object_id, **detail) -> None:
    """The event our API's ``record_sensitive_read`` makes (``base_event`` + its fields)."""
    client = request.scope.get("client")
    row = {
        "request_id": os.urandom(8).hex(),
        "ip": client[0] if client else None,
        **_CALLER,
        "at": datetime.now(UTC),
        "action": action,
        "result": "success",
        "status": 200,
        "object_type": object_type,
        "object_id": str(object_id),
        "detail": {"path": API_PREFIX + request.scope["path"], **detail},  # the path as ours records it
    }
    if audit is None:
        raise RuntimeError("the audit buffer is made when the app starts (lifespan)")
    audit.add(row)


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
    global audit
    audit = ReadAuditBuffer(_PoolDatabase(pool), _AUDIT["flush_ms"])
    flusher = asyncio.create_task(audit.run())
    try:
        yield
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        await audit.flush()
        await pool.close()


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def audit_written(request: Request) -> Response:
    """The sensitive-read events written so far, after a flush of those pending (the
    benchmark checks that the bare app writes its audit rows)."""
    if audit is None:
        raise RuntimeError("the audit buffer is made when the app starts (lifespan)")
    await audit.flush()
    return Response(orjson.dumps({"written": audit.written}), media_type="application/json")


async def household(request: Request) -> Response:
    household_id = request.path_params["household_id"]
    params = list(_HOUSEHOLD_PARAMS)
    params[_HOUSEHOLD_SLOT] = household_id
    async with _pool().acquire() as conn:
        row = await conn.fetchrow(_HOUSEHOLD_SQL, *params)
    if row is None:
        return Response(_NOT_FOUND, status_code=404, media_type="application/problem+json")
    document = household_with_health(row[1], row[2], _keyring)
    _audited(request, "household.read_health", "household", household_id)
    return Response(
        document,
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
    document = person_with_health(row[2], row[3], _keyring)
    _audited(request, "person.read_health", "person", row[1], via="lookup")
    return Response(
        document,
        media_type="application/json",
        headers={"ETag": f'"person-{row[1]}-v{row[0]}"'},
    )


async def household_masked(request: Request) -> Response:
    household_id = request.path_params["household_id"]
    params = list(_HOUSEHOLD_MASKED["params"])
    params[_HOUSEHOLD_MASKED["slot"]] = household_id
    async with _pool().acquire() as conn:
        row = await conn.fetchrow(_HOUSEHOLD_MASKED["sql"], *params)
    if row is None:
        return Response(_NOT_FOUND, status_code=404, media_type="application/problem+json")
    return Response(
        row[1].encode(), media_type="application/json", headers={"ETag": f'"household-{household_id}-v{row[0]}"'}
    )


async def lookup_masked(request: Request) -> Response:
    try:
        number = orjson.loads(await request.body())["id_number"]
        id_hash = keyed_hash(number, _key)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeEncodeError):
        return Response(_BAD_REQUEST, status_code=400, media_type="application/problem+json")
    params = list(_LOOKUP_MASKED["params"])
    params[_LOOKUP_MASKED["slot"]] = id_hash
    async with _pool().acquire() as conn:
        row = await conn.fetchrow(_LOOKUP_MASKED["sql"], *params)
    if row is None:
        return Response(_NOT_FOUND, status_code=404, media_type="application/problem+json")
    return Response(row[2].encode(), media_type="application/json", headers={"ETag": f'"person-{row[1]}-v{row[0]}"'})


def _cursor(value: bytes | str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value])).decode().rstrip("=")


async def households_list(request: Request) -> Response:
    """A page of 50 (the only size the benchmark asks for; the limit is in the SQL's
    parameters as our API sent it)."""
    cursor = request.query_params.get("cursor")
    if cursor is None:
        sql, params = _LIST["first_sql"], list(_LIST["first_params"])
    else:
        try:
            (after,) = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, TypeError):
            return Response(_BAD_REQUEST, status_code=400, media_type="application/problem+json")
        sql, params = _LIST["after_sql"], list(_LIST["after_params"])
        params[_LIST["slot"]] = after
    limit = _LIST["limit"]
    async with _pool().acquire() as conn:
        rows = await conn.fetch(sql, *params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _cursor(rows[-1]["id"])
    return Response(
        orjson.dumps({"items": [dict(r) for r in rows], "next_cursor": next_cursor}), media_type="application/json"
    )


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/audit-written", audit_written),
        Route("/households/{household_id:int}", household),
        Route("/persons/lookup", lookup, methods=["POST"]),
        Route("/masked/households/{household_id:int}", household_masked),
        Route("/masked/persons/lookup", lookup_masked, methods=["POST"]),
        Route("/households", households_list),
    ],
    lifespan=lifespan,
)
