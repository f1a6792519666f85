"""Vocabularies of the household registry (docs/domain.md "Households and people").

API values are English codes; the Chinese terms are kept next to them so a reader can grep
for either.
"""

from __future__ import annotations

from services.core.labels import LabelledEnum


class Category(LabelledEnum):
    """Household category 户类型."""

    lifted_out = "lifted_out", "脱贫户"  # formerly 建档立卡 (registered poor)
    monitored = "monitored", "监测户"
    ordinary = "ordinary", "一般农户"


class Flag(LabelledEnum):
    """Household flags 农户标识."""

    relocated = "relocated", "易地扶贫搬迁"
    dibao = "dibao", "低保户"
    tekun = "tekun", "特困供养"
    disabled = "disabled", "残疾"
    serious_illness = "serious_illness", "重病"
    zero_employment = "zero_employment", "零就业"


class HouseholdStatus(LabelledEnum):
    """Status of a household in the registry 农户状态."""

    active = "active", "在册"
    dissolved = "dissolved", "已注销（合户或分户后无成员）"  # merged into another household or emptied by a split


class Relation(LabelledEnum):
    """Relation to the household head 与户主关系."""

    head = "head", "户主"
    spouse = "spouse", "配偶"
    child = "child", "之子 / 之女"
    child_in_law = "child_in_law", "之儿媳 / 之女婿"
    grandchild = "grandchild", "之孙子 / 之孙女"
    parent = "parent", "之父 / 之母"
    grandparent = "grandparent", "之祖父母"
    sibling = "sibling", "兄弟姐妹"
    other = "other", "其他"


class Health(LabelledEnum):
    """Health status 健康状况."""

    healthy = "healthy", "健康"
    chronic_illness = "chronic_illness", "长期慢性病"
    serious_illness = "serious_illness", "患有大病"
    disabled = "disabled", "残疾"


class LabourCapacity(LabelledEnum):
    """Labour capacity 劳动技能."""

    skilled = "skilled", "技能劳动力"
    ordinary = "ordinary", "普通劳动力"
    weak = "weak", "弱劳动力或半劳动力"
    lost = "lost", "丧失劳动力"
    none = "none", "无劳动力"  # children, the very old


class EducationLevel(LabelledEnum):
    """Highest education level 文化程度."""

    none = "none", "文盲或半文盲"
    primary = "primary", "小学"
    junior_secondary = "junior_secondary", "初中"
    senior_secondary = "senior_secondary", "高中 / 中专"
    college = "college", "大专及以上"
    preschool_age = "preschool_age", "学龄前"


class Schooling(LabelledEnum):
    """Schooling status (在校生状况); compulsory-education ages are watched for dropout."""

    not_in_school = "not_in_school", "非在校生"
    preschool = "preschool", "学前教育"
    primary = "primary", "小学"
    junior_secondary = "junior_secondary", "七至九年级"
    senior_secondary = "senior_secondary", "普通高中"
    vocational = "vocational", "中职 / 高职"
    university = "university", "大学本科及以上"
    dropped_out = "dropped_out", "辍学"
    suspended = "suspended", "休学"


class Employment(LabelledEnum):
    """Employment situation 务工就业情况."""

    none = "none", "未就业"
    local = "local", "县内就业"
    migrant = "migrant", "外出务工"
    public_welfare_post = "public_welfare_post", "公益岗位"
    self_employed = "self_employed", "自主经营"


class PersonStatus(LabelledEnum):
    """Whether a person is alive 人员状态."""

    alive = "alive", "在世"
    deceased = "deceased", "已死亡"


class MembershipChange(LabelledEnum):
    registered = "registered", "随户登记"  # entered with the household
    added = "added", "新增（出生、婚入、返回）"  # birth, marriage, return
    moved = "moved", "迁移（户间迁入迁出）"  # moved from / to another household
    # left with a split-off household; the member shadows ``str.split`` (the stored value is "split")
    split = "split", "分户迁出"  # type: ignore[assignment]
    merged = "merged", "合户迁入"  # came with a merged household
    removed = "removed", "注销（如迁出本县）"  # left the registry (e.g. moved out of the county)
    deceased = "deceased", "死亡"


class HouseholdEventKind(LabelledEnum):
    created = "created", "建户"
    split_off = "split_off", "分户新立"  # this household was created from another (other_household_id)
    split_from = "split_from", "分出新户"  # members left this household to form another
    merged_in = "merged_in", "合户并入"  # another household was merged into this one
    merged_into = "merged_into", "并入他户（注销）"  # this household was merged into another and dissolved
    updated = "updated", "信息变更"
