"""Vocabularies of funds, projects and assets (docs/domain.md "Funds, projects and assets")."""

from __future__ import annotations

from services.core.labels import LabelledEnum


class FundLevel(LabelledEnum):
    """Level of government a fund comes from 资金级次."""

    central = "central", "中央"
    provincial = "provincial", "省级"
    city = "city", "市级"
    county = "county", "县级"


# "Higher-level" funds of the work-for-relief rule: city and above (市级及以上) [004 §19].
HIGHER_LEVELS = (FundLevel.central, FundLevel.provincial, FundLevel.city)


class FundKind(LabelledEnum):
    """Kind of fund 资金类型."""

    transition = "transition", "衔接推进乡村振兴补助资金"
    work_relief = "work_relief", "以工代赈"
    east_west = "east_west", "东西部协作"
    designated = "designated", "定点帮扶"
    social = "social", "社会帮扶资金"


class ProjectCategory(LabelledEnum):
    """Project category 项目类型."""

    industry = "industry", "产业发展"
    employment = "employment", "就业"
    infrastructure = "infrastructure", "基础设施"
    village_construction = "village_construction", "乡村建设"
    work_relief = "work_relief", "以工代赈"
    microcredit_interest = "microcredit_interest", "小额信贷贴息"
    education_subsidy = "education_subsidy", "教育补助（雨露计划）"
    other = "other", "其他"


class ProjectStatus(LabelledEnum):
    """Step of a project's lifecycle 项目状态."""

    proposed = "proposed", "申报"
    reviewed = "reviewed", "评审入库"
    approved = "approved", "批复"
    tendering = "tendering", "招投标"
    started = "started", "开工"
    completed = "completed", "完工"
    accepted = "accepted", "验收"
    handed_over = "handed_over", "资产移交"
    cancelled = "cancelled", "取消"


# The lifecycle in order; each step goes to the next one only (or to cancelled, before acceptance).
LIFECYCLE = (
    ProjectStatus.proposed,
    ProjectStatus.reviewed,
    ProjectStatus.approved,
    ProjectStatus.tendering,
    ProjectStatus.started,
    ProjectStatus.completed,
    ProjectStatus.accepted,
    ProjectStatus.handed_over,
)
CANCELLABLE = frozenset(LIFECYCLE[: LIFECYCLE.index(ProjectStatus.accepted)])
# Where the step's day is stored on the project.
DATE_OF = {
    ProjectStatus.proposed: "proposed_on",
    ProjectStatus.reviewed: "reviewed_on",
    ProjectStatus.approved: "approved_on",
    ProjectStatus.tendering: "tendering_on",
    ProjectStatus.started: "started_on",
    ProjectStatus.completed: "completed_on",
    ProjectStatus.accepted: "accepted_on",
    ProjectStatus.handed_over: "handed_over_on",
    ProjectStatus.cancelled: "cancelled_on",
}
# Money may be paid for a project from approval on, until it is cancelled.
SPENDABLE = frozenset(LIFECYCLE[LIFECYCLE.index(ProjectStatus.approved) :])
# Listed in public disclosure once reviewed into the library.
PUBLIC = frozenset(set(LIFECYCLE[1:]) | {ProjectStatus.cancelled})


class SpendingItem(LabelledEnum):
    """What a disbursement paid for. The last six are the negative list of transition funds."""

    construction = "construction", "工程建设"
    materials = "materials", "材料设备"
    labour_pay = "labour_pay", "劳务报酬（以工代赈）"
    household_subsidy = "household_subsidy", "到户补助"
    interest_subsidy = "interest_subsidy", "贴息"
    training = "training", "培训"
    management_fee = "management_fee", "项目管理费"
    other = "other", "其他"
    # 负面清单
    unit_running_costs = "unit_running_costs", "单位基本支出、工作经费"
    vehicles_and_communication = "vehicles_and_communication", "交通工具及通讯设备"
    office_buildings = "office_buildings", "楼堂馆所"
    bonuses_allowances = "bonuses_allowances", "各种奖金津贴和福利补助"
    debt_repayment = "debt_repayment", "偿还债务"
    other_prohibited = "other_prohibited", "其他与巩固衔接无关的支出"


class AssetClass(LabelledEnum):
    """Class of a project asset 资产类别."""

    operating = "operating", "经营性"
    public_welfare = "public_welfare", "公益性"
    household = "household", "到户类"


class AssetStatus(LabelledEnum):
    """Status of a project asset 资产状态."""

    in_use = "in_use", "在用"
    idle = "idle", "闲置"
    damaged = "damaged", "损毁"
    disposed = "disposed", "已处置"


class DisposalMethod(LabelledEnum):
    """How an asset was disposed of 处置方式."""

    auction = "auction", "拍卖"
    transfer = "transfer", "转让"
    conversion = "conversion", "转换用途"
    suspension = "suspension", "停用"
    write_off = "write_off", "核销"
    scrapping = "scrapping", "报废"


class IndicatorStatus(LabelledEnum):
    """Where a compliance indicator stands 指标完成情况."""

    met = "met", "达标"
    on_track = "on_track", "进度正常"
    behind = "behind", "滞后"


class FundFindingRule(LabelledEnum):
    """Rule of the fund and asset checks 资金资产监管规则."""

    negative_list = "negative_list", "资金用于负面清单事项"
    idle_operating_asset = "idle_operating_asset", "经营性资产长期无收益"
    public_asset_no_custodian = "public_asset_no_custodian", "公益性资产无管护人"
    household_asset_orphaned = "household_asset_orphaned", "到户资产的农户已不在册"


class FundFindingStatus(LabelledEnum):
    """Status of a fund or asset finding 问题状态."""

    open = "open", "待处理"
    resolved = "resolved", "已解决"
