"""Vocabularies of the two ledgers: the monthly clearing ledger of the three guarantees and
safe water (月清零台账) and the rectification ledger (问题整改台账)."""

from __future__ import annotations

from services.core.labels import LabelledEnum


class EntryOrigin(LabelledEnum):
    """How a clearing entry was opened 问题来源."""

    guarantees = "guarantees", "“三保障”和饮水安全状况"  # an item of the household's status is at risk
    department = "department", "部门比对发现"  # a department cross-check finding (sync worker)
    manual = "manual", "人工登记"


class EntryStatus(LabelledEnum):
    """Status of a clearing entry 清零状态."""

    open = "open", "未清零"
    cleared = "cleared", "已清零"


class ProblemSource(LabelledEnum):
    """Where a problem to rectify was found 问题来源 (seeds 002, 003, 004 §18)."""

    inspection = "inspection", "督查检查（含暗访）"
    audit = "audit", "审计"
    assessment = "assessment", "考核评估"
    system = "system", "系统发现（比对、核查）"
    self_check = "self_check", "自查"


class RectificationStatus(LabelledEnum):
    """Status of a problem being rectified 整改状态."""

    open = "open", "整改中"
    closure_requested = "closure_requested", "已申请销号，待审批"
    closed = "closed", "已销号"
