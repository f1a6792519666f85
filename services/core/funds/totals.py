"""Running totals of each project's money (table ``fund_project_totals``), so the compliance
indicators "as of today" read one row per project instead of grouping every allocation and
payment of the region on each request (for a province 32,000 allocations and 200,000
payments, ≈ 200 ms of database time).

One row per (project's region, project, fund year): the money allocated, and of it each
fund level × kind's (``alloc_<level>_<kind>``: which kinds count for industry or spending
is the policy's, so the read picks the cells), the money paid out of each kind's funds
(``paid_<kind>``), the labour pay and the management fees, the number of allocations and
payments counted (a row whose count falls to zero is removed) and the latest day of any of
them (``last_on``: never lowered by a delete, so it may be later than the latest row still
counted — ``indicators.compute`` then merely takes the full computation). The totals are
not per day: the indicators of a past day are computed from the rows themselves, and the
totals are used only when no row counted is dated after the day asked for.

Kept in the database, by triggers, in the same transaction as every write: the service's
allocations and payments, the import, the demo's and the benchmark's ``COPY`` loads and any
raw SQL all change the totals without knowing of them, so none can forget to. The triggers
on ``fund_allocations`` and ``fund_disbursements`` are per statement, with transition
tables: a ``COPY`` of 200,000 payments is added up in one grouped statement, not 200,000
upserts, so the loaders need no switch. A change of a fund's year, level or kind (not
possible through the API) moves its money; a ``TRUNCATE`` rebuilds the totals from what is
left.

Money is kept in whole fen (``bigint``; the amounts are ``numeric(14,2)`` yuan, so ``amount *
100`` is exact): the province's read adds some 20 cells per project for 19,000 projects, and
integer additions cost a fraction of numeric ones. The read turns the sums back into yuan
where it gives them out (``queries.indicators_of_totals``). Amounts are positive (CHECK), so
a total is zero exactly when no row counts towards it: that is how the read writes a sum as
the rows' sum would be written (``0`` without rows, ``12.50`` with). A new fund level or kind
needs a migration that adds its cells (the SQL here is generated from the enums).
"""

from __future__ import annotations

from services.core.funds.enums import FundKind, FundLevel

KEY = "region_code, project_id, year"
CELLS = tuple(f"alloc_{lv.value}_{k.value}" for lv in FundLevel for k in FundKind)
PAID = tuple(f"paid_{k.value}" for k in FundKind)
SUMS = ("allocated", *CELLS, *PAID, "labour_pay", "management_fee", "entries")


def cell(level: str, kind: str) -> str:
    return f"alloc_{level}_{kind}"


def _contribution(table: str, sign: str, fund: str, day: str) -> str:
    """What each row ``r`` of ``table`` (allocations or payments) of fund ``fund`` adds to
    its project's totals (``sign`` -1: takes away), and its day (NULL when taken away)."""
    amount = f"{sign} * (r.amount * 100)::bigint"  # whole fen, exact
    if table == "allocations":
        values = [amount]
        values += [
            f"CASE WHEN {fund}.level = '{lv.value}' AND {fund}.kind = '{k.value}' THEN {amount} ELSE 0 END"
            for lv in FundLevel
            for k in FundKind
        ]
        values += ["0"] * (len(PAID) + 2)
    else:
        values = ["0"] * (1 + len(CELLS))
        values += [f"CASE WHEN {fund}.kind = '{k.value}' THEN {amount} ELSE 0 END" for k in FundKind]
        values += [
            f"CASE WHEN r.item = 'labour_pay' THEN {amount} ELSE 0 END",
            f"CASE WHEN r.item = 'management_fee' THEN {amount} ELSE 0 END",
        ]
    values.append(sign)
    columns = ", ".join(f"{v} AS {s}" for v, s in zip(values, SUMS, strict=True))
    return f"SELECT r.region_code, r.project_id, {fund}.year, {columns}, {day} AS on_day"


def _of_rows(table: str, rows: str, sign: str, day: str | None) -> str:
    on_day = f"r.{day}" if day else "NULL::date"
    return f"{_contribution(table, sign, 'f', on_day)} FROM {rows} AS r JOIN funds AS f ON f.id = r.fund_id"


_DAY = {"allocations": "allocated_on", "disbursements": "paid_on"}


def _upsert(changes: str) -> str:
    """Add ``changes`` to the totals: one grouped statement, in key order (concurrent
    writers lock totals in the same order, so they wait instead of deadlocking)."""
    sums = ", ".join(f"sum({s})::bigint" for s in SUMS)
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


def _statement_trigger(kind: str) -> str:
    table = f"fund_{kind}"
    added = _of_rows(kind, "new_rows", "1", _DAY[kind])
    removed = _of_rows(kind, "old_rows", "-1", None)
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
SELECT {KEY}, {", ".join(f"sum({s})::bigint AS {s}" for s in SUMS)}, max(on_day) AS last_on
FROM ({_of_rows("allocations", "fund_allocations", "1", "allocated_on")}
      UNION ALL {_of_rows("disbursements", "fund_disbursements", "1", "paid_on")}) AS c
GROUP BY {KEY}
"""

REBUILD_SQL = [
    "DELETE FROM fund_project_totals",
    f"INSERT INTO fund_project_totals ({KEY}, {', '.join(SUMS)}, last_on) SELECT * FROM ({EXPECTED_SQL}) AS e",
]


def _moved(fund: str, sign: str, day: bool) -> str:
    """The contributions of the money of fund ``OLD``/``NEW`` (``fund``), for a change of its
    year, level or kind."""
    allocations = _contribution("allocations", sign, fund, "r.allocated_on" if day else "NULL::date")
    payments = _contribution("disbursements", sign, fund, "r.paid_on" if day else "NULL::date")
    return f"""
    {allocations} FROM fund_allocations AS r WHERE r.fund_id = {fund}.id
    UNION ALL
    {payments} FROM fund_disbursements AS r WHERE r.fund_id = {fund}.id"""


CREATE_SQL = [
    f"""
CREATE FUNCTION fund_project_totals_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {REBUILD_SQL[0]};
    {REBUILD_SQL[1]};
    RETURN NULL;
END $$""",
    _statement_trigger("allocations"),
    *_triggers("fund_allocations"),
    _statement_trigger("disbursements"),
    *_triggers("fund_disbursements"),
    f"""
CREATE FUNCTION funds_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_upsert(_moved("OLD", "-1", False) + " UNION ALL " + _moved("NEW", "1", True))};
    DELETE FROM fund_project_totals AS t WHERE t.entries = 0 AND t.year = OLD.year;
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
