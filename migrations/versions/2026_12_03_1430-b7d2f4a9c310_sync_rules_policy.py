"""sync rules policy: sync_policies, the cross-check rules' thresholds per region prefix
and year (services/core/sync/policy.py), replacing the process-wide settings

Revision ID: b7d2f4a9c310
Revises: a1c3e5f70b21
Create Date: 2026-12-03 14:30:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'b7d2f4a9c310'
down_revision = 'a1c3e5f70b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_policies',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('region_prefix', sa.String(length=12, collation='C'), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('values', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_by', sa.BigInteger(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_policies')),
    sa.UniqueConstraint('region_prefix', 'year', name=op.f('uq_sync_policies_region_prefix_year'))
    )


def downgrade() -> None:
    op.drop_table('sync_policies')
