"""What a monitoring write needs besides the rows it changes: the working-day calendar and
the policy overrides, read once per transaction (both tables are small)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.monitoring.deadlines import PolicyFor
from services.core.monitoring.models import CalendarDay, CalendarYear, MonitoringPolicyRow
from services.core.policy.monitoring import MonitoringPolicy, resolve
from services.core.policy.overrides import PolicyOverride
from services.core.workdays import WorkCalendar


@dataclass
class Rules:
    calendar: WorkCalendar
    overrides: list[PolicyOverride]
    _resolved: dict[tuple[str, int], MonitoringPolicy] = field(default_factory=dict, repr=False)

    def policy(self, region_code: str, year: int) -> MonitoringPolicy:
        key = (region_code, year)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = resolve(self.overrides, region_code, year)
        return found

    def policy_for(self, region_code: str) -> PolicyFor:
        return lambda year: self.policy(region_code, year)


async def load_rules(session: AsyncSession) -> Rules:
    """The calendar and policy overrides as stored now. The tables are not region-scoped
    (they hold public rules, not people's data)."""
    days = (await session.execute(select(CalendarDay.day, CalendarDay.workday))).all()
    years = (await session.execute(select(CalendarYear.year))).scalars().all()
    rows = (
        await session.execute(
            select(MonitoringPolicyRow.region_prefix, MonitoringPolicyRow.year, MonitoringPolicyRow.values)
        )
    ).all()
    calendar = WorkCalendar(dict(days), frozenset(years))
    return Rules(calendar, [PolicyOverride(region_prefix=p, year=y, values=v) for p, y, v in rows])
