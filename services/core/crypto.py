"""Encryption at rest: AES-256-GCM with versioned keys from settings.

A stored value (a "blob") is self-describing, so rows written under an older key stay
readable after the active key changes::

    1 byte   format (1)
    1 byte   length n of the key id
    n bytes  key id (ASCII)
    12 bytes nonce (random per value)
    rest     ciphertext and the 16-byte tag

The associated data is the header (format, key id) followed by the column's name (e.g.
``b"persons.id_number"``): a value copied into another column, or given another key id,
fails to decrypt instead of being read as something it is not.

Keys are ``settings.data_protection.encryption_keys`` (key id → base64 of 32 bytes); new
values use ``active_key``. ``guardline keys rotate`` re-encrypts old values under the
active key, after which an old key can be removed from the settings.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The key format lives in keyformat (the settings check it without importing this module);
# re-exported here for the callers that decode a key next to the cipher.
from services.core.keyformat import KEY_BYTES, KEY_ID, decode_key

if TYPE_CHECKING:
    from services.core.settings import Settings

FORMAT = 1
NONCE_BYTES = 12
TAG_BYTES = 16


class UnknownKey(LookupError):
    """A blob names a key id that the settings do not hold."""


class DecryptionFailed(ValueError):
    """A blob is malformed, was altered, or belongs to another column."""


def header(key_id: str) -> bytes:
    kid = key_id.encode("ascii")
    return bytes((FORMAT, len(kid))) + kid


def key_id_of(blob: bytes) -> str:
    """The id of the key a blob was encrypted with (no key needed)."""
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != FORMAT or len(blob) < 2 + blob[1] + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("not an encrypted value of a known format")
    return blob[2 : 2 + blob[1]].decode("ascii")


# One AESGCM object per key, built once (the key schedule is set up at construction).
_CIPHERS: dict[bytes, AESGCM] = {}


def _cipher(key: bytes) -> AESGCM:
    cipher = _CIPHERS.get(key)
    if cipher is None:
        if len(_CIPHERS) > 64:  # keys only change with the settings; bound it anyway
            _CIPHERS.clear()
        cipher = _CIPHERS[key] = AESGCM(key)
    return cipher


class Keyring:
    """The keys of the settings: encrypts under the active key, decrypts under any."""

    __slots__ = ("_active_cipher", "_active_header", "_ciphers", "active")

    def __init__(self, keys: Mapping[str, bytes], active: str):
        if active not in keys:
            raise ValueError(f"the active encryption key {active!r} is not among the keys")
        for key_id, key in keys.items():
            if not KEY_ID.match(key_id) or len(key) != KEY_BYTES:
                raise ValueError(f"encryption key {key_id!r} is malformed")
        self.active = active
        self._ciphers = {key_id: _cipher(bytes(key)) for key_id, key in keys.items()}
        self._active_cipher = self._ciphers[active]
        self._active_header = header(active)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    @property
    def active_header(self) -> bytes:
        """The first bytes of every blob written under the active key."""
        return self._active_header

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        head = self._active_header
        nonce = os.urandom(NONCE_BYTES)
        return head + nonce + self._active_cipher.encrypt(nonce, plaintext, head + aad)

    def encrypt_all(self, plaintexts: list[bytes], aad: bytes) -> list[bytes]:
        """``encrypt`` of each of ``plaintexts`` (a page of records), the random nonces
        drawn from the system in one call instead of one each."""
        head = self._active_header
        associated = head + aad
        seal = self._active_cipher.encrypt
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        out = []
        at = 0
        for plaintext in plaintexts:
            nonce = nonces[at : at + NONCE_BYTES]
            at += NONCE_BYTES
            out.append(head + nonce + seal(nonce, plaintext, associated))
        return out

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        blob = bytes(blob)
        key_id = key_id_of(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKey(f"no encryption key {key_id!r} in the settings (was it removed before rotation?)")
        split = 2 + blob[1]
        try:
            return cipher.decrypt(blob[split : split + NONCE_BYTES], blob[split + NONCE_BYTES :], blob[:split] + aad)
        except InvalidTag:
            raise DecryptionFailed(f"a value under key {key_id!r} failed authentication") from None

    def is_current(self, blob: bytes) -> bool:
        return bytes(blob[: len(self._active_header)]) == self._active_header


_KEYRINGS: dict[tuple, Keyring] = {}


def keyring(settings: Settings) -> Keyring:
    """The keyring of ``settings`` (cached per distinct set of keys)."""
    protection = settings.data_protection
    ident = (
        protection.active_key,
        tuple(sorted((k, v.get_secret_value()) for k, v in protection.encryption_keys.items())),
    )
    found = _KEYRINGS.get(ident)
    if found is None:
        if len(_KEYRINGS) > 16:
            _KEYRINGS.clear()
        keys = {key_id: decode_key(key_id, secret) for key_id, secret in ident[1]}
        found = _KEYRINGS[ident] = Keyring(keys, protection.active_key)
    return found


def encrypt(source: Settings | Keyring, plaintext: bytes, aad: bytes) -> bytes:
    return _ring(source).encrypt(plaintext, aad)


def decrypt(source: Settings | Keyring, blob: bytes, aad: bytes) -> bytes:
    return _ring(source).decrypt(blob, aad)


def _ring(source: Settings | Keyring) -> Keyring:
    return source if isinstance(source, Keyring) else keyring(source)


def new_key() -> str:
    """A fresh key for the settings: base64 of 32 random bytes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")
