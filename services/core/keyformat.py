"""The format of an encryption key in the settings: a key id and base64 of 32 bytes.

Kept apart from ``services.core.crypto`` so that the settings can check their keys when
they are read without importing the cipher code, which in turn reads the settings: the two
modules used to import each other (issue 18). Only the standard library is needed here.
"""

from __future__ import annotations

import base64
import binascii
import re

KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def decode_key(key_id: str, encoded: str) -> bytes:
    """The 32 key bytes of a base64 setting; ValueError names the key id, never the key."""
    if not KEY_ID.match(key_id):
        raise ValueError(f"encryption key id {key_id!r} must be 1-32 characters of A-Z a-z 0-9 _ . -")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"encryption key {key_id!r} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"encryption key {key_id!r} must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return raw
