"""Field work (issue 21): the field roster (信息员、网格员、驻村工作队员), screening campaigns
(大走访、大排查) with their teams and household visits, and the village-based teams' monthly
attendance. See docs/field-work.md.

Revision ID: c4a7e2f19b35
Revises: 6f1d2c3b4a59
Create Date: 2026-12-06 03:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'c4a7e2f19b35'
down_revision = '6f1d2c3b4a59'
branch_labels = None
depends_on = None

CODE = sa.String(length=12, collation='C')


def _versioned() -> list[sa.Column]:
    return [
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'field_roster',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('region_code', CODE, nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column(
            'role',
            sa.Enum(
                'information_officer', 'grid_worker', 'resident_team', 'other',
                name='roster_role', native_enum=False, create_constraint=True, length=32,
            ),
            nullable=False,
        ),
        sa.Column('user_id', sa.BigInteger(), nullable=True),
        sa.Column('active_from', sa.Date(), nullable=False),
        sa.Column('active_until', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        *_versioned(),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_field_roster_region_code_regions')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_field_roster_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_roster')),
    )
    op.create_index('ix_field_roster_region_code_role', 'field_roster', ['region_code', 'role'], unique=False)

    op.create_table(
        'field_campaigns',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('region_prefix', CODE, nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('checks', postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_campaigns')),
    )
    op.create_index(op.f('ix_field_campaigns_region_prefix'), 'field_campaigns', ['region_prefix'], unique=False)

    op.create_table(
        'field_campaign_teams',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', CODE, nullable=False),
        sa.Column('member_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['field_campaigns.id'], name=op.f('fk_field_campaign_teams_campaign_id_field_campaigns')
        ),
        sa.ForeignKeyConstraint(
            ['region_code'], ['regions.code'], name=op.f('fk_field_campaign_teams_region_code_regions')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_campaign_teams')),
    )
    op.create_index(
        'ix_field_campaign_teams_campaign_id_region_code',
        'field_campaign_teams',
        ['campaign_id', 'region_code'],
        unique=False,
    )

    op.create_table(
        'field_campaign_visits',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('household_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', CODE, nullable=False),
        sa.Column('team_id', sa.BigInteger(), nullable=True),
        sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('visited_on', sa.Date(), nullable=False),
        sa.Column('checks', postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column('problems', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('photos', postgresql.ARRAY(sa.String(length=200)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('findings', sa.Text(), nullable=True),
        sa.Column('clue_id', sa.BigInteger(), nullable=True),
        sa.Column('recorded_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['field_campaigns.id'], name=op.f('fk_field_campaign_visits_campaign_id_field_campaigns')
        ),
        sa.ForeignKeyConstraint(
            ['household_id'], ['households.id'], name=op.f('fk_field_campaign_visits_household_id_households')
        ),
        sa.ForeignKeyConstraint(
            ['team_id'], ['field_campaign_teams.id'], name=op.f('fk_field_campaign_visits_team_id_field_campaign_teams')
        ),
        sa.ForeignKeyConstraint(
            ['clue_id'], ['risk_clues.id'], name=op.f('fk_field_campaign_visits_clue_id_risk_clues')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_campaign_visits')),
        sa.UniqueConstraint('campaign_id', 'household_id', name=op.f('uq_field_campaign_visits_campaign_id_household_id')),
    )
    op.create_index(
        'ix_field_campaign_visits_campaign_id_region_code',
        'field_campaign_visits',
        ['campaign_id', 'region_code'],
        unique=False,
    )

    op.create_table(
        'resident_attendance',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('member_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', CODE, nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('days', sa.SmallInteger(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.BigInteger(), nullable=True),
        *_versioned(),
        sa.ForeignKeyConstraint(
            ['member_id'], ['field_roster.id'], name=op.f('fk_resident_attendance_member_id_field_roster')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_attendance')),
        sa.UniqueConstraint('member_id', 'month', name=op.f('uq_resident_attendance_member_id_month')),
    )
    op.create_index(
        'ix_resident_attendance_region_code_month', 'resident_attendance', ['region_code', 'month'], unique=False
    )


    # Active households per village, counted from the index alone (a campaign's progress).
    op.create_index(
        'ix_households_active_region_code',
        'households',
        ['region_code'],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index('ix_households_active_region_code', table_name='households')
    op.drop_table('resident_attendance')
    op.drop_table('field_campaign_visits')
    op.drop_table('field_campaign_teams')
    op.drop_table('field_campaigns')
    op.drop_table('field_roster')
