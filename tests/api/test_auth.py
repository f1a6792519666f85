"""Login and tokens."""

import time

import jwt

from services.core.settings import DEMO_ENCRYPTION_KEY, Settings

PRIVATE_KEY = "cHJpdmF0ZS10ZXN0LWtleS1ub3QtdGhlLWRlbW8tMDE="  # base64 of 32 bytes, not the demo key


async def test_login_and_me(client):
    r = await client.post(
        "/api/v1/auth/token", data={"username": "township_staff.township", "password": "Test-Password-1"}
    )
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer" and token["region_prefix"] == "529901001"
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json()["username"] == "township_staff.township" and me.json()["role"] == "township_staff"


async def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    a = await client.post("/api/v1/auth/token", data={"username": "township_staff.township", "password": "wrong"})
    b = await client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong"})
    assert a.status_code == b.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(a) == strip(b)
    assert a.json()["code"] == "login_failed"


async def test_login_needs_both_fields(client):
    r = await client.post("/api/v1/auth/token", data={"username": "x"})
    assert (r.status_code, r.json()["field"]) == (422, "password")


async def test_tampered_expired_and_foreign_tokens_are_refused(client, auth, settings):
    good = auth("county_staff.county")["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "scope_prefix": "52"}, "not-the-key-but-long-enough-to-be-accepted-by-pyjwt", algorithm="HS256"
    )
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 10}, settings.auth.secret_key.get_secret_value(), algorithm="HS256"
    )
    none_alg = jwt.encode({**claims, "scope_prefix": "52"}, None, algorithm="none")
    for token in (forged, expired, none_alg, "garbage", good[:-3] + "abc"):
        r = await client.get("/api/v1/households", headers={"Authorization": f"Bearer {token}"})
        assert (r.status_code, r.json()["code"]) == (401, "token_invalid"), token


def test_production_refuses_demo_secrets(monkeypatch):
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="ID_HASH_KEY"):
        Settings(env="production", auth={"secret_key": "k" * 40})
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        Settings(env="production", auth={"secret_key": "k" * 40}, data_protection={"id_hash_key": "h" * 40})
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):  # the demo key, even when not active
        Settings(
            env="production",
            auth={"secret_key": "k" * 40},
            data_protection={
                "id_hash_key": "h" * 40,
                "encryption_keys": {"k1": PRIVATE_KEY, "demo-1": DEMO_ENCRYPTION_KEY},
                "active_key": "k1",
            },
        )
    ok = Settings(
        env="production",
        auth={"secret_key": "k" * 40},
        data_protection={"id_hash_key": "h" * 40, "encryption_keys": {"k1": PRIVATE_KEY}, "active_key": "k1"},
    )
    assert not ok.demo_allowed
    monkeypatch.setenv("GUARDLINE_ENV", "production")
    monkeypatch.setenv("GUARDLINE_AUTH__SECRET_KEY", "s" * 40)
    monkeypatch.setenv("GUARDLINE_DATA_PROTECTION__ID_HASH_KEY", "t" * 40)
    monkeypatch.setenv("GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS", f'{{"2027-01": "{PRIVATE_KEY}"}}')
    monkeypatch.setenv("GUARDLINE_DATA_PROTECTION__ACTIVE_KEY", "2027-01")
    assert Settings().auth.secret_key.get_secret_value() == "s" * 40
