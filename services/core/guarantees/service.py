from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.guarantees.models import GuaranteeChange, HouseholdGuarantees, Item, Status
from services.core.guarantees.schemas import GuaranteesUpdate
from services.core.paging import KeyPage, keyset_page
from services.core.repository import one_or_404


def all_secure(g: HouseholdGuarantees) -> bool:
    """两不愁三保障 and water are secured when no item is at risk or unverified: compulsory
    education (义务教育保障), basic medical care (基本医疗保障), safe housing (住房安全保障) and safe
    drinking water (饮水安全) each secured (已保障) or not applicable (不适用)."""
    return all(getattr(g, item.value) in (Status.secure, Status.not_applicable) for item in Item)


async def get(session: AsyncSession, household_id: int, for_update: bool = False) -> HouseholdGuarantees:
    stmt = select(HouseholdGuarantees).where(HouseholdGuarantees.household_id == household_id)
    return await one_or_404(
        session, stmt, "household_not_found", "household_id", for_update=for_update, id=household_id
    )


async def update(
    session: AsyncSession, current: HouseholdGuarantees, data: GuaranteesUpdate, actor_id: int | None
) -> HouseholdGuarantees:
    for item in Item:
        new = getattr(data, item.value)
        old = getattr(current, item.value)
        if new != old:
            session.add(
                GuaranteeChange(
                    household_id=current.household_id,
                    region_code=current.region_code,
                    item=item,
                    old_status=old,
                    new_status=new,
                    note=data.note,
                    changed_by=actor_id,
                )
            )
            setattr(current, item.value, new)
    current.housing_grade = data.housing_grade
    current.note = data.note
    current.updated_by = actor_id
    await session.flush()
    return current


async def changes(session: AsyncSession, household_id: int, cursor: str | None, limit: int) -> KeyPage[GuaranteeChange]:
    stmt = select(GuaranteeChange).where(GuaranteeChange.household_id == household_id)
    return await keyset_page(session, stmt, [(GuaranteeChange.id, True)], cursor, limit)
