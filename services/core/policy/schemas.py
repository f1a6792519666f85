"""Request and response shapes of a policy's override rows, the same for every policy
(monitoring, funds, sync): the routes of each answer them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from services.core.base import VERSION_DESCRIPTION
from services.core.households.schemas import Input
from services.core.types import MULTILINE

Year = Annotated[int, Field(ge=2000, le=2100)]
Note = Annotated[str, MULTILINE, StringConstraints(strip_whitespace=True, max_length=500)]
# "" is every region (only for a caller whose own regions are everywhere).
PolicyPrefix = Annotated[str, StringConstraints(pattern=r"^(|\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]


class PolicyRowIn(Input):
    region_prefix: PolicyPrefix = Field(description="Region code prefix the override is for, within your regions")
    year: Year = Field(description="In force from this year on")
    values: dict[str, Any] = Field(
        description="Fields of the monitoring policy to override (see MonitoringPolicy); each validated"
    )
    note: Note | None = Field(None, description="Note: the document or decision behind the override 备注")


class PolicyRowUpdate(Input):
    values: dict[str, Any] = Field(
        description="Fields of the policy to override, replacing the row's values 覆盖的参数"
    )
    note: Note | None = Field(None, description="Note: the document or decision behind the override 备注")


class PolicyRowOut(BaseModel):
    id: int = Field(description="Override id 参数记录标识")
    region_prefix: str = Field(description='Region code prefix the override is for ("" everywhere) 区划代码前缀')
    year: int = Field(description="In force from this year on 起始年度")
    values: dict[str, Any] = Field(description="The fields it overrides 覆盖的参数")
    note: str | None = Field(description="Note 备注")
    updated_by: int | None = Field(description="User who changed it last 修改人")
    version: int = Field(description=VERSION_DESCRIPTION)
    created_at: datetime = Field(description="When created 创建时间")
    updated_at: datetime = Field(description="When last changed 更新时间")
    deadlines_refreshed: int | None = Field(
        None, description="After a change: open cases and clues whose stored deadlines were recomputed"
    )
