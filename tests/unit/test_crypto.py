"""AES-GCM blobs with versioned keys, the keys' settings, and ID-number redaction."""

import base64

import pytest
from pydantic import ValidationError

from services.core import crypto
from services.core.crypto import DecryptionFailed, Keyring, UnknownKey, key_id_of
from services.core.households.enums import Health
from services.core.households.sensitive import (
    HealthDetails,
    health_json,
    open_health,
    open_id_number,
    seal_health,
    seal_id_number,
)
from services.core.idnumber import mask, redact
from services.core.settings import DEMO_ENCRYPTION_KEY, DEMO_ENCRYPTION_KEY_ID, Settings

K1 = b"1" * 32
K2 = b"2" * 32


def test_round_trip_and_format():
    ring = Keyring({"2026-01": K1}, "2026-01")
    blob = ring.encrypt(b"11010519491231002X", b"persons.id_number")
    assert blob[0] == 1 and blob[1] == len("2026-01") and blob[2:9] == b"2026-01"
    assert len(blob) == 2 + 7 + 12 + 18 + 16
    assert key_id_of(blob) == "2026-01"
    assert ring.decrypt(blob, b"persons.id_number") == b"11010519491231002X"
    assert ring.decrypt(memoryview(blob), b"persons.id_number") == b"11010519491231002X"
    # A fresh nonce every time: equal values do not look equal at rest.
    assert ring.encrypt(b"same", b"a") != ring.encrypt(b"same", b"a")


def test_a_page_encrypted_at_once_reads_as_one_by_one():
    ring = Keyring({"2026-01": K1}, "2026-01")
    plaintexts = [b"a", b"", b"same", b"same", b"x" * 1000]
    blobs = ring.encrypt_all(plaintexts, b"dept_records.raw")
    assert [ring.decrypt(b, b"dept_records.raw") for b in blobs] == plaintexts
    assert all(
        ring.is_current(b) and len(b) == 2 + 7 + 12 + len(p) + 16 for b, p in zip(blobs, plaintexts, strict=True)
    )
    assert len({b[9:21] for b in blobs}) == len(blobs)  # a nonce of its own each
    with pytest.raises(DecryptionFailed):
        ring.decrypt(blobs[0], b"sync_quarantine.raw")
    assert ring.encrypt_all([], b"a") == []


def test_a_value_is_bound_to_its_column_and_cannot_be_altered():
    ring = Keyring({"a": K1}, "a")
    blob = ring.encrypt(b"secret", b"persons.id_number")
    with pytest.raises(DecryptionFailed):
        ring.decrypt(blob, b"persons.health")  # copied into another column
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        ring.decrypt(bytes(tampered), b"persons.id_number")
    # Relabelled as another key id of the same length: the header is authenticated too.
    both = Keyring({"a": K1, "b": K1}, "a")
    relabelled = blob[:2] + b"b" + blob[3:]
    with pytest.raises(DecryptionFailed):
        both.decrypt(relabelled, b"persons.id_number")
    for junk in (b"", b"\x01", b"\x02\x01a" + b"0" * 40, b"\x01\x01a" + b"short"):
        with pytest.raises(DecryptionFailed):
            ring.decrypt(junk, b"persons.id_number")


def test_old_values_stay_readable_after_the_active_key_changes():
    old = Keyring({"old": K1}, "old")
    blob = old.encrypt(b"value", b"c")
    rotated = Keyring({"old": K1, "new": K2}, "new")
    assert rotated.decrypt(blob, b"c") == b"value"
    assert not rotated.is_current(blob)
    fresh = rotated.encrypt(b"value", b"c")
    assert key_id_of(fresh) == "new" and rotated.is_current(fresh)
    with pytest.raises(UnknownKey, match="'old'"):
        Keyring({"new": K2}, "new").decrypt(blob, b"c")
    with pytest.raises(DecryptionFailed):  # same id, another key
        Keyring({"old": K2}, "old").decrypt(blob, b"c")


def test_keyring_of_settings_is_cached_per_set_of_keys():
    a = Settings(env="test")
    assert crypto.keyring(a) is crypto.keyring(Settings(env="test"))
    assert crypto.keyring(a).active == DEMO_ENCRYPTION_KEY_ID
    other = Settings(
        env="test",
        data_protection={
            "encryption_keys": {"k": base64.b64encode(K1).decode(), DEMO_ENCRYPTION_KEY_ID: DEMO_ENCRYPTION_KEY},
            "active_key": "k",
        },
    )
    ring = crypto.keyring(other)
    assert ring is not crypto.keyring(a) and ring.key_ids == {"k", DEMO_ENCRYPTION_KEY_ID}
    blob = crypto.encrypt(a, b"x", b"t")
    assert crypto.decrypt(other, blob, b"t") == b"x"  # the demo key is still listed there


@pytest.mark.parametrize(
    "protection, message",
    [
        ({"encryption_keys": {"k": "not base64!"}, "active_key": "k"}, "not valid base64"),
        ({"encryption_keys": {"k": base64.b64encode(b"short").decode()}, "active_key": "k"}, "32 bytes"),
        ({"encryption_keys": {"bad id": base64.b64encode(K1).decode()}, "active_key": "bad id"}, "key id"),
        ({"encryption_keys": {"k": base64.b64encode(K1).decode()}, "active_key": "other"}, "active_key"),
        ({"encryption_keys": {}, "active_key": "k"}, "active_key"),
    ],
)
def test_unusable_keys_are_refused_without_echoing_them(protection, message):
    with pytest.raises(ValidationError, match=message) as info:
        Settings(env="test", data_protection=protection)
    for secret in protection["encryption_keys"].values():
        assert secret not in str(info.value)


def test_health_details_and_id_numbers_round_trip():
    ring = Keyring({"a": K1}, "a")
    details = HealthDetails(Health.disabled, 2, "脑梗死后遗症")
    blob = seal_health(ring, details)
    assert open_health(ring, blob) == details
    assert health_json(ring, blob) == {"health": "disabled", "disability_grade": 2, "illness": "脑梗死后遗症"}
    assert health_json(ring, None) == {"health": "healthy", "disability_grade": None, "illness": None}
    assert open_id_number(ring, seal_id_number(ring, "11010519491231002X")) == "11010519491231002X"
    with pytest.raises(DecryptionFailed):  # an ID-number blob is not a health blob
        health_json(ring, seal_id_number(ring, "11010519491231002X"))


def test_redact_masks_full_id_numbers_only():
    assert redact("/api/v1/persons/11010519491231002X/move") == "/api/v1/persons/110105************/move"
    assert redact("a 11010519491231002x b") == "a 110105************ b"
    assert redact("old 110105491231002.") == "old 110105*********."
    full_width = "１１０１０５１９４９１２３１００２Ｘ"
    assert full_width not in redact(full_width)
    for kept in ("529901001001", "household 5299010010010000123", "req 9f3a110105194912310021ab", "", None):
        assert redact(kept) == kept
    assert mask("11010519491231002X") == "110105************"
