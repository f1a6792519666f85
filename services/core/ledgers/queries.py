"""Raw SQL of the ledgers: what opens clearing entries, and the monthly reports. Each
statement carries the region bounds of ``scope.region_sql`` (run through ``scoped_text``)."""

from __future__ import annotations

from services.core.scope import region_sql

# Items at risk under the bounds with no open entry yet, one per household and item: a
# department finding (it names the person and its records) before the household's status.
CLEARING_CANDIDATES = f"""
WITH rule_items AS (
    SELECT * FROM unnest(CAST(:rule_ids AS text[]), CAST(:rule_items AS text[]), CAST(:rule_texts AS text[]))
        AS m(rule_id, kind, explanation)
), found AS (
    SELECT f.household_id, f.person_id, m.kind, 'department' AS origin, f.id AS finding_id, h.region_code,
           m.explanation AS description, 0 AS preference
    FROM sync_findings f
    JOIN rule_items m ON m.rule_id = f.rule_id
    JOIN households h ON h.id = f.household_id
    WHERE {region_sql("f")} AND {region_sql("h")} AND f.status <> 'resolved' AND h.status = 'active'
      AND (CAST(:household_id AS bigint) IS NULL OR h.id = CAST(:household_id AS bigint))
    UNION ALL
    SELECT g.household_id, NULL, k.kind, 'guarantees', NULL, h.region_code,
           '“三保障”和饮水安全状况：' || k.label || '存在风险'
               || CASE WHEN k.kind = 'housing' AND g.housing_grade IS NOT NULL
                       THEN '（' || g.housing_grade || '级危房）' ELSE '' END
               || coalesce('。' || g.note, ''),
           1
    FROM household_guarantees g
    JOIN households h ON h.id = g.household_id
    CROSS JOIN LATERAL (VALUES ('education', g.education, '义务教育保障'), ('medical', g.medical, '基本医疗保障'),
                               ('housing', g.housing, '住房安全保障'), ('water', g.water, '饮水安全'))
        AS k(kind, status, label)
    WHERE {region_sql("g")} AND {region_sql("h")} AND k.status = 'at_risk' AND h.status = 'active'
      AND (CAST(:household_id AS bigint) IS NULL OR h.id = CAST(:household_id AS bigint))
)
SELECT DISTINCT ON (household_id, kind) household_id, person_id, kind, origin, finding_id, region_code, description
FROM found
WHERE NOT EXISTS (SELECT 1 FROM clearing_entries e
                  WHERE e.household_id = found.household_id AND e.kind = found.kind AND e.status = 'open')
ORDER BY household_id, kind, preference, finding_id
"""


def _monthly(table: str, found: str, closed: str, is_closed: str) -> str:
    # Counted as stored: found / closed days never change, so a past month reads the same
    # later; open and overdue are as they stood at the end of :cut.
    return f"""
SELECT t.township, r.name,
       count(*) FILTER (WHERE t.{found} >= CAST(:first AS date)) AS opened,
       count(*) FILTER (WHERE t.{closed} BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS cleared,
       count(*) FILTER (WHERE NOT t.done AND t.deadline < CAST(:cut AS date)) AS overdue,
       count(*) FILTER (WHERE NOT t.done) AS open
FROM (
    SELECT left(region_code, 9) || '000' AS township, {found}, {closed}, deadline,
           ({is_closed} AND {closed} <= CAST(:cut AS date)) AS done
    FROM {table}
    WHERE {region_sql()} AND {found} <= CAST(:cut AS date)
      AND ({closed} IS NULL OR {closed} >= CAST(:first AS date))
) t
LEFT JOIN regions r ON r.code = t.township
GROUP BY t.township, r.name
ORDER BY t.township
"""


MONTHLY = {
    "clearing_entries": _monthly("clearing_entries", "opened_on", "closed_on", "status = 'cleared'"),
    "rectifications": _monthly("rectifications", "found_on", "closed_on", "status = 'closed'"),
}
