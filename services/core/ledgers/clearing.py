"""The monthly clearing ledger of the three guarantees and safe water (月清零、月调度、月通报,
seed 004 §18; 发现一户、保障一户, seed 004 §11).

Each item found at risk — a child out of school, an uninsured person, a C/D-grade house,
unsafe water — is an entry with its household (and person), a responsible department, a
deadline on the working-day calendar and, once cleared, the evidence. Entries open from what
the system already knows (``open_from_known``: the households' guarantee status and the
department cross-check findings whose rule names an item) and by hand; a household has at
most one open entry per item (a partial unique index), so nothing is opened twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.base import table_of
from services.core.errors import Conflict, Unprocessable
from services.core.guarantees.models import Item
from services.core.households.enums import HouseholdStatus
from services.core.households.models import Household, Person
from services.core.ledgers import queries
from services.core.ledgers.enums import EntryOrigin, EntryStatus
from services.core.ledgers.models import ClearingEntry
from services.core.ledgers.schemas import EntryClosure, EntryIn
from services.core.monitoring.context import PolicyContext, load_policy_context
from services.core.paging import KeyPage, keyset_page
from services.core.repository import by_id
from services.core.scope import region_params, scoped_text, under
from services.core.timeutil import today as china_today
from services.core.workdays import month_end

ITEM_LABELS = {i.value: i.label for i in Item}


# ---------------------------------------------------------------- pure rules


def clearing_deadline(ctx: PolicyContext, region_code: str, found_on: date) -> tuple[date, bool]:
    """The day by which an item found on ``found_on`` must be cleared (清零时限, 月清零), and
    whether the day rests on a provisional calendar: the policy's ``clearing_days`` (working
    days by default, on the official calendar: 法定节假日 and 调休) of the region and year it
    was found in."""
    policy = ctx.policy(region_code, found_on.year)
    return ctx.calendar.add(found_on, policy.clearing_days, policy.clearing_unit)


def department_of(ctx: PolicyContext, region_code: str, year: int, kind: Item) -> str:
    """The department responsible for clearing ``kind`` (责任单位), per the region's policy."""
    return ctx.policy(region_code, year).clearing_departments.get(kind.value, "县乡村振兴局")


def is_overdue(status: Any, deadline: date, on: date) -> bool:
    """Still open after the deadline day (超期未清零; the deadline day itself is in time)."""
    return status == EntryStatus.open and on > deadline


def month_bounds(month: str, as_of: date | None, today: date) -> tuple[date, date]:
    """The first day of ``month`` (YYYY-MM) and the monthly report's cut-off (月通报统计截止日):
    the month's last day, or ``as_of`` / today when earlier. A month that has not begun is
    refused."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    cut = min(month_end(first), as_of or today, today)
    if cut < first:
        raise Unprocessable("month_not_begun", field="as_of" if as_of else "month", month=month)
    return first, cut


# ---------------------------------------------------------------- writes


def _opened_rows(ctx: PolicyContext, candidates, on: date, actor_id: int | None):
    rows = []
    # One deadline per village: every candidate is found on the same day.
    deadlines: dict[str, tuple[date, bool]] = {}
    for c in candidates:
        kind = Item(c.kind)
        found = deadlines.get(c.region_code)
        if found is None:
            found = deadlines[c.region_code] = clearing_deadline(ctx, c.region_code, on)
        deadline, provisional = found
        rows.append(
            {
                "region_code": c.region_code,
                "household_id": c.household_id,
                "person_id": c.person_id,
                "kind": kind,
                "origin": EntryOrigin(c.origin),
                "finding_id": c.finding_id,
                "department": department_of(ctx, c.region_code, on.year, kind),
                "description": c.description[:2000],
                "opened_on": on,
                "deadline": deadline,
                "deadline_provisional": provisional,
                "status": EntryStatus.open,
                "evidence_refs": [],
                "version": 1,
                "created_by": actor_id,
            }
        )
    return rows


async def open_from_known(
    session: AsyncSession, prefix: str, on: date | None = None, *, household_id: int | None = None
) -> int:
    """Open an entry for every item at risk under ``prefix`` that has none open: an item of a
    household's guarantee status at risk, and an open (or acknowledged) department finding
    whose rule names an item (``Rule.guarantee``). A department finding wins over the
    status for the same household and item (it names the person and the records). Returns
    how many were opened (of ``household_id`` alone, when given). The caller checks
    ``prefix`` lies within the caller's regions; the SQL is bounded by it."""
    from services.core.sync.rules import RULES

    on = on or china_today()
    mapped = [(r.id, r.guarantee.value, f"{r.term_zh}：{r.explanation_zh}") for r in RULES if r.guarantee]
    params = region_params(
        prefix,
        rule_ids=[m[0] for m in mapped],
        rule_items=[m[1] for m in mapped],
        rule_texts=[m[2] for m in mapped],
        household_id=household_id,
    )
    candidates = (await session.execute(CANDIDATES, params)).all()
    if not candidates:
        return 0
    ctx = await load_policy_context(session)
    rows = _opened_rows(ctx, candidates, on, None)
    table = table_of(ClearingEntry)
    opened = 0
    # A statement's rows are its parameters (15 each): a county's thousands of items at risk
    # go in slices, each under the driver's limit of 32,767 parameters.
    for start in range(0, len(rows), INSERT_SLICE):
        stmt = (
            insert(table)
            .values(rows[start : start + INSERT_SLICE])
            .on_conflict_do_nothing(index_elements=["household_id", "kind"], index_where=text("status = 'open'"))
            .returning(table.c.id)
        )
        opened += len((await session.execute(stmt)).scalars().all())
    return opened


