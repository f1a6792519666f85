"""The project library (项目库): projects, their lifecycle and the households they benefit.

The lifecycle is a line — proposed → reviewed into the library → approved → tendering →
started → completed → accepted → assets handed over — and a project takes each step in turn,
on a day not before the previous step's and not in the future (paper-first work is entered
later with its own day). Before acceptance a project may be cancelled, with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, Unprocessable
from services.core.funds.enums import CANCELLABLE, DATE_OF, LIFECYCLE, ProjectStatus
from services.core.funds.models import Asset, Beneficiary, Project
from services.core.funds.money import money_by
from services.core.funds.schemas import BeneficiaryIn, ProjectIn, ProjectUpdate, StepIn
from services.core.households.service import get_household
from services.core.paging import KeyPage, keyset_page
from services.core.regions.rules import Level
from services.core.regions.service import get_region
from services.core.repository import by_id
from services.core.timeutil import now, today


def next_steps(status: ProjectStatus) -> list[ProjectStatus]:
    """The steps a project in ``status`` may take through the project library (项目库):
    申报 → 评审入库 → 批复 → 招投标 → 开工 → 完工 → 验收 → 资产移交, or cancelled (取消) before
    acceptance."""
    if status not in LIFECYCLE:
        return []
    i = LIFECYCLE.index(status)
    steps = [LIFECYCLE[i + 1]] if i + 1 < len(LIFECYCLE) else []
    if status in CANCELLABLE:
        steps.append(ProjectStatus.cancelled)
    return steps


def last_step_on(project: Project) -> date:
    """The day of the step the project took last (项目最近一个环节的日期)."""
    return getattr(project, DATE_OF[project.status])


def check_step(project: Project, step: StepIn, on_today: date) -> None:
    """A step is the next one of the line (or a cancellation before acceptance), on a day
    between the previous step's and today. 409 names the steps allowed; 422 the day. A
    cancellation (取消) needs its reason."""
    allowed = next_steps(project.status)
    if step.status not in allowed:
        code = (
            "project_step_skipped"
            if step.status in LIFECYCLE
            and (project.status in LIFECYCLE and LIFECYCLE.index(step.status) > LIFECYCLE.index(project.status))
            else "project_step_not_allowed"
        )
        raise Conflict(
            code,
            field="status",
            status=project.status.value,
            requested=step.status.value,
            extra={"allowed": [s.value for s in allowed]},
            allowed=", ".join(s.value for s in allowed) or "-",
        )
    if step.on > on_today:
        raise Unprocessable("date_in_future", field="on")
    previous = last_step_on(project)
    if step.on < previous:
        raise Unprocessable(
            "project_step_before_previous", field="on", previous=str(previous), step=project.status.value
        )
    if step.status == ProjectStatus.cancelled and not (step.note or "").strip():
        raise Unprocessable("cancel_reason_required", field="note")


async def _check_region(session: AsyncSession, code: str) -> None:
    region = await get_region(session, code)
    if region.level < Level.township:
        raise Unprocessable("project_region_level", field="region_code")


def _check_year(data: ProjectIn) -> None:
    if data.planned_start.year > data.year or data.planned_end.year < data.year:
        raise Unprocessable("project_year_outside_plan", field="year", year=data.year)


async def create(session: AsyncSession, data: ProjectIn, user_id: int | None) -> Project:
    await _check_region(session, data.region_code)
    _check_year(data)
    proposed_on = data.proposed_on or today()
    if proposed_on > today():
        raise Unprocessable("date_in_future", field="proposed_on")
    fields = data.model_dump(exclude={"proposed_on"}, mode="python")
    fields["performance_targets"] = [t.model_dump(mode="json") for t in data.performance_targets]
    project = Project(
        **fields,
        proposed_on=proposed_on,
        status=ProjectStatus.proposed,
        created_by=user_id,
        history=[_history(ProjectStatus.proposed, proposed_on, user_id, None)],
    )
    session.add(project)
    await session.flush()
    return project


async def get(
    session: AsyncSession, project_id: int, *, for_update: bool = False, field: str = "project_id"
) -> Project:
    return await by_id(session, Project, project_id, "project_not_found", field, for_update=for_update)


async def update(session: AsyncSession, project: Project, data: ProjectUpdate) -> Project:
    if project.status in (ProjectStatus.handed_over, ProjectStatus.cancelled):
        raise Conflict("project_closed", field="status", status=project.status.value)
    if data.planned_start.year > project.year or data.planned_end.year < project.year:
        raise Unprocessable("project_year_outside_plan", field="planned_start", year=project.year)
    for name, value in data.model_dump(mode="python").items():
        setattr(project, name, value)
    project.performance_targets = [t.model_dump(mode="json") for t in data.performance_targets]
    await session.flush()
    return project


def _history(status: ProjectStatus, on: date, user_id: int | None, note: str | None) -> dict[str, Any]:
    return {"status": status.value, "on": on.isoformat(), "by": user_id, "at": now().isoformat(), "note": note}


async def take_step(session: AsyncSession, project: Project, step: StepIn, user_id: int | None) -> Project:
    check_step(project, step, today())
    if step.status == ProjectStatus.handed_over:
        assets = await session.scalar(select(func.count()).select_from(Asset).where(Asset.project_id == project.id))
        if not assets:
            raise Conflict("project_no_assets", field="status")
    setattr(project, DATE_OF[step.status], step.on)
    if step.status == ProjectStatus.cancelled:
        project.cancel_reason = step.note
    project.status = step.status
    project.history = [*project.history, _history(step.status, step.on, user_id, step.note)]
    await session.flush()
    return project


async def money_of(session: AsyncSession, project_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Allocated and disbursed totals of each project (one query each, never per project)."""
    return await money_by(session, "project_id", project_ids)


