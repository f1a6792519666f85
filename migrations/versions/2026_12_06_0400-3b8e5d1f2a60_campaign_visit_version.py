"""Field work corrections: a campaign visit record is corrected with If-Match, so it carries a
version (and the time of its last change) like every record that changes. See
services.core.fieldwork.campaigns.correct_visit.

Revision ID: 3b8e5d1f2a60
Revises: 9d3b7f2a1c58
Create Date: 2026-12-06 04:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '3b8e5d1f2a60'
down_revision = '9d3b7f2a1c58'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing records start at version 1, changed when they were made.
    op.add_column('field_campaign_visits', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column(
        'field_campaign_visits',
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    op.execute('UPDATE field_campaign_visits SET updated_at = created_at')
    op.alter_column('field_campaign_visits', 'version', server_default=None)


def downgrade() -> None:
    op.drop_column('field_campaign_visits', 'updated_at')
    op.drop_column('field_campaign_visits', 'version')
