"""The raw SQL of a source's reconciliation (``reconcile``), the registry check
(``registry_check``) and the rosters' upkeep, in one place. The rules' own SELECTs stay
beside their rules (``rules``: a rule module is its query); what runs them is here.

Statements are strings: templates (``{columns}``, ``{rule}``, ``{final}``) are filled in
by the caller, and ``reconcile._run`` passes each statement just the parameters it names.
SQL over the registry's regional rows of a county carries ``scope.region_sql``'s bounds
and runs through ``scope.scoped_text`` (``COUNTIES``, the rules with ``Rule.scoped``).
Matching a department's records to the registry (``CREATE_REC``) is by ID number over the
whole registry, not by region: the county is the department's, the person may live in
another; the findings' own tables (``sync_findings``, ``sync_runs``, the temporary tables)
are not ``RegionScoped``.
"""

from __future__ import annotations

from services.core.scope import region_sql

# ---- a source's reconciliation ------------------------------------------------------------

CREATE_REC = """
CREATE TEMP TABLE sync_rec ON COMMIT DROP AS
SELECT {columns}
FROM dept_records r
LEFT JOIN persons p ON p.id_hash = r.id_hash
LEFT JOIN households h ON h.id = p.household_id
LEFT JOIN (SELECT DISTINCT household_id FROM monitoring_cases WHERE status NOT IN ({final})) oc
       ON oc.household_id = h.id
WHERE r.source = :source AND r.county = :county"""

CREATE_CAND = """
CREATE TEMP TABLE sync_cand (
    fingerprint text PRIMARY KEY,
    rule_id text NOT NULL,
    severity text NOT NULL,
    health boolean NOT NULL,
    person_id bigint,
    household_id bigint,
    region_code text NOT NULL,
    records jsonb NOT NULL,
    detail jsonb NOT NULL
) ON COMMIT DROP"""

ADD_CANDIDATES = """
INSERT INTO sync_cand
SELECT CAST(:prefix AS text) || q.subject, CAST(:rule_id AS text), CAST(:severity AS text), CAST(:health AS boolean),
       q.person_id, q.household_id, coalesce(q.region_code, CAST(:county_region AS text)), q.records, q.detail
FROM ({rule}) q"""

# Candidates that are new or were resolved: after the merge they are the opened ones.
CREATE_FRESH = """
CREATE TEMP TABLE sync_fresh ON COMMIT DROP AS
SELECT c.fingerprint
FROM sync_cand c
LEFT JOIN sync_findings f ON f.fingerprint = c.fingerprint
WHERE f.id IS NULL OR f.status = 'resolved'"""

MERGE = """
INSERT INTO sync_findings AS f (
    fingerprint, rule_id, severity, source, county, region_code, person_id, household_id, records, "values", health,
    status, first_seen_at, last_seen_at, first_run_id, last_run_id, version, created_at, updated_at)
SELECT fingerprint, rule_id, severity, CAST(:source AS text), CAST(:county AS text), region_code, person_id,
       household_id, records, detail, health, 'open', CAST(:at AS timestamptz), CAST(:at AS timestamptz),
       CAST(:run_id AS bigint), CAST(:run_id AS bigint), 1, CAST(:at AS timestamptz), CAST(:at AS timestamptz)
FROM sync_cand
ON CONFLICT (fingerprint) DO UPDATE SET
    severity = EXCLUDED.severity, region_code = EXCLUDED.region_code, person_id = EXCLUDED.person_id,
    household_id = EXCLUDED.household_id, records = EXCLUDED.records, "values" = EXCLUDED."values",
    health = EXCLUDED.health, last_seen_at = EXCLUDED.last_seen_at, last_run_id = EXCLUDED.last_run_id,
    status = CASE WHEN f.status = 'resolved' THEN 'open' ELSE f.status END,
    resolved_at = CASE WHEN f.status = 'resolved' THEN NULL ELSE f.resolved_at END,
    resolved_by = CASE WHEN f.status = 'resolved' THEN NULL ELSE f.resolved_by END,
    note = CASE WHEN f.status = 'resolved' AND f.note = CAST(:resolved_note AS text) THEN NULL ELSE f.note END,
    version = f.version + 1, updated_at = EXCLUDED.updated_at"""

RESOLVE = """
UPDATE sync_findings f
SET status = 'resolved', resolved_at = CAST(:at AS timestamptz), resolved_by = NULL,
    note = CAST(:resolved_note AS text), version = f.version + 1, updated_at = CAST(:at AS timestamptz)
WHERE f.source = CAST(:source AS text) AND f.county = CAST(:county AS text) AND f.rule_id = ANY(CAST(:rule_ids AS text[]))
  AND f.status <> 'resolved'
  AND NOT EXISTS (SELECT 1 FROM sync_cand c WHERE c.fingerprint = f.fingerprint)"""

# A finding opened again by this run (in ``sync_fresh`` and holding a clue) lets go of a
# clue that was dismissed or became a case that has ended (eliminated, rejected,
# terminated): the condition is back, and the next ``raise_clues`` raises a new clue, under
# the next round's reference. A clue still open, or a case still running, is kept: the
# report would only merge into what the cadres are already handling. A finding that stayed
# open is not in ``sync_fresh``: a dismissal holds until the condition really goes away and
# comes back (a cadre is not asked again every run). The earlier clue stays findable by its
# report's reference (``clue_ref`` of the fingerprint and the round it was raised in).
LET_GO_OF_ENDED_CLUES = """
UPDATE sync_findings f
SET clue_id = NULL, clue_round = f.clue_round + 1
FROM sync_fresh s, risk_clues c
LEFT JOIN monitoring_cases m ON m.id = c.case_id
WHERE f.fingerprint = s.fingerprint AND c.id = f.clue_id
  AND (c.status = 'dismissed' OR (c.status = 'converted' AND m.status IN ({final})))"""

