from __future__ import annotations

from enum import StrEnum


class SourceKind(StrEnum):
    """What a source's records are: decides the canonical fields and which rules apply.
    ``generic`` sources (housing, disability, employment … added by configuration) are
    staged and matched, and feed the rules that need only an ID number and a name."""

    civil_affairs = "civil-affairs"  # 民政: 低保, 低保边缘, 特困, 临时救助, 孤儿
    medical_insurance = "medical-insurance"  # 医保: enrolment, settled claims
    education = "education"  # 教育: students by term, aid
    generic = "generic"


class RecordType(StrEnum):
    assistance = "assistance"  # a civil-affairs benefit
    enrolment = "enrolment"  # basic medical insurance enrolment of a year
    claim = "claim"  # a settled medical claim
    student = "student"  # a student in a term
    generic = "generic"


class Benefit(StrEnum):
    dibao = "dibao"  # 最低生活保障 低保
    dibao_edge = "dibao_edge"  # 低保边缘
    tekun = "tekun"  # 特困供养
    temporary = "temporary"  # 临时救助
    orphan = "orphan"  # 孤儿


class SchoolStage(StrEnum):
    primary = "primary"  # 小学
    junior_secondary = "junior_secondary"  # 初中
    senior_secondary = "senior_secondary"  # 高中
    vocational = "vocational"  # 中职
    higher = "higher"  # 高校


class StudentStatus(StrEnum):
    enrolled = "enrolled"  # 在读
    dropped_out = "dropped_out"  # 辍学
    suspended = "suspended"  # 休学
    graduated = "graduated"  # 毕业
    transferred = "transferred"  # 转学


class KeyGroup(StrEnum):
    """Key groups of the family doctor contract (家庭医生签约服务重点人群; seed 004 §10, seed 000)."""

    dibao = "dibao"  # 农村低保对象 (the household's flag, or an active grant a civil-affairs source sent)
    tekun = "tekun"  # 特困人员 (likewise)
    monitored = "monitored"  # 监测对象 (category monitored or an open case)
    lifted_out = "lifted_out"  # 脱贫人口 (seed 000: 持续做好脱贫人口家庭医生签约服务)


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class RunPhase(StrEnum):
    fetching = "fetching"
    reconciling = "reconciling"
    clues = "clues"  # risk findings becoming risk clues, a batch per transaction
    done = "done"


class Trigger(StrEnum):
    schedule = "schedule"  # the worker's schedule (also its daily registry checks)
    manual = "manual"  # the API, `guardline sync run` or `guardline sync check-registry`
    retry = "retry"  # a failed run tried again later
    spreadsheet = "spreadsheet"  # `guardline sync import`
    reprocess = "reprocess"  # quarantined records tried again


class FindingStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class QuarantineStatus(StrEnum):
    open = "open"
    reprocessed = "reprocessed"  # passed the normaliser on a later try and was staged
