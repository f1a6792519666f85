"""must change password: an account created with a one-time password (``guardline admin
create``) must set its own before it may do anything else (users.must_change_password)

Revision ID: 39e60ceabf9d
Revises: 5c8e1d7a2b94
Create Date: 2026-12-03 16:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '39e60ceabf9d'
down_revision = '5c8e1d7a2b94'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.text('false')))


def downgrade() -> None:
    op.drop_column('users', 'must_change_password')
