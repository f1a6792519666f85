"""Funds, their allocation to projects and the money paid out (资金下达、分配、支出).

Nothing is ever overspent: an allocation is taken under a lock of its fund and must fit in
what the fund has left; a disbursement is taken under a lock of its project and must fit in
what that fund allocated to the project and has not paid yet. Both answer 409 with the
figures. Transition funds may not pay for items of the negative list: refused when entered,
kept and raised as a finding when they come in through an import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, GuardlineError, Unprocessable
from services.core.funds import projects as project_service
from services.core.funds.enums import SPENDABLE, FundFindingRule, FundKind, ProjectStatus
from services.core.funds.models import Allocation, Disbursement, Fund, Project
from services.core.funds.money import money_by
from services.core.funds.schemas import AllocationIn, DisbursementIn, FundIn, FundUpdate
from services.core.paging import KeyPage, keyset_page
from services.core.policy.funds import FundsPolicy, policy_for
from services.core.regions.rules import Level
from services.core.regions.service import get_region
from services.core.repository import by_id
from services.core.scope import under
from services.core.timeutil import today

ZERO = Decimal("0.00")


def _not_future(day: date, field: str) -> None:
    if day > today():
        raise Unprocessable("date_in_future", field=field)


# ---- funds ------------------------------------------------------------------------------------


async def create_fund(session: AsyncSession, data: FundIn, user_id: int | None) -> Fund:
    region = await get_region(session, data.region_code)
    if region.level != Level.county:
        raise Unprocessable("fund_region_not_county", field="region_code")
    _not_future(data.received_on, "received_on")
    if data.received_on.year > data.year:
        raise Unprocessable("fund_received_after_year", field="received_on", year=data.year)
    fund = Fund(**data.model_dump(), created_by=user_id)
    session.add(fund)
    await session.flush()
    return fund


async def get_fund(session: AsyncSession, fund_id: int, *, for_update: bool = False, field: str = "fund_id") -> Fund:
    return await by_id(session, Fund, fund_id, "fund_not_found", field, for_update=for_update)


async def fund_figures(session: AsyncSession, fund_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Allocated and disbursed totals of each fund, in two queries."""
    return await money_by(session, "fund_id", fund_ids)


async def update_fund(session: AsyncSession, fund: Fund, data: FundUpdate) -> Fund:
    _not_future(data.received_on, "received_on")
    if data.received_on.year > fund.year:
        raise Unprocessable("fund_received_after_year", field="received_on", year=fund.year)
    allocated, _ = (await fund_figures(session, [fund.id]))[fund.id]
    if data.amount < allocated:
        raise Conflict(
            "fund_below_allocated",
            field="amount",
            amount=str(data.amount),
            allocated=str(allocated),
            extra={"figures": {"requested": str(data.amount), "allocated": str(allocated)}},
        )
    first = await session.scalar(select(func.min(Allocation.allocated_on)).where(Allocation.fund_id == fund.id))
    if first is not None and data.received_on > first:
        raise Unprocessable("fund_received_after_allocation", field="received_on", first=str(first))
    for name, value in data.model_dump().items():
        setattr(fund, name, value)
    await session.flush()
    return fund


