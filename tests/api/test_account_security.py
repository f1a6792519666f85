"""Accounts behind tokens and logins (issue 15): a signed token must agree with its account,
wrong current passwords lock like failed logins, the published demo password opens nothing
in production, and failed logins under unknown names reach the county's auditor."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from services.api.app import create_app
from services.core.accounts.models import User
from services.core.accounts.roles import CLIENT_GRANTABLE, Role
from services.core.accounts.security import Caller, hash_password, issue_token
from services.core.settings import DEMO_PASSWORD, Settings
from tests.factories import COUNTY, TOWNSHIP, VILLAGE

PASSWORD = "Test-Password-1"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"


def forged(settings, user_id, username, role, prefix) -> dict:
    """A token signed with the settings' key (as anyone holding the development key could)."""
    token, _ = issue_token(settings, Caller(user_id, username, role, prefix))
    return {"Authorization": f"Bearer {token}"}


def _refused(r) -> bool:
    return r.status_code == 401 and r.json()["code"] == "token_invalid"


# ---- tokens are checked against the account -----------------------------------------------------


async def test_a_token_for_a_user_that_does_not_exist_is_refused(client, settings):
    r = await client.get(ME, headers=forged(settings, 987654321, "ghost", Role.admin, ""))
    assert _refused(r), r.text
    r = await client.get("/api/v1/households", headers=forged(settings, 987654321, "ghost", Role.county_staff, COUNTY))
    assert _refused(r), r.text


async def test_a_token_with_a_wider_region_than_the_account_is_refused(client, settings, user_ids):
    uid = user_ids["village_staff.village"]
    assert (
        await client.get(ME, headers=forged(settings, uid, "village_staff.village", Role.village_staff, VILLAGE))
    ).status_code == 200
    for wider in (TOWNSHIP, COUNTY, "52", ""):
        r = await client.get(
            "/api/v1/households", headers=forged(settings, uid, "village_staff.village", Role.village_staff, wider)
        )
        assert _refused(r), (wider, r.text)


async def test_a_token_with_a_more_powerful_role_than_the_account_is_refused(client, settings, user_ids):
    uid = user_ids["grid_worker.county"]
    for role in (Role.admin, Role.auditor, Role.county_approver):
        r = await client.get(ME, headers=forged(settings, uid, "grid_worker.county", role, COUNTY))
        assert _refused(r), (role, r.text)
    # The account's own role and region still pass (after the refusals were cached).
    assert (
        await client.get(ME, headers=forged(settings, uid, "grid_worker.county", Role.grid_worker, COUNTY))
    ).status_code == 200


async def test_a_token_of_an_inactive_account_is_refused(client, session, settings, user_ids):
    await session.execute(update(User).where(User.username == "auditor.township").values(active=False))
    await session.commit()
    r = await client.get(
        ME, headers=forged(settings, user_ids["auditor.township"], "auditor.township", Role.auditor, TOWNSHIP)
    )
    assert _refused(r), r.text


async def test_a_client_token_must_match_the_client(client, settings, auth):
    ghost = Caller(None, "ghost.system", Role.department_system, COUNTY, client_id=987654321, granted=CLIENT_GRANTABLE)
    r = await client.get(ME, headers={"Authorization": f"Bearer {issue_token(settings, ghost)[0]}"})
    assert _refused(r), r.text
    created = (
        await client.post(
            "/api/v1/admin/clients",
            headers=auth("admin.county"),
            json={"name": "civil.affairs.x", "permissions": ["registry:read"], "region_prefix": COUNTY},
        )
    ).json()
    real = Caller(
        None,
        created["name"],
        Role.department_system,
        COUNTY,
        client_id=created["id"],
        granted=frozenset(CLIENT_GRANTABLE),
    )  # more than it was given
    r = await client.get(ME, headers={"Authorization": f"Bearer {issue_token(settings, real)[0]}"})
    assert _refused(r), r.text


