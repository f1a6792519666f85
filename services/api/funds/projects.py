"""The project library: projects, their lifecycle steps, beneficiaries and payments. Thin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.funds import projects as service
from services.core.funds import service as money
from services.core.funds.enums import ProjectCategory, ProjectStatus
from services.core.funds.models import Project
from services.core.funds.schemas import (
    AllocationOut,
    BeneficiaryIn,
    BeneficiaryOut,
    DisbursementIn,
    DisbursementOut,
    ProjectIn,
    ProjectOut,
    ProjectUpdate,
    StepIn,
)

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
TAGS: tags.Tags = [tags.PROJECTS]
READ = [Needs(Permission.funds_read)]
LIST = [Needs(Permission.funds_read), Depends(bulk_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
FundsWriter = Annotated[Caller, Needs(Permission.funds_write)]
ProjectsWriter = Annotated[Caller, Needs(Permission.projects_write)]
IF_MATCH = "Needs `If-Match` with the project's ETag."

path_object("project_id", Project)


_FIELDS = tuple(f for f in ProjectOut.model_fields if f not in ("next_steps", "allocated", "disbursed"))


def project_body(p: Project, allocated, disbursed) -> dict[str, Any]:
    return {
        **{f: getattr(p, f) for f in _FIELDS},
        "next_steps": service.next_steps(p.status),
        "allocated": allocated,
        "disbursed": disbursed,
    }


async def _response(session, p: Project, status: int = 200) -> JSON:
    figures = await service.money_of(session, [p.id])
    headers = {"ETag": etag("project", p.id, p.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/projects/{p.id}"
    return JSON(project_body(p, *figures[p.id]), status_code=status, headers=headers)


@router.post(
    "/projects",
    status_code=201,
    response_model=ProjectOut,
    operation_id="createProject",
    tags=TAGS,
    responses=responses(403, 404),
    summary="Propose a project 项目申报",
    description="A new project starts as `proposed`. " + IDEMPOTENCY_DOC,
)
async def create_project(body: ProjectIn, session: Session, caller: ProjectsWriter):
    return await _response(session, await service.create(session, body, caller.user_id), 201)


@router.get(
    "/projects",
    response_model=Page[ProjectOut],
    operation_id="listProjects",
    tags=TAGS,
    dependencies=LIST,
    responses=responses(404),
    summary="Projects of the library, by id 项目库",
)
async def list_projects(
    request: Request,
    session: Session,
    region: RegionQ = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    category: ProjectCategory | None = None,
    status: ProjectStatus | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Projects of the project library (项目库) in your regions, by id, filtered by region, year, category or status,
    each with the funds allocated and paid. Needs funds:read. 项目库。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_projects(
        session, region=region, year=year, category=category, status=status, cursor=cursor, limit=limit
    )
    figures = await service.money_of(session, [p.id for p in rows])
    return JSON({"items": [project_body(p, *figures[p.id]) for p in rows], "next_cursor": next_cursor})


@router.get(
    "/projects/{project_id}",
    response_model=ProjectOut,
    operation_id="getProject",
    tags=TAGS,
    dependencies=READ,
    responses=responses(404),
    summary="One project 项目详情",
)
async def get_project(project_id: Id, session: Session):
    """One project: its description, performance targets, link to farmers' income, lifecycle dates and history, the
    steps it may take next, the funds allocated and paid, and its ETag. Needs funds:read. 项目详情。"""
    return await _response(session, await service.get(session, project_id))


@router.put(
    "/projects/{project_id}",
    response_model=ProjectOut,
    operation_id="updateProject",
    tags=TAGS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Change a project's description 修改项目信息",
    description=IF_MATCH + " Not once its assets are handed over or it is cancelled.",
)
async def update_project(
    request: Request, project_id: Id, body: ProjectUpdate, session: Session, caller: ProjectsWriter
):
    project = await service.get(session, project_id, for_update=True)
    check_if_match(request, etag("project", project.id, project.version))
    return await _response(session, await service.update(session, project, body))


@router.post(
    "/projects/{project_id}/steps",
    response_model=ProjectOut,
    operation_id="advanceProject",
    tags=TAGS,
    responses=responses(403, 404, 409, 412, 428),
    summary="Take the project's next step 项目环节推进",
    description="proposed → reviewed (入库) → approved → tendering → started → completed → accepted → "
    "handed_over; or cancelled (with a reason in `note`) before acceptance. A skipped or "
    "repeated step answers 409 with `allowed`; a day before the previous step's or in the "
    "future 422. Handing over needs the project's assets registered. " + IF_MATCH,
)
async def advance_project(request: Request, project_id: Id, body: StepIn, session: Session, caller: ProjectsWriter):
    project = await service.get(session, project_id, for_update=True)
    check_if_match(request, etag("project", project.id, project.version))
    return await _response(session, await service.take_step(session, project, body, caller.user_id))


# ---- beneficiaries ----------------------------------------------------------------------------


def _beneficiary(b, category: str | None) -> dict[str, Any]:
    return {**{f: getattr(b, f) for f in BeneficiaryOut.model_fields if f != "category"}, "category": category}


@router.post(
    "/projects/{project_id}/beneficiaries",
    status_code=201,
    response_model=BeneficiaryOut,
    operation_id="addBeneficiary",
    tags=TAGS,
    responses=responses(403, 404, 409),
    summary="A household the project benefits 联农带农受益农户",
    description="What it receives; for 以工代赈 the days worked and labour pay. " + IDEMPOTENCY_DOC,
)
async def add_beneficiary(project_id: Id, body: BeneficiaryIn, session: Session, caller: ProjectsWriter):
    project = await service.get(session, project_id)
    row, category = await service.add_beneficiary(session, project, body, caller.user_id)
    return JSON(_beneficiary(row, category), status_code=201)


@router.get(
    "/projects/{project_id}/beneficiaries",
    response_model=Page[BeneficiaryOut],
    operation_id="listBeneficiaries",
    tags=TAGS,
    dependencies=LIST,
    responses=responses(404),
    summary="The households a project benefits 受益农户",
)
async def list_beneficiaries(
    request: Request, project_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The households the project benefits (联农带农), by id: what each receives and, for work for relief (以工代赈), the
    days worked and labour pay; with the household's category. Needs funds:read. 受益农户。"""
    await service.get(session, project_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.beneficiaries(session, project_id, cursor, limit)
    return JSON({"items": [_beneficiary(b, c) for b, c in rows], "next_cursor": next_cursor})


# ---- money of a project -----------------------------------------------------------------------


def disbursement_body(d) -> dict[str, Any]:
    return {f: getattr(d, f) for f in DisbursementOut.model_fields}


@router.post(
    "/projects/{project_id}/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    operation_id="recordDisbursement",
    tags=TAGS,
    responses=responses(403, 404, 409),
    summary="Record a payment for the project 登记资金支出",
    description="From a fund allocated to the project, from approval on; more than the fund allocated to "
    "it and has not paid is refused (409, `figures`); an item of the negative list is refused "
    "(422). " + IDEMPOTENCY_DOC,
)
async def record_disbursement(project_id: Id, body: DisbursementIn, session: Session, caller: FundsWriter):
    project = await service.get(session, project_id, for_update=True)
    row, _negative = await money.disburse(session, project, body, caller.user_id)
    return JSON(disbursement_body(row), status_code=201)


@router.get(
    "/projects/{project_id}/disbursements",
    response_model=Page[DisbursementOut],
    operation_id="listProjectDisbursements",
    tags=TAGS,
    dependencies=LIST,
    responses=responses(404),
    summary="A project's payments 项目支出明细",
)
async def list_disbursements(
    request: Request, project_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The payments made for the project, by id: fund, amount, day, voucher, spending item and whether they were
    imported from the finance system. Needs funds:read. 项目支出明细。"""
    await service.get(session, project_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await money.disbursements(session, project_id=project_id, cursor=cursor, limit=limit)
    return JSON({"items": [disbursement_body(d) for d in rows], "next_cursor": next_cursor})


@router.get(
    "/projects/{project_id}/allocations",
    response_model=Page[AllocationOut],
    operation_id="listProjectAllocations",
    tags=TAGS,
    dependencies=LIST,
    responses=responses(404),
    summary="The funds allocated to a project 项目资金来源",
)
async def list_allocations(
    request: Request, project_id: Id, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The allocations of funds to the project, by id: which fund, how much and when. Needs funds:read. 项目资金来源。"""
    await service.get(session, project_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await money.allocations(session, project_id=project_id, cursor=cursor, limit=limit)
    return JSON(
        {"items": [{f: getattr(a, f) for f in AllocationOut.model_fields} for a in rows], "next_cursor": next_cursor}
    )
