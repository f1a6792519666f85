"""Raw SQL of the township reports: one statement per report, one row per township under
the bounds (``scope.region_sql``, run through ``scoped_text``). Every figure is counted from
days stored once (identified, eliminated, closed, visited, found, cleared …) so that a past
period reads the same later; the two exceptions are written beside them (docs/reports.md)."""

from __future__ import annotations

from services.core.scope import region_sql

_TOWNSHIP = "left({alias}.region_code, 9) || '000'"


def _t(alias: str) -> str:
    return _TOWNSHIP.format(alias=alias)


# :first, :cut (dates), :cut_end (the instant the cut-off day ends, China time).
MONTHLY = f"""
WITH towns AS (
    SELECT r.code AS township, r.name FROM regions r
    WHERE r.level = 4 AND ({region_sql("r", "code")}
        -- a village's report: its township's row, counting the village alone
        OR (length(CAST(:region_lo AS text)) > 9 AND r.code = left(CAST(:region_lo AS text), 9) || '000'))
), cases AS (
    SELECT {_t("c")} AS township,
           count(DISTINCT c.household_id) FILTER (
               WHERE c.identified_on <= CAST(:cut AS date)
                 AND (c.closed_on IS NULL OR c.closed_on > CAST(:cut AS date))) AS households_monitored,
           count(*) FILTER (WHERE c.identified_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS identified,
           count(*) FILTER (WHERE c.eliminated_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS eliminated,
           count(*) FILTER (WHERE c.opened_on <= CAST(:cut AS date)
                              AND (c.closed_on IS NULL OR c.closed_on > CAST(:cut AS date))) AS open_cases,
           -- The one figure read from the current deadline (not kept per day): frozen by
           -- the stored report (docs/reports.md).
           count(*) FILTER (WHERE c.opened_on <= CAST(:cut AS date)
                              AND (c.closed_on IS NULL OR c.closed_on > CAST(:cut AS date))
                              AND c.next_deadline < CAST(:cut AS date)) AS overdue_cases
    FROM monitoring_cases c
    WHERE {region_sql("c")} AND c.opened_on <= CAST(:cut AS date)
    GROUP BY 1
), persons AS (
    SELECT {_t("m")} AS township, count(DISTINCT m.person_id) AS persons_monitored
    FROM memberships m
    WHERE {region_sql("m")} AND m.started_at < CAST(:cut_end AS timestamptz)
      AND (m.ended_at IS NULL OR m.ended_at >= CAST(:cut_end AS timestamptz))
      AND EXISTS (SELECT 1 FROM monitoring_cases c
                  WHERE c.household_id = m.household_id AND c.identified_on <= CAST(:cut AS date)
                    AND (c.closed_on IS NULL OR c.closed_on > CAST(:cut AS date)))
    GROUP BY 1
), visits AS (
    SELECT {_t("v")} AS township, count(*) AS case_visits
    FROM case_visits v
    WHERE {region_sql("v")} AND v.visited_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)
    GROUP BY 1
), missed AS (
    SELECT {_t("b")} AS township, count(*) AS visits_missed
    FROM case_visit_breaches b
    WHERE {region_sql("b")} AND b.month = CAST(:first AS date)
    GROUP BY 1
), followups AS (
    SELECT {_t("f")} AS township, count(*) AS followup_visits
    FROM followup_visits f
    WHERE {region_sql("f")} AND f.visited_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)
    GROUP BY 1
), campaign AS (
    SELECT {_t("w")} AS township, count(DISTINCT w.household_id) AS campaign_households
    FROM field_campaign_visits w
    WHERE {region_sql("w")} AND w.visited_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)
    GROUP BY 1
), clearing AS (
    SELECT {_t("e")} AS township,
           count(*) FILTER (WHERE e.opened_on >= CAST(:first AS date)) AS clearing_opened,
           count(*) FILTER (WHERE e.closed_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS clearing_cleared,
           count(*) FILTER (WHERE (e.closed_on IS NULL OR e.closed_on > CAST(:cut AS date))
                              AND e.deadline < CAST(:cut AS date)) AS clearing_overdue
    FROM clearing_entries e
    WHERE {region_sql("e")} AND e.opened_on <= CAST(:cut AS date)
      AND (e.closed_on IS NULL OR e.closed_on >= CAST(:first AS date))
    GROUP BY 1
), rect AS (
    SELECT {_t("p")} AS township,
           count(*) FILTER (WHERE p.closed_on IS NULL OR p.closed_on > CAST(:cut AS date)) AS rectifications_open,
           count(*) FILTER (WHERE (p.closed_on IS NULL OR p.closed_on > CAST(:cut AS date))
                              AND p.deadline < CAST(:cut AS date)) AS rectifications_overdue
    FROM rectifications p
    WHERE {region_sql("p")} AND p.found_on <= CAST(:cut AS date)
      AND (p.closed_on IS NULL OR p.closed_on > CAST(:cut AS date))
    GROUP BY 1
)
SELECT t.township, t.name,
       coalesce(c.households_monitored, 0) AS households_monitored,
       coalesce(p.persons_monitored, 0) AS persons_monitored,
       coalesce(c.identified, 0) AS identified,
       coalesce(c.eliminated, 0) AS eliminated,
       coalesce(c.open_cases, 0) AS open_cases,
       coalesce(c.overdue_cases, 0) AS overdue_cases,
       coalesce(v.case_visits, 0) AS case_visits,
       coalesce(b.visits_missed, 0) AS visits_missed,
       coalesce(f.followup_visits, 0) AS followup_visits,
       coalesce(w.campaign_households, 0) AS campaign_households,
       coalesce(e.clearing_opened, 0) AS clearing_opened,
       coalesce(e.clearing_cleared, 0) AS clearing_cleared,
       coalesce(e.clearing_overdue, 0) AS clearing_overdue,
       coalesce(r.rectifications_open, 0) AS rectifications_open,
       coalesce(r.rectifications_overdue, 0) AS rectifications_overdue
FROM towns t
LEFT JOIN cases c ON c.township = t.township
LEFT JOIN persons p ON p.township = t.township
LEFT JOIN visits v ON v.township = t.township
LEFT JOIN missed b ON b.township = t.township
LEFT JOIN followups f ON f.township = t.township
LEFT JOIN campaign w ON w.township = t.township
LEFT JOIN clearing e ON e.township = t.township
LEFT JOIN rect r ON r.township = t.township
ORDER BY t.township
"""

