"""The audit trail's raw SQL, in one place: the chained insert, the chain check's cursor, the
purge and the reveal rate. ``audit_log`` has a ``region_code`` but is no ``RegionScoped``
table: these statements serve system work over the whole chain (insert, verify, purge) or
one actor's own rows, never a region's, so they carry no region bounds; the auditors' reads
go through ``service._visible_to`` instead.
"""

from __future__ import annotations

from sqlalchemy import text

# Many events in one statement whose SQL never changes: the rows travel as one JSON array
# (a multi-row VALUES would be compiled anew for every batch size), typed by the table's
# own row type. The ordinality keeps the given order, which the trigger chains them in.
_NAMES = ", ".join(
    f"r.{name}"
    for name in (
        "actor",
        "actor_name",
        "client",
        "role",
        "action",
        "object_type",
        "object_id",
        "region_code",
        "result",
        "status",
        "request_id",
        "ip",
        "before",
        "after",
        "detail",
    )
)
# A row's time is the transaction's (``now()``, as the column's default would give) unless
# the event brings its own: a sensitive read buffered before it is written carries the
# moment of the read (``services.api.auditing.record_sensitive_read``).
INSERT_ROWS = text(
    f"INSERT INTO audit_log (at, {_NAMES.replace('r.', '')}) "
    f"SELECT coalesce(r.at, now()), {_NAMES} FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS e(doc, n) "
    "CROSS JOIN LATERAL jsonb_populate_record(NULL::audit_log, e.doc) AS r ORDER BY e.n "
    "RETURNING id, hash"
)
# A batch of the read buffer, on a plain driver connection (``Database.fetch_rows``): the
# rows are written only when the batch's token ($2) is new, in the same statement, so a
# batch sent again after its commit's answer was lost writes nothing the second time.
INSERT_BATCH_SQL = (
    "WITH claimed AS (INSERT INTO audit_batches (token) VALUES ($2) ON CONFLICT DO NOTHING RETURNING token) "
    + INSERT_ROWS.text.replace(":rows", "$1").replace("CROSS JOIN LATERAL", "CROSS JOIN claimed CROSS JOIN LATERAL")
)
# Tokens are needed only while their batch may be retried.
PURGE_BATCHES_SQL = "DELETE FROM audit_batches WHERE written_at < now() - interval '1 day' RETURNING 1"

# ---- reveals of complete ID numbers -------------------------------------------------------

# One actor's reveals one after the other (held to the end of the transaction).
REVEAL_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

# The ``limit``-th most recent reveal of the actor inside the window: while there is one,
# the actor has revealed ``limit`` numbers in it, and may again once it ages out.
NTH_REVEAL = text(
    "SELECT ceil(extract(epoch FROM (at + :window - now())))::int AS wait FROM audit_log "
    "WHERE action = :action AND actor = :actor AND result = 'success' "
    "AND at > now() - :window ORDER BY at DESC OFFSET :offset LIMIT 1"
)

# ---- the chain check ----------------------------------------------------------------------

LATEST_PURGE = text("SELECT id, detail FROM audit_log WHERE action = :action ORDER BY id DESC LIMIT 1")

# A cursor of our own rather than the driver's: constant memory, and closed explicitly so
# the transaction can go on (the driver keeps its portal open to the end).
DECLARE_VERIFY = text(
    "DECLARE guardline_audit_verify NO SCROLL CURSOR FOR "
    "SELECT id, prev_hash, hash, audit_canonical(a) AS canonical FROM audit_log a ORDER BY id"
)


def fetch_verify(batch: int):
    """The next ``batch`` rows of the chain check's cursor."""
    return text(f"FETCH {batch} FROM guardline_audit_verify")


CLOSE_VERIFY = text("CLOSE guardline_audit_verify")
READ_ONLY = text("SET TRANSACTION READ ONLY")

# ---- retention ----------------------------------------------------------------------------

PURGE_CUTOFF = text("SELECT now(), now() - make_interval(days => :days)")
FIRST_ID = text("SELECT min(id) FROM audit_log")
LAST_ID = text("SELECT max(id) FROM audit_log")
# Walks the primary key from the oldest row: reads about as many rows as it will delete.
FIRST_YOUNG = text("SELECT id FROM audit_log WHERE at >= :cutoff ORDER BY id LIMIT 1")
HASH_OF = text("SELECT hash FROM audit_log WHERE id = :id")
# The database refuses any delete outside a session marked as the purge.
PURGE_ON = text("SELECT set_config('guardline.audit_purge', 'on', true)")
PURGE_OFF = text("SELECT set_config('guardline.audit_purge', 'off', true)")
DELETE_RANGE = text("DELETE FROM audit_log WHERE id BETWEEN :first AND :last")
