"""Database connection: the configured PostgreSQL, or an embedded one in the data folder.

Nothing here runs at import time; the API's lifespan, the worker and the CLI call
``resolve_database_url`` and ``create_engine`` when they start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.core.readpool import ReadPool
from services.core.settings import Settings

log = logging.getLogger("guardline.db")

DEFAULT_DB_NAME = "guardline"


class NoDatabase(RuntimeError):
    """Neither GUARDLINE_DATABASE_URL nor the embedded server's package is there."""


def import_pgserver():
    """The embedded server's package (the ``embedded`` extra), or ``NoDatabase`` saying what
    to do: a deployment (the image) has no embedded server and must name its database."""
    try:
        import pgserver  # imported lazily: it is only needed without DATABASE_URL
    except ImportError:
        raise NoDatabase(
            "no database: set GUARDLINE_DATABASE_URL (postgresql://user:password@host:5432/guardline), "
            "or install the embedded PostgreSQL for a demo or development (pip install 'guardline[embedded]'; "
            "python3 tasks.py does)"
        ) from None
    return pgserver


def _embedded_server(data_dir: Path):
    """Start, or join, the embedded PostgreSQL in ``data_dir/pgdata``.

    pgserver keeps a list of the processes that use the server and stops it when the last
    one exits, so the API, the worker and the CLI can share one server.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"guardline-run-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        pgserver = import_pgserver()

    _keep_user_list_whole()
    _tune_new_servers()
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(pgdata, cleanup_mode="stop")


def _pgdata(data_dir: Path) -> Path:
    """The embedded server's folder in ``data_dir``, as pgserver names its server (resolved)."""
    return data_dir.expanduser().resolve() / "pgdata"


def _keep_user_list_whole() -> None:
    """pgserver's list of the server's users (``pgdata/.handle_pids.json``) must survive a
    process that is interrupted while it rewrites it.

    pgserver rewrites the file in place (truncate, then write). Ctrl-C in a terminal reaches
    ``serve`` and its children at once, and ``serve`` then asks each child to stop with a
    second SIGINT: a child that is by then in its exit handler, taking itself off the list,
    got the KeyboardInterrupt between the truncation and the write, and left an empty file
    that every later start (and ``serve``'s own exit) failed to read. Under load, when
    children stop slowly, that happened often. Here the list is replaced in one step (a
    temporary file renamed over it), the exit handler is not interrupted by a SIGINT, and an
    empty or unreadable list left by an older version reads as no users (with a warning)
    rather than stopping every start."""
    import json
    import signal
    import threading

    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    if getattr(DiskList, "_guardline_whole", False):
        return

    def get(self) -> list[int]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
            log.warning("%s is unreadable (%r); taken as an empty list of the server's users", self.path, text[:80])
            return []
        return values

    def put(self, values: list[int]) -> None:
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        try:
            partial.write_text(json.dumps(values))
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)

    cleanup = PostgresServer._cleanup

    def cleanup_uninterrupted(self) -> None:
        # Leaving the list (and stopping the server, for its last user) is the end of an exit
        # already asked for: a further Ctrl-C waits until it is done.
        if threading.current_thread() is not threading.main_thread():
            return cleanup(self)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return cleanup(self)
        finally:
            signal.signal(signal.SIGINT, previous)

    # Patched on the classes (before any server object exists), as the exit handler is
    # registered by pgserver's constructor.
    for cls, name, value in (
        (DiskList, "get", get),
        (DiskList, "put", put),
        (PostgresServer, "_cleanup", cleanup_uninterrupted),
        (DiskList, "_guardline_whole", True),
    ):
        setattr(cls, name, value)


