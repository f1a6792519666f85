"""Fund findings (``fund_findings``): what a funds or assets check found, one row per rule
and subject (the fingerprint ``<rule>:<key>``). A check that finds it again updates its
values and reopens it if it was resolved; the asset scan resolves what it no longer finds.

``record`` serves checks of one subject at a time (a negative-list disbursement);
``scan_assets`` runs the three asset rules set-based over a region prefix: one statement
(``queries.ASSET_SCAN``) collects the candidates, merges them into ``fund_findings``
(``INSERT … ON CONFLICT``) and resolves the open findings of those rules under the prefix
that it no longer finds.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.funds.enums import FundFindingRule, FundFindingStatus
from services.core.funds.models import Asset, FundFinding
from services.core.funds.queries import ASSET_RULES, ASSET_SCAN
from services.core.paging import KeyPage, keyset_page
from services.core.repository import by_id
from services.core.scope import region_params, under


def fingerprint(rule: FundFindingRule | str, key: str) -> str:
    return f"{FundFindingRule(rule).value}:{key}"


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def record(
    session: AsyncSession,
    rule: FundFindingRule | str,
    key: str,
    region_code: str,
    values: dict[str, Any],
    *,
    project_id: int | None = None,
    asset_id: int | None = None,
    disbursement_id: int | None = None,
) -> FundFinding:
    """The finding of ``rule`` about ``key``: inserted open, or (known) its values and
    last_seen_at updated and, if it was resolved, opened again."""
    fp = fingerprint(rule, key)
    stmt = pg_insert(FundFinding).values(
        fingerprint=fp,
        rule_id=FundFindingRule(rule).value,
        region_code=region_code,
        project_id=project_id,
        asset_id=asset_id,
        disbursement_id=disbursement_id,
        values=values,
        status=FundFindingStatus.open.value,
        version=1,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[FundFinding.fingerprint],
        set_={
            "values": stmt.excluded["values"],
            "last_seen_at": func.clock_timestamp(),
            "status": FundFindingStatus.open.value,
            "resolved_at": None,
            "version": FundFinding.version + 1,
            "updated_at": func.clock_timestamp(),
        },
    ).returning(FundFinding)
    result = await session.execute(upsert, execution_options={"populate_existing": True})
    return result.scalar_one()


async def get_finding(session: AsyncSession, finding_id: int) -> FundFinding:
    return await by_id(session, FundFinding, finding_id, "fund_finding_not_found", "fund_finding_id")


async def list_findings(
    session: AsyncSession,
    *,
    rule_id: FundFindingRule | None = None,
    status: FundFindingStatus | None = None,
    region: str | None = None,
    project_id: int | None = None,
    asset_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[FundFinding]:
    stmt = select(FundFinding)
    if rule_id is not None:
        stmt = stmt.where(FundFinding.rule_id == rule_id)
    if status is not None:
        stmt = stmt.where(FundFinding.status == status)
    if region is not None:
        stmt = stmt.where(under(FundFinding.region_code, region))
    if project_id is not None:
        stmt = stmt.where(FundFinding.project_id == project_id)
    if asset_id is not None:
        stmt = stmt.where(FundFinding.asset_id == asset_id)
    return await keyset_page(session, stmt, [(FundFinding.id, True)], cursor, limit)


# ---------------------------------------------------------------- the asset scan


async def counties_under(session: AsyncSession, region_prefix: str) -> list[str]:
    """The counties (6-digit codes) that hold assets under the prefix."""
    county = func.substr(Asset.region_code, 1, 6)
    stmt = select(county).where(under(Asset.region_code, region_prefix)).distinct()
    return sorted((await session.execute(stmt)).scalars())


async def policy_prefixes(session: AsyncSession, region_prefix: str) -> list[str]:
    """Where the idle months may differ under the prefix: each county holding assets there,
    and each township or village with a funds policy override of its own that overlaps it."""
    from services.core.funds.models import FundPolicyRow

    row = FundPolicyRow.region_prefix
    finer = (
        select(row)
        .where(func.length(row) > 6)
        .where(or_(under(row, region_prefix), func.starts_with(region_prefix, row)))
        .distinct()
    )
    prefixes = set(await counties_under(session, region_prefix))
    prefixes.update(p for p in (await session.execute(finer)).scalars() if p[:6] in prefixes)
    return sorted(prefixes)


async def scan_assets(session: AsyncSession, region_prefix: str, as_of: date, policy_for) -> dict[str, dict[str, int]]:
    """Raise, refresh and resolve the three asset findings under ``region_prefix`` as of
    ``as_of``. The funds policy (``policy_for(session, prefix, year)``) of each county, or
    of a township or village with an override of its own, gives the idle months. Returns, per rule: found (now open), new (opened by this scan: first
    seen or reopened) and resolved (no longer found). The asset findings (资产问题): an
    operating asset with no income for ``asset_idle_months`` (经营性资产长期无收益,
    经营性资产无收益月数), a public-welfare asset without a custodian (公益性资产无管护人), and a
    household asset whose household has left the registry (到户资产的农户已不在册)."""
    prefixes, cutoffs, months = [], [], []
    for prefix in await policy_prefixes(session, region_prefix):
        policy = await policy_for(session, prefix, as_of.year)
        prefixes.append(prefix)
        months.append(policy.asset_idle_months)
        cutoffs.append(months_before(as_of, policy.asset_idle_months))
    counts = {rule.value: {"found": 0, "new": 0, "resolved": 0} for rule in ASSET_RULES}
    params = region_params(region_prefix, prefixes=prefixes, cutoffs=cutoffs, months=months, as_of=as_of)
    for rule_id, found, new, resolved in (await session.execute(ASSET_SCAN, params)).all():
        entry = counts[rule_id]
        entry["found"] += found
        entry["new"] += new
        entry["resolved"] += resolved
    return counts
