"""Running totals of each project's money per fund year, level and kind (table
``fund_project_totals``), so the compliance indicators "as of today" sum a few thousand
totals instead of grouping every allocation and payment of the region on each request (for
a province 32,000 allocations and 200,000 payments, ≈ 200 ms of database time).

One row per (project's region, project, fund year, fund level, fund kind): the money
allocated, the money paid, of that the labour pay and the management fees, the number of
allocations and payments counted (a row whose count falls to zero is removed) and the
latest day of any of them (``last_on``: never lowered by a delete, so it may be later than
the latest row still counted — ``indicators.compute`` then merely takes the full
computation). The totals are not per day: the indicators of a past day are computed from
the rows themselves, and the totals are used only when no row counted is dated after the
day asked for.

Kept in the database, by triggers, in the same transaction as every write: the service's
allocations and payments, the import, the demo's and the benchmark's ``COPY`` loads and any
raw SQL all change the totals without knowing of them, so none can forget to. The triggers
on ``fund_allocations`` and ``fund_disbursements`` are per statement, with transition
tables: a ``COPY`` of 200,000 payments is added up in one grouped statement, not 200,000
upserts, so the loaders need no switch. A change of a fund's year, level or kind (not
possible through the API) moves its money between keys; a ``TRUNCATE`` rebuilds the totals
from what is left. Amounts are positive (CHECK), so a total is zero exactly when no row
counts towards it; the read takes zero as "none" (``nullif``), which keeps the sums' text
exactly as the full computation writes them (``0`` without rows, ``12.50`` with).
"""

from __future__ import annotations

KEY = "region_code, project_id, year, level, kind"
SUMS = ("allocated", "disbursed", "labour_pay", "management_fee", "entries")

# Each ``changes`` SELECT gives, per allocation or payment added (+) or taken away (-), its key,
# its signed contribution to each sum and its day (NULL when taken away).
_ALLOCATION = """
    SELECT r.region_code, r.project_id, f.year, f.level, f.kind, {sign} * r.amount AS allocated,
           0 AS disbursed, 0 AS labour_pay, 0 AS management_fee, {sign} AS entries, {day} AS on_day
    FROM {rows} AS r JOIN funds AS f ON f.id = r.fund_id"""
_DISBURSEMENT = """
    SELECT r.region_code, r.project_id, f.year, f.level, f.kind, 0 AS allocated, {sign} * r.amount AS disbursed,
           CASE WHEN r.item = 'labour_pay' THEN {sign} * r.amount ELSE 0 END AS labour_pay,
           CASE WHEN r.item = 'management_fee' THEN {sign} * r.amount ELSE 0 END AS management_fee,
           {sign} AS entries, {day} AS on_day
    FROM {rows} AS r JOIN funds AS f ON f.id = r.fund_id"""


def _added(template: str, rows: str, day: str) -> str:
    return template.format(sign="1", rows=rows, day=f"r.{day}")


def _removed(template: str, rows: str) -> str:
    return template.format(sign="-1", rows=rows, day="NULL::date")


def _upsert(changes: str) -> str:
    """Add ``changes`` to the totals: one grouped statement, in key order (concurrent
    writers lock totals in the same order, so they wait instead of deadlocking)."""
    sums = ", ".join(f"sum({s})" for s in SUMS)
    updates = ", ".join(f"{s} = t.{s} + excluded.{s}" for s in SUMS)
    return f"""
    INSERT INTO fund_project_totals AS t ({KEY}, {", ".join(SUMS)}, last_on)
    SELECT {KEY}, {sums}, max(on_day)
    FROM ({changes}) AS c
    GROUP BY {KEY}
    ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET {updates}, last_on = greatest(t.last_on, excluded.last_on)"""


def _prune(rows: str) -> str:
    """Remove the totals of ``rows``' projects that no row counts towards any more."""
    return f"""
    DELETE FROM fund_project_totals AS t USING (SELECT DISTINCT region_code, project_id FROM {rows}) AS k
    WHERE t.entries = 0 AND t.region_code = k.region_code AND t.project_id = k.project_id"""


