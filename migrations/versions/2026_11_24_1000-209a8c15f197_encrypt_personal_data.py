"""encrypt personal data at rest

ID numbers and health details of persons become AES-GCM blobs (services.core.crypto); the
masked ID number every response shows is stored beside them. Stored idempotent responses
(which carry health details) are encrypted too. Existing rows are converted in batches
with the keys of the settings (``config.attributes["settings"]`` or ``get_settings()``).

Revision ID: 209a8c15f197
Revises: f9b42f6819cc
Create Date: 2026-11-24 10:00:00.000000+08:00
"""
from __future__ import annotations

from alembic import context, op
import orjson
import sqlalchemy as sa

revision = '209a8c15f197'
down_revision = 'a474091c834c'
branch_labels = None
depends_on = None

BATCH = 5000
ID_NUMBER_AAD = b"persons.id_number"
HEALTH_AAD = b"persons.health"
BODY_AAD = b"idempotency_keys.body"
HEALTH_VALUES = ('healthy', 'chronic_illness', 'serious_illness', 'disabled')


def _keyring():
    from services.core.crypto import keyring

    settings = context.config.attributes.get("settings")
    if settings is None:
        from services.core.settings import get_settings

        settings = get_settings()
    return keyring(settings)


def _mask(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _batches(bind, select_sql: str):
    """Rows of ``select_sql`` (ordered by id, ``:after`` and ``:n`` bound) in batches."""
    after = 0
    while True:
        rows = bind.execute(sa.text(select_sql), {"after": after, "n": BATCH}).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def upgrade() -> None:
    op.add_column('persons', sa.Column('id_number_enc', sa.LargeBinary(), nullable=True))
    op.add_column('persons', sa.Column('id_masked', sa.String(length=18), nullable=True))
    op.add_column('persons', sa.Column('health_enc', sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    ring = None
    for rows in _batches(bind, "SELECT id, id_number, health, disability_grade, illness FROM persons "
                               "WHERE id > :after ORDER BY id LIMIT :n"):
        ring = ring or _keyring()
        ids, numbers, masked, health = [], [], [], []
        for pid, number, state, grade, illness in rows:
            ids.append(pid)
            numbers.append(ring.encrypt(number.encode("ascii"), ID_NUMBER_AAD))
            masked.append(_mask(number))
            plain = orjson.dumps({"health": state, "disability_grade": grade, "illness": illness})
            health.append(ring.encrypt(plain, HEALTH_AAD))
        bind.execute(sa.text(
            "UPDATE persons p SET id_number_enc = v.enc, id_masked = v.masked, health_enc = v.health "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:enc AS bytea[]), CAST(:masked AS varchar[]), "
            "CAST(:health AS bytea[])) AS v(id, enc, masked, health) WHERE p.id = v.id"
        ), {"ids": ids, "enc": numbers, "masked": masked, "health": health})
    op.alter_column('persons', 'id_number_enc', nullable=False)
    op.alter_column('persons', 'id_masked', nullable=False)
    op.drop_column('persons', 'illness')
    op.drop_column('persons', 'disability_grade')
    op.drop_column('persons', 'health')  # its CHECK constraint goes with it
    op.drop_column('persons', 'id_number')
    _convert_bodies(bind, encrypt=True)


def downgrade() -> None:
    op.add_column('persons', sa.Column('id_number', sa.String(length=18), nullable=True))
    op.add_column('persons', sa.Column('health', sa.String(length=32), nullable=True))
    op.add_column('persons', sa.Column('disability_grade', sa.SmallInteger(), nullable=True))
    op.add_column('persons', sa.Column('illness', sa.String(length=200), nullable=True))
    bind = op.get_bind()
    ring = None
    for rows in _batches(bind, "SELECT id, id_number_enc, health_enc FROM persons "
                               "WHERE id > :after ORDER BY id LIMIT :n"):
        ring = ring or _keyring()
        ids, numbers, states, grades, illnesses = [], [], [], [], []
        for pid, number, health in rows:
            ids.append(pid)
            numbers.append(ring.decrypt(number, ID_NUMBER_AAD).decode("ascii"))
            details = orjson.loads(ring.decrypt(health, HEALTH_AAD)) if health is not None else {}
            states.append(details.get("health", "healthy"))
            grades.append(details.get("disability_grade"))
            illnesses.append(details.get("illness"))
        bind.execute(sa.text(
            "UPDATE persons p SET id_number = v.number, health = v.health, disability_grade = v.grade, "
            "illness = v.illness FROM unnest(CAST(:ids AS bigint[]), CAST(:numbers AS varchar[]), "
            "CAST(:states AS varchar[]), CAST(:grades AS smallint[]), CAST(:illnesses AS varchar[])) "
            "AS v(id, number, health, grade, illness) WHERE p.id = v.id"
        ), {"ids": ids, "numbers": numbers, "states": states, "grades": grades, "illnesses": illnesses})
    op.alter_column('persons', 'id_number', nullable=False)
    op.alter_column('persons', 'health', nullable=False)
    values = ", ".join(f"'{v}'" for v in HEALTH_VALUES)
    op.create_check_constraint(op.f('ck_persons_health'), 'persons', f"health IN ({values})")
    op.drop_column('persons', 'health_enc')
    op.drop_column('persons', 'id_masked')
    op.drop_column('persons', 'id_number_enc')
    _convert_bodies(bind, encrypt=False)


def _convert_bodies(bind, *, encrypt: bool) -> None:
    """Stored idempotent responses: encrypted on the way up, decrypted on the way down.
    Rows still being answered (status 0, empty body) are left as they are."""
    rows = bind.execute(sa.text(
        "SELECT principal, key, body FROM idempotency_keys WHERE status_code <> 0 AND length(body) > 0"
    )).all()
    if not rows:
        return
    ring = _keyring()
    for principal, key, body in rows:
        body = bytes(body)
        new = ring.encrypt(body, BODY_AAD) if encrypt else ring.decrypt(body, BODY_AAD)
        bind.execute(sa.text("UPDATE idempotency_keys SET body = :body WHERE principal = :p AND key = :k"),
                     {"body": new, "p": principal, "k": key})
