from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.api import tags
from services.api.deps import Session
from services.api.errors_doc import responses
from services.api.pagination import Page
from services.api.params import Cursor, RegionCode
from services.api.routing import GuardlineRoute
from services.core.paging import keyset_page
from services.core.regions.models import Region
from services.core.regions.rules import CODE_PATTERN
from services.core.regions.service import get_region

router = APIRouter(prefix="/api/v1/regions", tags=[tags.REGIONS], route_class=GuardlineRoute)


class RegionOut(BaseModel):
    code: str = Field(description="Region code, 12 digits 区划代码")
    name: str = Field(description="Region name 区划名称")
    level: int = Field(
        description="Level: 1 province 省, 2 city 市, 3 county 县, 4 township 乡镇, 5 village 村 区划级别"
    )
    parent_code: str | None = Field(description="Code of the region above; null for a province 上级区划代码")


@router.get(
    "",
    response_model=Page[RegionOut],
    operation_id="listRegions",
    responses=responses(404),
    summary="Regions you can see 区划列表",
)
async def list_regions(
    session: Session,
    parent: RegionCode = None,
    level: Annotated[int | None, Query(ge=1, le=5, description="1 province … 5 village")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Cursor = None,
):
    """Administrative regions (行政区划) within your scope, by code, optionally the children of one region or those of
    one level (1 province … 5 village). Any logged-in caller. 区划列表。"""
    stmt = select(Region)
    if parent is not None:
        await get_region(session, parent, field="parent")
        stmt = stmt.where(Region.parent_code == parent)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    rows, next_cursor = await keyset_page(session, stmt, [(Region.code, False)], cursor, limit)
    return Page[RegionOut](
        items=[RegionOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{code}", response_model=RegionOut, operation_id="getRegion", responses=responses(404), summary="One region 区划"
)
async def one_region(
    session: Session, code: Annotated[str, Path(max_length=12, json_schema_extra={"pattern": CODE_PATTERN})]
):
    """One administrative region by its 12-digit code; a region outside your scope answers 404. Any logged-in
    caller. 区划详情。"""
    return RegionOut.model_validate(await get_region(session, code, field="code"), from_attributes=True)
