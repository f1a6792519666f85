"""What the events API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.core.events.types import EventType
from services.core.labels import LabelledEnum


class EventObject(BaseModel):
    type: str = Field(description="Kind of object, e.g. household, case, measure 对象类型")
    id: str = Field(description="Its id (a number, or a uuid for measures and visits) 对象标识")


class EventOut(BaseModel):
    id: int = Field(description="The event's number: numbers follow the commit order 事件序号（按提交顺序）")
    type: EventType = Field(description="What happened, `<object>.<change>` 事件类型")
    object: EventObject = Field(description="The object that changed 变更对象")
    region_code: str = Field(description="The object's region after the change 变更后所在区划")
    old_region_code: str | None = Field(description="Its region before, when the change moved it 迁移前区划")
    household_id: int | None = Field(description="The household it concerns 所涉农户")
    at: datetime = Field(description="When it was committed 提交时间")
    data: dict[str, Any] = Field(
        description="Ids and states of the object after the change; never names, ID numbers, addresses, phones "
        "or health details: read the object itself for those 变更后的标识和状态（不含个人敏感信息）"
    )


class EventPage(BaseModel):
    items: list[EventOut] = Field(description="The events, by number 事件列表")
    next_after: int = Field(
        description="Pass as `after` to read on: the last number given, or the one asked after when none "
        "was new 下次查询的 after"
    )


class ChangeFamily(LabelledEnum):
    """A resource family of the change feed 同步数据类别."""

    households = "households", "农户（含成员）"
    persons = "persons", "人员"
    cases = "cases", "监测对象（案件）"
    measures = "measures", "帮扶措施"
    visits = "visits", "走访记录"


class ChangeKind(LabelledEnum):
    """What the phone does with an item of the change feed 变更类型."""

    upsert = "upsert", "新增或更新本地副本"
    removed = "removed", "已迁出辖区，删除本地副本"


class ChangeItem(BaseModel):
    id: str = Field(description="The object's id 对象标识")
    change: ChangeKind = Field(
        description="upsert: the object as it is now (`data`); removed: it left your regions (a tombstone: drop it) "
        "upsert 为对象当前内容；removed 表示已迁出辖区，应删除本地副本"
    )
    data: dict[str, Any] | None = Field(
        description="The object as the API shows it to your role, without health details (null when removed) 对象内容"
    )


class ChangePage(BaseModel):
    family: ChangeFamily = Field(description="The family asked for 数据类别")
    items: list[ChangeItem] = Field(description="Each object once, in the order of its latest change 变更对象")
    next: str = Field(description="Pass as `since` next time 下次同步令牌")
    more: bool = Field(description="More right now: ask again with `next` at once 是否还有更多")
