"""Public disclosure (公告公示) of projects and fund allocations [004 §20]: what the county
catalogues publish for notice boards and the county website, without login.

Only what the rules say is published, and nothing about persons: a project's name, type,
place, schedule, unit, content, budget, targets, how it links to farmers, its funds and
their sources, what was paid, how many households benefit and the labour pay in total.
Never a household, its members, a payee or who entered what.

The session these functions get sees every region (there is no caller to scope it to);
every query here names the region prefix it is about. Projects appear once reviewed into
the library (``enums.PUBLIC``), never while only proposed.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, bindparam, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound
from services.core.funds.enums import (
    LIFECYCLE,
    PUBLIC,
    FundKind,
    FundLevel,
    ProjectCategory,
    ProjectStatus,
    SpendingItem,
)
from services.core.funds.models import Allocation, Beneficiary, Disbursement, Fund, Project
from services.core.paging import KeyPage, after_key, keyset_page
from services.core.regions.models import Region
from services.core.regions.rules import code_of_prefix
from services.core.regions.service import check_prefix_visible
from services.core.scope import under

ZERO = Decimal("0.00")
# The statuses a published project can be in, in lifecycle order.
PUBLIC_STATUSES: tuple[ProjectStatus, ...] = tuple(s for s in (*LIFECYCLE, ProjectStatus.cancelled) if s in PUBLIC)
# Fund levels from the top, the order summaries list them in.
LEVEL_ORDER = tuple(FundLevel)
KIND_ORDER = tuple(FundKind)
CATEGORY_ORDER = tuple(ProjectCategory)

# The project's own columns that are published, as they are.
PROJECT_FIELDS = (
    "id",
    "name",
    "category",
    "year",
    "region_code",
    "location",
    "status",
    "implementing_unit",
    "content",
    "budget",
    "performance_targets",
    "farmer_links",
    "planned_start",
    "planned_end",
    "approved_on",
    "started_on",
    "completed_on",
    "accepted_on",
    "handed_over_on",
    "cancelled_on",
)


def _inline(value: str | int):
    return bindparam(None, value, String if isinstance(value, str) else Integer, literal_execute=True)


def _money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(ZERO)


async def _region(session: AsyncSession, prefix: str, field: str = "region") -> Region:
    """The region a public query names: 422 when malformed, 404 when there is none."""
    await check_prefix_visible(session, prefix, field)
    code = code_of_prefix(prefix)
    return (await session.execute(select(Region).where(Region.code == code))).scalar_one()


PUBLIC_ORDER = [(Project.id, False)]


async def list_projects(
    session: AsyncSession,
    prefix: str,
    year: int,
    *,
    category: ProjectCategory | None = None,
    status: ProjectStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> KeyPage[dict[str, Any]]:
    """A page of the published projects of ``year`` under region ``prefix``, by id (a bad
    cursor is refused before an unknown region)."""
    after = after_key(cursor, PUBLIC_ORDER)
    await _region(session, prefix)
    stmt = select(Project).where(
        under(Project.region_code, prefix, inline=True),
        Project.year == _inline(year),
        Project.status.in_(PUBLIC_STATUSES),
    )
    if category is not None:
        stmt = stmt.where(Project.category == category)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    projects, next_cursor = await keyset_page(session, stmt, PUBLIC_ORDER, after, limit)
    return KeyPage(await describe(session, projects), next_cursor)


async def get_project(session: AsyncSession, project_id: int) -> dict[str, Any]:
    """One published project; one that is not published (or none) is 404."""
    project = (
        await session.execute(select(Project).where(Project.id == project_id, Project.status.in_(PUBLIC_STATUSES)))
    ).scalar_one_or_none()
    if project is None:
        raise NotFound("public_project_not_found", field="project_id", id=project_id)
    return (await describe(session, [project]))[0]


async def describe(session: AsyncSession, projects: list[Project]) -> list[dict[str, Any]]:
    """The published form of ``projects``: their own fields, region names and the figures
    of their funds, payments and beneficiaries (four grouped queries for the whole page)."""
    if not projects:
        return []
    ids = [p.id for p in projects]
    names = dict(
        (
            await session.execute(
                select(Region.code, Region.name).where(Region.code.in_({p.region_code for p in projects}))
            )
        ).all()
    )
    sources: dict[int, list[dict[str, Any]]] = defaultdict(list)
    allocation_rows = await session.execute(
        select(Allocation.project_id, Fund.level, Fund.kind, Fund.name, Fund.document_ref, func.sum(Allocation.amount))
        .join(Fund, Fund.id == Allocation.fund_id)
        .where(Allocation.project_id.in_(ids))
        .group_by(Allocation.project_id, Fund.id, Fund.level, Fund.kind, Fund.name, Fund.document_ref)
        .order_by(Allocation.project_id, Fund.id)
    )
    for project_id, level, kind, name, document_ref, amount in allocation_rows:
        sources[project_id].append(
            {"level": level, "kind": kind, "fund_name": name, "document_ref": document_ref, "amount": _money(amount)}
        )
    paid = {
        project_id: (total, labour)
        for project_id, total, labour in await session.execute(
            select(
                Disbursement.project_id,
                func.sum(Disbursement.amount),
                func.sum(Disbursement.amount).filter(Disbursement.item == SpendingItem.labour_pay),
            )
            .where(Disbursement.project_id.in_(ids))
            .group_by(Disbursement.project_id)
        )
    }
    households = dict(
        (
            await session.execute(
                select(Beneficiary.project_id, func.count(distinct(Beneficiary.household_id)))
                .where(Beneficiary.project_id.in_(ids))
                .group_by(Beneficiary.project_id)
            )
        ).all()
    )
    out = []
    for p in projects:
        item = {name: getattr(p, name) for name in PROJECT_FIELDS}
        item["region_name"] = names.get(p.region_code)
        item["budget"] = _money(p.budget)
        item["fund_sources"] = sources.get(p.id, [])
        item["allocated"] = _money(sum((s["amount"] for s in item["fund_sources"]), ZERO))
        total, labour = paid.get(p.id, (None, None))
        item["disbursed"] = _money(total)
        item["labour_pay"] = _money(labour)
        item["beneficiary_households"] = households.get(p.id, 0)
        out.append(item)
    return out


def _totals(rows: list[dict[str, Any]], key: str, order: tuple) -> list[dict[str, Any]]:
    sums: dict[Any, dict[str, Decimal]] = {}
    for row in rows:
        s = sums.setdefault(row[key], {"amount": ZERO, "allocated": ZERO, "unallocated": ZERO})
        for figure in s:
            s[figure] += row[figure]
    return [{key: k, **sums[k]} for k in order if k in sums]


async def fund_summary(session: AsyncSession, prefix: str, year: int) -> dict[str, Any]:
    """The year's funds of the counties of region ``prefix`` (a fund belongs to a county;
    for a township or village prefix, its county's funds), each with what was allocated
    to projects and what is left; totals by level and by kind; and per project category
    what those funds gave to projects under ``prefix`` and to how many projects."""
    region = await _region(session, prefix)
    county_prefix = prefix[:6]
    of_funds = (under(Fund.region_code, county_prefix, inline=True), Fund.year == _inline(year))
    funds = list((await session.execute(select(Fund).where(*of_funds).order_by(Fund.id))).scalars())
    allocated: dict[int, Decimal] = {}
    categories: list[dict[str, Any]] = []
    if funds:
        # Joined rather than "fund_id IN (…all the funds…)": a province has hundreds of funds.
        allocated = dict(
            (
                await session.execute(
                    select(Allocation.fund_id, func.sum(Allocation.amount))
                    .join(Fund, Fund.id == Allocation.fund_id)
                    .where(*of_funds)
                    .group_by(Allocation.fund_id)
                )
            ).all()
        )
        by_category = {
            category: (amount, count)
            for category, amount, count in await session.execute(
                select(Project.category, func.sum(Allocation.amount), func.count(distinct(Allocation.project_id)))
                .join(Fund, Fund.id == Allocation.fund_id)
                .join(Project, Project.id == Allocation.project_id)
                .where(*of_funds, under(Allocation.region_code, prefix, inline=True))
                .group_by(Project.category)
            )
        }
        categories = [
            {"category": c, "allocated": _money(by_category[c][0]), "projects": by_category[c][1]}
            for c in CATEGORY_ORDER
            if c in by_category
        ]
    county_names = (
        dict(
            (
                await session.execute(
                    select(Region.code, Region.name).where(Region.code.in_({f.region_code for f in funds}))
                )
            ).all()
        )
        if funds
        else {}
    )
    rows: list[dict[str, Any]] = []
    for f in funds:
        given = _money(allocated.get(f.id))
        rows.append(
            {
                "id": f.id,
                "level": f.level,
                "kind": f.kind,
                "name": f.name,
                "document_ref": f.document_ref,
                "region_code": f.region_code,
                "region_name": county_names.get(f.region_code),
                "received_on": f.received_on,
                "amount": _money(f.amount),
                "allocated": given,
                "unallocated": _money(f.amount) - given,
            }
        )
    total = {figure: _money(sum((r[figure] for r in rows), ZERO)) for figure in ("amount", "allocated", "unallocated")}
    return {
        "region_code": region.code,
        "region_name": region.name,
        "year": year,
        "funds": rows,
        "total": total,
        "by_level": _totals(rows, "level", LEVEL_ORDER),
        "by_kind": _totals(rows, "kind", KIND_ORDER),
        "by_category": categories,
    }
