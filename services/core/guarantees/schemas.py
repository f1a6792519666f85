from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from services.core.base import VERSION_DESCRIPTION
from services.core.guarantees.models import Status
from services.core.households.schemas import Input
from services.core.labels import LiteralLabels
from services.core.types import Text200

# Appraisal grades of an unsafe house (危房鉴定等级) a household can be recorded with.
HousingGrade = Annotated[Literal["C", "D"], LiteralLabels({"C": "C级危房（局部危险）", "D": "D级危房（整体危险）"})]


class GuaranteesUpdate(Input):
    """The whole status (PUT): 义务教育, 基本医疗, 住房安全, 饮水安全."""

    education: Status = Field(description="Compulsory education 义务教育保障")
    medical: Status = Field(description="Basic medical care 基本医疗保障")
    housing: Status = Field(description="Housing safety 住房安全保障")
    water: Status = Field(description="Drinking-water safety 饮水安全")
    housing_grade: HousingGrade | None = Field(None, description="Unsafe-house appraisal grade (C/D)")
    note: Text200 | None = Field(None, description="Note 备注")

    @model_validator(mode="after")
    def _grade_only_when_unsafe(self) -> GuaranteesUpdate:
        if self.housing_grade and self.housing != Status.at_risk:
            raise ValueError("value_error@housing_grade")
        return self


class GuaranteesOut(BaseModel):
    household_id: int = Field(description="Household id 农户标识")
    education: Status = Field(description="Compulsory education 义务教育保障")
    medical: Status = Field(description="Basic medical care 基本医疗保障")
    housing: Status = Field(description="Housing safety 住房安全保障")
    water: Status = Field(description="Drinking-water safety 饮水安全")
    housing_grade: str | None = Field(
        description="Unsafe-house appraisal grade C or D, when housing is at risk 危房等级"
    )
    note: str | None = Field(description="Note 备注")
    all_secure: bool = Field(description="True when no item is at risk or unknown")
    version: int = Field(description=VERSION_DESCRIPTION)
    updated_at: datetime = Field(description="When last changed 更新时间")


class GuaranteeChangeOut(BaseModel):
    id: int = Field(description="Change id 变更标识")
    item: str = Field(description="Which guarantee changed: education, medical, housing or water 保障项目")
    old_status: Status | None = Field(description="Status before; null for the first record 原状态")
    new_status: Status = Field(description="Status after 新状态")
    note: str | None = Field(description="Note given with the change 备注")
    changed_by: int | None = Field(description="User who made the change 操作人")
    changed_at: datetime = Field(description="When 变更时间")
