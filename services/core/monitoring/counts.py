"""Running counts of monitoring cases per village, for statistics (table
``monitoring_case_counts``).

A county's statistics would otherwise group all its cases on every request (50,000 rows,
≈ 50 ms of database time). The counts are kept by a trigger on ``monitoring_cases`` in the
same transaction as each change, so they are exact, never stale: every insert, update of a
counted column, and delete takes the old row's contribution away and adds the new one's.
What depends on the day (overdue) is counted live from the deadline index instead.

Dimensions (``value`` and ``year`` as they apply):

* ``status``      — every case, by its current status;
* ``open_type``   — open cases by case type;
* ``open_risk``   — open cases by risk type (a case once per risk it carries);
* ``identified``  — cases by the year of identification; ``days`` sums the days from the
  first clue to identification;
* ``eliminated``  — cases by the year of elimination.
"""

from __future__ import annotations

from services.core.monitoring.enums import FINAL

_FINAL = ", ".join(f"'{s.value}'" for s in sorted(FINAL))

# The rows a case contributes (``r`` a monitoring_cases row, ``sign`` +1 or -1).
_CONTRIBUTION = f"""
    SELECT 'status'::text AS dimension, r.status::text AS value, 0 AS year, 0 AS days
    UNION ALL SELECT 'open_type', r.case_type, 0, 0 WHERE r.status NOT IN ({_FINAL})
    UNION ALL SELECT 'open_risk', risk, 0, 0 FROM unnest(r.risk_types) AS risk WHERE r.status NOT IN ({_FINAL})
    UNION ALL SELECT 'identified', '', extract(year FROM r.identified_on)::int, r.identified_on - r.first_clue_on
              WHERE r.identified_on IS NOT NULL
    UNION ALL SELECT 'eliminated', '', extract(year FROM r.eliminated_on)::int, 0 WHERE r.eliminated_on IS NOT NULL
"""

COUNTED_COLUMNS = (
    "region_code",
    "status",
    "case_type",
    "risk_types",
    "identified_on",
    "first_clue_on",
    "eliminated_on",
)

CREATE_SQL = [
    f"""
CREATE FUNCTION monitoring_case_counts_change(old_row monitoring_cases, new_row monitoring_cases)
RETURNS void LANGUAGE sql AS $$
    -- Both sides in one statement, in key order: concurrent changes lock counters in the
    -- same order, so they wait for each other instead of deadlocking.
    INSERT INTO monitoring_case_counts AS c (region_code, dimension, value, year, n, days)
    SELECT region_code, dimension, value, year, sum(sign), sum(sign * days)
    FROM (
        SELECT r.region_code, x.dimension, x.value, x.year, -1 AS sign, x.days
        FROM (SELECT old_row.*) AS r, LATERAL ({_CONTRIBUTION}) AS x WHERE NOT (old_row IS NULL)
        UNION ALL
        SELECT r.region_code, x.dimension, x.value, x.year, 1, x.days
        FROM (SELECT new_row.*) AS r, LATERAL ({_CONTRIBUTION}) AS x WHERE NOT (new_row IS NULL)
    ) AS d
    GROUP BY region_code, dimension, value, year
    HAVING sum(sign) <> 0 OR sum(sign * days) <> 0
    ORDER BY region_code, dimension, value, year
    ON CONFLICT (region_code, dimension, value, year)
    DO UPDATE SET n = c.n + excluded.n, days = c.days + excluded.days
$$""",
    f"""
CREATE FUNCTION monitoring_cases_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM monitoring_case_counts_change(NULL, NEW);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM monitoring_case_counts_change(OLD, NULL);
    ELSIF ({", ".join(f"OLD.{c}" for c in COUNTED_COLUMNS)})
          IS DISTINCT FROM ({", ".join(f"NEW.{c}" for c in COUNTED_COLUMNS)}) THEN
        PERFORM monitoring_case_counts_change(OLD, NEW);
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER monitoring_cases_count AFTER INSERT OR UPDATE OR DELETE ON monitoring_cases
FOR EACH ROW EXECUTE FUNCTION monitoring_cases_count()""",
    """
CREATE FUNCTION monitoring_case_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM monitoring_case_counts;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER monitoring_cases_truncated AFTER TRUNCATE ON monitoring_cases
FOR EACH STATEMENT EXECUTE FUNCTION monitoring_case_counts_clear()""",
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS monitoring_cases_truncated ON monitoring_cases",
    "DROP TRIGGER IF EXISTS monitoring_cases_count ON monitoring_cases",
    "DROP FUNCTION IF EXISTS monitoring_case_counts_clear()",
    "DROP FUNCTION IF EXISTS monitoring_cases_count()",
    "DROP FUNCTION IF EXISTS monitoring_case_counts_change(monitoring_cases, monitoring_cases)",
]

# The counts computed afresh from the cases (after a bulk load with the trigger off, and by
# the tests that check the trigger).
EXPECTED_SQL = f"""
SELECT r.region_code, x.dimension, x.value, x.year, count(*) AS n, sum(x.days) AS days
FROM monitoring_cases AS r, LATERAL ({_CONTRIBUTION}) AS x
GROUP BY r.region_code, x.dimension, x.value, x.year
"""

REBUILD_SQL = [
    "DELETE FROM monitoring_case_counts",
    f"INSERT INTO monitoring_case_counts (region_code, dimension, value, year, n, days) {EXPECTED_SQL}",
]
