"""Public disclosure (公告公示): projects and fund allocations for notice boards and the
county website, without login. No token is read (one that is sent is ignored); each client
address is rate-limited; answers may be cached for five minutes. The queries and what they
publish: ``services.core.funds.public``."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from services.api import tags
from services.api.params import Cursor, Limit, region_prefix
from services.api.deps import PublicSession
from services.api.errors_doc import responses
from services.api.pagination import Page, cursor_id, page_limit, page_of
from services.api.ratelimit import public_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.funds import public
from services.core.funds.enums import FundKind, FundLevel, ProjectCategory

CACHE = {"Cache-Control": "public, max-age=300"}
_CACHE_DOC = {"Cache-Control": {"description": "public, max-age=300", "schema": {"type": "string"}}}

router = APIRouter(prefix="/api/v1/public", route_class=GuardlineRoute, tags=[tags.PUBLIC_DISCLOSURE],
                   dependencies=[Depends(public_read)])

# The statuses a published project can be in (a proposed one is never published).
PublicStatus = StrEnum("PublicStatus", {s.value: s.value for s in public.PUBLIC_STATUSES})


def _documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Errors these routes can answer: no login, so never 401 or 403."""
    out = {code: doc for code, doc in responses(*codes, 429).items() if code not in (401, 403)}
    out[200] = {"headers": _CACHE_DOC}
    return out


Region = region_prefix("Region code prefix: 2 (province), 4, 6 (county), 9 (township) or 12 (village) digits "
                       "区划代码前缀", optional=False)
Year = Annotated[int, Query(ge=2000, le=2100, description="Fund and project year 年度")]


class FundSource(BaseModel):
    level: FundLevel
    kind: FundKind
    fund_name: str
    document_ref: str | None = Field(description="文号")
    amount: Decimal = Field(description="Allocated to this project from this fund 下达金额")


class PublicProject(BaseModel):
    id: int
    name: str
    category: ProjectCategory
    year: int
    region_code: str
    region_name: str | None
    location: str | None = Field(description="建设地点")
    status: PublicStatus
    implementing_unit: str = Field(description="实施单位")
    content: str | None = Field(description="建设内容及规模")
    budget: Decimal = Field(description="计划投资")
    performance_targets: list[dict[str, Any]] = Field(description="绩效目标")
    farmer_links: str | None = Field(description="联农带农机制")
    planned_start: date
    planned_end: date
    approved_on: date | None
    started_on: date | None
    completed_on: date | None
    accepted_on: date | None
    handed_over_on: date | None
    cancelled_on: date | None
    fund_sources: list[FundSource] = Field(description="资金来源")
    allocated: Decimal = Field(description="Funds allocated in total 下达资金合计")
    disbursed: Decimal = Field(description="Paid out so far 已支付")
    labour_pay: Decimal = Field(description="Labour pay paid (以工代赈 劳务报酬)")
    beneficiary_households: int = Field(description="Households that benefit 带动受益户数")


class Figures(BaseModel):
    amount: Decimal
    allocated: Decimal
    unallocated: Decimal


class PublicFund(Figures):
    id: int
    level: FundLevel
    kind: FundKind
    name: str
    document_ref: str | None
    region_code: str
    region_name: str | None
    received_on: date


class LevelFigures(Figures):
    level: FundLevel


class KindFigures(Figures):
    kind: FundKind


class CategoryFigures(BaseModel):
    category: ProjectCategory
    allocated: Decimal
    projects: int


class PublicFundSummary(BaseModel):
    region_code: str
    region_name: str
    year: int
    funds: list[PublicFund]
    total: Figures
    by_level: list[LevelFigures]
    by_kind: list[KindFigures]
    by_category: list[CategoryFigures] = Field(description="Allocated to projects under the region, per category")


@router.get("/projects", response_model=Page[PublicProject], operation_id="listPublicProjects",
            responses=_documented(404), summary="Published projects of a region and year 项目公告公示")
async def list_public_projects(
    request: Request, session: PublicSession, region: Region, year: Year,
    category: ProjectCategory | None = None, status: PublicStatus | None = None,
    limit: Limit = None, cursor: Cursor = None,
):
    limit = page_limit(request, limit)
    after_id = cursor_id(cursor)
    rows = await public.list_projects(session, region, year, category=category, status=status and status.value,
                                      after_id=after_id, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda p: [p["id"]])
    return JSON({"items": rows, "next_cursor": next_cursor}, headers=CACHE)


@router.get("/projects/{project_id}", response_model=PublicProject, operation_id="getPublicProject",
            responses=_documented(404), summary="One published project 项目公示详情")
async def get_public_project(session: PublicSession, project_id: Annotated[int, PathParam(ge=1, le=2**62)]):
    return JSON(await public.get_project(session, project_id), headers=CACHE)


@router.get("/fund-allocations", response_model=PublicFundSummary, operation_id="getPublicFundSummary",
            responses=_documented(404), summary="Fund allocation of a region and year 资金分配公告")
async def get_public_fund_summary(session: PublicSession, region: Region, year: Year):
    return JSON(await public.fund_summary(session, region, year), headers=CACHE)
