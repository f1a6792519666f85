from __future__ import annotations

from services.core.labels import LabelledEnum


class RosterRole(LabelledEnum):
    """What a roster member does 人员类别."""

    information_officer = "information_officer", "防止返贫监测信息员"
    grid_worker = "grid_worker", "网格员"
    resident_team = "resident_team", "驻村工作队员"
    other = "other", "其他"


class Check(LabelledEnum):
    """What a screening visit checks 排查内容 (两不愁三保障 and safe water, income, work, protection)."""

    income = "income", "收入情况"
    education = "education", "义务教育保障"
    medical = "medical", "基本医疗保障"
    housing = "housing", "住房安全保障"
    water = "water", "饮水安全"
    employment = "employment", "务工就业"
    social_protection = "social_protection", "低保、特困等兜底保障"


class CampaignStatus(LabelledEnum):
    """Where a campaign's period stands today (China time) 行动状态."""

    planned = "planned", "未开始"
    running = "running", "进行中"
    ended = "ended", "已结束"


class OfficerLevel(LabelledEnum):
    """The level of a region an information officer covers 配备层级."""

    county = "county", "区县级"
    township = "township", "乡镇（街道）级"
    village = "village", "村（社区）级"
