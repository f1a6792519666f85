"""Running counts of monitoring cases per village, kept by a trigger (services.core.monitoring.counts)

The SQL is written out here as it was when this migration was made.

Revision ID: bc8ae26fad89
Revises: ac72617dccf3
Create Date: 2026-11-24 01:39:46.332743+08:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'bc8ae26fad89'
down_revision = 'ac72617dccf3'
branch_labels = None
depends_on = None

CREATE_SQL = [
    "\nCREATE FUNCTION monitoring_case_counts_change(old_row monitoring_cases, new_row monitoring_cases)\nRETURNS void LANGUAGE sql AS $$\n    -- Both sides in one statement, in key order: concurrent changes lock counters in the\n    -- same order, so they wait for each other instead of deadlocking.\n    INSERT INTO monitoring_case_counts AS c (region_code, dimension, value, year, n, days)\n    SELECT region_code, dimension, value, year, sum(sign), sum(sign * days)\n    FROM (\n        SELECT r.region_code, x.dimension, x.value, x.year, -1 AS sign, x.days\n        FROM (SELECT old_row.*) AS r, LATERAL (\n    SELECT 'status'::text AS dimension, r.status::text AS value, 0 AS year, 0 AS days\n    UNION ALL SELECT 'open_type', r.case_type, 0, 0 WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'open_risk', risk, 0, 0 FROM unnest(r.risk_types) AS risk WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'identified', '', extract(year FROM r.identified_on)::int, r.identified_on - r.first_clue_on\n              WHERE r.identified_on IS NOT NULL\n    UNION ALL SELECT 'eliminated', '', extract(year FROM r.eliminated_on)::int, 0 WHERE r.eliminated_on IS NOT NULL\n) AS x WHERE NOT (old_row IS NULL)\n        UNION ALL\n        SELECT r.region_code, x.dimension, x.value, x.year, 1, x.days\n        FROM (SELECT new_row.*) AS r, LATERAL (\n    SELECT 'status'::text AS dimension, r.status::text AS value, 0 AS year, 0 AS days\n    UNION ALL SELECT 'open_type', r.case_type, 0, 0 WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'open_risk', risk, 0, 0 FROM unnest(r.risk_types) AS risk WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'identified', '', extract(year FROM r.identified_on)::int, r.identified_on - r.first_clue_on\n              WHERE r.identified_on IS NOT NULL\n    UNION ALL SELECT 'eliminated', '', extract(year FROM r.eliminated_on)::int, 0 WHERE r.eliminated_on IS NOT NULL\n) AS x WHERE NOT (new_row IS NULL)\n    ) AS d\n    GROUP BY region_code, dimension, value, year\n    HAVING sum(sign) <> 0 OR sum(sign * days) <> 0\n    ORDER BY region_code, dimension, value, year\n    ON CONFLICT (region_code, dimension, value, year)\n    DO UPDATE SET n = c.n + excluded.n, days = c.days + excluded.days\n$$",
    "\nCREATE FUNCTION monitoring_cases_count() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        PERFORM monitoring_case_counts_change(NULL, NEW);\n    ELSIF TG_OP = 'DELETE' THEN\n        PERFORM monitoring_case_counts_change(OLD, NULL);\n    ELSIF (OLD.region_code, OLD.status, OLD.case_type, OLD.risk_types, OLD.identified_on, OLD.first_clue_on, OLD.eliminated_on)\n          IS DISTINCT FROM (NEW.region_code, NEW.status, NEW.case_type, NEW.risk_types, NEW.identified_on, NEW.first_clue_on, NEW.eliminated_on) THEN\n        PERFORM monitoring_case_counts_change(OLD, NEW);\n    END IF;\n    RETURN NULL;\nEND $$",
    '\nCREATE TRIGGER monitoring_cases_count AFTER INSERT OR UPDATE OR DELETE ON monitoring_cases\nFOR EACH ROW EXECUTE FUNCTION monitoring_cases_count()',
    '\nCREATE FUNCTION monitoring_case_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    DELETE FROM monitoring_case_counts;\n    RETURN NULL;\nEND $$',
    '\nCREATE TRIGGER monitoring_cases_truncated AFTER TRUNCATE ON monitoring_cases\nFOR EACH STATEMENT EXECUTE FUNCTION monitoring_case_counts_clear()',
]
DROP_SQL = [
    'DROP TRIGGER IF EXISTS monitoring_cases_truncated ON monitoring_cases',
    'DROP TRIGGER IF EXISTS monitoring_cases_count ON monitoring_cases',
    'DROP FUNCTION IF EXISTS monitoring_case_counts_clear()',
    'DROP FUNCTION IF EXISTS monitoring_cases_count()',
    'DROP FUNCTION IF EXISTS monitoring_case_counts_change(monitoring_cases, monitoring_cases)',
]
REBUILD_SQL = [
    'DELETE FROM monitoring_case_counts',
    "INSERT INTO monitoring_case_counts (region_code, dimension, value, year, n, days) \nSELECT r.region_code, x.dimension, x.value, x.year, count(*) AS n, sum(x.days) AS days\nFROM monitoring_cases AS r, LATERAL (\n    SELECT 'status'::text AS dimension, r.status::text AS value, 0 AS year, 0 AS days\n    UNION ALL SELECT 'open_type', r.case_type, 0, 0 WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'open_risk', risk, 0, 0 FROM unnest(r.risk_types) AS risk WHERE r.status NOT IN ('eliminated', 'rejected', 'terminated')\n    UNION ALL SELECT 'identified', '', extract(year FROM r.identified_on)::int, r.identified_on - r.first_clue_on\n              WHERE r.identified_on IS NOT NULL\n    UNION ALL SELECT 'eliminated', '', extract(year FROM r.eliminated_on)::int, 0 WHERE r.eliminated_on IS NOT NULL\n) AS x\nGROUP BY r.region_code, x.dimension, x.value, x.year\n",
]


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('monitoring_case_counts',
    sa.Column('region_code', sa.String(length=12, collation='C'), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('days', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('region_code', 'dimension', 'value', 'year', name=op.f('pk_monitoring_case_counts'))
    )
    # ### end Alembic commands ###
    for sql in CREATE_SQL + REBUILD_SQL:
        op.execute(sql)


def downgrade() -> None:
    for sql in DROP_SQL:
        op.execute(sql)
    op.drop_table('monitoring_case_counts')
    # ### end Alembic commands ###
