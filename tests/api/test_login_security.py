"""Hardened login: lockout, the same answer for every failure, refresh tokens that rotate and
idle out, logout and revocation, the second factor, rate limits and password rules."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.core.accounts import totp
from services.core.accounts.models import LoginSession, User
from services.core.timeutil import now

PASSWORD = "Test-Password-1"
TOKEN = "/api/v1/auth/token"


def _strip(r) -> dict:
    return {k: v for k, v in r.json().items() if k != "request_id"}


async def _login(client, username="grid_worker.village", password=PASSWORD, **extra):
    return await client.post(TOKEN, data={"username": username, "password": password, **extra})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_short_lived_access_and_a_refresh_token(client, settings):
    r = await _login(client)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expires_in"] == settings.auth.access_token_minutes * 60 <= 3600
    assert body["refresh_token"] and "registry:read" in body["permissions"]
    assert r.headers["cache-control"] == "no-store"


async def test_lockout_after_repeated_failures_and_the_same_answer_throughout(client, session, settings):
    limit = settings.auth.max_failed_logins
    answers = [await _login(client, "grid_worker.township", "Wrong-Password-9") for _ in range(limit)]
    assert {a.status_code for a in answers} == {401}
    locked = await _login(client, "grid_worker.township")  # the right password, but locked
    unknown = await _login(client, "no.such.user", "Wrong-Password-9")
    assert locked.status_code == unknown.status_code == 401
    assert _strip(locked) == _strip(unknown) == _strip(answers[0])
    user = (await session.execute(select(User).where(User.username == "grid_worker.township"))).scalar_one()
    assert user.locked_until is not None and user.locked_until > now() + timedelta(
        minutes=settings.auth.lockout_minutes - 1
    )
    # When the lock has run out the right password works again and the count starts afresh.
    await session.execute(update(User).where(User.id == user.id).values(locked_until=now() - timedelta(seconds=1)))
    await session.commit()
    assert (await _login(client, "grid_worker.township")).status_code == 200


async def test_failures_below_the_limit_are_forgotten_after_a_success(client, session, settings):
    for _ in range(settings.auth.max_failed_logins - 1):
        await _login(client, "grid_worker.county", "Wrong-Password-9")
    assert (await _login(client, "grid_worker.county")).status_code == 200
    user = (await session.execute(select(User).where(User.username == "grid_worker.county"))).scalar_one()
    assert user.failed_logins == 0 and user.locked_until is None


async def test_inactive_account_cannot_log_in(client, session):
    await session.execute(update(User).where(User.username == "auditor.village").values(active=False))
    await session.commit()
    assert (await _login(client, "auditor.village")).json()["code"] == "login_failed"


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(client):
    first = (await _login(client)).json()
    second = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(new["access_token"]))).status_code == 200
    # The old refresh token again: somebody copied it. The whole session ends.
    reused = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (reused.status_code, reused.json()["code"]) == (401, "refresh_invalid")
    after = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]})
    assert after.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(new["access_token"]))).status_code == 401


async def test_idle_session_cannot_be_refreshed(client, session, settings):
    body = (await _login(client)).json()
    sid = body["refresh_token"].split(".")[0]
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == sid)
        .values(last_used_at=now() - timedelta(minutes=settings.auth.idle_minutes + 1))
    )
    await session.commit()
    r = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert r.status_code == 401
    ended = await session.get(LoginSession, sid, populate_existing=True)
    assert ended.revoked_reason == "idle"


@pytest.mark.parametrize("token", ["", "nodot", "x" * 40 + ".abc", "0123456789abcdef0123456789abcdef.wrong"])
async def test_malformed_refresh_tokens(client, token):
    r = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})
    assert r.status_code in (401, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_logout_revokes_access_and_refresh_at_once(client):
    body = (await _login(client)).json()
    h = bearer(body["access_token"])
    assert (await client.get("/api/v1/households", headers=h)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204
    r = await client.get("/api/v1/households", headers=h)
    assert (r.status_code, r.json()["code"]) == (401, "token_invalid")
    r = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert r.status_code == 401


async def test_password_change_follows_the_rules_and_ends_every_session(client):
    body = (await _login(client, "village_staff.village")).json()
    other = (await _login(client, "village_staff.village")).json()
    h = bearer(body["access_token"])
    for weak, code in [
        ("short1A!", "password_too_short"),
        ("alllowercaseletters", "password_too_simple"),
        ("Village_Staff.village-2026", "password_contains_username"),
        (PASSWORD, "password_unchanged"),
    ]:
        r = await client.post(
            "/api/v1/auth/password", headers=h, json={"current_password": PASSWORD, "new_password": weak}
        )
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, code, "new_password"), weak
    r = await client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": "Wrong-Password-9", "new_password": "Brand-New-Pass-7"},
    )
    assert (r.status_code, r.json()["field"]) == (422, "current_password")
    r = await client.post(
        "/api/v1/auth/password", headers=h, json={"current_password": PASSWORD, "new_password": "Brand-New-Pass-7"}
    )
    assert r.status_code == 204
    for token in (body["access_token"], other["access_token"]):
        assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await _login(client, "village_staff.village")).status_code == 401
    assert (await _login(client, "village_staff.village", "Brand-New-Pass-7")).status_code == 200


async def test_second_factor_for_an_administrator(client):
    body = (await _login(client, "admin.county")).json()
    h = bearer(body["access_token"])
    setup = await client.post("/api/v1/auth/totp", headers=h)
    assert setup.status_code == 200 and setup.headers["cache-control"] == "no-store"
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    wrong = await client.post(
        "/api/v1/auth/totp/confirm",
        headers=h,
        json={"code": "000000" if totp.code_at(secret, int(time.time() // 30)) != "000000" else "111111"},
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "totp_code_wrong")
    code_now = totp.code_at(secret, int(time.time() // 30))
    assert (await client.post("/api/v1/auth/totp/confirm", headers=h, json={"code": code_now})).status_code == 204
    # From now on the password alone is not enough, and a used code cannot be used again.
    assert (await _login(client, "admin.county")).status_code == 401
    assert (await _login(client, "admin.county", otp=code_now)).status_code == 401
    next_code = totp.code_at(secret, int(time.time() // 30) + 1)
    assert (await _login(client, "admin.county", otp=next_code)).status_code == 200
    me = await client.get("/api/v1/auth/me", headers=h)
    assert me.json()["totp_enabled"] is True


def test_totp_codes_follow_rfc_6238():
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s → 94287082 (8 digits).
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59 // 30) == "287082"
    assert totp.verify(secret, "287082", now=59) == 1
    assert totp.verify(secret, "287082", now=59 + 90) is None
    assert totp.verify(secret, "287082", now=59, last_counter=1) is None
    assert totp.verify(secret, "28708x", now=59) is None


async def test_login_rate_limit_per_address(client, settings):
    limit = settings.rate_limits.login_per_minute
    answers = [await _login(client, f"nobody{i}", "Wrong-Password-9") for i in range(limit + 1)]
    assert answers[-2].status_code == 401
    last = answers[-1]
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert last.headers["content-type"].startswith("application/problem+json")


async def test_bulk_read_rate_limit_per_caller(client, auth, settings):
    h = auth("county_staff.township")
    for _ in range(settings.rate_limits.bulk_reads_per_minute):
        assert (await client.get("/api/v1/households", headers=h, params={"limit": 1})).status_code == 200
    r = await client.get("/api/v1/households", headers=h)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    # Another caller is not affected.
    assert (await client.get("/api/v1/households", headers=auth("county_staff.county"))).status_code == 200


async def test_page_size_is_capped(client, auth, settings):
    h = auth("county_staff.county")
    r = await client.get("/api/v1/households", headers=h, params={"limit": 100_000})
    assert r.status_code == 422 and r.json()["field"] == "limit"  # beyond the documented maximum
    r = await client.get("/api/v1/households", headers=h, params={"limit": settings.paging.max_limit})
    assert r.status_code == 200 and len(r.json()["items"]) <= settings.paging.max_limit


async def test_another_process_learns_of_a_logout_from_the_database(client, session):
    """Process A logs the user out; process B (its own Revocations) learns it on its next poll."""
    from services.core.accounts.security import Revocations, read_token
    from services.core.accounts.service import sync_revocations

    body = (await _login(client)).json()
    app_settings = client._transport.app.state.settings
    other_process = Revocations()
    assert read_token(app_settings, body["access_token"], other_process).username == "grid_worker.village"
    await client.post("/api/v1/auth/logout", headers=bearer(body["access_token"]))
    await sync_revocations(session, other_process, app_settings)
    from services.core.accounts.security import TokenInvalid

    with pytest.raises(TokenInvalid):
        read_token(app_settings, body["access_token"], other_process)
