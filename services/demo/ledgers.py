"""The demo county's ledgers: clearing entries for the households whose demo status has an
item of the three guarantees or safe water at risk (found over the last three months, some
cleared with evidence, some overdue), and a few problems in the rectification ledger (one
overdue, one awaiting approval, one closed), so the lists and both monthly reports show
something true. Deterministic for a day; deadlines from the monitoring policy's defaults on
the working-day calendar, as the API computes them."""

from __future__ import annotations

import json
from datetime import date, timedelta

import asyncpg

from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import WorkCalendar

ITEMS = ("education", "medical", "housing", "water")
LABELS = {"education": "义务教育保障", "medical": "基本医疗保障", "housing": "住房安全保障", "water": "饮水安全"}
EVIDENCE = {
    "education": ("已劝返复学，学校出具复学证明", "复学证明-{n}"),
    "medical": ("已代缴城乡居民医保费用并完成参保登记", "参保登记回执-{n}"),
    "housing": ("已完成农村危房改造并通过竣工验收", "危改验收表-{n}"),
    "water": ("已接通集中供水管网，入户水量水质达标", "供水验收单-{n}"),
}
SPREAD_DAYS = 90  # entries found over the last three months


async def load_ledgers(conn: asyncpg.Connection, county: str, today: date) -> dict[str, int]:
    policy = MonitoringPolicy()
    calendar = WorkCalendar()
    rows = await conn.fetch(
        """SELECT g.household_id, g.region_code, g.education, g.medical, g.housing, g.water, g.housing_grade
           FROM household_guarantees g JOIN households h ON h.id = g.household_id
           WHERE h.status = 'active' AND g.region_code LIKE $1
             AND 'at_risk' IN (g.education, g.medical, g.housing, g.water)
           ORDER BY g.household_id""",
        f"{county}%",
    )
    entries: list[tuple] = []
    for row in rows:
        for kind in ITEMS:
            if row[kind] != "at_risk":
                continue
            found = today - timedelta(days=(row["household_id"] * 7 + ITEMS.index(kind)) % SPREAD_DAYS)
            deadline, provisional = calendar.add(found, policy.clearing_days, policy.clearing_unit)
            grade = f"（{row['housing_grade']}级危房）" if kind == "housing" and row["housing_grade"] else ""
            n = len(entries) + 1
            # Half of those found more than a month ago were cleared, within their deadline.
            cleared = (today - found).days > 30 and n % 2 == 0
            closed_on = min(deadline, found + timedelta(days=15)) if cleared else None
            text, ref = EVIDENCE[kind]
            entries.append(
                (
                    row["region_code"],
                    row["household_id"],
                    kind,
                    "guarantees",
                    policy.clearing_departments[kind],
                    f"“三保障”和饮水安全状况：{LABELS[kind]}存在风险{grade}",
                    found,
                    deadline,
                    provisional,
                    "cleared" if cleared else "open",
                    closed_on,
                    text if cleared else None,
                    json.dumps([ref.format(n=n)] if cleared else [], ensure_ascii=False),
                )
            )
    problems = _problems(county, today, policy, calendar)
    async with conn.transaction():
        await conn.execute("TRUNCATE clearing_entries, rectification_steps, rectifications RESTART IDENTITY")
        await conn.executemany(
            """INSERT INTO clearing_entries (region_code, household_id, kind, origin, department, description,
                   opened_on, deadline, deadline_provisional, status, closed_on, evidence, evidence_refs, version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, 1)""",
            entries,
        )
        for problem, steps in problems:
            rid = await conn.fetchval(
                """INSERT INTO rectifications (region_code, source, source_ref, title, description, responsible_unit,
                       found_on, deadline, deadline_provisional, status, evidence, evidence_refs, closure_requested_on,
                       closed_on, decision_note, version)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, 1) RETURNING id""",
                *problem,
            )
            await conn.executemany(
                """INSERT INTO rectification_steps (rectification_id, region_code, done_on, content, refs)
                   VALUES ($1, $2, $3, $4, $5::jsonb)""",
                [(rid, problem[0], *step) for step in steps],
            )
    return {"clearing_entries": len(entries), "rectifications": len(problems)}


def _problems(county: str, today: date, policy: MonitoringPolicy, calendar: WorkCalendar):
    township = f"{county}001000"

    def due(found: date) -> tuple[date, bool]:
        return calendar.add(found, policy.rectification_days, policy.rectification_unit)

    overdue_found = today - timedelta(days=80)
    requested_found = today - timedelta(days=25)
    closed_found = today - timedelta(days=60)
    return [
        (
            (
                township,
                "inspection",
                "县督查通报〔暗访〕第3号",
                "部分农户住房安全隐患未纳入改造",
                "暗访发现2户唯一住房存在安全隐患，未及时组织鉴定和改造（发现一户、保障一户）。",
                "乡镇村镇建设服务中心",
                overdue_found,
                *due(overdue_found),
                "open",
                None,
                "[]",
                None,
                None,
                None,
            ),
            [(overdue_found + timedelta(days=5), "已组织住建部门入户鉴定", '["鉴定报告-2"]')],
        ),
        (
            (
                township,
                "audit",
                "审计报告第12号",
                "扶贫项目资产台账不全",
                "审计发现3项公益性资产未明确管护主体。",
                "乡镇农业农村综合服务中心",
                requested_found,
                *due(requested_found),
                "closure_requested",
                "已明确管护主体并补登资产台账",
                '["资产台账-2026-07", "管护协议-3"]',
                today - timedelta(days=2),
                None,
                None,
            ),
            [(requested_found + timedelta(days=3), "已逐项核对资产", "[]")],
        ),
        (
            (
                township,
                "assessment",
                "年度考核反馈问题清单第5项",
                "监测对象帮扶措施针对性不强",
                "考核评估反馈部分监测户帮扶措施与风险类型不匹配。",
                "乡镇乡村振兴工作站",
                closed_found,
                *due(closed_found),
                "closed",
                "已逐户调整帮扶措施并经村级评议",
                '["帮扶计划调整表-1"]',
                closed_found + timedelta(days=20),
                closed_found + timedelta(days=24),
                "同意销号",
            ),
            [],
        ),
    ]
