"""monitoring rules read against the seeds: visit breaches recorded once per case and month
(case_visit_breaches); the policy figure elimination_min_completed_measures renamed
elimination_min_measures_carried_out in stored overrides (docs/monitoring-rules.md)

Revision ID: e5b7c9d1f311
Revises: b7d2f4a9c310
Create Date: 2026-12-03 14:00:00+08:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'e5b7c9d1f311'
down_revision = 'b7d2f4a9c310'
branch_labels = None
depends_on = None

OLD, NEW = 'elimination_min_completed_measures', 'elimination_min_measures_carried_out'
RENAME = """
UPDATE monitoring_policies
SET values = (values - '{old}') || jsonb_build_object('{new}', values -> '{old}'), version = version + 1
WHERE values ? '{old}'
"""


def upgrade() -> None:
    op.create_table('case_visit_breaches',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
    sa.Column('cadre_user_id', sa.BigInteger(), nullable=True),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('required', sa.SmallInteger(), nullable=False),
    sa.Column('made', sa.SmallInteger(), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['cadre_user_id'], ['users.id'], name=op.f('fk_case_visit_breaches_cadre_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_cases.id'], name=op.f('fk_case_visit_breaches_case_id_monitoring_cases')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_case_visit_breaches_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_visit_breaches')),
    sa.UniqueConstraint('case_id', 'month', name=op.f('uq_case_visit_breaches_case_id_month'))
    )
    op.create_index('ix_case_visit_breaches_region_code_month', 'case_visit_breaches', ['region_code', 'month'],
                    unique=False)
    op.execute(RENAME.format(old=OLD, new=NEW))


def downgrade() -> None:
    op.execute(RENAME.format(old=NEW, new=OLD))
    op.drop_index('ix_case_visit_breaches_region_code_month', table_name='case_visit_breaches')
    op.drop_table('case_visit_breaches')
