"""Small secrets kept in the users table (a TOTP secret), encrypted like personal data
(AES-GCM with the data-protection keys; rotated by ``guardline keys rotate``)."""

from __future__ import annotations

from services.core import crypto
from services.core.settings import Settings

TOTP_AAD = b"users.totp_secret"


def seal(settings: Settings, value: str, aad: bytes = TOTP_AAD) -> bytes:
    return crypto.encrypt(settings, value.encode(), aad)


def unseal(settings: Settings, blob: bytes, aad: bytes = TOTP_AAD) -> str:
    return crypto.decrypt(settings, blob, aad).decode()
