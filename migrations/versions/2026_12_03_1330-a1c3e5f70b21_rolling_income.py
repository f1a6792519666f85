"""rolling income: income_rolling(household, upto), the one definition of per-capita net
income over the last twelve months (services/core/income/rolling.py)

Revision ID: a1c3e5f70b21
Revises: d4e36aed02c3
Create Date: 2026-12-03 13:30:00+08:00
"""
from __future__ import annotations

from alembic import op


revision = 'a1c3e5f70b21'
down_revision = 'd4e36aed02c3'
branch_labels = None
depends_on = None


# LANGUAGE sql, STABLE and a single SELECT: the planner inlines it into the query that calls it.
FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION income_rolling(p_household bigint, p_upto int)
RETURNS TABLE (quarters int, first_q int, last_q int, net_income numeric, member_count int, per_capita_net numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH latest AS (
        SELECT max(r.year * 4 + r.quarter - 1) AS q
        FROM income_records r
        WHERE r.household_id = p_household AND r.year * 4 + r.quarter - 1 <= p_upto
    ), win AS (
        SELECT count(*)::int AS quarters, l.q AS last_q, round(sum(r.net_income), 2) AS net_income,
               (array_agg(r.member_count ORDER BY r.year DESC, r.quarter DESC))[1]::int AS member_count
        FROM latest l
        JOIN income_records r ON r.household_id = p_household
                             AND r.year * 4 + r.quarter - 1 BETWEEN l.q - 3 AND l.q
        GROUP BY l.q
    )
    SELECT quarters, last_q - 3, last_q, net_income, member_count,
           round(net_income / nullif(member_count, 0), 2)
    FROM win
$$"""


def upgrade() -> None:
    op.execute(FUNCTION_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS income_rolling(bigint, int)")
