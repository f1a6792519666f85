"""Stored responses for POST requests that carry an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base

# Associated data of the encrypted ``body`` (services.core.crypto).
BODY_AAD = b"idempotency_keys.body"


class IdempotencyRecord(Base):
    """The first response to a POST with an ``Idempotency-Key``, replayed on retries.

    Written in the same transaction as the POST's own changes, so a retry either sees the
    whole result or none of it."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    headers: Mapped[dict] = mapped_column(JSONB, nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # AES-GCM blob of the response body
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False, index=True)