async def test_after_a_role_change_old_and_forged_tokens_are_refused(client, settings, auth, user_ids):
    uid = user_ids["township_staff.village"]
    old = auth("township_staff.village")
    assert (await client.get(ME, headers=old)).status_code == 200  # the account is now cached
    admin = auth("admin.county")
    current = await client.get(f"/api/v1/admin/users/{uid}", headers=admin)
    r = await client.patch(
        f"/api/v1/admin/users/{uid}",
        json={"role": "grid_worker"},
        headers={**admin, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert _refused(await client.get(ME, headers=old))
    # A token issued after the change but naming the old role: the account is read again.
    again = forged(settings, uid, "township_staff.village", Role.township_staff, VILLAGE)
    assert _refused(await client.get(ME, headers=again))
    new = forged(settings, uid, "township_staff.village", Role.grid_worker, VILLAGE)
    me = await client.get(ME, headers=new)
    assert me.status_code == 200 and me.json()["role"] == "grid_worker"


# ---- a wrong current password counts like a failed login ----------------------------------------


async def test_wrong_current_passwords_lock_the_account_like_failed_logins(client, session, settings):
    login = await client.post(TOKEN, data={"username": "village_staff.township", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for _ in range(settings.auth.max_failed_logins):
        r = await client.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"current_password": "Wrong-Password-9", "new_password": "Brand-New-Pass-7"},
        )
        assert (r.status_code, r.json()["code"]) == (422, "password_wrong")
    user = (await session.execute(select(User).where(User.username == "village_staff.township"))).scalar_one()
    await session.refresh(user)
    assert user.locked_until is not None
    # Locked: the right password no longer logs in, nor changes the password.
    assert (
        await client.post(TOKEN, data={"username": "village_staff.township", "password": PASSWORD})
    ).status_code == 401
    r = await client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "Brand-New-Pass-7"},
    )
    assert r.status_code == 422


# ---- the demo password in production ------------------------------------------------------------


@pytest.fixture
def production() -> Settings:
    from services.core.crypto import new_key

    return Settings(
        env="production",
        database_url=None,
        auth={"secret_key": "p" * 40},
        data_protection={"id_hash_key": "h" * 40, "encryption_keys": {"k1": new_key()}, "active_key": "k1"},
    )


async def test_production_refuses_a_login_with_the_published_demo_password(db, session, settings, production):
    await session.execute(
        update(User).where(User.username == "county_staff.township").values(password_hash=hash_password(DEMO_PASSWORD))
    )
    await session.commit()
    form = {"username": "county_staff.township", "password": DEMO_PASSWORD}
    for env, expected in ((production, 401), (settings, 200)):  # settings: the tests' (env=test)
        app = create_app(env, database=db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.post(TOKEN, data=form)).status_code == expected, env.env


async def test_the_published_demo_password_cannot_be_chosen(client, auth):
    r = await client.post(
        "/api/v1/auth/password",
        headers=auth("grid_worker.township"),
        json={"current_password": PASSWORD, "new_password": DEMO_PASSWORD},
    )
    assert (r.status_code, r.json()["code"]) == (422, "password_published")


# ---- failed logins under unknown names reach the county's auditor --------------------------------


async def test_the_county_auditor_sees_failed_logins_under_unknown_names(client, auth):
    typed = "no.such\nuser\x1b[31m\x07" + "x" * 40
    r = await client.post(TOKEN, data={"username": typed, "password": "Secret-Guess-1"})
    assert r.status_code == 401, r.text
    for auditor in ("auditor.county", "auditor.village"):
        found = (
            await client.get(
                "/api/v1/audit/events", headers=auth(auditor), params={"action": "auth.login", "result": "failure"}
            )
        ).json()["items"]
        event = next(e for e in found if e["actor_name"] and e["actor_name"].startswith("no.such"))
        assert event["detail"] == {"reason": "unknown_user"} and event["region_code"] is None
        assert event["actor_name"] == ("no.suchuser[31m" + "x" * 40)[:64]
        assert "Secret-Guess-1" not in str(event)


# ---- a password an administrator set is for one use ---------------------------------------------


async def test_a_password_set_by_an_administrator_must_be_changed_first(client, auth, user_ids):
    admin = auth("admin.county")
    r = await client.post(
        f"/api/v1/admin/users/{user_ids['grid_worker.township']}/password",
        headers=admin,
        json={"new_password": "Given-By-Admin-7"},
    )
    assert r.status_code == 204, r.text
    created = await client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "li.si",
            "display_name": "李四",
            "role": "grid_worker",
            "region_prefix": VILLAGE,
            "password": "Given-By-Admin-8",
        },
    )
    assert created.status_code == 201, created.text
    for username, given in (("grid_worker.township", "Given-By-Admin-7"), ("li.si", "Given-By-Admin-8")):
        login = await client.post(TOKEN, data={"username": username, "password": given})
        assert login.status_code == 200 and login.json()["must_change_password"] is True
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        r = await client.get("/api/v1/households", headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "password_change_required")
        r = await client.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"current_password": given, "new_password": "Only-I-Know-2026"},
        )
        assert r.status_code == 204, r.text
        login = await client.post(TOKEN, data={"username": username, "password": "Only-I-Know-2026"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await client.get("/api/v1/households", headers=headers)).status_code == 200
