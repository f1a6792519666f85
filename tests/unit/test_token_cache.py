"""Verified tokens are remembered, but only under the secret and issuer that signed them,
and never past their expiry."""

from dataclasses import replace

import jwt
import pytest

from services.core.accounts import security
from services.core.accounts.roles import Role
from services.core.accounts.security import Caller, TokenInvalid, issue_token, read_token
from services.core.settings import AuthSettings, Settings

CALLER = Caller(7, "grid_worker.village", Role.grid_worker, "529901001001")


def _plain(caller: Caller) -> Caller:
    """The caller without the moment its token was issued."""
    return replace(caller, issued_at=0.0)


def _settings(secret: str = "a" * 40, issuer: str = "guardline") -> Settings:
    return Settings(env="test", auth=AuthSettings(secret_key=secret, issuer=issuer))


@pytest.fixture(autouse=True)
def empty_cache():
    security._VERIFIED.clear()
    yield
    security._VERIFIED.clear()


def test_second_read_comes_from_the_cache(monkeypatch):
    settings = _settings()
    token, _ = issue_token(settings, CALLER)
    assert _plain(read_token(settings, token)) == CALLER
    monkeypatch.setattr(security, "_verify", lambda *_: pytest.fail("verified twice"))
    assert _plain(read_token(settings, token)) == CALLER


def test_cached_token_is_refused_under_another_secret_or_issuer():
    settings = _settings()
    token, _ = issue_token(settings, CALLER)
    read_token(settings, token)
    for other in (_settings(secret="b" * 40), _settings(issuer="elsewhere")):
        with pytest.raises(TokenInvalid):
            read_token(other, token)


def test_cached_token_is_refused_after_it_expires(monkeypatch):
    settings = _settings()
    token, ttl = issue_token(settings, CALLER)
    issued = jwt.decode(token, options={"verify_signature": False})["iat"]
    read_token(settings, token)
    monkeypatch.setattr(security.time, "time", lambda: issued + ttl - 1)
    assert _plain(read_token(settings, token)) == CALLER  # still valid: from the cache

    def verify_again(*_):  # past its expiry the token is checked afresh (PyJWT refuses it)
        raise TokenInvalid("Signature has expired")

    monkeypatch.setattr(security, "_verify", verify_again)
    monkeypatch.setattr(security.time, "time", lambda: issued + ttl)
    with pytest.raises(TokenInvalid):
        read_token(settings, token)
    assert not security._VERIFIED


def test_tampered_token_is_refused_even_when_the_original_is_cached():
    settings = _settings()
    token, _ = issue_token(settings, CALLER)
    read_token(settings, token)
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "scope_prefix": ""},
        "not-the-secret" * 3,
        algorithm="HS256",
    )
    for bad in (forged, f"{header}.{payload}.{signature[:-2]}xx"):
        with pytest.raises(TokenInvalid):
            read_token(settings, bad)


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(security, "_VERIFIED_MAX", 3)
    settings = _settings()
    for user_id in range(10):
        token, _ = issue_token(settings, Caller(user_id, "u", Role.grid_worker, "52"))
        assert read_token(settings, token).user_id == user_id
        assert len(security._VERIFIED) <= 3


def test_revocations_void_older_tokens_and_forget_what_has_expired():
    from services.core.accounts.security import Revocations

    revocations = Revocations()
    caller = replace(CALLER, issued_at=100.0, session_id="s1")
    assert not revocations.rejects(caller)
    revocations.revoke_principal(caller.principal, 150.0)
    assert revocations.rejects(caller)
    assert not revocations.rejects(replace(caller, issued_at=151.0, session_id="s2"))
    revocations.revoke_session("s2", 160.0)
    assert revocations.rejects(replace(caller, issued_at=170.0, session_id="s2"))
    revocations.forget_before(155.0)  # the principal's cutoff is older than any live token
    assert not revocations.rejects(caller) and revocations.rejects(replace(caller, issued_at=170.0, session_id="s2"))


def test_a_fresh_token_is_valid_at_once_whatever_the_fraction_of_its_second(monkeypatch):
    """iat is kept in milliseconds, rounded down: a token read in the same millisecond it was
    issued, or a moment later, is never "not yet valid"."""
    settings = _settings()
    for fraction in (0.0004, 0.0005, 0.0006, 0.9996, 0.9999):
        moment = 1_800_000_000 + fraction
        monkeypatch.setattr(security.time, "time", lambda moment=moment: moment)
        token, _ = issue_token(settings, CALLER)
        issued = jwt.decode(token, options={"verify_signature": False})["iat"]
        assert issued <= moment
    monkeypatch.undo()
    for _ in range(200):
        token, _ = issue_token(settings, CALLER)
        read_token(settings, token)
