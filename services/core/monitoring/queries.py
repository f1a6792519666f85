"""Lists of clues and cases, and the daily work list of deadlines (the overdue list)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.households.models import Household
from services.core.monitoring.enums import CaseStatus, CaseType, Channel, ClueStatus, DeadlineKind, RiskType
from services.core.monitoring.models import MonitoringCase, RiskClue, VisitBreach
from services.core.paging import KeyPage, decode_cursor, keyset_page, page_of
from services.core.scope import under


async def list_clues(
    session: AsyncSession,
    *,
    region: str | None,
    status: ClueStatus | None,
    channel: Channel | None,
    risk_type: RiskType | None,
    household_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[RiskClue]:
    stmt = select(RiskClue)
    if region:
        stmt = stmt.where(under(RiskClue.region_code, region))
    if status is not None:
        stmt = stmt.where(RiskClue.status == status)
    if channel is not None:
        stmt = stmt.where(RiskClue.channels.contains([channel.value]))
    if risk_type is not None:
        stmt = stmt.where(RiskClue.risk_types.contains([risk_type.value]))
    if household_id is not None:
        stmt = stmt.where(RiskClue.household_id == household_id)
    return await keyset_page(session, stmt, [(RiskClue.id, True)], cursor, limit)


async def list_cases(
    session: AsyncSession,
    *,
    region: str | None,
    status: CaseStatus | None,
    case_type: CaseType | None,
    risk_type: RiskType | None,
    household_id: int | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[MonitoringCase]:
    stmt = select(MonitoringCase)
    if region:
        stmt = stmt.where(under(MonitoringCase.region_code, region))
    if status is not None:
        stmt = stmt.where(MonitoringCase.status == status)
    if case_type is not None:
        stmt = stmt.where(MonitoringCase.case_type == case_type)
    if risk_type is not None:
        stmt = stmt.where(MonitoringCase.risk_types.contains([risk_type.value]))
    if household_id is not None:
        stmt = stmt.where(MonitoringCase.household_id == household_id)
    if cadre_user_id is not None:
        stmt = stmt.where(MonitoringCase.cadre_user_id == cadre_user_id)
    return await keyset_page(session, stmt, [(MonitoringCase.id, True)], cursor, limit)


async def visit_breaches(
    session: AsyncSession,
    *,
    region: str | None,
    year: int,
    month: int | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[VisitBreach]:
    """Months of assistance without their visits, recorded in ``year`` (one month of it when
    ``month``), under ``region``, by id (keyset)."""
    first = date(year, month or 1, 1)
    end = date(year + (month is None or month == 12), (month % 12 + 1) if month else 1, 1)
    stmt = select(VisitBreach).where(VisitBreach.month >= first, VisitBreach.month < end)
    if region:
        stmt = stmt.where(under(VisitBreach.region_code, region))
    if cadre_user_id is not None:
        stmt = stmt.where(VisitBreach.cadre_user_id == cadre_user_id)
    return await keyset_page(session, stmt, [(VisitBreach.id, False)], cursor, limit)


SUBJECTS = ("case", "clue")


OVERDUE_KEY = (date, str, int)  # due, subject, id


async def overdue(
    session: AsyncSession,
    *,
    as_of: date,
    within_days: int,
    region: str | None,
    kind: DeadlineKind | None,
    subject: str | None,
    cadre_user_id: int | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[dict]:
    """Cases and open clues whose nearest deadline is past or falls within ``within_days``
    of ``as_of``, nearest first (keyset: due, subject, id). Each source is read in deadline
    order from its partial index and the two are merged (so the key's bounds are written
    here, per source, rather than by ``keyset_page``)."""
    after = decode_cursor(cursor, OVERDUE_KEY)
    until = as_of + timedelta(days=within_days)
    out: list[dict] = []
    for name, model in (("case", MonitoringCase), ("clue", RiskClue)):
        if subject not in (None, name):
            continue
        if cadre_user_id is not None and model is RiskClue:
            continue  # clues have no cadre yet
        columns = [
            literal(name).label("subject"),
            model.id,
            model.household_id,
            Household.head_name,
            model.region_code,
            model.status,
            model.next_deadline_kind.label("deadline_kind"),
            model.next_deadline.label("due"),
            model.deadline_provisional.label("provisional"),
            (model.cadre_user_id if model is MonitoringCase else literal(None)).label("cadre_user_id"),
        ]
        stmt = (
            select(*columns)
            .join(Household, Household.id == model.household_id)
            .where(model.next_deadline.is_not(None), model.next_deadline <= until)
        )
        if model is RiskClue:
            stmt = stmt.where(RiskClue.status == ClueStatus.open)
        if region:
            stmt = stmt.where(under(model.region_code, region))
        if kind is not None:
            stmt = stmt.where(model.next_deadline_kind == kind)
        if cadre_user_id is not None:
            stmt = stmt.where(MonitoringCase.cadre_user_id == cadre_user_id)
        if after is not None:
            due, after_subject, after_id = after
            if name > after_subject:
                stmt = stmt.where(model.next_deadline >= due)
            elif name == after_subject:
                stmt = stmt.where(or_(model.next_deadline > due, and_(model.next_deadline == due, model.id > after_id)))
            else:
                stmt = stmt.where(model.next_deadline > due)
        stmt = stmt.order_by(model.next_deadline, model.id).limit(limit + 1)
        out.extend(dict(row._mapping) for row in await session.execute(stmt))
    out.sort(key=lambda r: (r["due"], r["subject"], r["id"]))
    out, next_cursor = page_of(out, limit, lambda r: [r["due"], r["subject"], r["id"]])
    for row in out:
        row["days_late"] = (as_of - row["due"]).days
        row["status"] = getattr(row["status"], "value", row["status"])
    return KeyPage(out, next_cursor)
