"""Follow-up of everyone (issue 21): the cadre responsible for each household, with its
history (household_cadres), the scheduled follow-up visits of formerly poor and eliminated
households (followup_visits), and an index of case visits by household (the follow-up list
counts them, and the visits of a month). The policy's new figures live in monitoring_policies' values: no column.

Revision ID: 6f1d2c3b4a59
Revises: 5a1d0c7e9b42
Create Date: 2026-12-06 03:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '6f1d2c3b4a59'
down_revision = '5a1d0c7e9b42'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'household_cadres',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('household_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column('cadre_user_id', sa.BigInteger(), nullable=False),
        sa.Column('from_on', sa.Date(), nullable=False),
        sa.Column('to_on', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('assigned_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['cadre_user_id'], ['users.id'], name=op.f('fk_household_cadres_cadre_user_id_users')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_cadres_household_id_households')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_household_cadres')),
    )
    op.create_index('ix_household_cadres_household_id_from_on', 'household_cadres', ['household_id', 'from_on'], unique=False)
    op.create_index(
        'uq_household_cadres_current', 'household_cadres', ['household_id'], unique=True,
        postgresql_where=sa.text('to_on IS NULL'),
    )
    op.create_index(
        'ix_household_cadres_cadre_current', 'household_cadres', ['cadre_user_id', 'household_id'], unique=False,
        postgresql_where=sa.text('to_on IS NULL'),
    )
    op.create_table(
        'followup_visits',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
        sa.Column('cadre_user_id', sa.BigInteger(), nullable=False),
        sa.Column('visited_on', sa.Date(), nullable=False),
        sa.Column(
            'mode',
            sa.Enum('in_person', 'phone', 'video', name='followup_visit_mode', native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column('findings', sa.Text(), nullable=False),
        sa.Column('attachments', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('recorded_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['cadre_user_id'], ['users.id'], name=op.f('fk_followup_visits_cadre_user_id_users')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_followup_visits_household_id_households')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_visits')),
    )
    op.create_index(op.f('ix_followup_visits_region_code'), 'followup_visits', ['region_code'], unique=False)
    op.create_index(
        'ix_followup_visits_household_id_visited_on', 'followup_visits', ['household_id', 'visited_on'], unique=False
    )
    op.create_index(
        'ix_case_visits_household_id_visited_on', 'case_visits', ['household_id', 'visited_on'], unique=False
    )
    op.create_index('ix_followup_visits_visited_on', 'followup_visits', ['visited_on'], unique=False)
    op.create_index('ix_case_visits_visited_on', 'case_visits', ['visited_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_visits_visited_on', table_name='case_visits')
    op.drop_index('ix_followup_visits_visited_on', table_name='followup_visits')
    op.drop_index('ix_case_visits_household_id_visited_on', table_name='case_visits')
    op.drop_index('ix_followup_visits_household_id_visited_on', table_name='followup_visits')
    op.drop_index(op.f('ix_followup_visits_region_code'), table_name='followup_visits')
    op.drop_table('followup_visits')
    op.drop_index('ix_household_cadres_cadre_current', table_name='household_cadres', postgresql_where=sa.text('to_on IS NULL'))
    op.drop_index('uq_household_cadres_current', table_name='household_cadres', postgresql_where=sa.text('to_on IS NULL'))
    op.drop_index('ix_household_cadres_household_id_from_on', table_name='household_cadres')
    op.drop_table('household_cadres')
