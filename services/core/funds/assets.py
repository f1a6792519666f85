"""Project assets (扶贫项目资产): registration from an accepted project, status, disposal,
income and its distribution to households (priority to lifted-out and monitored ones).

Every lookup goes through the session's region scope: a project, asset or household
outside the caller's regions is answered exactly like a missing one (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, NotFound, Unprocessable
from services.core.funds import projects as project_service
from services.core.funds.asset_schemas import AssetIn, AssetUpdate, DisposalIn, IncomeIn, ShareIn
from services.core.funds.enums import AssetClass, AssetStatus, ProjectStatus
from services.core.funds.models import Asset, AssetIncome, IncomeShare, Project
from services.core.households.enums import Category, HouseholdStatus
from services.core.households.models import Household
from services.core.paging import KeyPage, keyset_page
from services.core.regions.rules import prefix_of
from services.core.regions.service import get_region
from services.core.repository import by_id
from services.core.scope import under

# Projects whose assets may be registered.
REGISTRABLE = frozenset({ProjectStatus.accepted, ProjectStatus.handed_over})
# Classes that earn income (household assets are the household's own).
EARNING = frozenset({AssetClass.operating, AssetClass.public_welfare})
# Categories that income goes to first (脱贫户, 监测户).
PRIORITY = frozenset({Category.lifted_out, Category.monitored})
FOUR_PLACES = Decimal("0.0001")


# ---------------------------------------------------------------- pure rules


def check_region(project_region: str, asset_region: str) -> None:
    """The asset's village lies within the project's region (a village, or a township's or
    county's code: its significant prefix). Project assets (扶贫项目资产) are registered where
    the project is."""
    if not asset_region.startswith(prefix_of(project_region)):
        raise Unprocessable(
            "asset_region_outside_project", field="region_code", region=asset_region, project_region=project_region
        )


def check_not_before(day: date, earliest: date | None, field: str, code: str) -> None:
    if earliest is not None and day < earliest:
        raise Unprocessable(code, field=field, date=day.isoformat(), earliest=earliest.isoformat())


def check_shares(amount: Decimal, shares: list[ShareIn]) -> Decimal:
    """The shares name each household once and together are at most the income; their sum.
    The asset income (资产收益) distributed to households (收益分配)."""
    seen: set[int] = set()
    for i, share in enumerate(shares):
        if share.household_id in seen:
            raise Unprocessable("share_household_twice", field=f"shares[{i}].household_id", id=share.household_id)
        seen.add(share.household_id)
    total = sum((s.amount for s in shares), Decimal("0"))
    if total > amount:
        raise Unprocessable("shares_exceed_income", field="shares", distributed=str(total), amount=str(amount))
    return total


def priority_share(distributed: Decimal, priority_distributed: Decimal) -> Decimal | None:
    """The part of what was distributed that went to lifted-out and monitored households
    (脱贫户和监测户优先受益: asset income goes to them first)."""
    if not distributed:
        return None
    return (priority_distributed / distributed).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Distribution:
    """An asset income's distribution (收益分配): in all, and to priority households
    (脱贫户、监测户)."""

    distributed: Decimal
    priority_distributed: Decimal


def distribution(shares: list[tuple[str, Decimal]]) -> Distribution:
    """Totals of shares given as (category, amount): all, and those of lifted-out (脱贫户) and
    monitored (监测户) households."""
    total = sum((a for _, a in shares), Decimal("0"))
    priority = sum((a for c, a in shares if c in PRIORITY), Decimal("0"))
    return Distribution(total, priority)


# ---------------------------------------------------------------- lookups


async def get_project(
    session: AsyncSession, project_id: int, *, for_update: bool = False, field: str = "project_id"
) -> Project:
    return await project_service.get(session, project_id, for_update=for_update, field=field)


async def get_asset(session: AsyncSession, asset_id: int, *, for_update: bool = False) -> Asset:
    return await by_id(session, Asset, asset_id, "asset_not_found", "asset_id", for_update=for_update)


async def _household(session: AsyncSession, household_id: int, field: str) -> Household:
    return await by_id(session, Household, household_id, "household_not_found", field)


def _not_disposed(asset: Asset) -> None:
    if asset.status == AssetStatus.disposed:
        raise Conflict("asset_disposed", field="asset_id", id=asset.id, disposed_on=str(asset.disposed_on))


# ---------------------------------------------------------------- writes


async def register(session: AsyncSession, project: Project, data: AssetIn, actor_id: int | None) -> Asset:
    if project.status not in REGISTRABLE:
        raise Conflict("project_not_accepted", field="project_id", id=project.id, status=project.status)
    region_code = data.region_code or project.region_code
    if data.region_code is not None:
        check_region(project.region_code, data.region_code)
        await get_region(session, data.region_code)
    check_not_before(data.handover_on, project.accepted_on, "handover_on", "handover_before_acceptance")
    if data.household_id is not None:
        await _household(session, data.household_id, "household_id")
    asset = Asset(
        project_id=project.id,
        region_code=region_code,
        name=data.name,
        asset_class=data.asset_class,
        value=data.value,
        owner=data.owner,
        custodian=data.custodian or None,
        household_id=data.household_id,
        handover_on=data.handover_on,
        status=AssetStatus.in_use,
        note=data.note,
        created_by=actor_id,
    )
    session.add(asset)
    await session.flush()
    return asset


async def update(session: AsyncSession, asset: Asset, data: AssetUpdate) -> Asset:
    _not_disposed(asset)
    asset.owner = data.owner
    asset.custodian = data.custodian or None
    asset.status = AssetStatus(data.status)
    asset.note = data.note
    await session.flush()
    return asset


async def dispose(session: AsyncSession, asset: Asset, data: DisposalIn) -> Asset:
    _not_disposed(asset)
    check_not_before(data.disposed_on, asset.handover_on, "disposed_on", "date_before_handover")
    asset.status = AssetStatus.disposed
    asset.disposal_method = data.method
    asset.disposal_reason = data.reason
    asset.disposal_approval = data.approval
    asset.disposed_on = data.disposed_on
    await session.flush()
    return asset


async def record_income(
    session: AsyncSession, asset: Asset, data: IncomeIn, actor_id: int | None
) -> tuple[AssetIncome, list[IncomeShare]]:
    _not_disposed(asset)
    if asset.asset_class not in EARNING:
        raise Conflict("asset_earns_no_income", field="asset_id", id=asset.id, asset_class=asset.asset_class)
    check_not_before(data.received_on, asset.handover_on, "received_on", "date_before_handover")
    check_shares(data.amount, data.shares)
    ids = [s.household_id for s in data.shares]
    found = (
        {h.id: h for h in (await session.execute(select(Household).where(Household.id.in_(ids)))).scalars()}
        if ids
        else {}
    )
    shares = []
    for i, share in enumerate(data.shares):
        household = found.get(share.household_id)
        field = f"shares[{i}].household_id"
        if household is None:
            raise NotFound("household_not_found", field=field, id=share.household_id)
        if household.status != HouseholdStatus.active:
            raise Conflict("household_dissolved", field=field, id=share.household_id)
        shares.append(
            IncomeShare(
                household_id=household.id,
                region_code=household.region_code,
                category=Category(household.category).value,
                amount=share.amount,
            )
        )
    totals = distribution([(s.category, s.amount) for s in shares])
    income = AssetIncome(
        asset_id=asset.id,
        region_code=asset.region_code,
        received_on=data.received_on,
        amount=data.amount,
        distributed=totals.distributed,
        priority_distributed=totals.priority_distributed,
        note=data.note,
        created_by=actor_id,
    )
    session.add(income)
    await session.flush()
    for row in shares:
        row.income_id = income.id
    session.add_all(shares)
    if asset.last_income_on is None or data.received_on > asset.last_income_on:
        asset.last_income_on = data.received_on
    await session.flush()
    return income, shares


# ---------------------------------------------------------------- reads


async def list_assets(
    session: AsyncSession,
    *,
    region: str | None = None,
    project_id: int | None = None,
    asset_class: AssetClass | None = None,
    status: AssetStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[Asset]:
    stmt = select(Asset)
    if region is not None:
        stmt = stmt.where(under(Asset.region_code, region))
    if project_id is not None:
        stmt = stmt.where(Asset.project_id == project_id)
    if asset_class is not None:
        stmt = stmt.where(Asset.asset_class == asset_class)
    if status is not None:
        stmt = stmt.where(Asset.status == status)
    return await keyset_page(session, stmt, [(Asset.id, True)], cursor, limit)


async def list_incomes(
    session: AsyncSession, asset_id: int, *, cursor: str | None = None, limit: int = 50
) -> KeyPage[tuple[AssetIncome, list[IncomeShare]]]:
    stmt = select(AssetIncome).where(AssetIncome.asset_id == asset_id)
    incomes, next_cursor = await keyset_page(session, stmt, [(AssetIncome.id, True)], cursor, limit)
    shares = await shares_of(session, [i.id for i in incomes])
    return KeyPage(list(zip(incomes, shares, strict=True)), next_cursor)


async def shares_of(session: AsyncSession, income_ids: list[int]) -> list[list[IncomeShare]]:
    """The shares of each income (those of households in the caller's regions)."""
    by_income: dict[int, list[IncomeShare]] = {i: [] for i in income_ids}
    if income_ids:
        stmt = select(IncomeShare).where(IncomeShare.income_id.in_(income_ids)).order_by(IncomeShare.id)
        for share in (await session.execute(stmt)).scalars():
            by_income[share.income_id].append(share)
    return [by_income[i] for i in income_ids]
