"""Vocabularies of monitoring (docs/domain.md "Monitoring cases"). API values are English codes;
the Chinese terms stand next to them."""

from __future__ import annotations

from services.core.labels import LabelledEnum


class CaseType(LabelledEnum):
    """Monitoring type 监测类型."""

    unstable_lifted_out = "unstable_lifted_out", "脱贫不稳定户"
    marginal = "marginal", "边缘易致贫户"
    sudden_hardship = "sudden_hardship", "突发严重困难户"


class RiskType(LabelledEnum):
    """Risk type 风险类型."""

    illness = "illness", "因病"
    disability = "disability", "因残"
    schooling_costs = "schooling_costs", "因学"
    disaster = "disaster", "因自然灾害"
    accident = "accident", "因意外事故"
    industry_failure = "industry_failure", "因产业项目失败"
    unstable_employment = "unstable_employment", "因务工就业不稳 / 失业"
    lack_of_labour = "lack_of_labour", "缺劳动力"
    unsafe_housing = "unsafe_housing", "因住房安全"
    unsafe_water = "unsafe_water", "因饮水安全"
    out_of_school = "out_of_school", "因失学辍学"
    income_below_line = "income_below_line", "收入低于监测标准"
    other = "other", "其他"


# Risk types that tell a person's health: never on a public notice.
HEALTH_RISKS = frozenset({RiskType.illness, RiskType.disability})


class Channel(LabelledEnum):
    """三种途径 of discovery."""

    self_declaration = "self_declaration", "农户自主申报"
    visit = "visit", "干部走访排查 / 网格员排查"
    department_screening = "department_screening", "部门筛查预警"


class ClueStatus(LabelledEnum):
    """Status of a risk clue 线索状态."""

    open = "open", "待处理"
    dismissed = "dismissed", "已排除"  # with a reason
    converted = "converted", "已转为监测对象"  # a new case, or added to the household's open case


class CaseStatus(LabelledEnum):
    """Step of a monitoring case: identification 识别, assistance 帮扶, risk elimination 风险消除, or closed 结案."""

    # identification 识别
    verification = "verification", "入户核实（签署承诺授权书）"
    village_review = "village_review", "村级民主评议"
    identification_notice = "identification_notice", "村级公示"
    township_review = "township_review", "乡镇审核"
    county_approval = "county_approval", "县级审批"
    # assistance 帮扶
    assisting = "assisting", "已识别，帮扶中"
    # risk elimination 风险消除
    elimination_verification = "elimination_verification", "提出风险消除，入户核实"
    elimination_review = "elimination_review", "风险消除民主评议"
    elimination_notice = "elimination_notice", "风险消除公示"
    elimination_township_review = "elimination_township_review", "风险消除乡镇审核"
    elimination_approval = "elimination_approval", "风险消除县级审批"
    eliminated = "eliminated", "风险已消除（持续跟踪、回头看）"
    # closed without identification, or ended otherwise
    rejected = "rejected", "未纳入监测"
    terminated = "terminated", "终止（户已注销、全员死亡等）"


IDENTIFICATION_PHASE = frozenset(
    {
        CaseStatus.verification,
        CaseStatus.village_review,
        CaseStatus.identification_notice,
        CaseStatus.township_review,
        CaseStatus.county_approval,
    }
)
ELIMINATION_PHASE = frozenset(
    {
        CaseStatus.elimination_verification,
        CaseStatus.elimination_review,
        CaseStatus.elimination_notice,
        CaseStatus.elimination_township_review,
        CaseStatus.elimination_approval,
    }
)
# Identified and not yet eliminated: the household is 监测户 and is being helped.
UNDER_ASSISTANCE = frozenset({CaseStatus.assisting}) | ELIMINATION_PHASE
FINAL = frozenset({CaseStatus.eliminated, CaseStatus.rejected, CaseStatus.terminated})
OPEN = frozenset(CaseStatus) - FINAL


class Action(LabelledEnum):
    """What a step of a monitoring case did 办理操作."""

    verify = "verify", "入户核实"  # confirmed (with consent) or not
    village_review = "village_review", "村级民主评议"  # approve (starts the notice) or reject
    notice_result = "notice_result", "公示结果"  # at the end of the notice: no objection upheld, or upheld
    township_review = "township_review", "乡镇审核"
    county_decision = "county_decision", "县级审批"
    propose_elimination = "propose_elimination", "提出风险消除"
    terminate = "terminate", "终止"
    # not transitions, recorded in the same history
    open = "open", "立案（由线索转为监测对象）"  # the case was opened from a clue
    add_risks = "add_risks", "追加风险类型"  # another clue added risks to the open case
    assign_cadre = "assign_cadre", "明确帮扶责任人"


class Decision(LabelledEnum):
    """Decision of a review or approval step 审核意见."""

    approve = "approve", "同意"
    reject = "reject", "不同意"


class EliminationWay(LabelledEnum):
    """How the risk was eliminated 风险消除方式."""

    by_assistance = "by_assistance", "帮扶消除"
    natural = "natural", "自然消除"


class MeasureCategory(LabelledEnum):
    """Category of an assistance measure 帮扶措施类别."""

    industry = "industry", "产业"
    employment = "employment", "就业"
    finance = "finance", "金融（小额信贷）"
    public_welfare_post = "public_welfare_post", "公益岗位"
    housing_safety = "housing_safety", "住房安全"
    water_safety = "water_safety", "饮水安全"
    health = "health", "健康"
    compulsory_education = "compulsory_education", "义务教育"
    other_education = "other_education", "其他教育"
    social_protection = "social_protection", "综合保障（低保、特困、临时救助）"
    social_assistance = "social_assistance", "社会帮扶"
    relocation = "relocation", "搬迁"
    living_conditions = "living_conditions", "生产生活条件"
    infrastructure = "infrastructure", "基础设施"


class MeasureStatus(LabelledEnum):
    """Progress of an assistance measure 措施实施状态."""

    planned = "planned", "计划"
    in_progress = "in_progress", "实施中"
    completed = "completed", "已完成"
    stopped = "stopped", "已中止"


class VisitMode(LabelledEnum):
    """How a household was visited 走访方式."""

    in_person = "in_person", "入户走访"
    phone = "phone", "电话"
    video = "video", "视频"


class DeadlineKind(LabelledEnum):
    """Kind of deadline of a clue or case 时限类型."""

    clue_acceptance = "clue_acceptance", "自主申报受理时限"
    identification = "identification", "识别时限（首条线索起）"
    cadre_assignment = "cadre_assignment", "明确帮扶责任人"
    plan = "plan", "制定一户一策"
    monthly_visit = "monthly_visit", "每月走访"


class NoticeKind(LabelledEnum):
    """Kind of village public notice 公示类型."""

    identification = "identification", "识别公示"
    elimination = "elimination", "风险消除公示"
