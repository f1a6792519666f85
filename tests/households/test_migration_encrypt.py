"""The migration that encrypts personal data converts existing rows, and its downgrade
gives them back in clear (on a scratch database)."""

from __future__ import annotations

import base64

import orjson
from alembic import command
from sqlalchemy import text

from services.core.crypto import key_id_of, keyring
from services.core.db import create_engine
from services.core.households.sensitive import health_json, open_id_number
from services.core.idempotency import BODY_AAD
from services.core.migrate import alembic_config
from services.core.settings import Settings
from tests.factories import id_number

BEFORE = "f9b42f6819cc"  # the registry foundation, with ID numbers and health in clear
ENCRYPTING = "209a8c15f197"
SCRATCH = "guardline_migration_encrypt"
KEY = base64.b64encode(b"migration-test-key-thirty-two-by").decode()


async def test_existing_rows_are_encrypted_and_decrypted_back(engine, settings):
    migration_settings = Settings(
        env="test",
        data_dir=settings.data_dir,
        database_url=None,
        data_protection={"encryption_keys": {"m1": KEY}, "active_key": "m1"},
    )
    ring = keyring(migration_settings)
    url = engine.url.set(database=SCRATCH).render_as_string(hide_password=False)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
    eng = create_engine(url, settings, "tests")
    people = [
        (id_number(), "healthy", None, None),
        (id_number(), "chronic_illness", None, "高血压（迁移测试）"),
        (id_number(), "disabled", 3, None),
    ]
    response = orjson.dumps({"members": [{"illness": "高血压（迁移测试）"}]})

    def migrate(sync_conn, revision: str, down: bool = False) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        cfg.attributes["settings"] = migration_settings
        (command.downgrade if down else command.upgrade)(cfg, revision)

    try:
        async with eng.begin() as conn:
            await conn.run_sync(migrate, BEFORE)
            check_of_health = text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_persons_health'"
            )
            original_check = (await conn.execute(check_of_health)).scalar_one()
            await conn.execute(text("INSERT INTO regions (code, name, level) VALUES ('529901001001', '白岩村', 5)"))
            for i, (number, health, grade, illness) in enumerate(people, start=1):
                await conn.execute(
                    text(
                        "INSERT INTO persons (id, id_number, id_hash, name, sex, birth_date, region_code, health, "
                        "disability_grade, illness, labour_capacity, schooling, medical_insurance, pension_insurance, "
                        "family_doctor, employment, status, version) VALUES (:id, :number, :hash, '张三', 'male', "
                        "'1980-05-17', '529901001001', :health, :grade, :illness, 'ordinary', 'not_in_school', true, "
                        "false, false, 'none', 'alive', 1)"
                    ),
                    {
                        "id": i,
                        "number": number,
                        "hash": bytes([i]) * 32,
                        "health": health,
                        "grade": grade,
                        "illness": illness,
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, headers, body) "
                    "VALUES ('user:1', 'k', :h, 201, '{}', :body), ('user:1', 'pending', :h, 0, '{}', '')"
                ),
                {"h": b"\0" * 32, "body": response},
            )

            await conn.run_sync(migrate, ENCRYPTING)
            rows = (
                await conn.execute(text("SELECT id_number_enc, id_masked, health_enc FROM persons ORDER BY id"))
            ).all()
            for (number, health, grade, illness), (enc, masked, health_enc) in zip(people, rows, strict=True):
                assert key_id_of(enc) == "m1" and open_id_number(ring, enc) == number
                assert masked == number[:6] + "********" + number[-4:]
                assert health_json(ring, health_enc) == {
                    "health": health,
                    "disability_grade": grade,
                    "illness": illness,
                }
            dump = "\n".join(r[0] for r in await conn.execute(text("SELECT p::text FROM persons p")))
            dump += "\n".join(r[0] for r in await conn.execute(text("SELECT k::text FROM idempotency_keys k")))
            assert not any(p[0] in dump for p in people) and "迁移测试" not in dump
            bodies = dict((await conn.execute(text("SELECT key, body FROM idempotency_keys"))).all())
            assert ring.decrypt(bodies["k"], BODY_AAD) == response and bytes(bodies["pending"]) == b""

            await conn.run_sync(migrate, BEFORE, True)
            back = (
                await conn.execute(text("SELECT id_number, health, disability_grade, illness FROM persons ORDER BY id"))
            ).all()
            assert [tuple(r) for r in back] == people
            bodies = dict((await conn.execute(text("SELECT key, body FROM idempotency_keys"))).all())
            assert bytes(bodies["k"]) == response
            # The clear columns are as the first migration made them: the CHECK is back.
            assert (await conn.execute(check_of_health)).scalar_one() == original_check
    finally:
        await eng.dispose()
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
