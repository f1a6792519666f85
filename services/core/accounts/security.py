"""Password hashing (argon2) and access tokens (JWT)."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.core.accounts.roles import Role
from services.core.settings import Settings

_hasher = PasswordHasher()
# Verified when the username does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("guardline-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: taken from a verified token, never from the request body."""

    user_id: int
    username: str
    role: Role
    region_prefix: str

    @property
    def principal(self) -> str:
        return f"user:{self.user_id}"


def issue_token(settings: Settings, caller: Caller) -> tuple[str, int]:
    now = int(time.time())
    ttl = settings.auth.access_token_minutes * 60
    claims = {
        "iss": settings.auth.issuer,
        "sub": str(caller.user_id),
        "name": caller.username,
        "role": caller.role.value,
        "scope_prefix": caller.region_prefix,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.auth.secret_key.get_secret_value(), algorithm=settings.auth.algorithm)
    return token, ttl


class TokenInvalid(Exception):
    pass


# Verified tokens, so that a client's next requests skip the signature check and JSON
# parsing (a sizeable share of a small read). Keyed by secret, issuer and token: a token is only
# ever accepted under the secret that signed it. Entries end with the token's expiry.
_VERIFIED: dict[tuple[str, str, str], tuple[Caller, int]] = {}
_VERIFIED_MAX = 10_000


def read_token(settings: Settings, token: str) -> Caller:
    key = (settings.auth.secret_key.get_secret_value(), settings.auth.issuer, token)
    hit = _VERIFIED.get(key)
    if hit is not None:
        if time.time() < hit[1]:
            return hit[0]
        del _VERIFIED[key]
    caller, expires = _verify(settings, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (caller, expires)
    return caller


def _verify(settings: Settings, token: str) -> tuple[Caller, int]:
    try:
        claims = jwt.decode(
            token,
            settings.auth.secret_key.get_secret_value(),
            algorithms=[settings.auth.algorithm],
            issuer=settings.auth.issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
        caller = Caller(
            user_id=int(claims["sub"]),
            username=str(claims["name"]),
            role=Role(claims["role"]),
            region_prefix=str(claims["scope_prefix"]),
        )
        return caller, int(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise TokenInvalid(str(exc)) from None
