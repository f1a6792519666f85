"""complete rosters: a run may declare itself the complete enrolment of a year or school
roster of a term (sync_runs.roster_*), and the records it read (sync_roster_entries)
(services/core/sync/rosters.py, docs/rosters.md)

Revision ID: 5c8e1d7a2b94
Revises: b7d2f4a6c813
Create Date: 2026-12-03 15:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '5c8e1d7a2b94'
down_revision = 'b7d2f4a6c813'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sync_runs', sa.Column('roster_period', sa.String(length=32), nullable=True))
    op.add_column('sync_runs', sa.Column('roster_region', sa.String(length=12, collation='C'), nullable=True))
    op.add_column('sync_runs', sa.Column('roster_records', sa.Integer(), nullable=True))
    op.add_column('sync_runs', sa.Column('roster_rejected', sa.Integer(), nullable=True))
    op.create_table('sync_roster_entries',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('external_key', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_roster_entries_run_id_sync_runs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'external_key', name=op.f('pk_sync_roster_entries'))
    )


def downgrade() -> None:
    op.drop_table('sync_roster_entries')
    op.drop_column('sync_runs', 'roster_rejected')
    op.drop_column('sync_runs', 'roster_records')
    op.drop_column('sync_runs', 'roster_region')
    op.drop_column('sync_runs', 'roster_period')