# :first, :cut (the quarter's first and last day, or the cut-off), :year, :quarter, :upto
# (the quarter's index for income_rolling), :towns / :watch (each township's watch line).
QUARTERLY = f"""
WITH towns AS (
    SELECT r.code AS township, r.name FROM regions r
    WHERE r.level = 4 AND ({region_sql("r", "code")}
        -- a village's report: its township's row, counting the village alone
        OR (length(CAST(:region_lo AS text)) > 9 AND r.code = left(CAST(:region_lo AS text), 9) || '000'))
), watch AS (
    SELECT * FROM unnest(CAST(:towns AS text[]), CAST(:watch AS numeric[])) AS w(township, line)
), income AS (
    SELECT {_t("h")} AS township,
           count(*) AS income_households,
           count(*) FILTER (WHERE q.household_id IS NOT NULL) AS income_entered,
           count(*) FILTER (WHERE q.household_id IS NULL) AS income_missing,
           count(*) FILTER (WHERE ir.quarters = 4 AND ir.per_capita_net < wl.line) AS income_below_watch
    FROM households h
    LEFT JOIN income_records q ON q.household_id = h.id AND q.year = CAST(:year AS int)
                                AND q.quarter = CAST(:quarter AS int)
    LEFT JOIN watch wl ON wl.township = {_t("h")}
    LEFT JOIN LATERAL income_rolling(h.id, CAST(:upto AS int)) ir ON true
    WHERE {region_sql("h")} AND h.status = 'active' AND h.category IN ('lifted_out', 'monitored')
    GROUP BY 1
), cases AS (
    SELECT {_t("c")} AS township,
           count(*) FILTER (WHERE c.identified_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS identified,
           count(*) FILTER (WHERE c.eliminated_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)) AS eliminated,
           count(*) FILTER (WHERE c.closed_on BETWEEN CAST(:first AS date) AND CAST(:cut AS date)
                              AND c.eliminated_on IS NULL) AS ended_otherwise,
           count(*) FILTER (WHERE c.closed_on IS NULL OR c.closed_on > CAST(:cut AS date)) AS open_cases
    FROM monitoring_cases c
    WHERE {region_sql("c")} AND c.opened_on <= CAST(:cut AS date)
    GROUP BY 1
)
SELECT t.township, t.name,
       coalesce(i.income_households, 0) AS income_households,
       coalesce(i.income_entered, 0) AS income_entered,
       coalesce(i.income_missing, 0) AS income_missing,
       coalesce(i.income_below_watch, 0) AS income_below_watch,
       coalesce(c.identified, 0) AS identified,
       coalesce(c.eliminated, 0) AS eliminated,
       coalesce(c.ended_otherwise, 0) AS ended_otherwise,
       coalesce(c.open_cases, 0) AS open_cases
FROM towns t
LEFT JOIN income i ON i.township = t.township
LEFT JOIN cases c ON c.township = t.township
ORDER BY t.township
"""