INSERT_SLICE = 1000  # rows of clearing entries a statement


CANDIDATES = scoped_text(queries.CLEARING_CANDIDATES)


async def create(session: AsyncSession, data: EntryIn, actor_id: int | None) -> ClearingEntry:
    household = await by_id(session, Household, data.household_id, "household_not_found", "household_id")
    if household.status != HouseholdStatus.active:
        raise Conflict("household_dissolved", field="household_id", id=household.id)
    if data.person_id is not None:
        person = await by_id(session, Person, data.person_id, "person_not_found", "person_id")
        if person.household_id != household.id:
            raise Unprocessable("person_not_in_household", field="person_id", id=person.id, household=household.id)
    existing = (
        await session.execute(
            select(ClearingEntry.id).where(
                ClearingEntry.household_id == household.id,
                ClearingEntry.kind == data.kind,
                ClearingEntry.status == EntryStatus.open,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("clearing_entry_open", field="kind", id=existing, kind=data.kind.value)
    ctx = await load_policy_context(session)
    on = china_today()
    deadline, provisional = clearing_deadline(ctx, household.region_code, on)
    entry = ClearingEntry(
        region_code=household.region_code,
        household_id=household.id,
        person_id=data.person_id,
        kind=data.kind,
        origin=EntryOrigin.manual,
        department=data.department or department_of(ctx, household.region_code, on.year, data.kind),
        description=data.description,
        opened_on=on,
        deadline=deadline,
        deadline_provisional=provisional,
        status=EntryStatus.open,
        evidence_refs=[],
        created_by=actor_id,
    )
    session.add(entry)
    await session.flush()
    return entry


async def close(session: AsyncSession, entry: ClearingEntry, data: EntryClosure, actor_id: int | None) -> ClearingEntry:
    """Clear the entry (清零) with its evidence: text and at least one reference."""
    if entry.status != EntryStatus.open:
        raise Conflict("clearing_entry_cleared", field="clearing_entry_id", id=entry.id)
    closed_on = data.closed_on or china_today()
    if closed_on < entry.opened_on:
        raise Unprocessable(
            "date_before_opening", field="closed_on", date=closed_on.isoformat(), earliest=entry.opened_on.isoformat()
        )
    entry.status = EntryStatus.cleared
    entry.closed_on = closed_on
    entry.evidence = data.evidence
    entry.evidence_refs = list(data.evidence_refs)
    entry.closed_by = actor_id
    await session.flush()
    return entry


# ---------------------------------------------------------------- reads


async def get(session: AsyncSession, entry_id: int, *, for_update: bool = False) -> ClearingEntry:
    return await by_id(
        session, ClearingEntry, entry_id, "clearing_entry_not_found", "clearing_entry_id", for_update=for_update
    )


async def list_entries(
    session: AsyncSession,
    *,
    region: str | None = None,
    kind: Item | None = None,
    status: EntryStatus | None = None,
    overdue: bool | None = None,
    household_id: int | None = None,
    on: date | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[ClearingEntry]:
    stmt = select(ClearingEntry)
    if region is not None:
        stmt = stmt.where(under(ClearingEntry.region_code, region))
    if kind is not None:
        stmt = stmt.where(ClearingEntry.kind == kind)
    if status is not None:
        stmt = stmt.where(ClearingEntry.status == status)
    if household_id is not None:
        stmt = stmt.where(ClearingEntry.household_id == household_id)
    if overdue is not None:
        day = on or china_today()
        late = (ClearingEntry.status == EntryStatus.open) & (ClearingEntry.deadline < day)
        stmt = stmt.where(late if overdue else ~late)
    return await keyset_page(session, stmt, [(ClearingEntry.id, True)], cursor, limit)


@dataclass(frozen=True)
class Counts:
    township: str
    name: str | None
    opened: int
    cleared: int
    overdue: int
    open: int


async def monthly_report(session: AsyncSession, table: str, prefix: str, first: date, cut: date) -> list[Counts]:
    """Per township under ``prefix``: opened (found) and cleared (closed) from ``first`` to
    ``cut``, and open / overdue as they stood at the end of ``cut``. Reproducible for a past
    month: the days counted are stored once and never change (an entry is never deleted,
    a closure never undone), so the same month gives the same figures later."""
    sql = queries.MONTHLY[table]
    rows = (await session.execute(scoped_text(sql), region_params(prefix, first=first, cut=cut))).all()
    return [Counts(r.township, r.name, r.opened, r.cleared, r.overdue, r.open) for r in rows]


def total(rows: list[Counts]) -> Counts:
    return Counts(
        "",
        None,
        sum(r.opened for r in rows),
        sum(r.cleared for r in rows),
        sum(r.overdue for r in rows),
        sum(r.open for r in rows),
    )