async def list_funds(
    session: AsyncSession, *, region: str | None, year: int | None, level, kind, cursor: str | None, limit: int
) -> KeyPage[Fund]:
    stmt = select(Fund)
    if region is not None:
        stmt = stmt.where(under(Fund.region_code, region))
    for column, value in ((Fund.year, year), (Fund.level, level), (Fund.kind, kind)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await keyset_page(session, stmt, [(Fund.id, False)], cursor, limit)


# ---- allocations ------------------------------------------------------------------------------


async def allocate(session: AsyncSession, fund: Fund, data: AllocationIn, user_id: int | None) -> Allocation:
    """``fund`` is locked (FOR UPDATE) by the caller, so two allocations never both fit."""
    project = await project_service.get(session, data.project_id, field="project_id")
    if project.year != fund.year:
        raise Unprocessable(
            "allocation_year_mismatch", field="project_id", fund_year=fund.year, project_year=project.year
        )
    if not project.region_code.startswith(fund.region_code[:6]):
        raise Unprocessable("allocation_region_mismatch", field="project_id")
    if project.status in (ProjectStatus.proposed, ProjectStatus.cancelled):
        raise Conflict("project_not_in_library", field="project_id", status=project.status.value)
    _not_future(data.allocated_on, "allocated_on")
    if data.allocated_on < fund.received_on:
        raise Unprocessable("allocation_before_fund", field="allocated_on", received_on=str(fund.received_on))
    allocated, _ = (await fund_figures(session, [fund.id]))[fund.id]
    available = fund.amount - allocated
    if data.amount > available:
        figures: dict[str, Any] = {
            "fund": str(fund.amount),
            "allocated": str(allocated),
            "available": str(available),
            "requested": str(data.amount),
        }
        raise Conflict("allocation_exceeds_fund", field="amount", extra={"figures": figures}, **figures)
    row = Allocation(
        fund_id=fund.id,
        project_id=project.id,
        region_code=project.region_code,
        amount=data.amount,
        allocated_on=data.allocated_on,
        note=data.note,
        created_by=user_id,
    )
    session.add(row)
    await session.flush()
    return row


async def allocations(
    session: AsyncSession,
    *,
    fund_id: int | None = None,
    project_id: int | None = None,
    cursor: str | None,
    limit: int,
) -> KeyPage[Allocation]:
    stmt = select(Allocation)
    if fund_id is not None:
        stmt = stmt.where(Allocation.fund_id == fund_id)
    if project_id is not None:
        stmt = stmt.where(Allocation.project_id == project_id)
    return await keyset_page(session, stmt, [(Allocation.id, False)], cursor, limit)


# ---- disbursements ----------------------------------------------------------------------------


@dataclass
class Checked:
    kind: FundKind  # the paying fund's kind
    negative: bool  # an item of the negative list for this fund's kind


async def check_disbursement(
    session: AsyncSession, project: Project, data: DisbursementIn, policy: FundsPolicy
) -> Checked:
    """Everything but the negative list: the project may spend, the fund gave it enough,
    the day is possible. ``project`` is locked by the caller.

    The fund is reached through its allocation to the project: whoever may see the project
    (a township paying for its own project out of county funds) may pay from it, and a fund
    that gave nothing to the project — elsewhere or missing — gets the same answer."""
    if project.status not in SPENDABLE:
        raise Conflict("project_not_approved", field="project_id", status=project.status.value)
    _not_future(data.paid_on, "paid_on")
    mine = (Allocation.fund_id == data.fund_id, Allocation.project_id == project.id)
    first, allocated = (
        await session.execute(select(func.min(Allocation.allocated_on), func.sum(Allocation.amount)).where(*mine))
    ).one()
    if first is None:
        raise Conflict("fund_not_allocated_to_project", field="fund_id", fund_id=data.fund_id)
    if data.paid_on < first:
        raise Unprocessable("disbursement_before_allocation", field="paid_on", allocated_on=str(first))
    paid = (
        await session.scalar(
            select(func.sum(Disbursement.amount)).where(
                Disbursement.fund_id == data.fund_id, Disbursement.project_id == project.id
            )
        )
        or ZERO
    )
    available = allocated - paid
    if data.amount > available:
        figures: dict[str, Any] = {
            "allocated": str(allocated),
            "disbursed": str(paid),
            "available": str(available),
            "requested": str(data.amount),
        }
        raise Conflict("disbursement_exceeds_allocation", field="amount", extra={"figures": figures}, **figures)
    funds = Fund.__table__
    kind = FundKind((await session.execute(select(funds.c.kind).where(funds.c.id == data.fund_id))).scalar_one())
    negative = data.item in policy.negative_list and kind in policy.negative_list_fund_kinds
    return Checked(kind, negative)


async def disburse(
    session: AsyncSession, project: Project, data: DisbursementIn, user_id: int | None, *, imported: bool = False
) -> tuple[Disbursement, bool]:
    """Record a payment. Entered by hand, a negative-list item is refused (422); imported
    (the finance system's books), it is kept and flagged (True)."""
    policy = await policy_for(session, project.region_code, project.year)
    checked = await check_disbursement(session, project, data, policy)
    if checked.negative and not imported:
        raise Unprocessable("negative_list_item", field="item", item=data.item.value, kind=checked.kind.value)
    row = Disbursement(
        project_id=project.id,
        region_code=project.region_code,
        imported=imported,
        created_by=user_id,
        **data.model_dump(),
    )
    session.add(row)
    await session.flush()
    return row, checked.negative


async def disbursements(
    session: AsyncSession, *, project_id: int, cursor: str | None, limit: int
) -> KeyPage[Disbursement]:
    stmt = select(Disbursement).where(Disbursement.project_id == project_id)
    return await keyset_page(session, stmt, [(Disbursement.id, False)], cursor, limit)


async def disbursements_in(
    session: AsyncSession, *, region: str | None, project_id: int | None, cursor: str | None, limit: int
) -> KeyPage[Disbursement]:
    """The payments in the caller's regions, by id (``ix_fund_disbursements_region``): under
    ``region``, of ``project_id`` when given (the payments ledger)."""
    from services.core.scope import under

    stmt = select(Disbursement)
    if region is not None:
        stmt = stmt.where(under(Disbursement.region_code, region))
    if project_id is not None:
        stmt = stmt.where(Disbursement.project_id == project_id)
    return await keyset_page(session, stmt, [(Disbursement.id, False)], cursor, limit)


async def import_disbursements(
    session: AsyncSession, rows: list[dict[str, Any]], user_id: int | None, message
) -> dict[str, Any]:
    """Rows from the finance system, each in its own savepoint: a bad row is returned with
    its reason and field, the others are kept; a negative-list item is kept and becomes a
    finding. ``message(code, params)`` renders a reason in the caller's language."""
    from services.core.funds import findings

    accepted, ids, finding_ids, rejected = 0, [], [], []
    for number, raw in enumerate(rows, start=1):
        try:
            try:
                data = DisbursementIn.model_validate({k: v for k, v in raw.items() if k != "project_id"})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err.get("loc", ())) or None
                raise Unprocessable("import_row_invalid", field=loc, reason=err.get("msg", "")) from None
            project_id = raw.get("project_id")
            if not isinstance(project_id, int) or isinstance(project_id, bool) or not 1 <= project_id <= 2**62:
                raise Unprocessable("import_row_invalid", field="project_id", reason="project_id")
            async with session.begin_nested():
                project = await project_service.get(session, project_id, for_update=True)
                row, negative = await disburse(session, project, data, user_id, imported=True)
                if negative:
                    finding = await findings.record(
                        session,
                        FundFindingRule.negative_list,
                        f"disbursement:{row.id}",
                        row.region_code,
                        {
                            "item": row.item.value,
                            "amount": str(row.amount),
                            "voucher_ref": row.voucher_ref,
                            "fund_id": row.fund_id,
                            "paid_on": row.paid_on.isoformat(),
                        },
                        project_id=project.id,
                        disbursement_id=row.id,
                    )
                    finding_ids.append(finding.id)
        except GuardlineError as exc:
            rejected.append(
                {"row": number, "field": exc.field, "code": exc.code, "message": message(exc.code, exc.params)}
            )
            continue
        accepted += 1
        ids.append(row.id)
    return {
        "accepted": accepted,
        "flagged": len(finding_ids),
        "rejected": rejected,
        "disbursement_ids": ids,
        "finding_ids": finding_ids,
    }
