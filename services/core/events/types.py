"""The event types, and which permission lets a caller see the events of each kind of object."""

from __future__ import annotations

from services.core.accounts.roles import Permission
from services.core.labels import LabelledEnum


class EventType(LabelledEnum):
    """Type of an event 事件类型: ``<object>.<what happened>``."""

    household_created = "household.created", "建档立户"
    household_changed = "household.changed", "农户信息变更"
    household_moved = "household.moved", "农户迁出或迁入（所在村变更）"
    household_split = "household.split", "分户"
    household_merged = "household.merged", "合户"
    household_dissolved = "household.dissolved", "农户注销"
    person_created = "person.created", "新增人员"
    person_changed = "person.changed", "人员信息变更"
    person_moved = "person.moved", "人员迁移（户或村变更）"
    person_died = "person.died", "人员死亡"
    clue_raised = "clue.raised", "风险线索上报"
    clue_handled = "clue.handled", "风险线索处理（纳入监测或排除）"
    case_step_taken = "case.step_taken", "监测帮扶流程推进一步"
    measure_recorded = "measure.recorded", "帮扶措施录入"
    measure_changed = "measure.changed", "帮扶措施变更"
    visit_recorded = "visit.recorded", "走访记录录入"
    finding_opened = "finding.opened", "部门比对发现问题（含重新打开）"
    finding_resolved = "finding.resolved", "部门比对问题已解决"
    fund_finding_opened = "fund_finding.opened", "资金资产问题发现（含重新打开）"
    fund_finding_resolved = "fund_finding.resolved", "资金资产问题已解决"
    payment_recorded = "payment.recorded", "资金支出录入"
    project_created = "project.created", "项目申报入库"
    project_step_taken = "project.step_taken", "项目实施推进一步"
    asset_disposed = "asset.disposed", "资产处置"

    @property
    def object_type(self) -> str:
        return self.value.partition(".")[0]


# What a caller must hold to see the events of each kind of object: the permission that
# lets it read the object itself.
OBJECT_PERMISSION: dict[str, Permission] = {
    "household": Permission.registry_read,
    "person": Permission.registry_read,
    "clue": Permission.monitoring_read,
    "case": Permission.monitoring_read,
    "measure": Permission.monitoring_read,
    "visit": Permission.monitoring_read,
    "finding": Permission.findings_read,
    "fund_finding": Permission.funds_read,
    "payment": Permission.funds_read,
    "project": Permission.funds_read,
    "asset": Permission.funds_read,
}


def visible_types(permissions: frozenset[Permission]) -> list[EventType]:
    """The event types a caller with ``permissions`` may see."""
    return [t for t in EventType if OBJECT_PERMISSION[t.object_type] in permissions]


def check_visible(permissions: frozenset[Permission], types: list[EventType]) -> None:
    """403 ``event_type_forbidden`` (field ``types``) for the first of ``types`` that a
    caller with ``permissions`` may not see."""
    from services.core.errors import Forbidden

    allowed = visible_types(permissions)
    refused = [t for t in types if t not in allowed]
    if refused:
        raise Forbidden("event_type_forbidden", field="types", type=refused[0].value)
