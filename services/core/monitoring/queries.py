"""The monitoring package's SQL in one place: lists of clues and cases, the daily work list
of deadlines (the overdue list), the reads of a case's step (the case with what its checks
need, the policy context, the facts of the risk-elimination conditions) and the raw SQL of
the bulk clue intake (region bounds from ``services.core.scope``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, array, array_agg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from services.core.guarantees.models import HouseholdGuarantees, Item
from services.core.households.enums import PersonStatus
from services.core.households.models import Household, Person
from services.core.households.service import region_bounds
from services.core.income.models import IncomeRecord
from services.core.monitoring.enums import (
    Action,
    CaseStatus,
    CaseType,
    Channel,
    ClueStatus,
    DeadlineKind,
    MeasureStatus,
    RiskType,
)
from services.core.monitoring.models import (
    RISKS,
    CalendarDay,
    CalendarYear,
    CaseTransition,
    IncomeLine,
    Measure,
    MonitoringCase,
    MonitoringPolicyRow,
    RiskClue,
    Visit,
    VisitBreach,
)
from services.core.paging import KeyPage, ListReads, decode_cursor, follows_key, keyset_page, page_of
from services.core.scope import ScopedRead, region_sql, scoped_text, under

CLUE_ORDER = [(RiskClue.id, True)]  # newest first
CASE_ORDER = [(MonitoringCase.id, True)]


def _monitored(
    base: Select, model: Any, region: tuple[Any, Any] | None, status: Any, risk_types: Any, household_id: Any
) -> Select:
    """The filters clues and cases share (see ``clue_list_statement``)."""
    if region is not None:
        base = base.where(model.region_code >= region[0], model.region_code < region[1])
    if status is not None:
        base = base.where(model.status == status)
    if risk_types is not None:
        base = base.where(model.risk_types.contains(risk_types))
    if household_id is not None:
        base = base.where(model.household_id == household_id)
    return base


def clue_list_statement(
    base: Select,
    *,
    region: tuple[Any, Any] | None = None,
    status: Any = None,
    channels: Any = None,
    risk_types: Any = None,
    household_id: Any = None,
) -> Select:
    """The clues of a list before its page (``keyset``): ``base`` (the entity, or the
    columns of the direct handler) with the filters given, each a value or a bind parameter
    (None: no such filter). ``region`` is a prefix's (low, high) bounds
    (``households.service.region_bounds``); ``channels`` and ``risk_types`` are lists the
    clue's must contain. The service runs it with values, the direct list handler compiles
    it once per shape with bind parameters (``CLUE_LISTS``): one statement for both."""
    base = _monitored(base, RiskClue, region, status, risk_types, household_id)
    if channels is not None:
        base = base.where(RiskClue.channels.contains(channels))
    return base


def case_list_statement(
    base: Select,
    *,
    region: tuple[Any, Any] | None = None,
    status: Any = None,
    case_type: Any = None,
    risk_types: Any = None,
    household_id: Any = None,
    cadre_user_id: Any = None,
) -> Select:
    """The cases of a list before its page, as ``clue_list_statement`` (``CASE_LISTS``)."""
    base = _monitored(base, MonitoringCase, region, status, risk_types, household_id)
    if case_type is not None:
        base = base.where(MonitoringCase.case_type == case_type)
    if cadre_user_id is not None:
        base = base.where(MonitoringCase.cadre_user_id == cadre_user_id)
    return base


async def list_clues(
    session: AsyncSession,
    *,
    region: str | None,
    status: ClueStatus | None,
    channel: Channel | None,
    risk_type: RiskType | None,
    household_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[RiskClue]:
    stmt = clue_list_statement(
        select(RiskClue),
        region=region_bounds(region) if region else None,
        status=status,
        channels=None if channel is None else [channel.value],
        risk_types=None if risk_type is None else [risk_type.value],
        household_id=household_id,
    )
    return await keyset_page(session, stmt, CLUE_ORDER, cursor, limit)


async def list_cases(
    session: AsyncSession,
    *,
    region: str | None,
    status: CaseStatus | None,
    case_type: CaseType | None,
    risk_type: RiskType | None,
    household_id: int | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[MonitoringCase]:
    stmt = case_list_statement(
        select(MonitoringCase),
        region=region_bounds(region) if region else None,
        status=status,
        case_type=case_type,
        risk_types=None if risk_type is None else [risk_type.value],
        household_id=household_id,
        cadre_user_id=cadre_user_id,
    )
    return await keyset_page(session, stmt, CASE_ORDER, cursor, limit)


# The lists' direct handlers (``services.api.monitoring.listing``) run the same statements,
# over the columns of their items, compiled once per shape and region prefix.
def _bounds() -> tuple[Any, Any]:
    return bindparam("filter_lo", type_=String), bindparam("filter_hi", type_=String)


def _item_columns(model: Any) -> list[Any]:
    """The columns an item of a list shows (not the row's bookkeeping), as the entity's
    attributes: the region filter (``scope.limit_to``) finds the entity through them."""
    keys = [c.key for c in model.__table__.columns if c.key != "version"]
    return [getattr(model, key) for key in keys]


CLUE_LISTS = ListReads(
    CLUE_ORDER,
    lambda **filters: clue_list_statement(select(*_item_columns(RiskClue)), **filters),
    region=_bounds(),
    status=bindparam("status"),
    channels=bindparam("channels", type_=RiskClue.channels.type),
    risk_types=bindparam("risk_types", type_=RISKS),
    household_id=bindparam("household_id", type_=BigInteger),
)
CASE_LISTS = ListReads(
    CASE_ORDER,
    lambda **filters: case_list_statement(select(*_item_columns(MonitoringCase)), **filters),
    region=_bounds(),
    status=bindparam("status"),
    case_type=bindparam("case_type"),
    risk_types=bindparam("risk_types", type_=RISKS),
    household_id=bindparam("household_id", type_=BigInteger),
    cadre_user_id=bindparam("cadre_user_id", type_=BigInteger),
)


async def visit_breaches(
    session: AsyncSession,
    *,
    region: str | None,
    year: int,
    month: int | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[VisitBreach]:
    """Months of assistance without their visits, recorded in ``year`` (one month of it when
    ``month``), under ``region``, by id (keyset)."""
    first = date(year, month or 1, 1)
    end = date(year + (month is None or month == 12), (month % 12 + 1) if month else 1, 1)
    stmt = select(VisitBreach).where(VisitBreach.month >= first, VisitBreach.month < end)
    if region:
        stmt = stmt.where(under(VisitBreach.region_code, region))
    if cadre_user_id is not None:
        stmt = stmt.where(VisitBreach.cadre_user_id == cadre_user_id)
    return await keyset_page(session, stmt, [(VisitBreach.id, False)], cursor, limit)


SUBJECTS = ("case", "clue")


OVERDUE_KEY = (date, str, int)  # due, subject, id


def overdue_sources(subject: str | None, cadre_user_id: Any) -> list[tuple[str, Any]]:
    """The (subject, model) pairs the overdue list reads: both, or the one asked for; clues
    have no cadre yet, so a cadre filter reads cases only."""
    return [
        (name, model)
        for name, model in (("case", MonitoringCase), ("clue", RiskClue))
        if subject in (None, name) and not (cadre_user_id is not None and model is RiskClue)
    ]


def overdue_relation(name: str, after_subject: str) -> str:
    """How one source's rows follow a cursor's key (due, subject, id): a later subject from
    the same day on (``ge``), the same subject after the key (``key``), an earlier subject
    from the next day (``gt``)."""
    return "ge" if name > after_subject else "key" if name == after_subject else "gt"


def overdue_statement(
    name: str,
    model: Any,
    *,
    until: Any,
    size: Any,
    region: tuple[Any, Any] | None = None,
    kind: Any = None,
    cadre_user_id: Any = None,
    after: tuple[str, Any, Any] | None = None,
) -> Select:
    """One source of the overdue list, in deadline order from its partial index: ``size``
    rows due by ``until``, each argument a value or a bind parameter (None: no such filter);
    ``region`` a prefix's bounds, ``after`` (``overdue_relation``, due, id) a cursor's key.
    The service runs it with values, the direct list handler compiled (``overdue_read``)."""
    columns = [
        literal(name).label("subject"),
        model.id,
        model.household_id,
        Household.head_name,
        model.region_code,
        model.status,
        model.next_deadline_kind.label("deadline_kind"),
        model.next_deadline.label("due"),
        model.deadline_provisional.label("provisional"),
        (model.cadre_user_id if model is MonitoringCase else literal(None)).label("cadre_user_id"),
    ]
    stmt = (
        select(*columns)
        .join(Household, Household.id == model.household_id)
        .where(model.next_deadline.is_not(None), model.next_deadline <= until)
    )
    if model is RiskClue:
        stmt = stmt.where(RiskClue.status == ClueStatus.open)
    if region is not None:
        stmt = stmt.where(model.region_code >= region[0], model.region_code < region[1])
    if kind is not None:
        stmt = stmt.where(model.next_deadline_kind == kind)
    if cadre_user_id is not None:
        stmt = stmt.where(MonitoringCase.cadre_user_id == cadre_user_id)
    if after is not None:
        relation, due, after_id = after
        if relation == "ge":
            stmt = stmt.where(model.next_deadline >= due)
        elif relation == "key":
            stmt = stmt.where(follows_key([(model.next_deadline, False), (model.id, False)], [due, after_id]))
        else:
            stmt = stmt.where(model.next_deadline > due)
    return stmt.order_by(model.next_deadline, model.id).limit(size)


def overdue_page(rows: list[dict], as_of: date, limit: int) -> KeyPage[dict]:
    """The page of the sources' rows (each read ``limit + 1``), merged in the key's order."""
    rows.sort(key=lambda r: (r["due"], r["subject"], r["id"]))
    out, next_cursor = page_of(rows, limit, lambda r: [r["due"], r["subject"], r["id"]])
    for row in out:
        row["days_late"] = (as_of - row["due"]).days
        row["status"] = getattr(row["status"], "value", row["status"])
    return KeyPage(out, next_cursor)


async def overdue(
    session: AsyncSession,
    *,
    as_of: date,
    within_days: int,
    region: str | None,
    kind: DeadlineKind | None,
    subject: str | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[dict]:
    """Cases and open clues whose nearest deadline is past or falls within ``within_days``
    of ``as_of``, nearest first (keyset: due, subject, id). Each source is read in deadline
    order from its partial index and the two are merged (so the key's bounds are written
    here, per source, rather than by ``keyset_page``)."""
    after = decode_cursor(cursor, OVERDUE_KEY)
    out: list[dict] = []
    for name, model in overdue_sources(subject, cadre_user_id):
        stmt = overdue_statement(
            name,
            model,
            until=as_of + timedelta(days=within_days),
            size=limit + 1,
            region=region_bounds(region) if region else None,
            kind=kind,
            cadre_user_id=cadre_user_id,
            after=None if after is None else (overdue_relation(name, after[1]), after[0], after[2]),
        )
        out.extend(dict(row._mapping) for row in await session.execute(stmt))
    return overdue_page(out, as_of, limit)


# The list's direct handler (``services.api.monitoring.listing``) runs the same statements,
# compiled once per shape and region prefix.
_OVERDUE_READS: dict[tuple[Any, ...], ScopedRead] = {}


def overdue_read(name: str, *, region: bool, kind: bool, cadre: bool, relation: str | None) -> ScopedRead:
    """The ``ScopedRead`` of one source of the overdue list in one shape: its bind parameters
    are ``until``, ``size`` (rows to read), ``filter_lo``/``filter_hi``, ``kind``,
    ``cadre_user_id``, ``after_due`` and (``relation`` ``key``) ``after_id``."""
    shape = (name, region, kind, cadre, relation)
    found = _OVERDUE_READS.get(shape)
    if found is not None:
        return found
    model = MonitoringCase if name == "case" else RiskClue
    names = ["until", "size"]
    if region:
        names += ["filter_lo", "filter_hi"]
    if kind:
        names.append("kind")
    if cadre:
        names.append("cadre_user_id")
    if relation is not None:
        names += ["after_due", "after_id"] if relation == "key" else ["after_due"]
    stmt = overdue_statement(
        name,
        model,
        until=bindparam("until", type_=Date),
        size=bindparam("size", type_=Integer),
        region=_bounds() if region else None,
        kind=bindparam("kind") if kind else None,
        cadre_user_id=bindparam("cadre_user_id", type_=BigInteger) if cadre else None,
        after=None
        if relation is None
        else (relation, bindparam("after_due", type_=Date), bindparam("after_id", type_=BigInteger)),
    )
    found = _OVERDUE_READS[shape] = ScopedRead(stmt, *names)
    return found


# ---------------------------------------------------------------- a case's step

# Each subquery below over a regional table names it (``select_from``): a column wrapped in
# ``aggregate_order_by`` alone does not show the scope hook (``scope.limit_to``) its entity,
# and the subquery would go without the region bounds
# (tests/unit/test_monitoring_step_queries.py).

# The calendar and the policy overrides (``context.load_policy_context``) in one statement:
# the days and their kinds as two arrays in the same order, the years whose official
# schedule is known, and the overrides as JSON.
POLICY_CONTEXT = select(
    select(array_agg(aggregate_order_by(CalendarDay.day, CalendarDay.day))).scalar_subquery(),
    select(array_agg(aggregate_order_by(CalendarDay.workday, CalendarDay.day))).scalar_subquery(),
    select(array_agg(CalendarYear.year)).scalar_subquery(),
    select(
        func.jsonb_agg(
            aggregate_order_by(
                func.jsonb_build_object(
                    "region_prefix",
                    MonitoringPolicyRow.region_prefix,
                    "year",
                    MonitoringPolicyRow.year,
                    "values",
                    MonitoringPolicyRow.values,
                ),
                MonitoringPolicyRow.region_prefix,
                MonitoringPolicyRow.year,
            ),
            type_=JSONB,
        )
    ).scalar_subquery(),
)

# The actions that are steps of the case (not its opening, a clue joining it or the cadre):
# a step cannot be dated before the last of them.
STEP_ACTIONS = frozenset(Action) - {Action.open, Action.add_risks, Action.assign_cadre}


def case_for_step(case_id: int) -> Select:
    """The case, locked, with what its step checks and its deadlines need, in one statement:
    the day of its last step (or None), its visits (days and modes, in the same order, all
    of them: which count depends on the status the step leaves) and the months recorded as
    missed."""
    of_case = Visit.case_id == MonitoringCase.id
    return (
        select(
            MonitoringCase,
            select(func.max(CaseTransition.effective_on))
            .where(CaseTransition.case_id == MonitoringCase.id, CaseTransition.action.in_(STEP_ACTIONS))
            .scalar_subquery(),
            select(array_agg(aggregate_order_by(Visit.visited_on, Visit.id)))
            .select_from(Visit)
            .where(of_case)
            .scalar_subquery(),
            select(array_agg(aggregate_order_by(cast(Visit.mode, Text), Visit.id)))
            .select_from(Visit)
            .where(of_case)
            .scalar_subquery(),
            select(array_agg(VisitBreach.month)).where(VisitBreach.case_id == MonitoringCase.id).scalar_subquery(),
        )
        .where(MonitoringCase.id == case_id)
        .with_for_update(of=MonitoringCase)
    )


# Measures that count as carried out on a day: started by then, not only planned and not
# stopped (carried out, not necessarily finished).
CARRIED_OUT = (MeasureStatus.in_progress, MeasureStatus.completed)


def elimination_facts(case_id: int, household_id: int, province_code: str, first_year: int, on: date) -> Select:
    """The facts the risk-elimination conditions are judged on, in one statement: the
    household's income quarters from ``first_year`` to ``on``'s year (four arrays in the same
    order: year, quarter, net income, members), the province's line of ``on``'s year, the
    guarantees' statuses (in the order of ``Item``; None when never recorded), the labour
    capacity of the living members and the measures carried out by ``on``."""
    record = (IncomeRecord.year, IncomeRecord.quarter)
    of_household = and_(
        IncomeRecord.household_id == household_id, IncomeRecord.year >= first_year, IncomeRecord.year <= on.year
    )
    return select(
        *(
            select(array_agg(aggregate_order_by(column, *record)))
            .select_from(IncomeRecord)
            .where(of_household)
            .scalar_subquery()
            for column in (IncomeRecord.year, IncomeRecord.quarter, IncomeRecord.net_income, IncomeRecord.member_count)
        ),
        select(IncomeLine.amount)
        .where(IncomeLine.province_code == province_code, IncomeLine.year == on.year)
        .scalar_subquery(),
        select(array([cast(getattr(HouseholdGuarantees, item.value), Text) for item in Item]))
        .select_from(HouseholdGuarantees)
        .where(HouseholdGuarantees.household_id == household_id)
        .scalar_subquery(),
        select(array_agg(cast(Person.labour_capacity, Text)))
        .select_from(Person)
        .where(Person.household_id == household_id, Person.status == PersonStatus.alive)
        .scalar_subquery(),
        select(func.count())
        .select_from(Measure)
        .where(Measure.case_id == case_id, Measure.status.in_(CARRIED_OUT), Measure.start_on <= on)
        .scalar_subquery(),
    )


# ---------------------------------------------------------------- the bulk clue intake
# Raw SQL of ``intake.report_many`` (its docstring says why each statement is as it is). The
# reads over regional rows carry the bounds of ``scope.region_sql``; their values come from
# ``scope.scoped_params(session, …)``.

_SELF = Channel.self_declaration.value

# Plans made for each batch's values (for the rest of the transaction).
INTAKE_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")

# A lookup in the unique index per reference (LATERAL): a join the planner might hash would
# read every report ever stored, batch after batch.
INTAKE_KNOWN = scoped_text(f"""
SELECT k.source, k.external_ref, r.clue_id
FROM unnest(CAST(:sources AS text[]), CAST(:refs AS text[])) AS k(source, external_ref)
CROSS JOIN LATERAL (
    SELECT r.clue_id FROM clue_reports r
    WHERE r.source = k.source AND r.external_ref = k.external_ref AND r.external_ref IS NOT NULL
      AND {region_sql("r")}
    LIMIT 1) AS r""")

INTAKE_LOCK_HOUSEHOLDS = scoped_text(f"""
SELECT h.id, h.region_code, h.status
FROM households h
WHERE h.id = ANY(CAST(:ids AS bigint[])) AND {region_sql("h")}
ORDER BY h.id
FOR UPDATE""")

INTAKE_OPEN_CLUES = scoped_text(f"""
SELECT c.id, c.household_id, c.region_code, c.risk_types, c.channels, c.first_reported_on, c.report_count,
       c.version, c.next_deadline, c.next_deadline_kind, c.deadline_provisional,
       CASE WHEN '{_SELF}' = ANY(c.channels) THEN
           (SELECT min(r.reported_on) FROM clue_reports r WHERE r.clue_id = c.id AND r.channel = '{_SELF}')
       END AS self_declared_on
FROM risk_clues c
WHERE c.household_id = ANY(CAST(:ids AS bigint[])) AND c.status = 'open' AND {region_sql("c")}
ORDER BY c.id
FOR UPDATE OF c""")

INTAKE_IDS = text("""
SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('risk_clues', 'id'))
             FROM generate_series(1, CAST(:clues AS int))),
       ARRAY(SELECT nextval(pg_get_serial_sequence('clue_reports', 'id'))
             FROM generate_series(1, CAST(:reports AS int)))""")

INTAKE_CLUE_COLUMNS = (
    "id",
    "household_id",
    "region_code",
    "risk_types",
    "channels",
    "status",
    "first_reported_on",
    "report_count",
    "next_deadline",
    "next_deadline_kind",
    "deadline_provisional",
    "deadline_breaches",
    "version",
)
INTAKE_REPORT_COLUMNS = (
    "id",
    "clue_id",
    "region_code",
    "channel",
    "risk_types",
    "evidence",
    "attachments",
    "reported_on",
    "reporter_user_id",
    "reporter_client_id",
    "declarant_name",
    "declarant_phone",
    "source",
    "external_ref",
)
INTAKE_MERGED_COLUMNS = (
    "risk_types",
    "channels",
    "first_reported_on",
    "report_count",
    "next_deadline",
    "next_deadline_kind",
    "deadline_provisional",
    "version",
)

# The batch's writes in one statement: the new clues, the merged clues brought up to date,
# and the reports (their clues' foreign keys are checked at the end of the statement, when
# the new clues are in). Rows the batch locked or created: no region bounds to add.
INTAKE_WRITE = text(
    "WITH new_clues AS ("
    f"INSERT INTO risk_clues ({', '.join(INTAKE_CLUE_COLUMNS)}) "
    f"SELECT {', '.join('r.' + c for c in INTAKE_CLUE_COLUMNS)} "
    "FROM jsonb_populate_recordset(NULL::risk_clues, CAST(:clues AS jsonb)) AS r), "
    "merged_clues AS (UPDATE risk_clues AS c SET "
    + ", ".join(f"{col} = r.{col}" for col in INTAKE_MERGED_COLUMNS)
    + ", updated_at = now() FROM jsonb_populate_recordset(NULL::risk_clues, CAST(:merged AS jsonb)) AS r "
    "WHERE c.id = r.id) "
    f"INSERT INTO clue_reports ({', '.join(INTAKE_REPORT_COLUMNS)}) "
    f"SELECT {', '.join('r.' + c for c in INTAKE_REPORT_COLUMNS)} "
    "FROM jsonb_populate_recordset(NULL::clue_reports, CAST(:reports AS jsonb)) AS r"
)
