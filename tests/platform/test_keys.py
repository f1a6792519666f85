"""Key rotation with real commits, on a database of its own (``guardline_test_keys``):
after a new key becomes active, old rows still read; ``rotate`` moves them (resumably);
then the old key can be removed and everything still reads."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from services.core.accounts.roles import Role
from services.core.accounts.security import Caller, issue_token
from services.core.crypto import UnknownKey, keyring
from services.core.db import Database, create_engine
from services.core.households.sensitive import open_id_number
from services.core.keys import ENCRYPTED, key_counts, rotate
from services.core.settings import Settings
from services.demo.loader import load_demo
from tests.conftest import scratch_database
from tests.factories import household, person

KEYS_DB = "guardline_test_keys"
ROOT = Path(__file__).resolve().parents[2]
OLD = base64.b64encode(b"rotation-test-key-number-one-old").decode()
NEW = base64.b64encode(b"rotation-test-key-number-two-new").decode()
VILLAGE = "529901001001"  # a demo village
PERSONS = 300


def _settings(base: Settings, keys: dict[str, str], active: str) -> Settings:
    return Settings(
        env="test",
        data_dir=base.data_dir,
        database_url=None,
        data_protection={"encryption_keys": keys, "active_key": active},
    )


@pytest.fixture(scope="module")
async def keys_url(engine: AsyncEngine) -> AsyncIterator[str]:
    async with scratch_database(engine, KEYS_DB) as url:
        yield url


class Api:
    """The API on the scratch database under some settings, as a county staff member."""

    def __init__(self, url: str, settings: Settings):
        self.db = Database(create_engine(url, settings, "tests-keys"))
        self.app = create_app(settings, database=self.db)
        self.settings = settings

    async def __aenter__(self) -> httpx.AsyncClient:
        # A token must name a real account with its role and region: the county's staff.
        async with self.db.engine.begin() as conn:
            user_id = (
                await conn.execute(
                    text(
                        "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
                        "VALUES ('county_staff.county', 'county', '-', 'county_staff', '529901', true, 1) "
                        "ON CONFLICT (username) DO UPDATE SET active = true RETURNING id"
                    )
                )
            ).scalar_one()
        token, _ = issue_token(self.settings, Caller(user_id, "county_staff.county", Role.county_staff, "529901"))
        self.headers = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=self.headers)
        return self.client

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()
        await self.db.dispose()


async def _read_everything(client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings) -> None:
    """Every household reads with its members' health details; a sample of persons is
    found by ID number; every blob decrypts."""
    async with engine.connect() as conn:
        households = [r[0] for r in await conn.execute(text("SELECT id FROM households ORDER BY id"))]
        blobs = (await conn.execute(text("SELECT id, id_number_enc FROM persons ORDER BY id"))).all()
    for hid in households:
        r = await client.get(f"/api/v1/households/{hid}")
        assert r.status_code == 200, r.text
        assert all("health" in m for m in r.json()["members"])
    ring = keyring(settings)
    numbers = {pid: open_id_number(ring, blob) for pid, blob in blobs}
    for pid in list(numbers)[::37]:
        r = await client.post("/api/v1/persons/lookup", json={"id_number": numbers[pid]})
        assert (r.status_code, r.json()["id"]) == (200, pid)
        r = await client.post(f"/api/v1/persons/{pid}/id-number", json={"reason": "rotation check"})
        assert r.json()["id_number"] == numbers[pid]


async def test_rotation_moves_old_rows_and_the_old_key_can_then_go(keys_url, settings):
    old = _settings(settings, {"old": OLD}, "old")
    both = _settings(settings, {"old": OLD, "new": NEW}, "new")
    new_only = _settings(settings, {"new": NEW}, "new")
    engine = create_engine(keys_url, settings, "tests-keys")
    try:
        # Data written under the old key: a demo load, and a registration with an
        # Idempotency-Key (its stored response is encrypted too).
        await load_demo(keys_url, old, persons=PERSONS, progress=None, today=date(2025, 10, 15), parallel=False)
        created_body = household(region=VILLAGE, members=[person("head", health="disabled", disability_grade=1)])
        async with Api(keys_url, old) as client:
            first = await client.post("/api/v1/households", json=created_body, headers={"Idempotency-Key": "k-1"})
            assert first.status_code == 201, first.text
        counts = await key_counts(engine)
        assert counts == {
            "persons.id_number_enc": {"old": PERSONS + 1},
            "persons.health_enc": {"old": PERSONS + 1},
            "idempotency_keys.body": {"old": 1},
            "users.totp_secret": {},
            "dept_records.raw_enc": {},
            "sync_quarantine.raw_enc": {},
        }

        # A new active key: old rows still read, the stored response still replays, and
        # new rows are written under the new key.
        async with Api(keys_url, both) as client:
            await _read_everything(client, engine, both)
            replay = await client.post("/api/v1/households", json=created_body, headers={"Idempotency-Key": "k-1"})
            assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == first.json()
            r = await client.post(
                "/api/v1/households",
                json=household(region=VILLAGE, members=[person("head")]),
                headers={"Idempotency-Key": "k-2"},
            )
            assert r.status_code == 201
        counts = await key_counts(engine)
        assert counts["persons.id_number_enc"] == {"new": 1, "old": PERSONS + 1}
        assert counts["idempotency_keys.body"] == {"new": 1, "old": 1}

        # Rotation, interrupted after its first batch, then resumed: everything moves.
        class Stop(Exception):
            pass

        def stop_after_first(_message: str) -> None:
            raise Stop

        with pytest.raises(Stop):
            await rotate(engine, keyring(both), batch=100, progress=stop_after_first)
        partly = await key_counts(engine)
        assert partly["persons.id_number_enc"] == {"new": 101, "old": PERSONS - 99}
        messages: list[str] = []
        moved = await rotate(engine, keyring(both), batch=100, progress=messages.append)
        assert moved == {
            "persons.id_number_enc": PERSONS - 99,
            "persons.health_enc": PERSONS + 1,
            "idempotency_keys.body": 1,
            "users.totp_secret": 0,
            "dept_records.raw_enc": 0,
            "sync_quarantine.raw_enc": 0,
        }
        assert messages and all("re-encrypted under key 'new'" in m for m in messages)
        counts = await key_counts(engine)
        assert counts == {
            "persons.id_number_enc": {"new": PERSONS + 2},
            "persons.health_enc": {"new": PERSONS + 2},
            "idempotency_keys.body": {"new": 2},
            "users.totp_secret": {},
            "dept_records.raw_enc": {},
            "sync_quarantine.raw_enc": {},
        }
        assert await rotate(engine, keyring(both), batch=100) == {c.name: 0 for c in ENCRYPTED}

        # The old key removed from the settings: everything still reads.
        async with Api(keys_url, new_only) as client:
            await _read_everything(client, engine, new_only)
            replay = await client.post("/api/v1/households", json=created_body, headers={"Idempotency-Key": "k-1"})
            assert replay.status_code == 201 and replay.json() == first.json()
        # ...and the old key alone no longer reads anything.
        async with engine.connect() as conn:
            blob = (await conn.execute(text("SELECT id_number_enc FROM persons LIMIT 1"))).scalar_one()
        with pytest.raises(UnknownKey):
            open_id_number(keyring(old), blob)
    finally:
        await engine.dispose()


async def test_rotation_refuses_values_under_a_key_it_does_not_have(keys_url, settings):
    """Removing a key before rotating is caught, not silently skipped."""
    engine = create_engine(keys_url, settings, "tests-keys")
    try:
        await load_demo(
            keys_url,
            _settings(settings, {"old": OLD}, "old"),
            persons=20,
            progress=None,
            today=date(2025, 10, 15),
            parallel=False,
        )
        with pytest.raises(UnknownKey, match="'old'"):
            await rotate(engine, keyring(_settings(settings, {"new": NEW}, "new")), batch=10)
        assert (await key_counts(engine))["persons.id_number_enc"] == {"old": 20}  # nothing half-done
    finally:
        await engine.dispose()


def test_keys_cli_status_and_rotate(keys_url, settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test", "GUARDLINE_DATABASE_NAME": KEYS_DB}
    )
    if os.environ.get("GUARDLINE_TEST_DATABASE_URL"):
        env["GUARDLINE_DATABASE_URL"] = keys_url

    def run(*args: str, keys: dict[str, str], active: str) -> subprocess.CompletedProcess:
        import json

        extra = {
            "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS": json.dumps(keys),
            "GUARDLINE_DATA_PROTECTION__ACTIVE_KEY": active,
        }
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "keys", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    asyncio.run(
        load_demo(
            keys_url,
            _settings(settings, {"old": OLD}, "old"),
            persons=50,
            progress=None,
            today=date(2025, 10, 15),
            parallel=False,
        )
    )
    out = run("status", keys={"old": OLD, "new": NEW}, active="new")
    assert out.returncode == 0, out.stderr
    assert "active key: new" in out.stdout and "persons.id_number_enc: old: 50" in out.stdout
    assert "under an older key" in out.stdout
    out = run("rotate", "--batch", "20", keys={"old": OLD, "new": NEW}, active="new")
    assert out.returncode == 0, out.stderr
    assert "persons.id_number_enc: 50 rows re-encrypted" in out.stdout
    assert "persons.health_enc: new: 50" in out.stdout and "older key" not in out.stdout
    out = run("status", keys={"new": NEW}, active="new")
    assert out.returncode == 0 and "persons.id_number_enc: new: 50" in out.stdout
    for secret in (OLD, NEW):
        assert secret not in out.stdout + out.stderr
    fresh = subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", "new"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(base64.b64decode(fresh.stdout.strip(), validate=True)) == 32