def _statement_trigger(table: str, template: str, day: str) -> str:
    added, removed = _added(template, "new_rows", day), _removed(template, "old_rows")
    return f"""
CREATE FUNCTION {table}_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_upsert(added)};
    ELSIF TG_OP = 'DELETE' THEN
        {_upsert(removed)};
        {_prune("old_rows")};
    ELSE
        {_upsert(removed + " UNION ALL " + added)};
        {_prune("old_rows")};
    END IF;
    RETURN NULL;
END $$"""


def _triggers(table: str) -> list[str]:
    # A trigger with transition tables serves one event.
    out = []
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        out.append(f"""
CREATE TRIGGER {table}_total_{event.lower()} AFTER {event} ON {table}
REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {table}_total()""")
    out.append(f"""
CREATE TRIGGER {table}_total_truncate AFTER TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION fund_project_totals_rebuild()""")
    return out


# The totals computed afresh from the allocations and payments (the migration's backfill, a
# TRUNCATE, and the tests that check the triggers).
EXPECTED_SQL = f"""
SELECT {KEY}, {", ".join(f"sum({s}) AS {s}" for s in SUMS)}, max(on_day) AS last_on
FROM ({_added(_ALLOCATION, "fund_allocations", "allocated_on")}
      UNION ALL {_added(_DISBURSEMENT, "fund_disbursements", "paid_on")}) AS c
GROUP BY {KEY}
"""

REBUILD_SQL = [
    "DELETE FROM fund_project_totals",
    f"INSERT INTO fund_project_totals ({KEY}, {', '.join(SUMS)}, last_on) SELECT * FROM ({EXPECTED_SQL}) AS e",
]


def _moved(fund: str, sign: str, day: bool) -> str:
    """The contributions of the money of fund ``OLD``/``NEW`` (``fund``), for a change of its
    year, level or kind."""
    columns = f"r.region_code, r.project_id, {fund}.year, {fund}.level, {fund}.kind"
    return f"""
    SELECT {columns}, {sign} * r.amount AS allocated, 0 AS disbursed, 0 AS labour_pay, 0 AS management_fee,
           {sign} AS entries, {"r.allocated_on" if day else "NULL::date"} AS on_day
    FROM fund_allocations AS r WHERE r.fund_id = {fund}.id
    UNION ALL
    SELECT {columns}, 0, {sign} * r.amount,
           CASE WHEN r.item = 'labour_pay' THEN {sign} * r.amount ELSE 0 END,
           CASE WHEN r.item = 'management_fee' THEN {sign} * r.amount ELSE 0 END,
           {sign}, {"r.paid_on" if day else "NULL::date"}
    FROM fund_disbursements AS r WHERE r.fund_id = {fund}.id"""


CREATE_SQL = [
    f"""
CREATE FUNCTION fund_project_totals_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {REBUILD_SQL[0]};
    {REBUILD_SQL[1]};
    RETURN NULL;
END $$""",
    _statement_trigger("fund_allocations", _ALLOCATION, "allocated_on"),
    *_triggers("fund_allocations"),
    _statement_trigger("fund_disbursements", _DISBURSEMENT, "paid_on"),
    *_triggers("fund_disbursements"),
    f"""
CREATE FUNCTION funds_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_upsert(_moved("OLD", "-1", False) + " UNION ALL " + _moved("NEW", "1", True))};
    DELETE FROM fund_project_totals AS t
    WHERE t.entries = 0 AND t.year = OLD.year AND t.level = OLD.level AND t.kind = OLD.kind;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER funds_total AFTER UPDATE OF year, level, kind ON funds
FOR EACH ROW WHEN ((OLD.year, OLD.level, OLD.kind) IS DISTINCT FROM (NEW.year, NEW.level, NEW.kind))
EXECUTE FUNCTION funds_total()""",
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS funds_total ON funds",
    "DROP FUNCTION IF EXISTS funds_total()",
    *(
        f"DROP TRIGGER IF EXISTS {table}_total_{event} ON {table}"
        for table in ("fund_allocations", "fund_disbursements")
        for event in ("insert", "update", "delete", "truncate")
    ),
    "DROP FUNCTION IF EXISTS fund_allocations_total()",
    "DROP FUNCTION IF EXISTS fund_disbursements_total()",
    "DROP FUNCTION IF EXISTS fund_project_totals_rebuild()",
]
