"""The roster (信息员、网格员、驻村工作队员), the officers each region lacks, and the village-based
teams' attendance. Rules: ``rules``; what each figure is: the monitoring policy."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.errors import Conflict, NotFound, Unprocessable
from services.core.fieldwork import rules
from services.core.fieldwork.enums import RosterRole
from services.core.fieldwork.models import ResidentAttendance, RosterMember
from services.core.fieldwork.schemas import AttendanceIn, AttendanceUpdate, RosterMemberIn, RosterMemberUpdate
from services.core.monitoring.context import load_policy_context
from services.core.paging import KeyPage, decode_cursor, encode_cursor, keyset_page
from services.core.regions.models import Region
from services.core.regions.rules import Level, is_valid_prefix
from services.core.regions.service import get_region
from services.core.repository import by_id
from services.core.scope import scope_of, under


async def get_member(session: AsyncSession, member_id: int, *, for_update: bool = False) -> RosterMember:
    return await by_id(
        session, RosterMember, member_id, "roster_member_not_found", "roster_member_id", for_update=for_update
    )


async def _check_region(session: AsyncSession, code: str) -> None:
    region = await get_region(session, code)
    if region.level < Level.county:
        raise Unprocessable("roster_region_level", field="region_code")


async def _check_user(session: AsyncSession, user_id: int | None) -> None:
    """A linked account must be one of the caller's regions (404 otherwise, as if missing)."""
    if user_id is None:
        return
    found = await session.execute(
        select(User.id).where(User.id == user_id, under(User.region_prefix, scope_of(session)))
    )
    if found.first() is None:
        raise NotFound("user_not_found", field="user_id", id=user_id)


async def create_member(session: AsyncSession, data: RosterMemberIn, user_id: int | None) -> RosterMember:
    await _check_region(session, data.region_code)
    await _check_user(session, data.user_id)
    member = RosterMember(**data.model_dump(mode="python"), created_by=user_id)
    session.add(member)
    await session.flush()
    return member


async def update_member(session: AsyncSession, member: RosterMember, data: RosterMemberUpdate) -> RosterMember:
    changes = data.model_dump(mode="python", exclude_unset=True)
    if "region_code" in changes:
        await _check_region(session, changes["region_code"])
    if changes.get("user_id") is not None:
        await _check_user(session, changes["user_id"])
    active_from = changes.get("active_from", member.active_from)
    active_until = changes.get("active_until", member.active_until)
    if active_until is not None and active_until < active_from:
        raise Unprocessable("roster_period_reversed", field="active_until")
    for name, value in changes.items():
        setattr(member, name, value)
    await session.flush()
    return member


def _serving_on(day: date):
    return and_(
        RosterMember.active_from <= day, or_(RosterMember.active_until.is_(None), RosterMember.active_until >= day)
    )


