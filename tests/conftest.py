"""Test harness: one embedded PostgreSQL per test session (or GUARDLINE_TEST_DATABASE_URL),
migrated with Alembic; each test runs inside a transaction that is rolled back.

Two counties are loaded once: 529901 清溪县 (townships 001 and 002) and 529902 (another
county) so that every test can check what is outside a caller's scope.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core.accounts.models import User
from services.core.accounts.security import Caller, hash_password, issue_token
from services.core.db import Database, create_engine, embedded_url, release_embedded_server
from services.core.migrate import upgrade_on
from services.core.regions.models import Region
from services.core.regions.rules import level_of, parent_of
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import Settings
from tests.factories import REGIONS, USERS

ROOT = Path(__file__).resolve().parents[1]
TEST_DB = "guardline_test"
# Under pytest-xdist ("gw0", "gw1", …): each worker has a data folder, and so an embedded
# PostgreSQL, of its own, so the databases, files and server users of the workers never meet
# (the scratch databases keep their names). Without xdist: .guardline/ as before.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
DATA_DIR = ROOT / ".guardline" / f"xdist-{WORKER}" if WORKER else ROOT / ".guardline"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(env="test", data_dir=DATA_DIR, database_url=None)


def pytest_sessionfinish(session, exitstatus):
    """The embedded server stops with the session, not only at the process's exit: an xdist
    worker that takes long to shut down is ended without its exit handlers, and its server
    would otherwise run on after the tests."""
    release_embedded_server(DATA_DIR)


@pytest.fixture(autouse=True)
def _rate_limit_window_holds_still(monkeypatch):
    """The rate limits count per whole minute: a test that sends a limit's worth of requests
    must not see a new minute begin half-way (on a loaded machine such a test takes tens of
    seconds). The limiter's clock stays in the middle of the current window; tests of the
    windows themselves set it (tests/api/test_rate_limits.py)."""
    from services.api import ratelimit

    moment = (int(ratelimit.clock()) // ratelimit.WINDOW) * ratelimit.WINDOW + ratelimit.WINDOW / 2
    monkeypatch.setattr(ratelimit, "clock", lambda: moment)


@pytest.fixture
def today_is(monkeypatch):
    """``today_is(date(2026, 7, 1))``: from then on the code's ``timeutil.now()`` and
    ``today()`` are on that day (the time of day runs on as the machine's), for tests that
    play fixed past days and must not depend on the day they run. Only the code's clock
    moves: PostgreSQL's ``now()`` and the tokens' ``time.time()`` stay the machine's."""
    from services.core import idnumber, timeutil

    def move_to(day: date) -> None:
        clock = timeutil.clock
        shift = day - clock().date()  # whole days
        monkeypatch.setattr(timeutil, "clock", lambda: clock() + shift)
        monkeypatch.setattr(idnumber, "_TODAY", [0.0, date.min])  # its day, kept for a minute: read again

    return move_to


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    external = os.environ.get("GUARDLINE_TEST_DATABASE_URL")
    if external and WORKER:
        pytest.exit("GUARDLINE_TEST_DATABASE_URL names one database: run its tests without xdist (-n 0)", 2)
    if external:
        url = external.replace("postgresql://", "postgresql+asyncpg://", 1)
    else:
        # A fresh database on the embedded server for every test session.
        maintenance = embedded_url(settings.data_dir, "postgres")
        url = maintenance.replace("/postgres?", f"/{TEST_DB}?", 1)
        admin = create_engine(maintenance, settings, "tests")
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{TEST_DB}"'))
        await admin.dispose()
    eng = create_engine(url, settings, "tests")
    async with eng.begin() as conn:
        await conn.run_sync(upgrade_on)
    await _load_base_data(eng)
    yield eng
    await eng.dispose()


async def _load_base_data(eng: AsyncEngine) -> None:
    password_hash = hash_password("Test-Password-1")
    async with AsyncSession(eng) as session:
        bind_scope(session, UNRESTRICTED)
        for code, name in sorted(REGIONS.items(), key=lambda kv: level_of(kv[0])):
            session.add(Region(code=code, name=name, level=int(level_of(code)), parent_code=parent_of(code)))
            await session.flush()
        for username, (role, prefix) in USERS.items():
            session.add(
                User(
                    username=username,
                    display_name=username,
                    password_hash=password_hash,
                    role=role,
                    region_prefix=prefix,
                )
            )
        await session.commit()


@asynccontextmanager
async def scratch_database(engine: AsyncEngine, name: str, *, migrated: bool = True) -> AsyncIterator[str]:
    """URL of a freshly migrated database ``name`` next to the test database (embedded or
    external), for tests that must commit; dropped afterwards. ``migrated=False``: an empty
    database (no tables), e.g. the target of a restore."""
    import asyncio

    from services.core.migrate import upgrade

    url = engine.url.set(database=name).render_as_string(hide_password=False)

    async def recreate(create: bool) -> None:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))

    await recreate(True)
    if migrated:  # ``upgrade`` runs Alembic's env.py, which calls asyncio.run: not inside this loop.
        await asyncio.to_thread(upgrade, url)
    try:
        yield url
    finally:
        await recreate(False)


