"""Migration e427120e58d4 cuts the stored masks to the new form: its SQL gives what
``idnumber.mask`` gives, for every length a stored mask may have."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import text

from services.core.idnumber import mask
from tests.factories import id_number

MIGRATION = next((Path(__file__).parents[2] / "migrations" / "versions").glob("*e427120e58d4*.py"))


def _module():
    spec = importlib.util.spec_from_file_location("mask_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_masks_as_the_code_does(session):
    number = id_number()
    old_forms = [number[:6] + "********" + number[-4:], number[:17], "*****", "529901*******1123", ""]
    sql = _module()._new_mask("v")
    got = (
        (
            await session.execute(
                text(f"SELECT {sql} FROM unnest(CAST(:values AS text[])) AS t(v)"), {"values": old_forms}
            )
        )
        .scalars()
        .all()
    )
    assert got == [mask(v) for v in old_forms]
    assert got[0] == number[:6] + "*" * 12 and number[6:14] not in got[0]