async def list_members(
    session: AsyncSession,
    *,
    region: str | None,
    role: RosterRole | None,
    active_on: date | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[RosterMember]:
    stmt = select(RosterMember)
    if region is not None:
        stmt = stmt.where(under(RosterMember.region_code, region))
    if role is not None:
        stmt = stmt.where(RosterMember.role == role)
    if active_on is not None:
        stmt = stmt.where(_serving_on(active_on))
    return await keyset_page(session, stmt, [(RosterMember.id, False)], cursor, limit)


def _paged(items: list[Any], limit: int, key) -> tuple[list[Any], str | None]:
    if len(items) > limit:
        return items[:limit], encode_cursor([key(items[limit - 1])])
    return items, None


async def officer_shortfalls(
    session: AsyncSession, prefix: str, on: date, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Counties, townships and villages under ``prefix`` with fewer information officers serving
    on ``on`` than the policy in force there requires, by region code. The regions of a prefix
    are few (a county: a few hundred), so all after the cursor are read and judged here."""
    after = decode_cursor(cursor, (str,), lambda key: is_valid_prefix(key[0]) and len(key[0]) == 12)
    regions = select(Region.code, Region.name, Region.level).where(
        under(Region.code, prefix), Region.level >= Level.county
    )
    if after is not None:
        regions = regions.where(Region.code > after[0])
    counts: dict[tuple[str, str], int] = {}
    counted = select(RosterMember.region_code, RosterMember.role, func.count()).where(
        under(RosterMember.region_code, prefix), _serving_on(on)
    )
    if after is not None:
        counted = counted.where(RosterMember.region_code > after[0])
    for code, role, n in await session.execute(counted.group_by(RosterMember.region_code, RosterMember.role)):
        counts[(code, role)] = n
    ctx = await load_policy_context(session)
    out: list[dict[str, Any]] = []
    for code, name, level in await session.execute(regions.order_by(Region.code)):
        policy = ctx.policy(code, on.year)
        required = rules.officers_required(policy, Level(level)) or 0
        active = sum(counts.get((code, role), 0) for role in policy.officer_roles_counted)
        if active < required:
            out.append(
                {
                    "region_code": code,
                    "name": name,
                    "level": rules.OFFICER_LEVELS[Level(level)],
                    "required": required,
                    "active": active,
                    "missing": required - active,
                }
            )
            if len(out) > limit:
                break
    return _paged(out, limit, lambda r: r["region_code"])


# ---- attendance of the village-based teams (驻村工作队) --------------------------------------


async def record_attendance(
    session: AsyncSession, member: RosterMember, data: AttendanceIn, user_id: int | None
) -> tuple[ResidentAttendance, int]:
    """The days a village-based team member spent in the village in a month, and the days the
    policy requires. One record per member and month (409 for a second)."""
    if member.role != RosterRole.resident_team:
        raise Unprocessable("attendance_not_resident", field="roster_member_id")
    first = rules.month_start(data.month)
    last = rules.month_end(first)
    if data.days > last.day:
        raise Unprocessable("attendance_days_exceed_month", field="days", days=last.day)
    if not rules.serving(member.active_from, member.active_until, first, last):
        raise Unprocessable("attendance_outside_service", field="month")
    taken = await session.execute(
        select(ResidentAttendance.id).where(
            ResidentAttendance.member_id == member.id, ResidentAttendance.month == first
        )
    )
    if taken.first() is not None:
        raise Conflict("attendance_exists", field="month", month=data.month)
    row = ResidentAttendance(
        member_id=member.id,
        region_code=member.region_code,
        month=first,
        days=data.days,
        note=data.note,
        recorded_by=user_id,
    )
    session.add(row)
    await session.flush()
    ctx = await load_policy_context(session)
    return row, rules.required_days(ctx.policy(member.region_code, first.year), first)


async def get_attendance(session: AsyncSession, attendance_id: int, *, for_update: bool = False) -> ResidentAttendance:
    return await by_id(
        session, ResidentAttendance, attendance_id, "attendance_not_found", "attendance_id", for_update=for_update
    )


async def required_days(session: AsyncSession, row: ResidentAttendance) -> int:
    """The days the policy in force in the record's village requires in its month."""
    ctx = await load_policy_context(session)
    return rules.required_days(ctx.policy(row.region_code, row.month.year), row.month)


async def correct_attendance(
    session: AsyncSession, row: ResidentAttendance, data: AttendanceUpdate
) -> ResidentAttendance:
    """A month's record corrected (the days from the sign-in sheets once checked, a note): the
    days stay within the month's (422 otherwise, as when recorded)."""
    if "days" in data.model_fields_set and data.days is not None:
        last = rules.month_end(row.month)
        if data.days > last.day:
            raise Unprocessable("attendance_days_exceed_month", field="days", days=last.day)
        row.days = data.days
    if "note" in data.model_fields_set:
        row.note = data.note
    await session.flush()
    return row


async def attendance_shortfalls(
    session: AsyncSession, prefix: str, month: str, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Village-based team members serving in ``month`` under ``prefix`` whose recorded days are
    below the policy's share of the month, or who recorded nothing, by member id."""
    after = decode_cursor(cursor, (int,))
    first = rules.month_start(month)
    last = rules.month_end(first)
    stmt = (
        select(RosterMember.id, RosterMember.name, RosterMember.region_code, ResidentAttendance.days)
        .outerjoin(
            ResidentAttendance,
            and_(ResidentAttendance.member_id == RosterMember.id, ResidentAttendance.month == first),
        )
        .where(
            under(RosterMember.region_code, prefix),
            RosterMember.role == RosterRole.resident_team,
            RosterMember.active_from <= last,
            or_(RosterMember.active_until.is_(None), RosterMember.active_until >= first),
        )
        .order_by(RosterMember.id)
    )
    if after is not None:
        stmt = stmt.where(RosterMember.id > after[0])
    ctx = await load_policy_context(session)
    out: list[dict[str, Any]] = []
    for member_id, name, code, days in await session.execute(stmt):
        required = rules.required_days(ctx.policy(code, first.year), first)
        if days is None or days < required:
            out.append(
                {
                    "member_id": member_id,
                    "name": name,
                    "region_code": code,
                    "month": month,
                    "days": days,
                    "required": required,
                }
            )
            if len(out) > limit:
                break
    return _paged(out, limit, lambda r: r["member_id"])
