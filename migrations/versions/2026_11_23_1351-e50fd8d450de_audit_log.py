"""audit log: append-only, hash-chained

Revision ID: e50fd8d450de
Revises: f9b42f6819cc
Create Date: 2026-11-23 13:51:00.000000+08:00

The table ``audit_log`` protects itself, whoever is connected:

* a BEFORE INSERT trigger chains every row: under a transaction-level advisory lock it
  reads the latest row and sets ``id`` = latest id + 1, ``prev_hash`` = latest hash (32
  zero bytes for the first row) and ``hash`` = sha256(prev_hash || audit_canonical(row));
* BEFORE UPDATE and BEFORE TRUNCATE triggers refuse always; BEFORE DELETE refuses unless
  the session says it is the retention purge (``SET LOCAL guardline.audit_purge = 'on'``)
  *and* the row is older than 183 days (等保 2.0: audit kept six months or more), so not
  even the purge can remove recent rows;
* UPDATE, DELETE and TRUNCATE are revoked from PUBLIC.

Triggers stop everyone but the table's owner (who may disable them) and superusers. So in
production the application must **not** connect as the owner of the tables:

    -- as a superuser, once
    CREATE ROLE guardline_owner LOGIN PASSWORD '...';      -- runs `guardline migrate`
    CREATE ROLE guardline_app LOGIN PASSWORD '...';        -- the API and the worker
    CREATE DATABASE guardline OWNER guardline_owner;
    -- as guardline_owner, after `guardline migrate`
    GRANT USAGE ON SCHEMA public TO guardline_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO guardline_app;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO guardline_app;
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM guardline_app;   -- SELECT, INSERT only

The API and the worker use guardline_app (``GUARDLINE_DATABASE_URL``); ``guardline
migrate`` and ``guardline audit purge`` run with guardline_owner's URL. ``guardline audit
verify`` needs SELECT only. Audit rows are inserted in READ COMMITTED transactions (the
default): a REPEATABLE READ snapshot could miss the latest row, so the trigger refuses it.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'e50fd8d450de'
down_revision = '209a8c15f197'
branch_labels = None
depends_on = None

# services.core.audit.models.CHAIN_LOCK_KEY ("gl-audit"); frozen here like the schema.
CHAIN_LOCK_KEY = 0x676C2D6175646974
# services.core.settings.AUDIT_RETENTION_FLOOR_DAYS
RETENTION_FLOOR_DAYS = 183

CANONICAL = """
CREATE FUNCTION audit_canonical(r audit_log) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- Every column but hash, as one JSON array: jsonb's text form is canonical, and the
    -- time is written in UTC so the session's time zone does not change the text.
    SELECT jsonb_build_array(
        'guardline-audit-v1', r.id,
        to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.actor, r.actor_name, r.client, r.role, r.action, r.object_type, r.object_id,
        r.region_code, r.result, r.status, r.request_id, r.ip::text,
        r.before, r.after, r.detail, encode(r.prev_hash, 'hex')
    )::text
$$
"""

CHAIN = f"""
CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_id bigint;
    last_hash bytea;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit_log rows are inserted in READ COMMITTED transactions only'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Held to the end of the transaction: the next insert must see this row committed.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT id, hash INTO last_id, last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.id := coalesce(last_id, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, '\\x{'00' * 32}'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(audit_canonical(NEW), 'UTF8'));
    RETURN NEW;
END
$$
"""

REFUSE_UPDATE = """
CREATE FUNCTION audit_log_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: rows cannot be changed'
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

GUARD_DELETE = f"""
CREATE FUNCTION audit_log_guard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('guardline.audit_purge', true), '') = 'on'
       AND OLD.at < now() - interval '{RETENTION_FLOOR_DAYS} days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: only the retention purge may remove rows older than {RETENTION_FLOOR_DAYS} days'
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

TRIGGERS = [
    "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain()",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION audit_log_refuse_update()",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION audit_log_guard_delete()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT "
    "EXECUTE FUNCTION audit_log_refuse_update()",
]


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=True),
    sa.Column('client', sa.String(length=100), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=True),
    sa.Column('object_id', sa.String(length=100), nullable=True),
    sa.Column('region_code', sa.String(length=12, collation='C'), nullable=True),
    sa.Column('result', sa.Enum('success', 'failure', 'denied', name='audit_result', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('ip', postgresql.INET(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('prev_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_action_id', 'audit_log', ['action', 'id'], unique=False)
    op.create_index('ix_audit_log_actor_id', 'audit_log', ['actor', 'id'], unique=False)
    op.create_index('ix_audit_log_at_id', 'audit_log', ['at', 'id'], unique=False)
    op.create_index('ix_audit_log_object_type_object_id_id', 'audit_log', ['object_type', 'object_id', 'id'], unique=False)
    op.create_index('ix_audit_log_region_code_id', 'audit_log', ['region_code', 'id'], unique=False)
    for statement in (CANONICAL, CHAIN, REFUSE_UPDATE, GUARD_DELETE, *TRIGGERS):
        op.execute(statement)
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")


def downgrade() -> None:
    # DROP TABLE is not stopped by the row triggers: only the owner may run it.
    op.execute("DROP FUNCTION audit_canonical(audit_log)")
    op.drop_table('audit_log')
    for function in ("audit_log_chain()", "audit_log_refuse_update()", "audit_log_guard_delete()"):
        op.execute(f"DROP FUNCTION {function}")
