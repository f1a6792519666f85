"""The triggers that write the events (table ``events``), in the transaction of each change.

Each source table has two constraint triggers, ``events_insert`` and ``events_update``,
``DEFERRABLE INITIALLY DEFERRED``: they fire at the commit of the writing transaction, in the
order its changes were made, and an event's body shows the row as the transaction leaves it
(a household registered with its members is one ``household.created`` with its members
counted, not also a ``household.changed`` for the count: a plain change of an object the
transaction has already told of is no further event; a move, a death or a dissolution
always is). The function takes an
advisory lock held to the end of the transaction and only then draws the event's number
from ``events_id_seq``, so a transaction numbers its events only once every transaction that
numbered events before it has committed or rolled back: **numbers follow the commit order**.
A reader that asks for the events after the last number it saw therefore never misses one
committed later with a smaller number (the classic fault of outboxes numbered at insert
time); a transaction that rolls back leaves a gap, never a reordering. The lock is held from
the commit's first event to the commit's end — the time of a commit — and writers already
queue at the same place on the audit chain's lock.

Updates fire only for a real change: a new version of a versioned row, or a change of the
columns an event is about (region, household, status); a rewrite of the encrypted columns
(key rotation) is no event. Bodies hold identifiers and states, never a name, an ID number,
an address, a phone or health details: a subscriber reads the object itself with its own
permissions. A finding that tells a person's health is marked ``sensitive`` and shown only
to callers who may see health details.

The demo load and the benchmark's bulk loads switch these triggers off while they ``COPY``
a whole county in (``DISABLE TRIGGER``): those rows are history, not news.
"""

from __future__ import annotations

from dataclasses import dataclass

# services.core.events: the lock that orders the numbering ("gl-event" as a number).
EVENTS_LOCK_KEY = 0x676C2D6576656E74
INSERT_TRIGGER = "events_insert"
UPDATE_TRIGGER = "events_update"

_CHANGED = "OLD.version IS DISTINCT FROM NEW.version OR OLD.region_code IS DISTINCT FROM NEW.region_code"


@dataclass(frozen=True)
class Source:
    """A table whose changes are events. SQL expressions over ``NEW`` (and ``OLD`` on update):
    ``on_insert`` / ``on_update`` give the event's type (NULL: no event; None: no trigger),
    ``update_when`` when the update trigger fires at all."""

    table: str
    object_type: str
    body: str
    on_insert: str | None
    on_update: str | None = None
    update_when: str | None = None
    object_id: str = "NEW.id::text"
    household: str = "NEW.household_id"
    sensitive: str = "false"


def _body(**fields: str) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in fields.items()) + ")"