class RolledBackDatabase(Database):
    """Sessions of the test's connection; their commits only release savepoints."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection):
        self.engine = engine
        self.connection = connection

    def session(self, readonly: bool = False) -> AsyncSession:
        return AsyncSession(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )

    async def fetch_row(self, sql: str, args: list):
        """The hot reads run on the test's connection too, so they see its data."""
        raw = await self.connection.get_raw_connection()
        assert raw.driver_connection is not None  # an open connection has its driver's
        return await raw.driver_connection.fetchrow(sql, *args)

    async def fetch_rows(self, sql: str, args: list, *, wait_for_disk: bool = True):
        raw = await self.connection.get_raw_connection()
        assert raw.driver_connection is not None
        return await raw.driver_connection.fetch(sql, *args)


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[RolledBackDatabase]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        # The driver begins the transaction with the first statement; statements sent to the
        # driver connection directly (hot reads, rate-limit counts) must not come first and
        # commit on their own.
        await conn.execute(text("SELECT 1"))
        try:
            yield RolledBackDatabase(engine, conn)
        finally:
            await outer.rollback()


@pytest.fixture
async def session(db: RolledBackDatabase) -> AsyncIterator[AsyncSession]:
    s = db.session()
    bind_scope(s, UNRESTRICTED)
    try:
        yield s
    finally:
        await s.close()


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
    )


@pytest.fixture
async def client(settings: Settings, db: RolledBackDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    async with _client(app) as c:
        yield c


@pytest.fixture
async def committing_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """Real transactions and a connection pool, for tests of concurrent requests. The
    registry tables are emptied afterwards."""
    app = create_app(settings, database=Database(engine))
    try:
        async with _client(app) as c:
            yield c
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE households, persons, memberships, household_events, income_records, income_years, "
                    "household_guarantees, guarantee_changes, idempotency_keys, rate_limit_counts, events CASCADE"
                )
            )


_USER_IDS: dict[str, int] = {}


@pytest.fixture(scope="session")
async def user_ids(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT username, id FROM users"))
        return dict(rows.all())


def bearer_headers(settings: Settings, user_ids: dict[str, int]):
    """``headers("county_staff.a")`` → headers with a bearer token of that test user."""

    def headers(username: str, **extra: str) -> dict[str, str]:
        role, prefix = USERS[username]
        token, _ = issue_token(settings, Caller(user_ids[username], username, role, prefix))
        return {"Authorization": f"Bearer {token}", **extra}

    return headers


@pytest.fixture
def auth(settings: Settings, user_ids: dict[str, int]):
    """``auth("county_staff.a")`` → headers with a bearer token of that test user."""
    return bearer_headers(settings, user_ids)


# ---- pytest-xdist: what runs together (``--dist loadgroup``, as ``python3 tasks.py test``) ----
# Tests that start whole demos (their own PostgreSQL, simulators, worker, a terminal) run one
# after another on one worker: two at once on a small machine only slow each other down.
SERIAL_GROUP = "demo-processes"
SERIAL_MODULES = (
    "tests/platform/test_serve_e2e.py",
    "tests/platform/test_readme_tour.py",
    "tests/platform/test_ctrl_c.py",
    "tests/platform/test_demo_load.py",
    "tests/api/test_docs_browser.py",
)
# Modules whose module-scoped fixtures are expensive (a scratch database, a loaded demo, a
# generated client), and the simulators' session-wide world: each kept on one worker, so the
# fixture is set up once, not once per worker.
SHARED_FIXTURE_DIRS = ("tests/simulators/",)
SHARED_FIXTURE_MODULES = (
    "tests/platform/test_keys.py",
    "tests/audit/test_audit_chain.py",
    "tests/audit/test_grants.py",
    "tests/api/test_contract_descriptions.py",
    "tests/api/test_generated_client.py",
    "tests/unit/test_demo_generator.py",
    "tests/sync/",
)


def _group(path: str) -> str | None:
    if path in SERIAL_MODULES:
        return SERIAL_GROUP
    for prefix in SHARED_FIXTURE_DIRS:
        if path.startswith(prefix):
            return prefix.rstrip("/")
    if any(path == m or (m.endswith("/") and path.startswith(m)) for m in SHARED_FIXTURE_MODULES):
        return path
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks
def pytest_collection_modifyitems(config, items):
    """Each group above gets an ``xdist_group`` mark, and the groups go first (the serial one
    first): a long group started last would leave the other workers idle at the end. The
    order is the same on every worker, as xdist needs. Without xdist nothing changes."""
    if not WORKER:
        return
    groups = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = groups.setdefault(path, _group(path))
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))

    def rank(item) -> int:
        group = groups[item.nodeid.split("::", 1)[0]]
        return 0 if group == SERIAL_GROUP else 1 if group else 2

    items.sort(key=rank)  # stable: the collection order within each rank
