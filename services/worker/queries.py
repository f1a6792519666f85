"""The worker's raw SQL, in one place: the run queue's locks and candidates, the sources'
circuit breakers, staging a page, cursors, the quarantine's re-processing and the status
report. Every statement is over the worker's own tables (``sync_runs``, ``sync_cursors``,
``sync_source_states``, ``dept_records``, ``sync_quarantine``, ``sync_roster_entries``),
none of which is ``RegionScoped``: they stay plain SQL (no region bounds; a department's
records are of a county, not of a region code). Changes of a run's row are not here but in
``services.core.sync.runs``, the one module that writes ``sync_runs``.

Most statements are for asyncpg (``$n`` parameters, the worker's pool and lock
connections); those run on an SQLAlchemy session are ``text()`` (``:name`` parameters).
"""

from __future__ import annotations

from sqlalchemy import text

# ---- the queue (``queue``) ----------------------------------------------------------------

CANDIDATES = """
SELECT r.id FROM sync_runs r
WHERE r.status IN ('queued', 'running') AND r.not_before <= now()
  AND r.source = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM sync_source_states s WHERE s.source = r.source AND s.open_until > now())
ORDER BY r.not_before, r.id
FOR UPDATE OF r SKIP LOCKED
LIMIT 16
"""
CANDIDATE = "SELECT id FROM sync_runs WHERE id = $1 AND status IN ('queued', 'running') FOR UPDATE SKIP LOCKED"
IS_IMPORT = "SELECT trigger = 'spreadsheet' FROM sync_runs WHERE id = $1"
# The active import of a source and county, unless a live process holds it.
ACTIVE_IMPORT = (
    "SELECT id FROM sync_runs WHERE source = $1 AND county = $2 AND status IN ('queued', 'running') "
    "AND trigger = 'spreadsheet' FOR UPDATE SKIP LOCKED"
)
# A run's advisory lock (two keys: the namespace, the run id), session-level.
LOCK = "SELECT pg_advisory_lock($1, $2::int)"
TRY_LOCK = "SELECT pg_try_advisory_lock($1, $2::int)"
UNLOCK = "SELECT pg_advisory_unlock($1, $2::int)"
# The scheduler's lock (transaction-level): two workers queue a due run once.
SCHEDULE_LOCK = text("SELECT pg_advisory_xact_lock(:space, 0)")
RECENT_RUN = text(
    "SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source = :source AND county = :county "
    "AND (status IN ('queued', 'running') OR created_at > now() - make_interval(hours => :hours)))"
)
ACTIVE_COUNT = "SELECT count(*) FROM sync_runs WHERE source = $1 AND county = $2 AND status IN ('queued', 'running')"
FORGET_MARK = """
DELETE FROM sync_cursors c
WHERE c.source = $1 AND c.county = $2
  AND NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.source = $1 AND r.county = $2 AND r.status IN ('queued', 'running'))
"""
RETRIES_TODAY = text(
    "SELECT count(*) FROM sync_runs WHERE source = :source AND county = :county AND trigger = 'retry' "
    "AND created_at > now() - interval '1 day'"
)

# ---- the sources' circuit breakers --------------------------------------------------------

SOURCE_FAILED = text(
    "INSERT INTO sync_source_states AS s (source, consecutive_failures, last_failure_at, last_error) "
    "VALUES (:source, 1, now(), :error) ON CONFLICT (source) DO UPDATE "
    "SET consecutive_failures = s.consecutive_failures + 1, last_failure_at = now(), last_error = :error"
)
OPEN_BREAKER = text(
    "UPDATE sync_source_states SET open_until = now() + make_interval(secs => :cooldown) "
    "WHERE source = :source AND consecutive_failures >= :threshold"
)
SOURCE_SUCCEEDED = (
    "INSERT INTO sync_source_states AS s (source, consecutive_failures, last_success_at) VALUES ($1, 0, now()) "
    "ON CONFLICT (source) DO UPDATE SET consecutive_failures = 0, open_until = NULL, last_success_at = now()"
)

# ---- carrying out a run (``runner``) ------------------------------------------------------

RUN_ROW = "SELECT * FROM sync_runs WHERE id = $1"
CURSOR_OF = "SELECT position, run_id, complete FROM sync_cursors WHERE source = $1 AND county = $2"
START_CURSOR = (
    "INSERT INTO sync_cursors (source, county, position, run_id, complete, updated_at) "
    "VALUES ($1, $2, $3::jsonb, $4, false, now()) ON CONFLICT (source, county) DO UPDATE "
    "SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, complete = false, updated_at = now()"
)
IS_ROSTER = "SELECT roster_region IS NOT NULL FROM sync_runs WHERE id = $1"
ROSTER_ENTRIES = (
    "INSERT INTO sync_roster_entries (run_id, external_key) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING"
)
QUARANTINE_BATCH = (
    "SELECT id, raw_enc FROM sync_quarantine WHERE source = $1 AND county = $2 AND status = 'open' "
    "AND id > $3 ORDER BY id LIMIT $4"
)
REPROCESSED = (
    "UPDATE sync_quarantine SET status = 'reprocessed', resolved_at = now(), "
    "last_run_id = $2 WHERE id = ANY($1::bigint[])"
)

