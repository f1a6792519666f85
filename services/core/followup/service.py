"""The follow-up's rules applied to the rows: assignments of cadres to households, follow-up
visits, the overdue follow-up list, the households missing a quarter's income and those whose
income is to be looked at first (docs/follow-up.md). Services flush, never commit.

The lists are region-scoped by the session (every table read is ``RegionScoped``). The policy
may differ between the regions a list covers (a township's own override), so a list is read
per **zone** — the caller's region less the sub-regions that have overrides of their own,
and each of those the same way — with each zone's policy, and the pages are merged by
household id (usually there is one zone).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Numeric,
    and_,
    bindparam,
    column,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

from services.core.accounts.models import User
from services.core.errors import Conflict, NotFound, Unprocessable
from services.core.followup.models import CadreAssignment, FollowUpVisit
from services.core.followup.rules import (
    FollowUpReason,
    IncomeFlag,
    VisitPeriod,
    income_deadline,
    latest_period,
    previous_quarter,
)
from services.core.followup.schemas import AssignmentIn, FollowUpVisitIn
from services.core.households.enums import Category, HouseholdStatus
from services.core.households.models import Household
from services.core.income.models import IncomeRecord
from services.core.income.rolling import WINDOW, quarter_index
from services.core.monitoring.cases import ASSISTING_ROLES
from services.core.monitoring.context import PolicyContext
from services.core.monitoring.enums import CaseStatus
from services.core.monitoring.models import MonitoringCase, Visit
from services.core.monitoring.uncovered import rolling_income
from services.core.paging import KeyPage, compiled_page, decode_cursor, keyset_page, page_of, page_values
from services.core.scope import Reader, ScopedRead, VisibleRead, under
from services.core.timeutil import today

# ---------------------------------------------------------------- zones


@dataclass(frozen=True, slots=True)
class Zone:
    """Regions under ``prefix`` but not under any of ``excluded``: one policy holds in all of them."""

    prefix: str
    excluded: tuple[str, ...]

    def condition(self, column) -> ColumnElement[bool]:
        # Inline bounds (prefixes are checked digits): see ``_day``.
        parts = [under(column, self.prefix, inline=True)] if self.prefix else []
        parts += [not_(under(column, q, inline=True)) for q in self.excluded]
        return and_(true(), *parts)


def zones(prefix: str, override_prefixes: Iterable[str]) -> list[Zone]:
    """The zones of region ``prefix``: itself less every sub-region with an override of its
    own, and each such sub-region the same way. Every region code under ``prefix`` lies in
    exactly one zone, and the policy of a zone is that of its prefix."""
    inner = {p for p in override_prefixes if p.startswith(prefix) and len(p) > len(prefix)}
    every = sorted(inner | {prefix})
    return [Zone(p, tuple(q for q in every if q != p and q.startswith(p))) for p in every]


def list_prefix(caller_prefix: str, region: str | None) -> str:
    """The region a list covers: the filter when it lies within the caller's regions, the
    caller's regions otherwise (the session's scope limits the rows either way)."""
    if region and region.startswith(caller_prefix):
        return region
    return caller_prefix


def _merge(pages: Sequence[list[Any]], limit: int, key: Callable[[Any], int]) -> tuple[list[Any], str | None]:
    """Zone pages (each ordered by ``key``, up to ``limit + 1`` rows) merged into one page."""
    merged = list(heapq.merge(*pages, key=key))
    return page_of(merged[: limit + 1], limit, lambda row: [key(row)])


def _household_columns() -> tuple[Any, ...]:
    """What the follow-up lists show of a household (their items' first fields)."""
    return (
        Household.id.label("household_id"),
        Household.household_no,
        Household.head_name,
        Household.region_code,
        Household.category,
    )


def _current_cadre():
    return (
        select(CadreAssignment.cadre_user_id)
        .where(CadreAssignment.household_id == Household.id, CadreAssignment.to_on.is_(None))
        .scalar_subquery()
    )


# ---------------------------------------------------------------- assignments


async def _eligible_cadre(session: AsyncSession, region_code: str, user_id: int, field: str) -> User:
    """An active user whose role assists households and whose regions include the household
    (the rule a case's cadre follows)."""
    user = await session.get(User, user_id)
    if (
        user is None
        or not user.active
        or user.role not in ASSISTING_ROLES
        or not region_code.startswith(user.region_prefix)
    ):
        raise Unprocessable("cadre_not_eligible", field=field, id=user_id)
    return user


async def current_assignment(session: AsyncSession, household_id: int) -> CadreAssignment | None:
    stmt = select(CadreAssignment).where(CadreAssignment.household_id == household_id, CadreAssignment.to_on.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def assign(
    session: AsyncSession, household: Household, data: AssignmentIn, actor_id: int | None
) -> CadreAssignment:
    """Make ``data.cadre_user_id`` the household's responsible cadre (帮扶责任人) from
    ``data.from_on``; the current assignment, if any, ends that day. The household row is
    locked by the caller (``get_active_household``), so two reassignments queue."""
    cadre = await _eligible_cadre(session, household.region_code, data.cadre_user_id, "cadre_user_id")
    day = data.from_on or today()
    current = await current_assignment(session, household.id)
    if current is not None:
        if current.cadre_user_id == cadre.id:
            raise Conflict("cadre_already_assigned", field="cadre_user_id", id=cadre.id)
        if day < current.from_on:
            raise Unprocessable("assignment_before_current", field="from_on", since=current.from_on.isoformat())
        current.to_on = day
        await session.flush()  # the unique current row must be ended before the new one
    row = CadreAssignment(
        household_id=household.id,
        region_code=household.region_code,
        cadre_user_id=cadre.id,
        from_on=day,
        note=data.note,
        assigned_by=actor_id,
    )
    session.add(row)
    await session.flush()
    return row


async def assignments_of(
    session: AsyncSession, household_id: int, *, cursor: str | None, limit: int
) -> KeyPage[CadreAssignment]:
    """The household's assignments, oldest first (key: id)."""
    stmt = select(CadreAssignment).where(CadreAssignment.household_id == household_id)
    return await keyset_page(session, stmt, [(CadreAssignment.id, False)], cursor, limit)


def cadre_visible(prefix: str) -> ColumnElement[bool]:
    """The users a caller with region ``prefix`` may ask about as cadres: those within its regions."""
    return under(User.region_prefix, prefix)


async def get_cadre(session: AsyncSession, prefix: str, user_id: int) -> User:
    user = (await session.execute(select(User).where(User.id == user_id, cadre_visible(prefix)))).scalar_one_or_none()
    if user is None:
        raise NotFound("user_not_found", field="cadre_user_id", id=user_id)
    return user


# A cadre by id, as a caller may ask about one (``cadre_visible``), on the read pool.
_CADRE = VisibleRead(
    lambda prefix: select(User.id).where(User.id == bindparam("user_id", type_=BigInteger), cadre_visible(prefix)),
    "user_id",
)


async def check_cadre(reader: Reader, user_id: int) -> None:
    """``get_cadre`` on the read pool: 404 ``user_not_found`` unless the user is within the
    reader's regions."""
    if await _CADRE.first(reader, user_id=user_id) is None:
        raise NotFound("user_not_found", field="cadre_user_id", id=user_id)


def _cadre_households_statement(after: Any):
    """The households a cadre (the bind parameter ``cadre_id``) is responsible for now, from
    ``after`` on (excluded)."""
    stmt = (
        select(
            CadreAssignment.household_id,
            Household.household_no,
            Household.head_name,
            Household.region_code,
            Household.category,
            CadreAssignment.from_on,
        )
        .join(Household, Household.id == CadreAssignment.household_id)
        .where(
            CadreAssignment.cadre_user_id == bindparam("cadre_id", type_=BigInteger), CadreAssignment.to_on.is_(None)
        )
    )
    if after is not None:
        stmt = stmt.where(CadreAssignment.household_id > after)
    return stmt


async def households_of(source: Any, cadre_id: int, *, cursor: str | None, limit: int) -> KeyPage[dict]:
    """The households the cadre is responsible for now, by household id (in the caller's
    regions). ``source``: a scoped session, or a ``Reader`` (the list's direct handler, on the
    read pool); a page is one ``ScopedRead`` per region prefix."""
    after = decode_cursor(cursor, (int,))
    read = compiled_page(
        ("cadre_households",),
        _cadre_households_statement,
        CadreAssignment.household_id,
        limit + 1,
        after is not None,
        "cadre_id",
    )
    rows = await read.all(source, **page_values(after, cadre_id=cadre_id))
    return KeyPage(*page_of([dict(row.items()) for row in rows], limit, lambda item: [item["household_id"]]))


# ---------------------------------------------------------------- follow-up visits

VISIT_FIELDS = ("visited_on", "mode", "findings", "attachments")


async def _followed(session: AsyncSession, household: Household) -> None:
    """A follow-up visit is for a household on follow-up: formerly poor (脱贫户), or one whose
    risk was eliminated. A household with an open case is visited through its case (409)."""
    if household.category == Category.monitored:
        raise Conflict("followup_case_open", field="household_id", id=household.id)
    if household.category == Category.lifted_out:
        return
    eliminated = await session.execute(
        select(MonitoringCase.id).where(
            MonitoringCase.household_id == household.id, MonitoringCase.status == CaseStatus.eliminated
        )
    )
    if eliminated.first() is None:
        raise Conflict("followup_not_applicable", field="household_id", id=household.id)


def _same(existing: FollowUpVisit, data: FollowUpVisitIn) -> bool:
    attachments = [a.model_dump() for a in data.attachments]
    return (
        existing.visited_on == data.visited_on
        and existing.mode == data.mode
        and existing.findings == data.findings
        and existing.attachments == attachments
    )


async def add_visit(
    session: AsyncSession, household: Household, data: FollowUpVisitIn, actor_id: int | None
) -> tuple[FollowUpVisit, bool]:
    """Record a follow-up visit (定期走访); the same client id with the same values again
    returns the stored visit (False: not created)."""
    if data.id is not None:
        existing = (
            await session.execute(select(FollowUpVisit).where(FollowUpVisit.id == data.id))
        ).scalar_one_or_none()
        if existing is not None:
            if existing.household_id != household.id or not _same(existing, data):
                raise Conflict("client_id_reused", field="id")
            return existing, False
    await _followed(session, household)
    if data.cadre_user_id is not None and data.cadre_user_id != actor_id:
        cadre_id = (await _eligible_cadre(session, household.region_code, data.cadre_user_id, "cadre_user_id")).id
    elif actor_id is not None:
        cadre_id = actor_id
    else:
        raise Unprocessable("field_required", field="cadre_user_id")
    visit = FollowUpVisit(
        id=data.id or uuid.uuid4(),
        household_id=household.id,
        region_code=household.region_code,
        cadre_user_id=cadre_id,
        visited_on=data.visited_on,
        mode=data.mode,
        findings=data.findings,
        attachments=[a.model_dump() for a in data.attachments],
        recorded_by=actor_id,
    )
    try:
        async with session.begin_nested():
            session.add(visit)
            await session.flush()
    except IntegrityError:
        # The id is taken by a visit the caller cannot see (ids are global).
        raise Conflict("client_id_reused", field="id") from None
    return visit, True


async def visits_of(
    session: AsyncSession, household_id: int, *, cursor: str | None, limit: int
) -> KeyPage[FollowUpVisit]:
    """The household's follow-up visits by day (key: visited_on, id)."""
    stmt = select(FollowUpVisit).where(FollowUpVisit.household_id == household_id)
    order = [(FollowUpVisit.visited_on, False), (FollowUpVisit.id, False)]
    return await keyset_page(session, stmt, order, cursor, limit)


# ---------------------------------------------------------------- the overdue follow-up list


def _day(value: date):
    """A day written into the SQL text: with parameters PostgreSQL switches to a generic plan
    after five runs, which cannot see that a month's window is a small range of an index."""
    return bindparam(None, value, Date, literal_execute=True)


def _after(household_id: Any):
    """The page's lower bound: the bind parameter of a compiled page (``paging.compiled_page``), whose
    statement has every other value in its text, so that the plan PostgreSQL keeps for it
    sees them (the same text for every page, prepared once); or a value."""
    if isinstance(household_id, BindParameter):
        return household_id
    return bindparam(None, household_id, BigInteger)


def _not_visited(period: VisitPeriod, after: Any) -> list[ColumnElement[bool]]:
    """No counted visit of the household (follow-up or case visit) in the period's month, by
    its due day. Two ``NOT EXISTS`` side by side in the WHERE clause, each an anti-join the
    planner may run as a probe of the table's (household, day) index per household, when a
    page is found among the first households, or as a hash of the month's visits, when it is
    not. ``NOT IN`` (or the negation of an OR) cannot become an anti-join and forced that
    hash on every page: about 90,000 visits of a month in a county of a million, 50 ms.
    ``after``: the page's lower bound on the household id, repeated on the visits' side so
    that an index scan of the visits by household starts there, not at the first one."""
    first, due = _day(period.month), _day(period.due)
    follow = exists().where(
        FollowUpVisit.household_id == Household.id,
        FollowUpVisit.visited_on >= first,
        FollowUpVisit.visited_on <= due,
        FollowUpVisit.mode.in_(period.modes),
    )
    case = exists().where(
        Visit.household_id == Household.id,
        Visit.visited_on >= first,
        Visit.visited_on <= due,
        Visit.mode.in_(period.modes),
    )
    if after is not None:
        follow = follow.where(FollowUpVisit.household_id > _after(after))
        case = case.where(Visit.household_id > _after(after))
    return [~follow, ~case]


def _eliminated_on(period: VisitPeriod):
    """The latest elimination of the household that keeps it on the period's visit, or NULL."""
    return (
        select(func.max(MonitoringCase.eliminated_on))
        .where(
            MonitoringCase.household_id == Household.id,
            MonitoringCase.status == CaseStatus.eliminated,
            MonitoringCase.eliminated_on >= period.eliminated_since,
            MonitoringCase.eliminated_on <= period.due,
        )
        .scalar_subquery()
    )


def _last_visit():
    follow = select(func.max(FollowUpVisit.visited_on)).where(FollowUpVisit.household_id == Household.id)
    case = select(func.max(Visit.visited_on)).where(Visit.household_id == Household.id)
    return func.greatest(follow.scalar_subquery(), case.scalar_subquery())


def overdue_statement(zone: Zone, period: VisitPeriod, cadre_user_id: Any = None, after: Any = None):
    """The households of ``zone`` on follow-up whose ``period`` visit was not made, by id
    (from ``after`` on, excluded): formerly poor (脱贫户, without an open case: a case's own
    monthly visits cover it) or eliminated within the policy's months before the due day.
    ``cadre_user_id`` and ``after`` are values or bind parameters (``overdue_read``)."""
    eliminated_on = _eliminated_on(period)
    stmt = select(
        *_household_columns(),
        eliminated_on.label("eliminated_on"),
        _current_cadre().label("cadre_user_id"),
        _last_visit().label("last_visit_on"),
    ).where(
        zone.condition(Household.region_code),
        Household.status == HouseholdStatus.active,
        or_(
            Household.category == Category.lifted_out,
            # A probe of the household's cases, made only for the ordinary households the
            # page reaches (a correlated scalar subquery is never hashed: a hash would read
            # every elimination of the year, about 25,000 in a county of a million, per page).
            and_(Household.category == Category.ordinary, eliminated_on.is_not(None)),
        ),
        *_not_visited(period, after),
    )
    if after is not None:
        stmt = stmt.where(Household.id > _after(after))
    if cadre_user_id is not None:
        stmt = stmt.where(
            exists().where(
                CadreAssignment.household_id == Household.id,
                CadreAssignment.to_on.is_(None),
                CadreAssignment.cadre_user_id == cadre_user_id,
            )
        )
    return stmt


def overdue_read(zone: Zone, period: VisitPeriod, size: int, *, cadre: bool, after: bool) -> ScopedRead:
    """One page of ``overdue_statement``, ``size`` rows, as a ``ScopedRead``: its bind
    parameters are ``cadre_user_id`` (``cadre``) and ``after`` (``after``); the zone's bounds,
    the period's days, the policy's visit modes and the size are in its text. So the plan
    PostgreSQL makes once for every page (after five runs of a text, it may) sees them, and
    is the one each page would get of its own: a merge of the households by id with the
    month's visits from the page's first household on. With those values as parameters,
    that plan read the county's households by region and its month's visits by day, then
    sorted them (130 ms a page instead of 3 on the loaded million)."""
    cadre_id = bindparam("cadre_user_id", type_=BigInteger) if cadre else None
    names = ("cadre_user_id",) if cadre else ()
    return compiled_page(
        ("overdue", zone, period), partial(overdue_statement, zone, period, cadre_id), Household.id, size, after, *names
    )


def _overdue_item(row: Any, period: VisitPeriod, as_of: date) -> dict[str, Any]:
    item = dict(row.items())
    lifted = item["category"] == Category.lifted_out
    item.update(
        reason=FollowUpReason.lifted_out if lifted else FollowUpReason.eliminated,
        eliminated_on=None if lifted else item["eliminated_on"],
        month=period.month,
        due=period.due,
        days_late=(as_of - period.due).days,
        provisional=period.provisional,
    )
    return item


async def overdue(
    source: Any,
    ctx: PolicyContext,
    prefix: str,
    *,
    as_of: date,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[dict]:
    """The households whose latest scheduled follow-up visit before ``as_of`` was not made
    (keyset: household id), each with the visit's month, due day and days late. ``source``:
    a scoped session, or a ``Reader`` (the list's direct handler, on the read pool)."""
    after = decode_cursor(cursor, (int,))
    pages: list[list[dict]] = []
    values = page_values(after)
    if cadre_user_id is not None:
        values["cadre_user_id"] = cadre_user_id
    for zone in zones(prefix, (o.region_prefix for o in ctx.overrides)):
        period = latest_period(lambda year, p=zone.prefix: ctx.policy(p, year), as_of, ctx.calendar)
        if period is None:
            continue
        read = overdue_read(zone, period, limit + 1, cadre=cadre_user_id is not None, after=after is not None)
        pages.append([_overdue_item(row, period, as_of) for row in await read.all(source, **values)])
    items, next_cursor = _merge(pages, limit, lambda row: row["household_id"])
    return KeyPage(items, next_cursor)


# ---------------------------------------------------------------- quarterly income


def _income_households():
    """Formerly poor and monitored households (脱贫户、监测户), active."""
    return and_(
        Household.status == HouseholdStatus.active,
        Household.category.in_([Category.lifted_out.value, Category.monitored.value]),
    )


def last_due_quarter(ctx: PolicyContext, prefix: str, as_of: date) -> tuple[int, int]:
    """The latest quarter whose income entry deadline (in the region's own policy) is before ``as_of``."""
    year, quarter = previous_quarter(as_of.year, (as_of.month - 1) // 3 + 1)
    while income_deadline(year, quarter, ctx.policy(prefix, year), ctx.calendar)[0] >= as_of:
        year, quarter = previous_quarter(year, quarter)
    return year, quarter


def _missing_income_statement(zone: Zone, year: int, quarter: int, after: Any) -> Select:
    """The formerly poor and monitored households of ``zone`` without the quarter's income,
    from ``after`` on (excluded; a value or a bind parameter)."""
    stmt = select(
        *_household_columns(),
        _current_cadre().label("cadre_user_id"),
    ).where(
        zone.condition(Household.region_code),
        _income_households(),
        ~exists().where(
            IncomeRecord.household_id == Household.id,
            IncomeRecord.year == year,
            IncomeRecord.quarter == quarter,
        ),
    )
    if after is not None:
        stmt = stmt.where(Household.id > _after(after))
    return stmt


async def missing_income(
    source: Any,
    ctx: PolicyContext,
    prefix: str,
    *,
    year: int,
    quarter: int,
    as_of: date,
    cursor: str | None,
    limit: int,
) -> KeyPage[dict]:
    """Formerly poor and monitored households without the quarter's income once the
    quarter's entry deadline has passed (keyset: household id). 422 when the deadline has
    passed nowhere in the region yet. ``source``: a scoped session or a ``Reader``; each
    zone's page is a ``ScopedRead`` with the zone, year and quarter in its text."""
    after = decode_cursor(cursor, (int,))
    pages: list[list[dict]] = []
    earliest: date | None = None
    values = page_values(after)
    for zone in zones(prefix, (o.region_prefix for o in ctx.overrides)):
        deadline, provisional = income_deadline(year, quarter, ctx.policy(zone.prefix, year), ctx.calendar)
        if deadline >= as_of:
            earliest = deadline if earliest is None else min(earliest, deadline)
            continue
        read = compiled_page(
            ("missing_income", zone, year, quarter),
            partial(_missing_income_statement, zone, year, quarter),
            Household.id,
            limit + 1,
            after is not None,
        )
        rows = await read.all(source, **values)
        pages.append([{**dict(row.items()), "deadline": deadline, "provisional": provisional} for row in rows])
    if not pages and earliest is not None:
        raise Unprocessable("income_quarter_not_due", field="quarter", deadline=earliest.isoformat())
    items, next_cursor = _merge(pages, limit, lambda row: row["household_id"])
    return KeyPage(items, next_cursor)


def _rolling_table(upto: int):
    """``income_rolling(households.id, upto)`` as a table for a correlated subquery (the
    rolling year a year earlier)."""
    return (
        func.income_rolling(Household.id, upto)
        .table_valued(
            column("quarters", Integer),
            column("last_q", Integer),
            column("per_capita_net", Numeric),
        )
        .alias("rolling_before")
    )


def _income_flags_statement(zone: Zone, upto: int, watch: Decimal, flag: IncomeFlag | None, after: Any) -> Select:
    """The formerly poor and monitored households of ``zone`` whose complete rolling year to
    ``upto`` is under ``watch`` or fell (``flag``: one of them, None either), from ``after`` on
    (excluded; a value or a bind parameter)."""
    now = rolling_income(upto)
    before = _rolling_table(upto - 4)
    prev = (
        select(before.c.per_capita_net)
        .where(before.c.quarters == WINDOW, before.c.last_q == upto - 4)
        .scalar_subquery()
    )
    below = now.c.per_capita_net < watch
    fell = now.c.per_capita_net < prev
    condition = {IncomeFlag.below_watch_line: below, IncomeFlag.fell: fell, None: or_(below, fell)}[flag]
    stmt = (
        select(
            *_household_columns(),
            now.c.per_capita_net,
            prev.label("per_capita_net_year_before"),
        )
        .select_from(Household)
        .join(now, true())
        .where(
            zone.condition(Household.region_code),
            _income_households(),
            now.c.quarters == WINDOW,
            now.c.last_q == upto,
            condition,
        )
    )
    if after is not None:
        stmt = stmt.where(Household.id > _after(after))
    return stmt


async def income_flags(
    source: Any,
    ctx: PolicyContext,
    prefix: str,
    *,
    year: int,
    quarter: int,
    flag: IncomeFlag | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[dict]:
    """Formerly poor and monitored households whose complete rolling year ending with the
    quarter is under the policy's watch line per capita, or lower than the complete rolling
    year ending with the same quarter a year earlier (keyset: household id). The rule is
    ``rules.income_flags``; this is its set-based form over ``income_rolling``, a
    ``ScopedRead`` per zone with the quarter and the watch line in its text."""
    after = decode_cursor(cursor, (int,))
    upto = quarter_index(year, quarter)
    pages: list[list[dict]] = []
    values = page_values(after)
    for zone in zones(prefix, (o.region_prefix for o in ctx.overrides)):
        watch: Decimal = ctx.policy(zone.prefix, year).income_watch_per_capita
        read = compiled_page(
            ("income_flags", zone, upto, watch, flag),
            partial(_income_flags_statement, zone, upto, watch, flag),
            Household.id,
            limit + 1,
            after is not None,
        )
        page = []
        for row in await read.all(source, **values):
            item = dict(row.items())
            flags = []
            if item["per_capita_net"] < watch:
                flags.append(IncomeFlag.below_watch_line)
            previous = item["per_capita_net_year_before"]
            if previous is not None and item["per_capita_net"] < previous:
                flags.append(IncomeFlag.fell)
            page.append({**item, "flags": flags, "watch_line": watch})
        pages.append(page)
    items, next_cursor = _merge(pages, limit, lambda row: row["household_id"])
    return KeyPage(items, next_cursor)


def complete_quarter(year: int | None, quarter: int | None, latest: tuple[int, int]) -> tuple[int, int]:
    """The quarter asked for, completed from ``latest`` (the latest quarter the list can
    judge): neither given, ``latest`` itself; a quarter without its year, the latest year
    in which that quarter can be judged; a year without its quarter, that year's last
    quarter that can be judged (its fourth for a past year)."""
    last_year, last_quarter = latest
    if year is None and quarter is None:
        return latest
    if year is None:
        assert quarter is not None
        return (last_year if quarter <= last_quarter else last_year - 1), quarter
    if quarter is None:
        return year, (last_quarter if year == last_year else 4 if year < last_year else 1)
    return year, quarter


def asked_quarter(
    ctx: PolicyContext, prefix: str, year: int | None, quarter: int | None, as_of: date
) -> tuple[int, int]:
    """The quarter a missing-income list asks for (``complete_quarter``), completed from the
    latest one whose entry deadline in ``prefix``'s policy is before ``as_of``: for the route,
    its export and its direct handler alike."""
    return complete_quarter(year, quarter, last_due_quarter(ctx, prefix, as_of))
