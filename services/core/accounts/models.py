from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.accounts.roles import Role
from services.core.base import Base, RegionCode, Versioned, bigint_pk, str_enum


class User(Versioned, Base):
    """A person who logs in. ``region_prefix`` is the scope: 6 digits for a county user,
    9 for a township, 12 for a village."""

    __tablename__ = "users"

    id: Mapped[int] = bigint_pk()
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), nullable=False)
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