# The embedded server's own settings (in ``pgdata/guardline.conf``, included by its
# ``postgresql.conf``; read when the server starts). The embedded server is one machine's
# database for a demo, development and the tests: nothing replicates from it and its backups
# are ``pg_dump`` (``guardline backup``), so it keeps only the WAL that crash recovery needs.
# With ``wal_level = minimal`` a table filled in the transaction that created or truncated it
# (the demo load's ``COPY … FREEZE``, the benchmark's and the tests' loads) writes no WAL for
# its rows and is synced at commit instead: the 1,000,000-person demo load took 55 s instead
# of 71 s. ``max_wal_size`` keeps such a load from forcing checkpoints midway. A production
# server (``GUARDLINE_DATABASE_URL``) is configured by its operator.
EMBEDDED_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",  # required by wal_level = minimal
    "max_wal_size": "'4GB'",
}
EMBEDDED_CONF = "guardline.conf"


def tune_embedded(pgdata: Path) -> None:
    """Write the embedded server's settings and include them from its configuration (once);
    they take effect at the server's next start."""
    conf = pgdata / EMBEDDED_CONF
    text = "# written by Guardline (services/core/db.py, EMBEDDED_SETTINGS); rewritten at every start\n" + "".join(
        f"{name} = {value}\n" for name, value in EMBEDDED_SETTINGS.items()
    )
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    main = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{EMBEDDED_CONF}'\n"
    if include not in main.read_text():
        with main.open("a") as out:
            out.write("\n" + include)


def _tune_new_servers() -> None:
    """Have pgserver write ``tune_embedded``'s settings between making a data folder (or
    finding one) and starting the server on it."""
    from pgserver.postgres_server import PostgresServer

    if getattr(PostgresServer, "_guardline_tuned", False):
        return
    inited = PostgresServer.ensure_pgdata_inited

    def ensure_pgdata_inited(self) -> None:
        inited(self)
        tune_embedded(Path(self.pgdata))

    PostgresServer.ensure_pgdata_inited = ensure_pgdata_inited  # type: ignore[method-assign]
    PostgresServer._guardline_tuned = True  # type: ignore[attr-defined]


def forget_departed_users(data_dir: Path) -> list[int]:
    """Take processes that are gone from the embedded server's list of users (and return
    them). A process ended by a signal that skips exit handlers stays on the list, and the
    server would outlive the last real user; ``serve`` calls this once its children have
    stopped, so that its own exit stops the server."""
    server = _embedded_server(data_dir)  # first: says what to do when pgserver is not installed
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import process_is_running

    with PostgresServer._lock:  # the lock pgserver itself takes around the list
        users = server.global_process_id_list.get()
        gone = [pid for pid in users if not process_is_running(pid)]
        if gone:
            server.global_process_id_list.put([pid for pid in users if pid not in gone])
    return gone


def release_embedded_server(data_dir: Path) -> bool:
    """Take this process off the list of the embedded server's users now, stopping the
    server when it was the last; what pgserver's exit handler does, for a process that may
    not reach it (a pytest-xdist worker that is slow to shut down is ended with
    ``os._exit``, and its server would run on). False when this process has not used the
    server of ``data_dir``. The exit handler, if it runs later, finds nothing left to do."""
    pgserver = sys.modules.get("pgserver.postgres_server")
    if pgserver is None:
        return False
    server = pgserver.PostgresServer._instances.get(_pgdata(data_dir))
    if server is None:
        return False
    server.cleanup()
    # Used again later in this process, the server is joined afresh (and this process listed).
    pgserver.PostgresServer._instances.pop(server.pgdata, None)
    return True


def embedded_url(data_dir: Path, database: str = DEFAULT_DB_NAME) -> str:
    """URL of the embedded server's ``database`` (created on first use)."""
    server = _embedded_server(data_dir)
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
    host = parse_qs(urlparse(uri).query)["host"][0]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return f"postgresql+asyncpg://postgres@/{database}?host={host}"


# The role the API and the sync worker connect as on the embedded server: it owns nothing,
# so it can neither change the audit trail nor run DDL (``services.core.grants``), as the
# application role of a production server (compose.yaml, deploy/postgres).
EMBEDDED_APP_ROLE = "guardline_app"
APP_PASSWORD_FILE = "app-role-password"


