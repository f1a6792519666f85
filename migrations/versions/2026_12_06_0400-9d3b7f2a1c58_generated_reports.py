"""Township reports (issue 21): the monthly and quarterly reports the sync worker generated
(generated_reports). See services.core.reports.

Revision ID: 9d3b7f2a1c58
Revises: 6a1e2c0d9b47
Create Date: 2026-12-06 04:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '9d3b7f2a1c58'
down_revision = '6a1e2c0d9b47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'generated_reports',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column(
            'kind',
            sa.Enum('monthly', 'quarterly', name='report_kind', native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('cut_off', sa.Date(), nullable=False),
        sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('generated_by', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ['region_code'], ['regions.code'], name=op.f('fk_generated_reports_region_code_regions')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_reports')),
        sa.UniqueConstraint('kind', 'region_code', 'period', name=op.f('uq_generated_reports_period')),
    )
    op.create_index('ix_generated_reports_region', 'generated_reports', ['region_code', 'id'], unique=False)
    op.create_index(
        'ix_generated_reports_kind', 'generated_reports', ['kind', 'period', 'region_code'], unique=False
    )


def downgrade() -> None:
    op.drop_table('generated_reports')
