from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.core.guarantees.models import Status
from services.core.households.schemas import Input
from services.core.types import Text200


class GuaranteesUpdate(Input):
    """The whole status (PUT): 义务教育, 基本医疗, 住房安全, 饮水安全."""

    education: Status
    medical: Status
    housing: Status
    water: Status
    housing_grade: Literal["C", "D"] | None = Field(None, description="Unsafe-house appraisal grade (C/D)")
    note: Text200 | None = None

    @model_validator(mode="after")
    def _grade_only_when_unsafe(self) -> "GuaranteesUpdate":
        if self.housing_grade and self.housing != Status.at_risk:
            raise ValueError("value_error@housing_grade")
        return self


class GuaranteesOut(BaseModel):
    household_id: int
    education: Status
    medical: Status
    housing: Status
    water: Status
    housing_grade: str | None
    note: str | None
    all_secure: bool = Field(description="True when no item is at risk or unknown")
    version: int
    updated_at: datetime


class GuaranteeChangeOut(BaseModel):
    id: int
    item: str
    old_status: Status | None
    new_status: Status
    note: str | None
    changed_by: int | None
    changed_at: datetime
