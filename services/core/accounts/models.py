from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, Boolean, ForeignKey, LargeBinary, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.core.accounts.roles import Role
from services.core.base import Base, RegionCode, Versioned, bigint_pk, str_enum


class User(Versioned, Base):
    """A person who logs in. ``region_prefix`` is the scope: 6 digits for a county user,
    9 for a township, 12 for a village. Accounts are never deleted, only deactivated, so
    the audit trail always names someone."""

    __tablename__ = "users"

    id: Mapped[int] = bigint_pk()
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), nullable=False)
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_logins: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime | None] = mapped_column()
    # A one-time password (``guardline admin create``): every call but the password change
    # answers 403 ``password_change_required`` until the user has set their own.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    # Second factor: the TOTP secret (encrypted), set up first and then confirmed by a code.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)


class LoginSession(Base):
    """One login: its refresh token (stored as a digest) is replaced on every use."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    refresh_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class PrincipalRevocation(Base):
    """Tokens of ``principal`` issued before ``not_before`` are void (role, scope or
    password change, deactivation, a client's rotation or revocation)."""

    __tablename__ = "principal_revocations"

    principal: Mapped[str] = mapped_column(String(40), primary_key=True)
    not_before: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False, index=True)


class ApiClient(Versioned, Base):
    """A department or other government system (OAuth2 client credentials). The secret is
    shown once, when created or rotated, and stored as a digest."""

    __tablename__ = "api_clients"

    id: Mapped[int] = bigint_pk()
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(200))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False)
    secret_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    secret_hint: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    rotated_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(BigInteger)