SOURCES: tuple[Source, ...] = (
    Source(
        "households",
        "household",
        _body(
            household_id="NEW.id",
            category="NEW.category",
            status="NEW.status",
            member_count="NEW.member_count",
            version="NEW.version",
        ),
        on_insert="'household.created'",
        on_update="""CASE WHEN NEW.status = 'dissolved' AND OLD.status <> 'dissolved' THEN 'household.dissolved'
            WHEN OLD.region_code <> NEW.region_code THEN 'household.moved' ELSE 'household.changed' END""",
        update_when=f"{_CHANGED} OR OLD.status IS DISTINCT FROM NEW.status",
        household="NEW.id",
    ),
    # Splits and merges, one event for each household taking part (its history row).
    Source(
        "household_events",
        "household",
        _body(
            household_id="NEW.household_id",
            kind="NEW.kind",
            other_household_id="NEW.other_household_id",
            person_ids="to_jsonb(NEW.person_ids)",
        ),
        on_insert="""CASE WHEN NEW.kind IN ('split_off', 'split_from') THEN 'household.split'
            WHEN NEW.kind IN ('merged_in', 'merged_into') THEN 'household.merged' END""",
        object_id="NEW.household_id::text",
    ),
    Source(
        "persons",
        "person",
        _body(person_id="NEW.id", household_id="NEW.household_id", status="NEW.status", version="NEW.version"),
        on_insert="'person.created'",
        on_update="""CASE WHEN NEW.status = 'deceased' AND OLD.status <> 'deceased' THEN 'person.died'
            WHEN OLD.region_code <> NEW.region_code OR OLD.household_id IS DISTINCT FROM NEW.household_id
            THEN 'person.moved' ELSE 'person.changed' END""",
        update_when=f"{_CHANGED} OR OLD.status IS DISTINCT FROM NEW.status "
        "OR OLD.household_id IS DISTINCT FROM NEW.household_id",
    ),
    Source(
        "risk_clues",
        "clue",
        _body(
            clue_id="NEW.id",
            household_id="NEW.household_id",
            risk_types="to_jsonb(NEW.risk_types)",
            channels="to_jsonb(NEW.channels)",
            status="NEW.status",
            case_id="NEW.case_id",
            version="NEW.version",
        ),
        on_insert="'clue.raised'",
        on_update="CASE WHEN OLD.status = 'open' AND NEW.status <> 'open' THEN 'clue.handled' END",
        update_when="OLD.status IS DISTINCT FROM NEW.status",
    ),
    # A case's steps, its opening included (the first step has no from_status).
    Source(
        "case_transitions",
        "case",
        _body(
            case_id="NEW.case_id",
            transition_id="NEW.id",
            action="NEW.action",
            from_status="NEW.from_status",
            to_status="NEW.to_status",
            effective_on="NEW.effective_on",
        ),
        on_insert="'case.step_taken'",
        object_id="NEW.case_id::text",
        household="(SELECT c.household_id FROM monitoring_cases c WHERE c.id = NEW.case_id)",
    ),
    Source(
        "assistance_measures",
        "measure",
        _body(
            measure_id="NEW.id",
            case_id="NEW.case_id",
            household_id="NEW.household_id",
            category="NEW.category",
            status="NEW.status",
            version="NEW.version",
        ),
        on_insert="'measure.recorded'",
        on_update="'measure.changed'",
        update_when=f"{_CHANGED} OR OLD.status IS DISTINCT FROM NEW.status",
    ),
    Source(
        "case_visits",
        "visit",
        _body(
            visit_id="NEW.id",
            case_id="NEW.case_id",
            household_id="NEW.household_id",
            visited_on="NEW.visited_on",
            mode="NEW.mode",
        ),
        on_insert="'visit.recorded'",
    ),
    Source(
        "sync_findings",
        "finding",
        _body(
            finding_id="NEW.id",
            rule_id="NEW.rule_id",
            severity="NEW.severity",
            source="NEW.source",
            household_id="NEW.household_id",
            person_id="NEW.person_id",
            status="NEW.status",
        ),
        on_insert="CASE WHEN NEW.status <> 'resolved' THEN 'finding.opened' END",
        on_update="""CASE WHEN NEW.status = 'resolved' THEN 'finding.resolved'
            WHEN OLD.status = 'resolved' THEN 'finding.opened' END""",
        update_when="(OLD.status = 'resolved') <> (NEW.status = 'resolved')",
        sensitive="NEW.health",
    ),
    Source(
        "fund_findings",
        "fund_finding",
        _body(
            finding_id="NEW.id",
            rule_id="NEW.rule_id",
            project_id="NEW.project_id",
            asset_id="NEW.asset_id",
            status="NEW.status",
        ),
        on_insert="CASE WHEN NEW.status <> 'resolved' THEN 'fund_finding.opened' END",
        on_update="""CASE WHEN NEW.status = 'resolved' THEN 'fund_finding.resolved'
            WHEN OLD.status = 'resolved' THEN 'fund_finding.opened' END""",
        update_when="(OLD.status = 'resolved') <> (NEW.status = 'resolved')",
        household="NULL::bigint",
    ),
    Source(
        "fund_disbursements",
        "payment",
        _body(
            payment_id="NEW.id",
            project_id="NEW.project_id",
            fund_id="NEW.fund_id",
            amount="NEW.amount::text",  # text: a JSON number would pass through floats
            paid_on="NEW.paid_on",
            item="NEW.item",
        ),
        on_insert="'payment.recorded'",
        household="NULL::bigint",
    ),
    Source(
        "projects",
        "project",
        _body(project_id="NEW.id", year="NEW.year", category="NEW.category", status="NEW.status"),
        on_insert="'project.created'",
        on_update="'project.step_taken'",
        update_when="OLD.status IS DISTINCT FROM NEW.status",
        household="NULL::bigint",
    ),
    Source(
        "project_assets",
        "asset",
        _body(asset_id="NEW.id", project_id="NEW.project_id", status="NEW.status"),
        on_insert=None,
        on_update="CASE WHEN NEW.status = 'disposed' THEN 'asset.disposed' END",
        update_when="OLD.status IS DISTINCT FROM NEW.status",
    ),
)