# ---- the worker's process (``worker``) ----------------------------------------------------

MIGRATED = text("SELECT to_regclass('sync_runs') IS NOT NULL")
LAST_RUNS = (
    "SELECT DISTINCT ON (county) id, county, status, phase, error_code, fetched, staged, quarantined, "
    "findings_open, roster_period, roster_region, roster_records, roster_rejected "
    "FROM sync_runs WHERE source = $1 ORDER BY county, id DESC"
)
LAST_CHECKS = (
    "SELECT DISTINCT ON (county) id, county, trigger, status, finished_at, findings_open FROM sync_runs "
    "WHERE source = 'registry' ORDER BY county, id DESC"
)
SCHEMA_VERSION = "SELECT version_num FROM alembic_version"

# ---- staging a page (``staging``) --------------------------------------------------------

# A page's changed records (``staging._store``), COPYed in the binary format the preparing
# processes wrote (``RECORD_COLUMNS``, in that order and of these types).
STAGE_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS stage_records (
    id_hash bytea, raw_hash bytea, birth_date date, id_masked text, external_key text, record_type text,
    name text, data jsonb, raw_enc bytea
) ON COMMIT DELETE ROWS
"""

# A record whose payload hash is unchanged is not written at all (the WHERE of DO UPDATE).
# A page's keys are unique by then (the last of a key within a page wins).
UPSERT = """
INSERT INTO dept_records AS d (source, external_key, county, record_type, id_hash, id_masked, name, birth_date,
                               data, raw_enc, raw_hash, first_run_id, changed_run_id, changed_at)
SELECT $1, external_key, $2, record_type, id_hash, id_masked, name, birth_date, data, raw_enc, raw_hash, $3, $3, now()
FROM stage_records
ON CONFLICT (source, external_key) DO UPDATE
SET county = EXCLUDED.county, record_type = EXCLUDED.record_type, id_hash = EXCLUDED.id_hash,
    id_masked = EXCLUDED.id_masked, name = EXCLUDED.name, birth_date = EXCLUDED.birth_date, data = EXCLUDED.data,
    raw_enc = EXCLUDED.raw_enc, raw_hash = EXCLUDED.raw_hash, changed_run_id = EXCLUDED.changed_run_id,
    changed_at = now()
WHERE d.raw_hash <> EXCLUDED.raw_hash
"""

# Re-processing knows no location: the row a record came from stays as it was.
QUARANTINE = """
INSERT INTO sync_quarantine AS q (source, county, first_run_id, last_run_id, external_key, reason, field, detail,
                                  location, raw_enc, raw_hash, id_masked, status)
SELECT $1, $2, $3, $3, k, r, f, d, l, e, h, m, 'open'
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::text[])
     AS t(k, r, f, d, l, e, h, m)
ON CONFLICT (source, raw_hash) DO UPDATE
SET last_run_id = EXCLUDED.last_run_id, last_seen_at = now(), reason = EXCLUDED.reason, field = EXCLUDED.field,
    detail = EXCLUDED.detail, location = coalesce(EXCLUDED.location, q.location),
    id_masked = EXCLUDED.id_masked
RETURNING (xmax = 0) AS new
"""

CURSOR = """
INSERT INTO sync_cursors (source, county, position, run_id, complete, updated_at)
VALUES ($1, $2, $3::jsonb, $4, $5, now())
ON CONFLICT (source, county) DO UPDATE
SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, complete = EXCLUDED.complete, updated_at = now()
"""

# The keys of a page the table holds: one index probe per key (a join on the unnested keys;
# ``= ANY`` of thousands of keys makes the planner scan every record of the source instead).
EXISTING = (
    "SELECT d.external_key, d.raw_hash FROM unnest($2::text[]) AS k(key) "
    "JOIN dept_records d ON d.source = $1 AND d.external_key = k.key"
)
# Whether the table holds any of a few keys of a page (a sample: see ``staging._store``).
ANY_KNOWN = (
    "SELECT EXISTS (SELECT FROM unnest($2::text[]) AS k(key) "
    "JOIN dept_records d ON d.source = $1 AND d.external_key = k.key)"
)
# The columns of a staged record, in the order its COPY row holds them (the fixed-size ones
# first: ``staging._row`` packs them at once); a new record's row starts with the page's
# own (``PAGE_COLUMNS``), a changed one's goes into ``stage_records`` as it is.
PAGE_COLUMNS = ("source", "county", "first_run_id", "changed_run_id")
RECORD_COLUMNS = (
    "id_hash",
    "raw_hash",
    "birth_date",
    "id_masked",
    "external_key",
    "record_type",
    "name",
    "data",
    "raw_enc",
)
DIRECT_COLUMNS = PAGE_COLUMNS + RECORD_COLUMNS
