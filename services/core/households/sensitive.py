"""The encrypted fields of a person: the ID number and the health details.

``persons.id_number_enc`` holds the normalised ID number and ``persons.health_enc`` one
JSON object ``{"health", "disability_grade", "illness"}``, each an AES-GCM blob
(``services.core.crypto``) bound to its column by the associated data. Pure functions: the
API, the demo loader's worker processes, the migration and key rotation share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.core import idnumber
from services.core.crypto import Keyring
from services.core.households.enums import Health

ID_NUMBER_AAD = b"persons.id_number"
HEALTH_AAD = b"persons.health"
HEALTH_FIELDS = ("health", "disability_grade", "illness")
# What a person without a recorded blob reads as.
_NO_HEALTH: dict[str, Any] = {"health": Health.healthy.value, "disability_grade": None, "illness": None}


@dataclass(frozen=True, slots=True)
class HealthDetails:
    """健康状况, 残疾等级 and 疾病名称 of one person."""

    health: Health = Health.healthy
    disability_grade: int | None = None
    illness: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"health": Health(self.health).value, "disability_grade": self.disability_grade, "illness": self.illness}


def health_plaintext(health: str, disability_grade: int | None, illness: str | None) -> bytes:
    return orjson.dumps({"health": str(health), "disability_grade": disability_grade, "illness": illness})


def seal_health(keyring: Keyring, details: HealthDetails) -> bytes:
    return keyring.encrypt(
        health_plaintext(Health(details.health).value, details.disability_grade, details.illness), HEALTH_AAD
    )


def health_json(keyring: Keyring, blob: bytes | None) -> dict[str, Any]:
    """The health fields as they appear in a response."""
    if blob is None:
        return dict(_NO_HEALTH)
    return orjson.loads(keyring.decrypt(blob, HEALTH_AAD))


def open_health(keyring: Keyring, blob: bytes | None) -> HealthDetails:
    data = health_json(keyring, blob)
    return HealthDetails(Health(data["health"]), data["disability_grade"], data["illness"])


def seal_id_number(keyring: Keyring, number: str) -> bytes:
    return keyring.encrypt(number.encode("ascii"), ID_NUMBER_AAD)


def open_id_number(keyring: Keyring, blob: bytes) -> str:
    return keyring.decrypt(blob, ID_NUMBER_AAD).decode("ascii")


def protected_id_fields(keyring: Keyring, hash_key: bytes, number: str) -> dict[str, Any]:
    """The stored columns of a normalised ID number: encrypted, keyed hash, masked."""
    return {
        "id_number_enc": seal_id_number(keyring, number),
        "id_hash": idnumber.keyed_hash(number, hash_key),
        "id_masked": idnumber.mask(number),
    }


# ---- in responses ---------------------------------------------------------------------------


def sees_birth_date(permissions) -> bool:
    """Whether a caller sees persons' full birth dates: only a role that may reveal the
    complete ID number (``registry:unmask``). Others see the birth year: the masked number
    hides the birth date, and a full date beside it would give most of it back
    (docs/personal-data.md)."""
    from services.core.accounts.roles import Permission

    return Permission.registry_unmask in permissions


# The reads build their JSON in PostgreSQL without health details and fetch the blobs
# alongside; for a caller who may see them they are decrypted and added here.


def household_with_health(document: str, blobs: list[bytes | None] | None, keyring: Keyring) -> bytes:
    """The household document with each member's health details added (``blobs`` in the
    order of the members)."""
    doc = orjson.loads(document)
    members = doc["members"]
    if len(members) != len(blobs or ()):
        raise RuntimeError("members and their health details differ in number")
    for member, blob in zip(members, blobs or (), strict=True):
        member.update(health_json(keyring, blob))
    return orjson.dumps(doc)


def person_with_health(document: str, blob: bytes | None, keyring: Keyring) -> bytes:
    doc = orjson.loads(document)
    doc.update(health_json(keyring, blob))
    return orjson.dumps(doc)


# ---- on a Person row --------------------------------------------------------------------


def set_health(person, keyring: Keyring, details: HealthDetails) -> None:
    person.health_enc = seal_health(keyring, details)


def update_health(person, keyring: Keyring, changes: dict[str, Any]) -> None:
    """Merge a partial change of the health fields into the stored blob."""
    wanted = {k: v for k, v in changes.items() if k in HEALTH_FIELDS}
    if not wanted:
        return
    current = health_json(keyring, person.health_enc)
    current.update(wanted)
    set_health(
        person, keyring, HealthDetails(Health(current["health"]), current["disability_grade"], current["illness"])
    )


def id_number_of(person, keyring: Keyring) -> str:
    return open_id_number(keyring, person.id_number_enc)
