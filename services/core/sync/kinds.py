"""Canonical fields of each source kind: their types, which record types need them, and
the department spellings of enumerated values that every county meets (a source's
configuration may add its own). A field a source does not map is simply absent."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.core.sync.enums import (
    Benefit,
    HouseGrade,
    RecordType,
    Renovation,
    SchoolStage,
    SourceKind,
    StudentStatus,
)


@dataclass(frozen=True)
class FieldSpec:
    type: str  # text | date | timestamp | decimal | int | bool | enum
    required_for: frozenset[RecordType] = frozenset()
    choices: dict[str, str] = field(default_factory=dict)  # department spelling → canonical value


def _req(*types: RecordType) -> frozenset[RecordType]:
    return frozenset(types)


def _same(values) -> dict[str, str]:
    return {v.value: v.value for v in values}


# Fields every kind has. ``id_number`` and the external key are checked separately.
COMMON: dict[str, FieldSpec] = {
    "record_id": FieldSpec("text"),
    "id_number": FieldSpec("text"),
    "name": FieldSpec("text"),
    "record_type": FieldSpec("enum", choices=_same(RecordType)),
    "updated_at": FieldSpec("timestamp"),
}

_BENEFITS = _same(Benefit) | {
    "低保": "dibao",
    "最低生活保障": "dibao",
    "城乡低保": "dibao",
    "农村低保": "dibao",
    "低保边缘": "dibao_edge",
    "低边": "dibao_edge",
    "特困": "tekun",
    "特困供养": "tekun",
    "特困人员": "tekun",
    "五保": "tekun",
    "临时救助": "temporary",
    "临救": "temporary",
    "孤儿": "orphan",
    "事实无人抚养儿童": "orphan",
}
_ASSISTANCE_STATUS = {
    "active": "active",
    "stopped": "stopped",
    "在保": "active",
    "正常": "active",
    "停保": "stopped",
    "已停保": "stopped",
    "退出": "stopped",
    "终止": "stopped",
}
_DIBAO_CLASS = {"1": "1", "2": "2", "3": "3", "一类": "1", "二类": "2", "三类": "3", "A": "1", "B": "2", "C": "3"}
_ENROLMENT_STATUS = {
    "normal": "normal",
    "not_insured": "not_insured",
    "deceased": "deceased",
    "正常": "normal",
    "参保": "normal",
    "正常参保": "normal",
    "未参保": "not_insured",
    "停保": "not_insured",
    "断保": "not_insured",
    "死亡注销": "deceased",
    "死亡": "deceased",
}
# Ticks and crosses as a clerk marks a yes/no column (是否参保 √, 家庭医生签约 ×).
_TICKS = {"√": "true", "✓": "true", "✔": "true", "×": "false", "✗": "false", "✘": "false"}
_BOOL = {
    "true": "true",
    "false": "false",
    "1": "true",
    "0": "false",
    "是": "true",
    "否": "false",
    "yes": "true",
    "no": "false",
    "y": "true",
    "n": "false",
    "已参保": "true",
    "未参保": "false",
    **_TICKS,
}
# 家庭医生签约 (seed 004 §10; seed 000 签约一人、做实一人): whether the person has signed a
# family doctor contract.
_SIGNED = {
    "true": "true",
    "false": "false",
    "1": "true",
    "0": "false",
    "是": "true",
    "否": "false",
    "yes": "true",
    "no": "false",
    "y": "true",
    "n": "false",
    "已签约": "true",
    "未签约": "false",
    "签约": "true",
    "未签": "false",
    "已签": "true",
    **_TICKS,
}
_MEDICAL_TYPES = {
    "enrolment": "enrolment",
    "claim": "claim",
    "参保": "enrolment",
    "参保登记": "enrolment",
    "结算": "claim",
    "报销": "claim",
    "就医结算": "claim",
}
_STAGES = _same(SchoolStage) | {
    "小学": "primary",
    "初中": "junior_secondary",
    "高中": "senior_secondary",
    "普通高中": "senior_secondary",
    "中职": "vocational",
    "职高": "vocational",
    "高校": "higher",
    "大学": "higher",
    "高职": "higher",
}
_STUDENT_STATUS = _same(StudentStatus) | {
    "在读": "enrolled",
    "在校": "enrolled",
    "在籍": "enrolled",
    "正常": "enrolled",
    "辍学": "dropped_out",
    "失学": "dropped_out",
    "休学": "suspended",
    "毕业": "graduated",
    "转学": "transferred",
    "转出": "transferred",
}

# 农村住房安全性鉴定: grades as appraisers and clerks write them (A级, C级危房, d …).
_GRADES = {g.value: g.value for g in HouseGrade} | {
    **{f"{g}级": g for g in "ABCD"},
    **{f"{g}级危房": g for g in "CD"},
    **{g.lower(): g for g in "ABCD"},
    **{f"{g.lower()}级": g for g in "ABCD"},
    "安全": "A",
    "基本安全": "B",
    "局部危险": "C",
    "整体危险": "D",
}
_RENOVATION = _same(Renovation) | {
    "未改造": "none",
    "待改造": "none",
    "改造中": "in_progress",
    "在建": "in_progress",
    "已改造": "done",
    "已竣工": "done",
    "竣工验收": "done",
    "已验收": "done",
}

KIND_FIELDS: dict[SourceKind, dict[str, FieldSpec]] = {
    SourceKind.civil_affairs: {
        "benefit": FieldSpec("enum", _req(RecordType.assistance), _BENEFITS),
        "dibao_class": FieldSpec("enum", choices=_DIBAO_CLASS),
        "start_date": FieldSpec("date", _req(RecordType.assistance)),
        "end_date": FieldSpec("date"),
        "amount": FieldSpec("decimal"),
        "status": FieldSpec("enum", choices=_ASSISTANCE_STATUS),
        "stop_reason": FieldSpec("text"),
        "death_date": FieldSpec("date"),
        "household_size": FieldSpec("int"),  # 家庭人口数
    },
    SourceKind.medical_insurance: {
        "year": FieldSpec("int", _req(RecordType.enrolment, RecordType.claim)),
        "insured": FieldSpec("bool", choices=_BOOL),
        "status": FieldSpec("enum", choices=_ENROLMENT_STATUS),
        "scheme": FieldSpec("text"),
        "family_doctor": FieldSpec("bool", choices=_SIGNED),
        "death_date": FieldSpec("date"),
        "settled_on": FieldSpec("date", _req(RecordType.claim)),
        "hospital": FieldSpec("text"),
        "total_cost": FieldSpec("decimal", _req(RecordType.claim)),
        "out_of_pocket": FieldSpec("decimal", _req(RecordType.claim)),
    },
    SourceKind.education: {
        "term": FieldSpec("text", _req(RecordType.student)),
        "school": FieldSpec("text"),
        "stage": FieldSpec("enum", choices=_STAGES),
        "status": FieldSpec("enum", _req(RecordType.student), _STUDENT_STATUS),
        "aid_kind": FieldSpec("text"),
        "aid_amount": FieldSpec("decimal"),
    },
    # 住建: rural house safety appraisals, one record per house, keyed on the household head's ID number.
    SourceKind.housing: {
        "grade": FieldSpec("enum", _req(RecordType.house), _GRADES),
        "appraised_on": FieldSpec("date", _req(RecordType.house)),
        "address": FieldSpec("text"),
        "renovation": FieldSpec("enum", choices=_RENOVATION),
        "renovated_on": FieldSpec("date"),
    },
    SourceKind.generic: {},
}

# The record type of a kind whose records are all alike; medical insurance names its own.
DEFAULT_TYPE: dict[SourceKind, RecordType | None] = {
    SourceKind.civil_affairs: RecordType.assistance,
    SourceKind.medical_insurance: None,
    SourceKind.education: RecordType.student,
    SourceKind.housing: RecordType.house,
    SourceKind.generic: RecordType.generic,
}
RECORD_TYPE_CHOICES: dict[SourceKind, dict[str, str]] = {
    SourceKind.medical_insurance: _MEDICAL_TYPES,
}


def fields_of(kind: SourceKind) -> dict[str, FieldSpec]:
    return COMMON | KIND_FIELDS[kind]
