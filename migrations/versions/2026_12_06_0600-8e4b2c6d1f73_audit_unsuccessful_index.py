"""Audit trail: an index of the events that did not succeed (failures and denials), so that an
auditor's search for them reads those rows alone instead of the whole trail back from the
newest (on a trail of 200,000 events, mostly health-detail reads: 160–590 ms for an empty
page, now a few milliseconds). Partial: successes, nearly every row, are not in it, so an
insert writes nothing more for them.

Revision ID: 8e4b2c6d1f73
Revises: 7c2e9a4d1b60
Create Date: 2026-12-06 06:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '8e4b2c6d1f73'
down_revision = '7c2e9a4d1b60'
branch_labels = None
depends_on = None

WHERE = sa.text("result <> 'success'")


def upgrade() -> None:
    op.create_index('ix_audit_log_unsuccessful_id', 'audit_log', ['result', 'id'], unique=False, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index('ix_audit_log_unsuccessful_id', table_name='audit_log', postgresql_where=WHERE)
