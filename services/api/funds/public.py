"""Public disclosure (公告公示): projects and fund allocations for notice boards and the
county website, without login. No token is read (one that is sent is ignored); each client
address is rate-limited; answers may be cached for five minutes. The queries and what they
publish: ``services.core.funds.public``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.api import tags
from services.api.deps import PublicSession
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit, PrefixCheck, PrefixQuery
from services.api.ratelimit import public_read
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.funds import public
from services.core.funds.enums import FundKind, FundLevel, ProjectCategory, ProjectStatus
from services.core.labels import LabelledEnum, labelled

CACHE = {"Cache-Control": "public, max-age=300"}
_CACHE_DOC = {"Cache-Control": {"description": "public, max-age=300", "schema": {"type": "string"}}}

router = APIRouter(
    prefix="/api/v1/public",
    route_class=GuardlineRoute,
    tags=[tags.PUBLIC_DISCLOSURE],
    dependencies=[Depends(public_read)],
)

# The statuses a published project can be in (a proposed one is never published): an enum made
# when the module loads, which the type checker knows only as a labelled enum.
if TYPE_CHECKING:
    PublicStatus = LabelledEnum
else:
    PublicStatus = labelled(
        "PublicStatus", [(s.value, s.label) for s in public.PUBLIC_STATUSES], "Step of a published project 项目状态."
    )


def _documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Errors these routes can answer: no login, so never 401 or 403."""
    out = {code: doc for code, doc in responses(*codes, 429).items() if code not in (401, 403)}
    out[200] = {"headers": _CACHE_DOC}
    return out


Region = Annotated[
    str,
    PrefixQuery("Region code prefix: 2 (province), 4, 6 (county), 9 (township) or 12 (village) digits 区划代码前缀"),
    PrefixCheck,
]
Year = Annotated[int, Query(ge=2000, le=2100, description="Fund and project year 年度")]


class FundSource(BaseModel):
    level: FundLevel = Field(description="Level of the fund 资金级次")
    kind: FundKind = Field(description="Kind of fund 资金类型")
    fund_name: str = Field(description="Name of the fund 资金名称")
    document_ref: str | None = Field(description="文号")
    amount: Decimal = Field(description="Allocated to this project from this fund 下达金额")


class PublicProject(BaseModel):
    id: int = Field(description="Project id 项目标识")
    name: str = Field(description="Project name 项目名称")
    category: ProjectCategory = Field(description="Project category 项目类型")
    year: int = Field(description="Project year 项目年度")
    region_code: str = Field(description="The township or village of the project 区划代码")
    region_name: str | None = Field(description="Name of that region 区划名称")
    location: str | None = Field(description="建设地点")
    status: PublicStatus = Field(description="Project status 项目状态")
    implementing_unit: str = Field(description="实施单位")
    content: str | None = Field(description="建设内容及规模")
    budget: Decimal = Field(description="计划投资")
    performance_targets: list[dict[str, Any]] = Field(description="绩效目标")
    farmer_links: str | None = Field(description="联农带农机制")
    planned_start: date = Field(description="Planned start day 计划开工日期")
    planned_end: date = Field(description="Planned completion day 计划完工日期")
    approved_on: date | None = Field(description="Day approved 批复日期")
    started_on: date | None = Field(description="Day construction started 开工日期")
    completed_on: date | None = Field(description="Day completed 完工日期")
    accepted_on: date | None = Field(description="Day accepted 验收日期")
    handed_over_on: date | None = Field(description="Day the assets were handed over 资产移交日期")
    cancelled_on: date | None = Field(description="Day cancelled 取消日期")
    fund_sources: list[FundSource] = Field(description="资金来源")
    allocated: Decimal = Field(description="Funds allocated in total 下达资金合计")
    disbursed: Decimal = Field(description="Paid out so far 已支付")
    labour_pay: Decimal = Field(description="Labour pay paid (以工代赈 劳务报酬)")
    beneficiary_households: int = Field(description="Households that benefit 带动受益户数")


