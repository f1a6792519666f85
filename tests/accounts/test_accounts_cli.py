"""Accounts from the command line (issue 15): ``guardline serve`` is production unless told
otherwise, production refuses to start while the demo's accounts still open with the
published password, and ``guardline admin create`` makes the first administrator with a
one-time password that must be changed before anything else."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess

import httpx
import pytest
import yaml
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.app import create_app
from services.core.accounts.models import User
from services.core.accounts.security import hash_password
from services.core.db import Database
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import DEMO_PASSWORD
from tests.cli import GUARDLINE, ROOT, committed_engine, needs_embedded_server, run_guardline

SCRATCH = "guardline_accounts_cli"
PRIVATE = {
    "GUARDLINE_AUTH__SECRET_KEY": "s" * 40,
    "GUARDLINE_DATA_PROTECTION__ID_HASH_KEY": "h" * 40,
    "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS": '{"k1": "cHJpdmF0ZS10ZXN0LWtleS1ub3QtdGhlLWRlbW8tMDE="}',
    "GUARDLINE_DATA_PROTECTION__ACTIVE_KEY": "k1",
}

pytestmark = needs_embedded_server


@pytest.fixture
async def committed(engine, settings):
    async with committed_engine(engine, settings, SCRATCH) as eng:
        yield eng


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings, **env: str) -> subprocess.CompletedProcess:
    """``guardline serve`` with only ``env`` set (no GUARDLINE_ENV unless given); it must
    refuse to start, so a server that starts fails the test after a while."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    environ.update({"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_DATABASE_NAME": SCRATCH, **env})
    try:
        return subprocess.run(
            [*GUARDLINE, "serve", "--port", str(_free_port())],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("serve started instead of refusing")


async def test_serve_without_an_environment_is_production_and_refuses_the_demo_key(committed, settings):
    done = await asyncio.to_thread(_serve, settings)
    assert done.returncode == 2, done.stderr
    assert "GUARDLINE_AUTH__SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


def test_the_image_and_compose_run_in_production():
    assert re.search(r"^\s*GUARDLINE_ENV=production\b", (ROOT / "Dockerfile").read_text(), re.M)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert compose["x-guardline-env"]["GUARDLINE_ENV"].endswith("production}")


async def test_production_refuses_to_start_while_demo_accounts_are_open(committed, settings):
    async with AsyncSession(committed) as session:
        demo_hash = hash_password(DEMO_PASSWORD)
        for name, prefix in (("county_staff.county", "529901"), ("cadre.529901001001.001", "529901001001")):
            session.add(
                User(
                    username=name, display_name=name, password_hash=demo_hash, role="county_staff", region_prefix=prefix
                )
            )
        # Named like the demo's but with a password of its own: not a demo account.
        session.add(
            User(
                username="auditor.county",
                display_name="a",
                password_hash=hash_password("Own-Pass-2026"),
                role="auditor",
                region_prefix="529901",
            )
        )
        await session.commit()
    done = await asyncio.to_thread(_serve, settings, GUARDLINE_ENV="production", **PRIVATE)
    assert done.returncode == 2, done.stderr
    assert "2 demo account(s)" in done.stderr and "guardline admin disable-demo" in done.stderr
    off = await asyncio.to_thread(
        run_guardline, settings, SCRATCH, "admin", "disable-demo", GUARDLINE_ENV="production", **PRIVATE
    )
    assert off.returncode == 0 and "2 demo account(s) deactivated" in off.stdout, off.stderr
    async with committed.connect() as conn:
        active = dict((await conn.execute(text("SELECT username, active FROM users"))).all())
        revoked = (await conn.execute(text("SELECT count(*) FROM principal_revocations"))).scalar_one()
        audited = (
            await conn.execute(
                text("SELECT actor_name, role, object_type, detail FROM audit_log WHERE action = 'user.deactivate'")
            )
        ).all()
    assert active == {"county_staff.county": False, "cadre.529901001001.001": False, "auditor.county": True}
    assert revoked == 2
    assert [tuple(row) for row in audited] == [
        ("guardline admin disable-demo", "cli", "user", {"reason": "demo_account"})
    ] * 2


async def test_admin_create_gives_a_one_time_password_to_change_first(committed, settings):
    done = await asyncio.to_thread(
        run_guardline, settings, SCRATCH, "admin", "create", "--username", "root.admin", "--region", "529901"
    )
    assert done.returncode == 0, done.stderr
    password = re.search(r"one-time password: (\S+)", done.stdout).group(1)
    again = await asyncio.to_thread(
        run_guardline, settings, SCRATCH, "admin", "create", "--username", "root.admin", "--region", "529901"
    )
    assert again.returncode == 1 and "taken" in again.stderr
    bad = await asyncio.to_thread(
        run_guardline, settings, SCRATCH, "admin", "create", "--username", "x.admin", "--region", "5299"
    )
    assert bad.returncode == 0  # a city-wide administrator is fine …
    bad = await asyncio.to_thread(
        run_guardline, settings, SCRATCH, "admin", "create", "--username", "y.admin", "--region", "52990"
    )
    assert bad.returncode == 2  # … a prefix of 5 digits is not

    async with AsyncSession(committed) as session:
        bind_scope(session, UNRESTRICTED)
        user = (await session.execute(select(User).where(User.username == "root.admin"))).scalar_one()
        assert (user.role.value, user.region_prefix, user.must_change_password) == ("admin", "529901", True)
        events = (
            await session.execute(
                text("SELECT action, object_id, actor_name, role FROM audit_log WHERE action = 'user.create'")
            )
        ).all()
        assert ("user.create", str(user.id), "guardline admin create", "cli") in events

    db = Database(committed)
    app = create_app(settings, database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        login = await http.post("/api/v1/auth/token", data={"username": "root.admin", "password": password})
        assert login.status_code == 200 and login.json()["must_change_password"] is True
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        users = await http.get("/api/v1/admin/users", headers=headers)
        assert (users.status_code, users.json()["code"]) == (403, "password_change_required")
        assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 200
        changed = await http.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"current_password": password, "new_password": "Chosen-By-Me-2026"},
        )
        assert changed.status_code == 204, changed.text
        login = await http.post("/api/v1/auth/token", data={"username": "root.admin", "password": "Chosen-By-Me-2026"})
        assert login.json()["must_change_password"] is False
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await http.get("/api/v1/admin/users", headers=headers)).status_code == 200
    await db.dispose()
