"""Accounts: login with lockout and a second factor, login sessions with rotating refresh
tokens, revocation, system clients, and user administration.

The users and clients tables are not region-scoped rows; administrators are limited to
accounts under their own region prefix here, explicitly (``_visible``).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts import passwords, queries, totp
from services.core.accounts.models import ApiClient, LoginSession, PrincipalRevocation, User
from services.core.accounts.roles import Role
from services.core.accounts.security import (
    Account,
    Caller,
    Revocations,
    TokenInvalid,
    hash_password,
    new_secret,
    same_secret,
    secret_digest,
    verify_password,
)
from services.core.errors import Conflict, NotFound
from services.core.paging import KeyPage, keyset_page
from services.core.settings import DEMO_PASSWORD, Settings
from services.core.timeutil import now


class LoginFailed(Exception):
    """Every failed login answers the same; ``reason`` is for the audit trail only."""

    def __init__(self, reason: str, user: User | None = None):
        super().__init__(reason)
        self.reason = reason
        self.user = user


def caller_for_user(user: User, session_id: str | None = None) -> Caller:
    return Caller(user.id, user.username, user.role, user.region_prefix, session_id=session_id, issued_at=time.time())


def caller_for_client(client: ApiClient) -> Caller:
    from services.core.accounts.roles import Permission

    return Caller(
        None,
        client.name,
        Role.department_system,
        client.region_prefix,
        client_id=client.id,
        issued_at=time.time(),
        granted=frozenset(Permission(p) for p in client.permissions),
    )


# ---- login ------------------------------------------------------------------------------


async def authenticate(
    session: AsyncSession, settings: Settings, username: str, password: str, otp: str | None
) -> User:
    """The user, or ``LoginFailed``. The password is checked in every case (also for a
    missing or locked account) so that the answer and its timing give nothing away.
    Failures are counted; the caller must commit even when this raises."""
    user = (await session.execute(select(User).where(User.username == username).with_for_update())).scalar_one_or_none()
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        raise LoginFailed("unknown_user")
    moment = now()
    if not user.active:
        raise LoginFailed("inactive", user)
    if user.locked_until is not None and user.locked_until > moment:
        raise LoginFailed("locked", user)
    reason = None
    if not password_ok:
        reason = "bad_password"
    elif password == DEMO_PASSWORD and not settings.demo_allowed:
        # The demo password is published: outside demo and development it opens nothing.
        reason = "demo_password"
    elif user.totp_enabled:
        counter = totp.verify(_totp_secret(settings, user), otp or "", last_counter=user.totp_last_counter)
        if counter is None:
            reason = "otp_missing" if not otp else "otp_invalid"
        else:
            user.totp_last_counter = counter
    if reason is not None:
        if await count_failure(session, settings, user, moment):
            reason += ",locked_now"
        raise LoginFailed(reason, user)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = moment
    await session.flush()
    return user


async def count_failure(session: AsyncSession, settings: Settings, user: User, moment: datetime | None = None) -> bool:
    """One more wrong password (at login or when changing it); True when this one locks the
    account. The caller must commit even when it then refuses the request."""
    moment = moment or now()
    user.failed_logins = (user.failed_logins or 0) + 1
    locked = user.failed_logins >= settings.auth.max_failed_logins
    if locked:
        user.locked_until = moment + timedelta(minutes=settings.auth.lockout_minutes)
        user.failed_logins = 0
    await session.flush()
    return locked


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > now()


async def start_session(
    session: AsyncSession, settings: Settings, user: User, ip: str | None, user_agent: str | None
) -> tuple[LoginSession, str]:
    secret = new_secret()
    moment = now()
    login = LoginSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        refresh_digest=secret_digest(secret),
        created_at=moment,
        last_used_at=moment,
        expires_at=moment + timedelta(hours=settings.auth.session_max_hours),
        ip=ip,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(login)
    await session.flush()
    return login, f"{login.id}.{secret}"


class RefreshFailed(Exception):
    def __init__(self, reason: str, login: LoginSession | None = None):
        super().__init__(reason)
        self.reason = reason
        self.login = login


async def refresh(
    session: AsyncSession, settings: Settings, token: str, revocations: Revocations
) -> tuple[User, LoginSession, str]:
    """A new refresh token for the session (the old one is void). A refresh token used a
    second time means it was copied: the whole session is revoked."""
    sid, _, secret = token.partition(".")
    if not sid or not secret or len(sid) > 32:
        raise RefreshFailed("malformed")
    login = await session.get(LoginSession, sid, with_for_update=True)
    if login is None:
        raise RefreshFailed("unknown_session")
    moment = now()
    if login.revoked_at is not None:
        raise RefreshFailed("revoked", login)
    if not same_secret(login.refresh_digest, secret):
        await end_session(session, login, "refresh_reused", revocations)
        raise RefreshFailed("refresh_reused", login)
    if login.expires_at <= moment:
        await end_session(session, login, "expired", revocations)
        raise RefreshFailed("expired", login)
    if login.last_used_at + timedelta(minutes=settings.auth.idle_minutes) <= moment:
        await end_session(session, login, "idle", revocations)
        raise RefreshFailed("idle", login)
    user = await session.get(User, login.user_id)
    if user is None or not user.active:
        await end_session(session, login, "inactive", revocations)
        raise RefreshFailed("inactive", login)
    new = new_secret()
    login.refresh_digest = secret_digest(new)
    login.last_used_at = moment
    await session.flush()
    return user, login, f"{login.id}.{new}"


async def end_session(session: AsyncSession, login: LoginSession, reason: str, revocations: Revocations) -> None:
    if login.revoked_at is None:
        login.revoked_at = now()
        login.revoked_reason = reason
        await session.flush()
    revocations.revoke_session(login.id)


async def revoke_principal(
    session: AsyncSession, principal: str, revocations: Revocations, end_sessions_of_user: int | None = None
) -> None:
    """Void every token of ``principal`` issued until now (and end the user's sessions)."""
    moment = now()
    await session.execute(
        insert(PrincipalRevocation)
        .values(principal=principal, not_before=moment, updated_at=moment)
        .on_conflict_do_update(index_elements=["principal"], set_={"not_before": moment, "updated_at": moment})
    )
    if end_sessions_of_user is not None:
        open_sessions = (
            await session.execute(
                select(LoginSession).where(
                    LoginSession.user_id == end_sessions_of_user, LoginSession.revoked_at.is_(None)
                )
            )
        ).scalars()
        for login in open_sessions:
            await end_session(session, login, "account_changed", revocations)
    revocations.revoke_principal(principal, moment.timestamp())


async def sync_revocations(session: AsyncSession, revocations: Revocations, settings: Settings) -> None:
    """Learn what other processes revoked since the last call (by database time). Only
    revocations younger than the longest token lifetime matter."""
    db_now = float((await session.execute(text(queries.DB_NOW))).scalar_one())
    horizon = db_now - 60 * max(settings.auth.access_token_minutes, settings.auth.client_token_minutes) - 60
    since = datetime.fromtimestamp(max(revocations.synced_until - 2.0, horizon)).astimezone()
    rows = await session.execute(
        select(LoginSession.id, LoginSession.revoked_at).where(LoginSession.revoked_at >= since)
    )
    for sid, revoked_at in rows:
        assert revoked_at is not None  # the filter on revoked_at leaves no null
        revocations.revoke_session(sid, revoked_at.timestamp())
    principals = await session.execute(
        select(PrincipalRevocation.principal, PrincipalRevocation.not_before).where(
            PrincipalRevocation.updated_at >= since
        )
    )
    for principal, not_before in principals:
        revocations.revoke_principal(principal, not_before.timestamp())
    revocations.forget_before(horizon)
    revocations.synced_until = db_now


# ---- the account behind a token -------------------------------------------------------------


async def read_account(db, principal: str) -> Account | None:
    """The active account of ``principal`` from the database (``db``: a ``Database``), or None."""
    from services.core.accounts.roles import Permission

    kind, _, ident = principal.partition(":")
    started = time.time()
    if kind == "user":
        row = await db.fetch_row(queries.USER, [int(ident)])
        if row is None:
            return None
        return Account(Role(row["role"]), row["region_prefix"], None, row["must_change_password"], started)
    row = await db.fetch_row(queries.CLIENT, [int(ident)])
    if row is None:
        return None
    return Account(
        Role.department_system,
        row["region_prefix"],
        frozenset(Permission(p) for p in row["permissions"]),
        False,
        started,
    )


async def confirm_account(db, revocations: Revocations, caller: Caller) -> Account:
    """The account that vouches for ``caller`` (a verified token), or ``TokenInvalid``: a
    token for an account that does not exist or is inactive, or whose role, region prefix
    or permissions differ from the account's. Cached per principal: after the first
    request this is one dictionary lookup."""
    principal = caller.principal
    account = revocations.account(principal)
    if account is not None and account.vouches_for(caller):
        return account
    # Not cached, or cached but different (perhaps read just before a change): read it.
    account = await read_account(db, principal)
    if account is None:
        raise TokenInvalid("no such account")
    revocations.remember(principal, account)
    if not account.vouches_for(caller):
        raise TokenInvalid("the token differs from the account")
    return account


# ---- second factor ----------------------------------------------------------------------


def _totp_secret(settings: Settings, user: User) -> str:
    from services.core.accounts.sealing import unseal

    return unseal(settings, user.totp_secret or b"", b"users.totp_secret")


async def begin_totp(session: AsyncSession, settings: Settings, user: User) -> tuple[str, str]:
    from services.core.accounts.sealing import seal

    if user.totp_enabled:
        raise Conflict("totp_already_enabled", field="totp")
    secret = totp.new_secret()
    user.totp_secret = seal(settings, secret, b"users.totp_secret")
    await session.flush()
    return secret, totp.provisioning_uri(secret, user.username, settings.auth.totp_issuer)


async def confirm_totp(session: AsyncSession, settings: Settings, user: User, code: str) -> None:
    from services.core.errors import Unprocessable

    if user.totp_secret is None or user.totp_enabled:
        raise Conflict("totp_not_pending", field="code")
    counter = totp.verify(_totp_secret(settings, user), code)
    if counter is None:
        raise Unprocessable("totp_code_wrong", field="code")
    user.totp_enabled = True
    user.totp_last_counter = counter
    await session.flush()


async def disable_totp(session: AsyncSession, user: User) -> None:
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_counter = None
    await session.flush()


# ---- passwords --------------------------------------------------------------------------


async def set_password(
    session: AsyncSession,
    settings: Settings,
    user: User,
    password: str,
    revocations: Revocations,
    field: str = "new_password",
) -> None:
    passwords.check(password, user.username, settings.passwords, field=field)
    if verify_password(user.password_hash, password):
        from services.core.errors import Unprocessable

        raise Unprocessable("password_unchanged", field=field)
    user.password_hash = hash_password(password)
    user.password_changed_at = now()
    user.failed_logins = 0
    user.locked_until = None
    user.must_change_password = False
    await session.flush()
    await revoke_principal(session, f"user:{user.id}", revocations, end_sessions_of_user=user.id)


# ---- accounts made outside the API (``guardline admin``) --------------------------------------

# The demo's accounts: ``<role>.<county|township|village>`` and ``cadre.<village>.<nnn>``
# (services.demo.users), all created with the published ``DEMO_PASSWORD``.
DEMO_USERNAME = r"^([a-z_]+\.(county|township|village)|cadre\.[0-9]{12}\.[0-9]{3})$"


async def demo_accounts(session: AsyncSession) -> list[User]:
    """Active accounts the demo created that still open with the published demo password
    (production refuses to start while any is left: ``guardline admin disable-demo``).
    The demo hashes its password once per load, so few distinct hashes are checked."""
    found = (
        (
            await session.execute(
                select(User).where(User.active, User.username.regexp_match(DEMO_USERNAME)).order_by(User.id)
            )
        )
        .scalars()
        .all()
    )
    opens = {h: verify_password(h, DEMO_PASSWORD) for h in {u.password_hash for u in found}}
    return [u for u in found if opens[u.password_hash]]


async def disable_demo_accounts(session: AsyncSession) -> list[User]:
    """Deactivate the demo's accounts that still have the demo password (accounts are never
    deleted: the audit trail names them); their tokens stop working."""
    found = await demo_accounts(session)
    revocations = Revocations()
    for user in found:
        user.active = False
        await revoke_principal(session, f"user:{user.id}", revocations, end_sessions_of_user=user.id)
    await session.flush()
    return found


def one_time_password(settings: Settings) -> str:
    """A random password that meets the rules (given once, changed at first login)."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(max(16, settings.passwords.min_length)))
        if not passwords.problems(candidate, "", settings.passwords):
            return candidate


async def create_first_admin(
    session: AsyncSession, settings: Settings, username: str, region_prefix: str, display_name: str | None = None
) -> tuple[User, str]:
    """An administrator with a one-time password (``must_change_password``): the way in to
    a new installation, from the command line. The password is returned, never stored."""
    await username_free(session, username)
    password = one_time_password(settings)
    user = User(
        username=username,
        display_name=display_name or username,
        role=Role.admin,
        region_prefix=region_prefix,
        password_hash=hash_password(password),
        active=True,
        must_change_password=True,
        password_changed_at=now(),
    )
    session.add(user)
    await session.flush()
    return user, password


# ---- administration ---------------------------------------------------------------------


def _visible(column, prefix: str):
    return or_(column == prefix, column.startswith(prefix, autoescape=True)) if prefix else column.is_not(None)


async def _one_visible(
    session: AsyncSession, model, ident: int, admin_prefix: str, for_update: bool, code: str, field: str
):
    stmt = select(model).where(model.id == ident, _visible(model.region_prefix, admin_prefix))
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(code, field=field, id=ident)
    return found


async def get_user(session: AsyncSession, user_id: int, admin_prefix: str, *, for_update: bool = False) -> User:
    return await _one_visible(session, User, user_id, admin_prefix, for_update, "user_not_found", "user_id")


async def list_users(
    session: AsyncSession, admin_prefix: str, cursor: str | None, limit: int, role: Role | None = None
) -> KeyPage[User]:
    stmt = select(User).where(_visible(User.region_prefix, admin_prefix))
    if role is not None:
        stmt = stmt.where(User.role == role)
    return await keyset_page(session, stmt, [(User.id, False)], cursor, limit)


async def username_free(session: AsyncSession, username: str) -> None:
    if (await session.execute(select(User.id).where(User.username == username))).first() is not None:
        raise Conflict("username_taken", field="username")


async def get_client(
    session: AsyncSession, client_id: int, admin_prefix: str, *, for_update: bool = False
) -> ApiClient:
    return await _one_visible(session, ApiClient, client_id, admin_prefix, for_update, "client_not_found", "client_id")


async def list_clients(session: AsyncSession, admin_prefix: str, cursor: str | None, limit: int) -> KeyPage[ApiClient]:
    stmt = select(ApiClient).where(_visible(ApiClient.region_prefix, admin_prefix))
    return await keyset_page(session, stmt, [(ApiClient.id, False)], cursor, limit)


async def client_name_free(session: AsyncSession, name: str) -> None:
    if (await session.execute(select(ApiClient.id).where(ApiClient.name == name))).first() is not None:
        raise Conflict("client_name_taken", field="name")


def give_client_secret(client: ApiClient) -> str:
    secret = new_secret()
    client.secret_digest = secret_digest(secret)
    client.secret_hint = secret[:6]
    return secret


async def authenticate_client(session: AsyncSession, name: str, secret: str) -> ApiClient:
    client = (await session.execute(select(ApiClient).where(ApiClient.name == name))).scalar_one_or_none()
    ok = same_secret(client.secret_digest if client else secret_digest("-"), secret)
    if client is None:
        raise LoginFailed("unknown_client")
    if not ok:
        raise LoginFailed("bad_secret")
    if not client.active or client.revoked_at is not None:
        raise LoginFailed("client_revoked")
    return client
