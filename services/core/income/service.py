from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, FieldError, Unprocessable
from services.core.households.enums import PersonStatus
from services.core.households.models import Household, Person
from services.core.income import rules
from services.core.income.models import IncomeRecord, IncomeYear
from services.core.income.schemas import IncomeCreate, IncomeFields
from services.core.paging import KeyPage, keyset_page
from services.core.repository import by_id
from services.core.settings import Settings
from services.core.timeutil import current_quarter


def _figures(data: IncomeFields | IncomeRecord) -> rules.Figures:
    return rules.Figures(
        data.wages, data.business, data.property, data.transfers, data.production_costs, data.eligible_spending
    )


def _validate(data: IncomeFields) -> None:
    parts = {p: getattr(data, p) for p in rules.PARTS}
    problems = rules.detail_problems(parts, data.details)
    if problems:
        _field, code, params = problems[0]
        raise Unprocessable(code, errors=[FieldError(f, c, p) for f, c, p in problems], **params)


async def _living_members(session: AsyncSession, household_id: int) -> int:
    return (
        await session.execute(
            select(func.count(Person.id)).where(
                Person.household_id == household_id, Person.status == PersonStatus.alive
            )
        )
    ).scalar_one()


def _apply(record: IncomeRecord, data: IncomeFields, members: int, settings: Settings) -> None:
    for name in (*rules.PARTS, "production_costs", "eligible_spending"):
        setattr(record, name, getattr(data, name))
    record.details = {part: {k: str(rules.yuan(v)) for k, v in items.items()} for part, items in data.details.items()}
    record.member_count = members
    record.net_income = rules.net_income(
        _figures(data), deduct_eligible_spending=settings.income.deduct_eligible_spending
    )
    record.per_capita_net = rules.per_capita(record.net_income, members)


async def recompute_year(session: AsyncSession, household_id: int, region_code: str, year: int) -> None:
    """Rebuild the household's yearly totals from its quarter records."""
    await session.flush()
    rows = (
        (
            await session.execute(
                select(IncomeRecord).where(IncomeRecord.household_id == household_id, IncomeRecord.year == year)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        await session.execute(
            delete(IncomeYear).where(IncomeYear.household_id == household_id, IncomeYear.year == year)
        )
        return
    totals = rules.year_totals((r.quarter, _figures(r), r.member_count, r.net_income) for r in rows)
    values = dict(
        region_code=region_code,
        quarters=totals.quarters,
        member_count=totals.member_count,
        net_income=totals.net_income,
        per_capita_net=totals.per_capita_net,
        **{
            k: getattr(totals.figures, k)
            for k in ("wages", "business", "property", "transfers", "production_costs", "eligible_spending")
        },
    )
    stmt = insert(IncomeYear).values(household_id=household_id, year=year, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["household_id", "year"], set_=values))


async def create_record(
    session: AsyncSession, household: Household, data: IncomeCreate, settings: Settings, actor_id: int | None
) -> IncomeRecord:
    if (data.year, data.quarter) > current_quarter():
        raise Unprocessable("income_year_future", field="quarter")
    _validate(data)
    existing = (
        await session.execute(
            select(IncomeRecord.id).where(
                IncomeRecord.household_id == household.id,
                IncomeRecord.year == data.year,
                IncomeRecord.quarter == data.quarter,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("income_quarter_exists", field="quarter", year=data.year, quarter=data.quarter, id=existing)
    members = await _living_members(session, household.id)
    if members == 0:
        raise Conflict("household_empty", field="household_id")
    record = IncomeRecord(
        household_id=household.id,
        region_code=household.region_code,
        year=data.year,
        quarter=data.quarter,
        recorded_by=actor_id,
    )
    _apply(record, data, members, settings)
    session.add(record)
    await recompute_year(session, household.id, household.region_code, data.year)
    await session.flush()
    return record


async def get_record(session: AsyncSession, record_id: int, for_update: bool = False) -> IncomeRecord:
    return await by_id(session, IncomeRecord, record_id, "income_record_not_found", "record_id", for_update=for_update)


async def update_record(
    session: AsyncSession, record: IncomeRecord, data: IncomeFields, settings: Settings, actor_id: int | None
) -> IncomeRecord:
    _validate(data)
    members = await _living_members(session, record.household_id)
    if members == 0:
        raise Conflict("household_empty", field="household_id")
    _apply(record, data, members, settings)
    record.recorded_by = actor_id
    await recompute_year(session, record.household_id, record.region_code, record.year)
    await session.flush()
    return record


async def delete_record(session: AsyncSession, record: IncomeRecord) -> None:
    await session.delete(record)
    await recompute_year(session, record.household_id, record.region_code, record.year)
    await session.flush()


def _quarter_key(key: tuple) -> bool:
    """A cursor's (year, quarter) within the range a record can have."""
    return 2000 <= key[0] <= 2100 and 1 <= key[1] <= 4


async def records_for(
    session: AsyncSession, household_id: int, year: int | None, *, cursor: str | None, limit: int
) -> KeyPage[IncomeRecord]:
    """A page of the household's quarters, oldest first (key: year, quarter)."""
    stmt = select(IncomeRecord).where(IncomeRecord.household_id == household_id)
    if year is not None:
        stmt = stmt.where(IncomeRecord.year == year)
    order = [(IncomeRecord.year, False), (IncomeRecord.quarter, False)]
    return await keyset_page(session, stmt, order, cursor, limit, valid=_quarter_key)


async def years_for(session: AsyncSession, household_id: int, *, cursor: str | None, limit: int) -> KeyPage[IncomeYear]:
    """A page of the household's yearly totals, oldest first (key: year)."""
    stmt = select(IncomeYear).where(IncomeYear.household_id == household_id)
    return await keyset_page(session, stmt, [(IncomeYear.year, False)], cursor, limit)
