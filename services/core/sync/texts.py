"""What each reconciliation rule means, in English and Chinese, for the findings API, and
which rules tell a person's health.

The rules themselves (``services.core.sync.rules.BY_ID``: ``explanation_en``,
``explanation_zh``, ``health``) are the authority; the table below stands in for them in a
build without that module. An unknown rule id is explained by its id, never refused.
"""
from __future__ import annotations

from typing import Any

try:
    from services.core.sync.rules import BY_ID as _RULES
except ImportError:  # a build without the reconciliation rules
    _RULES: dict[str, Any] = {}

RULE_TEXTS: dict[str, tuple[str, str]] = {
    "name_mismatch": ("The department record's name differs from the registry's for the same ID number.",
                      "部门记录姓名与系统登记姓名不一致（身份证号相同）。"),
    "not_in_registry": ("The department lists a person whose ID number is not in the registry.",
                        "部门数据中的人员身份证号在系统中查无此人。"),
    "dead_elsewhere": ("The department records this person as dead; the registry has them alive.",
                       "部门记录该人员已死亡，系统中仍为健在。"),
    "not_insured": ("A lifted-out or monitored person without basic medical insurance this year (应保尽保).",
                    "脱贫人口或监测对象本年度未参加基本医疗保险（应保尽保）。"),
    "large_medical_cost": ("Large out-of-pocket medical costs this year, above the threshold.",
                           "本年度个人自付医疗费用较大，超过预警标准。"),
    "out_of_school": ("A child of compulsory-education age is out of school (控辍保学).",
                      "义务教育阶段适龄儿童失学辍学（控辍保学）。"),
    "assistance_not_monitored": ("The household receives 低保 or 特困 support but is not monitored (应纳未纳).",
                                 "该户享受低保或特困供养，但未纳入防止返贫监测（应纳未纳）。"),
    "household_size_differs": ("The household's size differs between the department and the registry.",
                               "部门记录与系统登记的家庭人口数不一致。"),
    "id_number_invalid": ("The ID number fails its check digit.", "身份证号码校验位错误。"),
    "illness_without_cost": ("Risk \"illness\" but no out-of-pocket medical spending recorded.",
                             "风险类型为因病，但无个人自付医疗支出记录。"),
    "uninsured_without_measure": ("A person without medical insurance and no health or social measure.",
                                  "人员未参加医疗保险，且无健康帮扶或社会保障措施。"),
    "child_employed": ("A child under 16 has employment records.", "未满16周岁儿童有务工就业记录。"),
    "monitored_twice": ("The same ID number is monitored twice.", "同一身份证号被重复纳入监测。"),
}

# Rules whose findings tell a person's health (illness, medical costs, disability): hidden
# from roles without ``registry:health``, and not a filter such roles may use.
HEALTH_RULES: frozenset[str] = frozenset({"large_medical_cost", "illness_without_cost"})


def explain(rule_id: str, chinese: bool) -> str:
    rule = _RULES.get(rule_id)
    texts = (rule.explanation_en, rule.explanation_zh) if rule is not None else RULE_TEXTS.get(rule_id)
    if texts is None:
        return rule_id
    return texts[1] if chinese else texts[0]


def tells_health(rule_id: str) -> bool:
    rule = _RULES.get(rule_id)
    return bool(rule.health) if rule is not None else rule_id in HEALTH_RULES
