"""Subscriptions (issue 20, second part): a system client's subscriptions to events, and the
deliveries of each event to each subscription, with their state (pending, delivered, dead),
attempts and next attempt. See services.core.events.delivery.

Revision ID: fd029023eda6
Revises: e150af699206
Create Date: 2026-12-06 01:00:00+08:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'fd029023eda6'
down_revision = 'e150af699206'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('client_id', sa.BigInteger(), nullable=False),
        sa.Column('region_prefix', sa.String(length=12, collation='C'), nullable=False),
        sa.Column('types', postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column('callback_url', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.LargeBinary(), nullable=False),
        sa.Column(
            'status',
            sa.Enum('active', 'paused', 'expired', name='subscription_status', native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fanned_out_to', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_subscriptions_client_id_api_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    )
    op.create_index(op.f('ix_subscriptions_client_id'), 'subscriptions', ['client_id'], unique=False)
    op.create_index('ix_subscriptions_region_prefix', 'subscriptions', ['region_prefix'], unique=False)
    op.create_table(
        'deliveries',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('subscription_id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=False),
        sa.Column('object_key', sa.String(length=64), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'delivered', 'dead', name='delivery_status', native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('message_id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_deliveries_event_id_events'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['subscription_id'], ['subscriptions.id'], name=op.f('fk_deliveries_subscription_id_subscriptions'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
        sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_deliveries_subscription_id_event_id')),
    )
    op.create_index(
        'ix_deliveries_due', 'deliveries', ['subscription_id', 'next_attempt_at', 'id'], unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        'ix_deliveries_pending_object', 'deliveries', ['subscription_id', 'object_key', 'event_id'], unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        'ix_deliveries_subscription_status_id', 'deliveries', ['subscription_id', 'status', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_deliveries_subscription_status_id', table_name='deliveries')
    op.drop_index('ix_deliveries_pending_object', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_deliveries_due', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('deliveries')
    op.drop_index('ix_subscriptions_region_prefix', table_name='subscriptions')
    op.drop_index(op.f('ix_subscriptions_client_id'), table_name='subscriptions')
    op.drop_table('subscriptions')
