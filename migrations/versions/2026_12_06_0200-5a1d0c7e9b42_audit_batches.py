"""Audit batches (issue 22): the tokens of the sensitive-read batches written to audit_log,
so that a batch sent again after the database cut its connection during the commit is not
written twice. See services.api.auditing.ReadAuditBuffer.

Revision ID: 5a1d0c7e9b42
Revises: fd029023eda6
Create Date: 2026-12-06 11:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '5a1d0c7e9b42'
down_revision = 'fd029023eda6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_batches',
        sa.Column('token', sa.Uuid(), nullable=False),
        sa.Column('written_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_audit_batches')),
    )
    op.create_index(op.f('ix_audit_batches_written_at'), 'audit_batches', ['written_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_batches_written_at'), table_name='audit_batches')
    op.drop_table('audit_batches')
