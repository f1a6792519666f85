"""Ledgers (issue 21): the monthly clearing ledger of the three guarantees and safe water
(clearing_entries, 月清零台账) and the rectification ledger (rectifications and their steps,
问题整改台账). See services.core.ledgers.

Revision ID: 6a1e2c0d9b47
Revises: c4a7e2f19b35
Create Date: 2026-12-06 03:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '6a1e2c0d9b47'
down_revision = 'c4a7e2f19b35'
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        'clearing_entries',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column('household_id', sa.BigInteger(), nullable=False),
        sa.Column('person_id', sa.BigInteger(), nullable=True),
        sa.Column('kind', _enum('clearing_kind', 'education', 'medical', 'housing', 'water'), nullable=False),
        sa.Column('origin', _enum('entry_origin', 'guarantees', 'department', 'manual'), nullable=False),
        sa.Column('finding_id', sa.BigInteger(), nullable=True),
        sa.Column('department', sa.String(length=60), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('deadline_provisional', sa.Boolean(), nullable=False),
        sa.Column('status', _enum('entry_status', 'open', 'cleared'), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('evidence', sa.Text(), nullable=True),
        sa.Column('evidence_refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('closed_by', sa.BigInteger(), nullable=True),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("status <> 'cleared' OR closed_on IS NOT NULL", name=op.f('ck_clearing_entries_cleared_has_day')),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_clearing_entries_region_code_regions')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_clearing_entries_household_id_households')),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_clearing_entries_person_id_persons')),
        sa.ForeignKeyConstraint(['finding_id'], ['sync_findings.id'], name=op.f('fk_clearing_entries_finding_id_sync_findings')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clearing_entries')),
    )
    op.create_index('ix_clearing_entries_region', 'clearing_entries', ['region_code', 'id'], unique=False)
    op.create_index('ix_clearing_entries_kind', 'clearing_entries', ['kind', 'region_code'], unique=False)
    op.create_index('ix_clearing_entries_status', 'clearing_entries', ['status', 'region_code'], unique=False)
    op.create_index(
        'ix_clearing_entries_overdue', 'clearing_entries', ['deadline'], unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index('ix_clearing_entries_household', 'clearing_entries', ['household_id'], unique=False)
    op.create_index('ix_clearing_entries_opened', 'clearing_entries', ['opened_on', 'region_code'], unique=False)
    op.create_index('ix_clearing_entries_closed', 'clearing_entries', ['closed_on', 'region_code'], unique=False)
    op.create_index(
        'uq_clearing_entries_open_item', 'clearing_entries', ['household_id', 'kind'], unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )

    op.create_table(
        'rectifications',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column(
            'source', _enum('problem_source', 'inspection', 'audit', 'assessment', 'system', 'self_check'), nullable=False
        ),
        sa.Column('source_ref', sa.String(length=100), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('responsible_unit', sa.String(length=100), nullable=False),
        sa.Column('household_id', sa.BigInteger(), nullable=True),
        sa.Column('found_on', sa.Date(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('deadline_provisional', sa.Boolean(), nullable=False),
        sa.Column('status', _enum('rectification_status', 'open', 'closure_requested', 'closed'), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=True),
        sa.Column('evidence_refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('closure_requested_by', sa.BigInteger(), nullable=True),
        sa.Column('closure_requested_on', sa.Date(), nullable=True),
        sa.Column('approved_by', sa.BigInteger(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("status <> 'closed' OR closed_on IS NOT NULL", name=op.f('ck_rectifications_closed_has_day')),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_rectifications_region_code_regions')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_rectifications_household_id_households')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rectifications')),
    )
    op.create_index('ix_rectifications_region', 'rectifications', ['region_code', 'id'], unique=False)
    op.create_index('ix_rectifications_status', 'rectifications', ['status', 'region_code'], unique=False)
    op.create_index('ix_rectifications_source', 'rectifications', ['source', 'region_code'], unique=False)
    op.create_index(
        'ix_rectifications_overdue', 'rectifications', ['deadline'], unique=False,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index('ix_rectifications_found', 'rectifications', ['found_on', 'region_code'], unique=False)
    op.create_index('ix_rectifications_closed', 'rectifications', ['closed_on', 'region_code'], unique=False)

    op.create_table(
        'rectification_steps',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('rectification_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column('done_on', sa.Date(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('recorded_by', sa.BigInteger(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['rectification_id'], ['rectifications.id'],
            name=op.f('fk_rectification_steps_rectification_id_rectifications'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_steps')),
    )
    op.create_index(
        op.f('ix_rectification_steps_rectification_id'), 'rectification_steps', ['rectification_id'], unique=False
    )


def downgrade() -> None:
    op.drop_table('rectification_steps')
    op.drop_table('rectifications')
    op.drop_table('clearing_entries')