async def list_projects(
    session: AsyncSession, *, region: str | None, year: int | None, category, status, cursor: str | None, limit: int
) -> KeyPage[Project]:
    from services.core.scope import under

    stmt = select(Project)
    if region is not None:
        stmt = stmt.where(under(Project.region_code, region))
    if year is not None:
        stmt = stmt.where(Project.year == year)
    if category is not None:
        stmt = stmt.where(Project.category == category)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    return await keyset_page(session, stmt, [(Project.id, False)], cursor, limit)


# ---- beneficiaries ----------------------------------------------------------------------------


async def add_beneficiary(
    session: AsyncSession, project: Project, data: BeneficiaryIn, user_id: int | None
) -> tuple[Beneficiary, str]:
    if project.status == ProjectStatus.cancelled:
        raise Conflict("project_closed", field="project_id", status=project.status.value)
    household = await get_household(session, data.household_id)
    if data.labour_pay > 0 and data.labour_days == 0:
        raise Unprocessable("labour_pay_without_days", field="labour_days")
    taken = await session.scalar(
        select(Beneficiary.id).where(Beneficiary.project_id == project.id, Beneficiary.household_id == household.id)
    )
    if taken is not None:
        raise Conflict("beneficiary_exists", field="household_id", id=household.id)
    row = Beneficiary(
        project_id=project.id,
        household_id=household.id,
        region_code=household.region_code,
        created_by=user_id,
        **data.model_dump(exclude={"household_id"}),
    )
    session.add(row)
    await session.flush()
    return row, household.category.value


async def beneficiaries(
    session: AsyncSession, project_id: int, cursor: str | None, limit: int
) -> KeyPage[tuple[Beneficiary, str]]:
    from services.core.households.models import Household

    stmt = (
        select(Beneficiary, Household.category)
        .join(Household, Household.id == Beneficiary.household_id)
        .where(Beneficiary.project_id == project_id)
    )
    return await keyset_page(
        session,
        stmt,
        [(Beneficiary.id, False)],
        cursor,
        limit,
        rows="rows",
        key=lambda r: [r[0].id],
        row=lambda r: (r[0], r[1].value),
    )