class Figures(BaseModel):
    amount: Decimal = Field(description="Funds received, yuan 下达金额")
    allocated: Decimal = Field(description="Allocated to projects, yuan 已分配到项目")
    unallocated: Decimal = Field(description="Not yet allocated, yuan 未分配")


class PublicFund(Figures):
    id: int = Field(description="Fund id 资金标识")
    level: FundLevel = Field(description="Level of the fund 资金级次")
    kind: FundKind = Field(description="Kind of fund 资金类型")
    name: str = Field(description="Name of the fund 资金名称")
    document_ref: str | None = Field(description="Number of the allocation document 指标文件文号")
    region_code: str = Field(description="The county receiving it 县级区划代码")
    region_name: str | None = Field(description="Name of the county 县名称")
    received_on: date = Field(description="Day received 下达日期")


class LevelFigures(Figures):
    level: FundLevel = Field(description="Level of the funds summed 资金级次")


class KindFigures(Figures):
    kind: FundKind = Field(description="Kind of the funds summed 资金类型")


class CategoryFigures(BaseModel):
    category: ProjectCategory = Field(description="Project category 项目类型")
    allocated: Decimal = Field(description="Allocated to projects of the category, yuan 已分配金额")
    projects: int = Field(
        description="Number of projects of the category under the region that received those funds 项目个数"
    )


class PublicFundSummary(BaseModel):
    region_code: str = Field(description="The region summarised 区划代码")
    region_name: str = Field(description="Its name 区划名称")
    year: int = Field(description="Fund year 资金年度")
    funds: list[PublicFund] = Field(description="The funds received by the counties under the region 资金明细")
    total: Figures = Field(description="Totals of every fund 合计")
    by_level: list[LevelFigures] = Field(description="Totals per fund level 按资金级次")
    by_kind: list[KindFigures] = Field(description="Totals per fund kind 按资金类型")
    by_category: list[CategoryFigures] = Field(description="Allocated to projects under the region, per category")


@router.get(
    "/projects",
    response_model=Page[PublicProject],
    operation_id="listPublicProjects",
    responses=_documented(404),
    summary="Published projects of a region and year 项目公告公示",
)
async def list_public_projects(
    request: Request,
    session: PublicSession,
    region: Region,
    year: Year,
    category: ProjectCategory | None = None,
    status: PublicStatus | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Public disclosure (公告公示), without login: the projects of a region and year reviewed into the library or
    later (never a proposed one), with their content, funds and sources, beneficiaries and progress, by id.
    Never personal data. Rate-limited per client address; answers may be cached for five minutes. 项目公告公示。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await public.list_projects(
        session,
        region,
        year,
        category=category,
        status=ProjectStatus(status) if status is not None else None,
        cursor=cursor,
        limit=limit,
    )
    return JSON({"items": rows, "next_cursor": next_cursor}, headers=CACHE)


@router.get(
    "/projects/{project_id}",
    response_model=PublicProject,
    operation_id="getPublicProject",
    responses=_documented(404),
    summary="One published project 项目公示详情",
)
async def get_public_project(session: PublicSession, project_id: Id):
    """One published project as the public disclosure shows it, without login; a proposed project answers 404.
    Rate-limited per client address; cacheable for five minutes. 项目公示详情。"""
    return JSON(await public.get_project(session, project_id), headers=CACHE)


@router.get(
    "/fund-allocations",
    response_model=PublicFundSummary,
    operation_id="getPublicFundSummary",
    responses=_documented(404),
    summary="Fund allocation of a region and year 资金分配公告",
)
async def get_public_fund_summary(session: PublicSession, region: Region, year: Year):
    """Public disclosure without login: the funds of the year received by the counties of a region, what each
    allocated to projects and what is left, with totals by level, by kind and by project category. Rate-limited
    per client address; cacheable for five minutes. 资金分配公告。"""
    return JSON(await public.fund_summary(session, region, year), headers=CACHE)
