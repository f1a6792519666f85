from __future__ import annotations

from services.core.labels import LabelledEnum


class SourceKind(LabelledEnum):
    """What a source's records are: decides the canonical fields and which rules apply.
    ``generic`` sources (housing, disability, employment … added by configuration) are
    staged and matched, and feed the rules that need only an ID number and a name."""

    civil_affairs = "civil-affairs", "民政"  # 低保, 低保边缘, 特困, 临时救助, 孤儿
    medical_insurance = "medical-insurance", "医保"  # enrolment, settled claims
    education = "education", "教育"  # students by term, aid
    housing = "housing", "住建"  # rural house safety appraisals (C/D-grade unsafe houses)
    generic = "generic", "其他部门（残联、人社等）"


class RecordType(LabelledEnum):
    assistance = "assistance", "民政救助"  # a civil-affairs benefit
    enrolment = "enrolment", "医保参保"  # basic medical insurance enrolment of a year
    claim = "claim", "医疗结算"  # a settled medical claim
    student = "student", "学生学籍"  # a student in a term
    house = "house", "农房安全鉴定"  # a house's safety appraisal (危房鉴定), keyed on the household head
    generic = "generic", "其他部门记录"


class Benefit(LabelledEnum):
    dibao = "dibao", "最低生活保障（低保）"
    dibao_edge = "dibao_edge", "低保边缘"
    tekun = "tekun", "特困供养"
    temporary = "temporary", "临时救助"
    orphan = "orphan", "孤儿"


class SchoolStage(LabelledEnum):
    primary = "primary", "小学"
    junior_secondary = "junior_secondary", "初中"
    senior_secondary = "senior_secondary", "高中"
    vocational = "vocational", "中职"
    higher = "higher", "高校"


class StudentStatus(LabelledEnum):
    """Status of a student in a department's school roster 学籍状态."""

    enrolled = "enrolled", "在读"
    dropped_out = "dropped_out", "辍学"
    suspended = "suspended", "休学"
    graduated = "graduated", "毕业"
    transferred = "transferred", "转学"


class HouseGrade(LabelledEnum):
    """Grade of a rural house safety appraisal 农村住房安全性鉴定等级 (C, D: unsafe 危房)."""

    a = "A", "A级（安全）"
    b = "B", "B级（基本安全）"
    c = "C", "C级危房（局部危险）"
    d = "D", "D级危房（整体危险）"


class Renovation(LabelledEnum):
    """Whether an unsafe house was renovated 危房改造状态."""

    none = "none", "未改造"
    in_progress = "in_progress", "改造中"
    done = "done", "已改造（竣工验收）"


class KeyGroup(LabelledEnum):
    """Key groups of the family doctor contract (家庭医生签约服务重点人群; seed 004 §10, seed 000)."""

    dibao = "dibao", "农村低保对象"  # the household's flag, or an active grant a civil-affairs source sent
    tekun = "tekun", "特困人员"  # likewise
    monitored = "monitored", "监测对象"  # category monitored or an open case
    lifted_out = "lifted_out", "脱贫人口"  # seed 000: 持续做好脱贫人口家庭医生签约服务


class RunStatus(LabelledEnum):
    """Status of a sync run 同步任务状态."""

    queued = "queued", "排队中"
    running = "running", "运行中"
    succeeded = "succeeded", "成功"
    failed = "failed", "失败"


class RunPhase(LabelledEnum):
    """Phase of a sync run 同步阶段."""

    fetching = "fetching", "拉取数据"
    reconciling = "reconciling", "比对"
    clues = "clues", "生成风险线索"  # risk findings becoming risk clues, a batch per transaction
    done = "done", "完成"


class Trigger(LabelledEnum):
    """What started a sync run 触发方式."""

    schedule = "schedule", "定时"  # the worker's schedule (also its daily registry checks)
    manual = "manual", "手动"  # the API, `guardline sync run` or `guardline sync check-registry`
    retry = "retry", "失败重试"  # a failed run tried again later
    spreadsheet = "spreadsheet", "表格导入"  # `guardline sync import`
    reprocess = "reprocess", "隔离记录重新处理"  # quarantined records tried again


class FindingStatus(LabelledEnum):
    """Status of a department cross-check finding 问题处理状态."""

    open = "open", "待处理"
    acknowledged = "acknowledged", "已确认"
    resolved = "resolved", "已解决"


class Severity(LabelledEnum):
    """Severity of a finding 严重程度."""

    low = "low", "低"
    medium = "medium", "中"
    high = "high", "高"


class QuarantineStatus(LabelledEnum):
    """Status of a quarantined department record 隔离记录状态."""

    open = "open", "待处理"
    reprocessed = "reprocessed", "已重新处理"  # passed the normaliser on a later try and was staged
