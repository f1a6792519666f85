"""masked ID numbers show only the address code

The masked form stored beside an encrypted ID number showed the first 6 and the last 4
characters; with the birth date beside it that restored the number. It now shows only the
first 6 (``services.core.idnumber.mask``; docs/personal-data.md). The stored masks of
persons, department records, quarantined records and the findings that quote one are cut
to the new form; the old characters cannot be brought back, so the downgrade leaves them.

Revision ID: e427120e58d4
Revises: 39e60ceabf9d
Create Date: 2026-12-03 17:00:00+08:00
"""
from __future__ import annotations

from alembic import op

revision = 'e427120e58d4'
down_revision = '39e60ceabf9d'
branch_labels = None
depends_on = None


def _new_mask(column: str) -> str:
    # As idnumber.mask: under 10 characters everything hidden, otherwise the first 6 shown.
    return (f"CASE WHEN length({column}) < 10 THEN repeat('*', length({column})) "
            f"ELSE left({column}, 6) || repeat('*', length({column}) - 6) END")


def upgrade() -> None:
    for table in ("persons", "dept_records", "sync_quarantine"):
        op.execute(f"UPDATE {table} SET id_masked = {_new_mask('id_masked')} "
                   f"WHERE id_masked IS NOT NULL AND id_masked <> {_new_mask('id_masked')}")
    quoted = _new_mask("(values->>'id_masked')")
    op.execute(f"UPDATE sync_findings SET values = jsonb_set(values, '{{id_masked}}', to_jsonb({quoted})) "
               "WHERE jsonb_typeof(values->'id_masked') = 'string'")


def downgrade() -> None:
    pass