EVENT_TABLES = tuple(s.table for s in SOURCES)


def _function(source: Source) -> str:
    kind = f"CASE TG_OP WHEN 'INSERT' THEN {source.on_insert or 'NULL'} ELSE {source.on_update or 'NULL'} END"
    now = source.body.replace("NEW.", "cur.")
    household = source.household.replace("NEW.", "cur.")
    return f"""
CREATE FUNCTION events_of_{source.table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := {kind};
    cur {source.table}%ROWTYPE;
    since bigint;
    number bigint;
BEGIN
    IF kind IS NULL THEN
        RETURN NULL;
    END IF;
    -- Held to the end of the transaction: numbers follow the commit order (see the module).
    PERFORM pg_advisory_xact_lock({EVENTS_LOCK_KEY});
    -- The row as the transaction leaves it (these triggers run at its commit).
    SELECT * INTO cur FROM {source.table} t WHERE t.id = NEW.id;
    IF NOT FOUND THEN
        cur := NEW;
    END IF;
    since := nullif(current_setting('guardline.events_since', true), '')::bigint;
    -- A plain change of an object this transaction has told of already adds nothing: that
    -- event shows the row as committed.
    IF TG_OP = 'UPDATE' AND kind LIKE '%.changed' AND since IS NOT NULL AND EXISTS (
        SELECT 1 FROM events e
        WHERE e.object_type = '{source.object_type}' AND e.object_id = {source.object_id} AND e.id >= since
    ) THEN
        RETURN NULL;
    END IF;
    number := nextval('events_id_seq');
    IF since IS NULL THEN
        PERFORM set_config('guardline.events_since', number::text, true);
    END IF;
    INSERT INTO events (id, type, object_type, object_id, region_code, old_region_code, household_id,
                        sensitive, body)
    VALUES (number, kind, '{source.object_type}', {source.object_id}, cur.region_code,
            CASE WHEN TG_OP = 'UPDATE' AND OLD.region_code IS DISTINCT FROM NEW.region_code
                 THEN OLD.region_code END,
            {household}, {source.sensitive.replace("NEW.", "cur.")}, {now});
    RETURN NULL;
END $$"""


def _triggers(source: Source) -> list[str]:
    out = []
    if source.on_insert is not None:
        out.append(f"""
CREATE CONSTRAINT TRIGGER {INSERT_TRIGGER} AFTER INSERT ON {source.table}
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION events_of_{source.table}()""")
    if source.on_update is not None:
        out.append(f"""
CREATE CONSTRAINT TRIGGER {UPDATE_TRIGGER} AFTER UPDATE ON {source.table}
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({source.update_when or "true"})
EXECUTE FUNCTION events_of_{source.table}()""")
    return out


def trigger_names(table: str) -> list[str]:
    """The event triggers on ``table`` (for a bulk load to switch off and on)."""
    for source in SOURCES:
        if source.table == table:
            return [
                name
                for name, kind in ((INSERT_TRIGGER, source.on_insert), (UPDATE_TRIGGER, source.on_update))
                if kind is not None
            ]
    return []


CREATE_SQL: list[str] = [sql for source in SOURCES for sql in (_function(source), *_triggers(source))]

DROP_SQL: list[str] = [
    *(
        f"DROP TRIGGER IF EXISTS {name} ON {source.table}"
        for source in SOURCES
        for name in (INSERT_TRIGGER, UPDATE_TRIGGER)
    ),
    *(f"DROP FUNCTION IF EXISTS events_of_{source.table}()" for source in SOURCES),
]
