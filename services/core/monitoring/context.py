"""What a monitoring write needs besides the rows it changes: the working-day calendar and
the policy overrides (``PolicyContext``), read once per transaction in one statement (the
tables are small)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.monitoring import queries
from services.core.monitoring.deadlines import PolicyFor
from services.core.policy.monitoring import MonitoringPolicy, resolve
from services.core.policy.overrides import PolicyOverride
from services.core.scope import UNRESTRICTED, Reader, ScopedRead
from services.core.workdays import WorkCalendar


@dataclass
class PolicyContext:
    """The calendar and the policy overrides as stored when the transaction read them; the
    policy of a region and year is resolved once and kept."""

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


async def load_policy_context(source: AsyncSession | Reader) -> PolicyContext:
    """The calendar and policy overrides as stored now, in one round trip. The tables are
    not region-scoped (they hold public rules, not people's data). ``source``: a session,
    or a ``Reader`` (a direct handler, on the read pool, whose plain connections give the
    overrides' JSON as its text)."""
    if isinstance(source, Reader):
        sql, args, _ = _POLICY_READ.compile(UNRESTRICTED, source.db.engine.dialect)
        days, workdays, years, overrides = await source.db.fetch_row(sql, args)
        if isinstance(overrides, str):
            overrides = orjson.loads(overrides)
    else:
        days, workdays, years, overrides = (await source.execute(queries.POLICY_CONTEXT)).one()
    calendar = WorkCalendar(dict(zip(days or [], workdays or [], strict=True)), frozenset(years or []))
    return PolicyContext(
        calendar,
        [PolicyOverride(region_prefix=o["region_prefix"], year=o["year"], values=o["values"]) for o in overrides or []],
    )


# The same statement compiled for the read pool: it reads no region-scoped table, so it is
# compiled without a region filter (``UNRESTRICTED``), whoever reads.
_POLICY_READ = ScopedRead(queries.POLICY_CONTEXT)
