"""clues: a reopened finding whose clue ended raises a new one (sync_findings.clue_round)

Revision ID: 7c1e9b2d4f60
Revises: e5b7c9d1f311
Create Date: 2026-12-03 14:00:00.000000+08:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '7c1e9b2d4f60'
down_revision = 'e5b7c9d1f311'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # How many times the finding has raised a clue anew after reopening (0: its first clue);
    # the clue's reference carries it (services.core.sync.reconcile.clue_ref).
    op.add_column('sync_findings', sa.Column('clue_round', sa.SmallInteger(), server_default=sa.text('0'),
                                             nullable=False))


def downgrade() -> None:
    op.drop_column('sync_findings', 'clue_round')
