"""rate limit counts shared by every API process (services/core/ratelimit.py): one row per
key and one-minute window, in an UNLOGGED table (no WAL; a crash of the database only
forgets counts)

Revision ID: 1ff503e77e70
Revises: e427120e58d4
Create Date: 2026-12-03 17:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '1ff503e77e70'
down_revision = 'e427120e58d4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit_counts',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_limit_counts')),
    prefixes=['UNLOGGED'],
    )


def downgrade() -> None:
    op.drop_table('rate_limit_counts')
