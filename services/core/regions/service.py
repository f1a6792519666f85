from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound, Unprocessable
from services.core.regions.models import Region
from services.core.regions.rules import InvalidRegionCode, Level, is_valid_prefix, level_of
from services.core.scope import ScopedRead


async def get_region(session: AsyncSession, code: str, field: str = "region_code") -> Region:
    """A region the caller can see; malformed codes are 422, unknown or hidden ones 404."""
    try:
        level_of(code)
    except InvalidRegionCode:
        raise Unprocessable("region_code_malformed", field=field) from None
    region = (await session.execute(select(Region).where(Region.code == code))).scalar_one_or_none()
    if region is None:
        raise NotFound("region_not_found", field=field, region=code)
    return region


async def get_village(session: AsyncSession, code: str, field: str = "region_code") -> Region:
    region = await get_region(session, code, field)
    if region.level != Level.village:
        raise Unprocessable("region_not_village", field=field)
    return region


# Checked before every list filtered by region, so compiled once per scope (``ScopedRead``).
_REGION_SEEN = ScopedRead(select(Region.code).where(Region.code == bindparam("code", type_=String)), "code")


async def check_prefix_visible(source: Any, prefix: str, field: str = "region") -> None:
    """A list filter naming regions: the prefix must denote a region the caller can see.
    ``source`` is the request's session or a ``Reader`` (a list's direct handler)."""
    if not is_valid_prefix(prefix):
        raise Unprocessable("region_prefix_malformed", field=field)
    code = prefix.ljust(12, "0")
    try:
        level_of(code)
    except InvalidRegionCode:
        raise Unprocessable("region_code_malformed", field=field) from None
    if await _REGION_SEEN.first(source, code=code) is None:
        raise NotFound("region_not_found", field=field, region=code)
