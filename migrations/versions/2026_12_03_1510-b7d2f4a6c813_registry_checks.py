"""registry checks: the masked ID number of a record quarantined for it (the finding
id_number_invalid shows it; never the full number)

Revision ID: b7d2f4a6c813
Revises: 7c1e9b2d4f60
Create Date: 2026-12-03 15:00:00+08:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'b7d2f4a6c813'
down_revision = '7c1e9b2d4f60'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sync_quarantine', sa.Column('id_masked', sa.String(length=18), nullable=True))


def downgrade() -> None:
    op.drop_column('sync_quarantine', 'id_masked')