# Open risk findings of a source and county that have no clue yet, in households still in
# the registry: what ``raise_clues`` works through, a batch at a time.
CLUES_TODO = """
SELECT f.id, f.fingerprint, f.rule_id, f.household_id, f."values" AS detail, f.clue_round
FROM sync_findings f
JOIN households h ON h.id = f.household_id AND h.status = 'active'
WHERE f.source = CAST(:source AS text) AND f.county = CAST(:county AS text) AND f.status = 'open'
  AND f.clue_id IS NULL AND f.rule_id = ANY(CAST(:risk_ids AS text[])) AND f.id > CAST(:after AS bigint)
ORDER BY f.id
LIMIT CAST(:limit AS int)"""

# The region of findings about no one in the registry: the first of these codes that exists.
REGION_CODES = "SELECT code FROM regions WHERE code = ANY(:codes)"
NOW = "SELECT clock_timestamp()"
# A second reconciliation in one transaction (tests, a CLI batch) starts afresh.
DROP_WORK_TABLES = "DROP TABLE IF EXISTS sync_rec, sync_cand, sync_fresh"
# Temporary tables get no statistics unless asked (autovacuum never sees them).
ANALYZE_REC = "ANALYZE sync_rec"
ANALYZE_CAND = "ANALYZE sync_cand"
MATCH_COUNTS = "SELECT count(person_id), count(*) - count(person_id) FROM sync_rec"
COUNT_FRESH = "SELECT count(*) FROM sync_fresh"
STILL_OPEN = (
    "SELECT count(*) FROM sync_findings WHERE source = CAST(:source AS text) "
    "AND county = CAST(:county AS text) AND status <> 'resolved'"
)
# Each finding of a batch gets its clue's id (``raise_clues``).
LINK_CLUES = (
    "UPDATE sync_findings f SET clue_id = v.clue_id, version = f.version + 1 "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:clue_ids AS bigint[])) AS v(id, clue_id) "
    # f.id = ANY: an index scan of the batch's findings, not a hash of all the county's.
    "WHERE f.id = v.id AND f.id = ANY(CAST(:ids AS bigint[])) AND f.clue_id IS DISTINCT FROM v.clue_id"
)

# ---- the registry check -------------------------------------------------------------------

DROP_CHECK_TABLES = "DROP TABLE IF EXISTS sync_cand, sync_fresh"
# Serialises the daily checks of one county (``registry_check.LOCK_SPACE``, the county's number).
CHECK_LOCK = "SELECT pg_advisory_xact_lock(:space, :county)"

# A scheduled check of the county that succeeded since ``since`` (the start of today, China time).
CHECKED_SINCE = """
SELECT EXISTS (
    SELECT 1 FROM sync_runs
    WHERE source = :source AND county = :county AND trigger = 'schedule' AND status = 'succeeded'
      AND created_at >= :since)"""

# Counties with households in the registry (the worker checks each once a day), within the
# session's scope (the worker's is every region).
COUNTIES = (
    "SELECT DISTINCT left(region_code, 6) AS county FROM households "
    f"WHERE status = 'active' AND {region_sql()} ORDER BY 1"
)

# ---- rosters --------------------------------------------------------------------------------

# Entries of rosters that no longer count: runs that failed, and rosters replaced by a newer
# one of the same region and period that succeeded refusing nothing (trusted under any
# policy). Rosters still running stay. (asyncpg: run by the worker when a run succeeds.)
PRUNE_ROSTERS = """
DELETE FROM sync_roster_entries e
USING sync_runs r
WHERE e.run_id = r.id AND r.source = $1 AND r.county = $2
  AND (r.status = 'failed'
       OR (r.status = 'succeeded' AND EXISTS (
            SELECT 1 FROM sync_runs n
            WHERE n.source = r.source AND n.county = r.county AND n.status = 'succeeded' AND n.id > r.id
              AND coalesce(n.roster_rejected, 0) = 0
              AND n.roster_region = r.roster_region AND n.roster_period = r.roster_period)))"""


# ---- /metrics: region-independent totals of the department sync, as the workers left them
# (the API's /metrics endpoint; run on an unrestricted read session, no row leaves).
METRICS_RUNS = (
    "SELECT source, status::text, count(*), coalesce(sum(fetched), 0), coalesce(sum(staged), 0), "
    "coalesce(sum(quarantined), 0) FROM sync_runs GROUP BY 1, 2"
)
METRICS_QUARANTINE = "SELECT source, count(*) FROM sync_quarantine WHERE status = 'open' GROUP BY 1"
METRICS_FINDINGS = (
    "SELECT rule_id, severity::text, status::text, count(*) FROM sync_findings "
    "WHERE status <> 'resolved' GROUP BY 1, 2, 3"
)
METRICS_SOURCES = (
    "SELECT source, consecutive_failures, extract(epoch FROM last_success_at), "
    "coalesce(open_until > now(), false) FROM sync_source_states"
)
