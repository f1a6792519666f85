"""Passwords (argon2), access tokens (short-lived JWT), refresh tokens and revocation.

An access token names its principal (``user:12`` or ``client:3``), role, region prefix
and, for users, the login session it belongs to. Verified tokens are cached until they
expire, but every use is checked against the in-process ``Revocations`` first, so a
logout, a password or role change, or a revoked client takes effect at once in this
process and within ``auth.revocation_poll_seconds`` in every other one.

A signature alone is not enough: the token's role, region prefix (and a client's
permissions) must also be those of the account as the database has it
(``Account``, cached per principal in ``Revocations.accounts`` and dropped whenever the
principal is revoked, i.e. on every role, scope, password or activity change).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from dataclasses import dataclass, field

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.core.accounts.roles import PERMISSIONS, Permission, Role
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


def new_secret() -> str:
    """A random secret for refresh tokens and system clients (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> bytes:
    """Stored instead of a random secret. A random 256-bit secret needs no slow hash."""
    return hashlib.sha256(secret.encode()).digest()


def same_secret(digest: bytes | None, secret: str) -> bool:
    return digest is not None and hmac.compare_digest(digest, secret_digest(secret))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: taken from a verified token, never from the request body."""

    user_id: int | None
    username: str
    role: Role
    region_prefix: str
    client_id: int | None = None
    session_id: str | None = None
    issued_at: float = 0.0
    # A system client's own grants; users get their role's.
    granted: frozenset[Permission] | None = None
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", self.granted if self.granted is not None else PERMISSIONS[self.role])

    @property
    def principal(self) -> str:
        return f"client:{self.client_id}" if self.client_id is not None else f"user:{self.user_id}"


def issue_token(settings: Settings, caller: Caller) -> tuple[str, int]:
    now = time.time()
    minutes = settings.auth.client_token_minutes if caller.client_id is not None else settings.auth.access_token_minutes
    ttl = minutes * 60
    claims = {
        "iss": settings.auth.issuer,
        "sub": caller.principal,
        "name": caller.username,
        "role": caller.role.value,
        "scope_prefix": caller.region_prefix,
        # Milliseconds, rounded down: a token is never "issued" after the moment it is read.
        "iat": math.floor(now * 1000) / 1000,
        "exp": int(now) + ttl,
        "jti": uuid.uuid4().hex,
    }
    if caller.session_id is not None:
        claims["sid"] = caller.session_id
    if caller.granted is not None:
        claims["perms"] = sorted(p.value for p in caller.granted)
    token = jwt.encode(claims, settings.auth.secret_key.get_secret_value(), algorithm=settings.auth.algorithm)
    return token, ttl


# Clocks of several API hosts differ a little; a token is not refused for that.
CLOCK_LEEWAY_SECONDS = 5


class TokenInvalid(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    """An active account as the database has it, which a token must agree with."""

    role: Role
    region_prefix: str
    granted: frozenset[Permission] | None = None  # a system client's permissions
    must_change_password: bool = False
    loaded_at: float = 0.0  # when the read began (``time.time()``)

    def vouches_for(self, caller: Caller) -> bool:
        return (
            caller.role == self.role and caller.region_prefix == self.region_prefix and caller.granted == self.granted
        )


class Revocations:
    """What this process knows to be revoked: login sessions (logout, refresh-token reuse)
    and principals whose tokens issued before a moment are void (password, role or scope
    change, deactivation, a client's rotation or revocation). Entries older than the
    longest token lifetime are forgotten: every token they could void has expired."""

    ACCOUNTS_MAX = 100_000

    def __init__(self) -> None:
        self.sessions: dict[str, float] = {}
        self.not_before: dict[str, float] = {}
        self.synced_until: float = 0.0
        # Accounts read from the database, by principal; dropped when the principal is revoked.
        self.accounts: dict[str, Account] = {}

    def account(self, principal: str) -> Account | None:
        """The cached account, unless it was read before the principal's last change."""
        found = self.accounts.get(principal)
        if found is not None and found.loaded_at < self.not_before.get(principal, 0.0):
            return None
        return found

    def remember(self, principal: str, account: Account) -> None:
        if len(self.accounts) >= self.ACCOUNTS_MAX:
            self.accounts.clear()
        self.accounts[principal] = account

    def revoke_session(self, session_id: str, at: float | None = None) -> None:
        self.sessions.setdefault(session_id, time.time() if at is None else at)

    def revoke_principal(self, principal: str, at: float) -> None:
        if at > self.not_before.get(principal, 0.0):
            self.not_before[principal] = at
        self.accounts.pop(principal, None)

    def forget_before(self, moment: float) -> None:
        self.sessions = {k: v for k, v in self.sessions.items() if v >= moment}
        self.not_before = {k: v for k, v in self.not_before.items() if v >= moment}

    def rejects(self, caller: Caller) -> bool:
        if caller.session_id is not None and caller.session_id in self.sessions:
            return True
        cutoff = self.not_before.get(caller.principal)
        return cutoff is not None and caller.issued_at < cutoff


# Verified tokens, so that a client's next requests skip the signature check and JSON
# parsing (a sizeable share of a small read). Keyed by secret, issuer and token: a token is only
# ever accepted under the secret that signed it. Entries end with the token's expiry.
_VERIFIED: dict[tuple[str, str, str], tuple[Caller, int]] = {}
_VERIFIED_MAX = 10_000


def read_token(settings: Settings, token: str, revocations: Revocations | None = None) -> Caller:
    key = (settings.auth.secret_key.get_secret_value(), settings.auth.issuer, token)
    hit = _VERIFIED.get(key)
    if hit is not None and time.time() >= hit[1]:
        del _VERIFIED[key]
        hit = None
    if hit is None:
        hit = _verify(settings, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = hit
    caller = hit[0]
    if revocations is not None and revocations.rejects(caller):
        _VERIFIED.pop(key, None)
        raise TokenInvalid("revoked")
    return caller


def _verify(settings: Settings, token: str) -> tuple[Caller, int]:
    try:
        claims = jwt.decode(
            token,
            settings.auth.secret_key.get_secret_value(),
            algorithms=[settings.auth.algorithm],
            issuer=settings.auth.issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "iss", "iat"]},
        )
        kind, _, ident = str(claims["sub"]).partition(":")
        if kind not in ("user", "client"):
            raise ValueError(f"a token for {kind!r}")
        granted = None
        if kind == "client":
            granted = frozenset(Permission(p) for p in claims["perms"])
        caller = Caller(
            user_id=int(ident) if kind == "user" else None,
            username=str(claims["name"]),
            role=Role(claims["role"]),
            region_prefix=str(claims["scope_prefix"]),
            client_id=int(ident) if kind == "client" else None,
            session_id=claims.get("sid"),
            issued_at=float(claims["iat"]),
            granted=granted,
        )
        return caller, int(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenInvalid(str(exc)) from None