def _app_password(data_dir: Path) -> str:
    """The embedded application role's password: generated once, kept in the data folder
    readable by its owner only (0600)."""
    import secrets

    path = data_dir.expanduser().resolve() / APP_PASSWORD_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may have created it an instant ago
            password = path.read_text(encoding="ascii").strip()
            if password:
                return password
            import time

            time.sleep(0.1)
        raise RuntimeError(f"{path} is empty: remove it to have a new password generated") from None
    password = secrets.token_urlsafe(32)  # letters, digits, '-' and '_': safe inside SQL quotes
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(password + "\n")
    return password


def _psql(server, database: str, sql: str) -> None:
    import subprocess

    from pgserver.postgres_server import POSTGRES_BIN_PATH

    # The SQL (with the password) goes through stdin, never the command line.
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-q", "-v", "ON_ERROR_STOP=1", server.get_uri(database)],
        input=sql.encode(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def embedded_application_url(data_dir: Path, database: str = DEFAULT_DB_NAME) -> str:
    """URL of the embedded server's ``database`` for the application: as
    ``EMBEDDED_APP_ROLE`` (created on first use, its privileges granted again on every
    start so that tables of new migrations are covered). Migrate first, as the owner."""
    from services.core.grants import statements

    owner = embedded_url(data_dir, database)
    server = _embedded_server(data_dir)
    password = _app_password(data_dir)
    role = EMBEDDED_APP_ROLE
    grants = ";\n".join(statements(role))
    # One process at a time (the API and a worker may start together); the role is the
    # cluster's, its privileges are per database.
    _psql(
        server,
        database,
        f"""
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('guardline: application role'));
DO $$ BEGIN
  CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
ALTER ROLE "{role}" LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE;
SELECT to_regclass('audit_log') IS NOT NULL AS migrated \\gset
\\if :migrated
{grants};
\\endif
COMMIT;
""",
    )

    host = parse_qs(urlparse(owner.replace("postgresql+asyncpg://", "postgresql://", 1)).query)["host"][0]
    return f"postgresql+asyncpg://{role}:{password}@/{database}?host={host}"


def application_url(settings: Settings) -> str:
    """Where the API and the sync worker connect: the configured URL (whose role the
    operator has limited with ``guardline grant-app``), or the embedded server as its
    restricted application role. Migrations and the demo loader use the owner's
    ``resolve_database_url`` instead."""
    if settings.database_url:
        return resolve_database_url(settings)
    return embedded_application_url(settings.data_dir, settings.database_name)


def resolve_database_url(settings: Settings, database: str | None = None) -> str:
    """The owner's URL: the configured one, or the embedded server's superuser."""
    if settings.database_url:
        url = settings.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                url = "postgresql+asyncpg://" + url[len(plain) :]
        return url
    return embedded_url(settings.data_dir, database or settings.database_name)


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://…?host=/socket/dir) as an asyncpg DSN."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def session_settings(application_name: str, statement_timeout_ms: int = 0) -> dict[str, str]:
    """Settings of every database session: named for pg_stat_activity, and in China time
    (dates and times that PostgreSQL writes into JSON come out in Asia/Shanghai). A
    ``statement_timeout_ms`` bounds each statement, waits for locks included (0: none)."""
    values = {"application_name": f"guardline-{application_name}", "timezone": "Asia/Shanghai"}
    if statement_timeout_ms:
        values["statement_timeout"] = str(statement_timeout_ms)
    return values


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached, went away in the middle, has no connection to spare,
    or did not answer within its time: a passing condition (503, try again), not a defect
    of the request or of the service (500). Wherever it surfaces: the driver's own errors,
    the same wrapped by SQLAlchemy, a pool that timed out, a socket that is gone.

    asyncpg's ``InterfaceError`` and ``InternalClientError`` say a connection is in no state
    to be used ("connection is closed", "cannot switch to state …" after a restart cut it
    mid-statement) — except the ``InterfaceError`` s that blame the statement (``misused``),
    which no retry can cure; class 57 of SQLSTATE is the server's operator intervention: shut
    down, crashed, starting up, or a statement cancelled by ``statement_timeout``."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, (PoolTimeout, TimeoutError)):
        return True
    if isinstance(exc, _unreachable(asyncpg)):
        return not misused(exc)
    if isinstance(exc, DBAPIError):
        cause = getattr(exc.orig, "__cause__", None)
        if misused(exc.orig) or misused(cause):  # whatever SQLAlchemy made of the connection
            return False
        return (
            exc.connection_invalidated
            or isinstance(exc.orig, _unreachable(asyncpg))
            or isinstance(cause, _unreachable(asyncpg))
        )
    return False


# What asyncpg raises, as a plain ``InterfaceError``, for a statement built wrongly. (A value
# it cannot encode is a ``DataError`` of SQLSTATE's class 22, never unavailability, or, when
# its codec raised an ``InterfaceError``, that error as "query argument $n: …".)
_MISUSE_MESSAGES = ("the number of query arguments cannot exceed", "the server expects", "query argument $")


def misused(exc: BaseException | None) -> bool:
    """An asyncpg ``InterfaceError`` that blames the statement, not the connection: a value
    the driver cannot encode for its parameter, a setting it does not take (a
    ``ValueError`` too), a feature the client or server lacks, more than 32,767 parameters,
    or not the number the statement has. A defect of ours (500), the same on
    every retry — never a passing unavailability (503), and its connection stays usable."""
    import asyncpg

    if not isinstance(exc, asyncpg.InterfaceError):
        return False
    if isinstance(
        exc,
        (
            ValueError,
            asyncpg.exceptions.UnsupportedClientFeatureError,
            asyncpg.exceptions.UnsupportedServerFeatureError,
        ),
    ):
        return True
    return str(exc).startswith(_MISUSE_MESSAGES)


def _unreachable(asyncpg) -> tuple[type[BaseException], ...]:
    return (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.TooManyConnectionsError,
    )


def broken_connection(exc: BaseException) -> bool:
    """``exc`` leaves the connection it came from unusable (throw it away, never reuse it):
    every unavailability except a statement the server cancelled on a sound connection."""
    import asyncpg

    cause = getattr(getattr(exc, "orig", None), "__cause__", None) or exc
    if isinstance(cause, asyncpg.exceptions.QueryCanceledError):
        return False
    return unavailable(exc)


def create_engine(url: str, settings: Settings, application_name: str, statement_timeout_ms: int = 0) -> AsyncEngine:
    import orjson
    from sqlalchemy import event

    engine = create_async_engine(
        url,
        json_serializer=lambda obj: orjson.dumps(obj, default=_json_default).decode(),
        json_deserializer=orjson.loads,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=False,
        # A statement's parameters are the request's values (names, addresses): an error's
        # message (which may be logged) must not quote them.
        hide_parameters=True,
        connect_args={"server_settings": session_settings(application_name, statement_timeout_ms)},
    )
    event.listen(engine.sync_engine, "handle_error", _throw_away_broken)
    return engine


def _throw_away_broken(context) -> None:
    """SQLAlchemy recognises some lost connections by their message only; every error that
    leaves a connection unusable counts as one, so the pool discards it (and every
    connection opened before it: a restarted server ended them all) instead of handing it
    to the next request."""
    if not context.is_disconnect and broken_connection(context.original_exception):
        context.is_disconnect = True


def _json_default(obj):
    from decimal import Decimal

    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _discard_if_broken(connection, exc: BaseException) -> None:
    """A read-pool connection that a lost server, or a statement cut short by a cancelled
    request, left in an unknown state is closed, so that the pool opens a new one rather
    than give it to the next request (where it would fail with "another operation is in
    progress")."""
    import asyncpg

    if isinstance(exc, asyncio.CancelledError) or broken_connection(exc):
        # A connection the server closed is closed already: the pool replaces it.
        with contextlib.suppress(asyncpg.InterfaceError):
            connection.terminate()


class _Checkout:
    """A read-pool connection for one statement: waited for at most ``timeout`` seconds
    (then ``TimeoutError``), closed instead of reused when the statement was cut short
    (``_discard_if_broken``), given back in any case."""

    __slots__ = ("connection", "pool", "timeout")

    def __init__(self, pool: ReadPool, timeout: float):
        self.pool = pool
        self.timeout = timeout

    async def __aenter__(self):
        self.connection = await self.pool.acquire(self.timeout)
        return self.connection

    async def __aexit__(self, kind, exc, traceback) -> None:
        if exc is not None:
            _discard_if_broken(self.connection, exc)
        self.pool.release(self.connection)


class Database:
    """Engine and sessions of one process. Reads (GET) use an autocommit session, which
    saves the BEGIN and ROLLBACK round trips; writes get one transaction per request.

    The hottest reads (``scope.ScopedRead``) may instead run on a small pool of plain
    driver connections, opened on first use: checking a connection out through a session
    costs several times what the query itself costs."""

    def __init__(
        self,
        engine: AsyncEngine,
        read_pool_size: int = 10,
        *,
        acquire_timeout: float | None = None,
        statement_timeout_ms: int = 0,
    ):
        self.engine = engine
        # How long a request waits for a read-pool connection (None: the engine pool's wait).
        pool_wait = getattr(engine.pool, "timeout", None)  # a QueuePool's; other pools do not wait
        self.acquire_timeout = acquire_timeout if acquire_timeout is not None else (pool_wait() if pool_wait else 30.0)
        self.statement_timeout_ms = statement_timeout_ms
        self._rw = create_sessionmaker(engine)
        self._ro = create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._read_pool_size = read_pool_size
        self._read_pool: ReadPool | None = None

    def session(self, readonly: bool = False) -> AsyncSession:
        return (self._ro if readonly else self._rw)()

    async def fetch_row(self, sql: str, args: list):
        """Run one compiled SELECT on the read pool (``scope.ScopedRead`` only)."""
        async with _Checkout(self._read_pool or await self.read_pool(), self.acquire_timeout) as connection:
            return await connection.fetchrow(sql, *args)

    async def fetch_rows(self, sql: str, args: list, *, wait_for_disk: bool = True):
        """Run one statement on the read pool's connections, in a transaction of its own
        (the pages of ``scope.ScopedRead.all``, and batches of audit events, which must not
        wait for an ORM session).
        Without ``wait_for_disk`` the commit does not wait for the WAL flush: a crash of the
        database may lose the last moment of such statements, never part of one."""
        async with _Checkout(self._read_pool or await self.read_pool(), self.acquire_timeout) as connection:
            if wait_for_disk:
                return await connection.fetch(sql, *args)
            async with connection.transaction():
                await connection.execute("SET LOCAL synchronous_commit = off")
                return await connection.fetch(sql, *args)

    async def read_pool(self) -> ReadPool:
        """The hot reads' pool, made on first use (nothing to wait for: its connections,
        with the engine's session settings, are opened as reads need them)."""
        if self._read_pool is None:
            import asyncpg

            dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            settings = session_settings("read", self.statement_timeout_ms)
            self._read_pool = ReadPool(lambda: asyncpg.connect(dsn, server_settings=settings), self._read_pool_size)
        return self._read_pool

    def read_pool_figures(self) -> dict[str, int] | None:
        """The hot reads' pool as it is now (``/metrics``); None before it is opened."""
        pool = getattr(self, "_read_pool", None)
        return None if pool is None else pool.figures()

    async def dispose(self) -> None:
        if self._read_pool is not None:
            await self._read_pool.close()
            self._read_pool = None
        await self.engine.dispose()
