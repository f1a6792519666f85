"""Monitoring cases of the demo county (docs/domain.md "Monitoring cases"): pure and seeded.

What a household goes through is decided when the chunks are planned (``draw_fate``, in
``plan.plan_chunks``), so that the number of cases, clues, reports and transitions of
every chunk — and with them the ids each chunk starts from — are known before any chunk is
generated; the dates, risks, measures and visits are drawn by the household's generator
stream (``CaseMaker``). Measures and visits carry client-style random UUIDs.

The stored deadlines (``next_deadline``, ``next_deadline_kind``, ``deadline_provisional``)
and the deadlines met late (``deadline_breaches``) come from the functions the API uses
(``services.core.monitoring.deadlines``) with the default ``MonitoringPolicy()`` and
``WorkCalendar()``, so the overdue list of a freshly loaded county is what the API itself
would have computed: mostly on time, a realistic minority late.

Rows are tuples in the column orders of the ``layout.*_COLUMNS`` constants; dates are
``datetime.date``, arrays are lists, JSONB columns are JSON text, ``amount`` is fen (int).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any, TypeVar

from services.core.monitoring import deadlines as dl
from services.core.monitoring.enums import (
    Action,
    CaseStatus,
    CaseType,
    Channel,
    ClueStatus,
    Decision,
    EliminationWay,
    MeasureCategory,
    MeasureStatus,
    RiskType,
    VisitMode,
)
from services.core.monitoring.machine import STEPS
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import WorkCalendar, add_months, month_end

S = CaseStatus
_T = TypeVar("_T")


def _approved_path(start: CaseStatus, end: CaseStatus) -> tuple[tuple[CaseStatus, ...], tuple[Action, ...]]:
    """The statuses a case passes through from ``start`` until ``end`` when every step is
    approved, and the action that leaves each — read from core's state machine
    (``machine.STEPS``), so that the demo's cases take exactly the steps the API allows."""
    statuses: list[CaseStatus] = []
    actions: list[Action] = []
    status = start
    while status != end:
        (step,) = STEPS[status]
        statuses.append(status)
        actions.append(step.action)
        status = step.outcomes[Decision.approve]
    return tuple(statuses), tuple(actions)


def _approved(status: CaseStatus) -> CaseStatus:
    """Where approving the one step from ``status`` leads (core's state machine)."""
    (step,) = STEPS[status]
    return step.outcomes[Decision.approve]


IDENTIFICATION_STEPS, _STEP_ACTIONS = _approved_path(S.verification, S.assisting)
ELIMINATION_STEPS, _ELIMINATION_ACTIONS = _approved_path(S.elimination_verification, S.eliminated)
# The action that leaves each status of a phase: the same five in both phases.
if _ELIMINATION_ACTIONS != _STEP_ACTIONS:
    raise RuntimeError("the demo's cases assume that both phases take the same five actions")


@dataclass(frozen=True, slots=True)
class CasePlan:
    """One case of a household: where it stands on the load's day."""

    status: str  # a CaseStatus value
    stop: int  # identification phase: steps taken; rejected: the step that rejected; elimination phase: steps taken
    clues: tuple[int, ...]  # reports of each clue converted into it (the first opened it, the others added risks)
    cadre: bool  # an assistance cadre was assigned

    @property
    def identified(self) -> bool:
        return self.status in _IDENTIFIED

    @property
    def transitions(self) -> int:
        """Rows of ``case_transitions`` the case gets (the generator makes exactly these)."""
        if self.status == S.rejected:
            return 1 + self.stop + 1
        if not self.identified:
            return 1 + self.stop
        n = 1 + len(IDENTIFICATION_STEPS) + self.cadre + len(self.clues) - 1
        if self.status == S.eliminated:
            n += 1 + len(ELIMINATION_STEPS)
        elif self.status != S.assisting:
            n += 1 + self.stop
        return n


@dataclass(frozen=True, slots=True)
class Fate:
    """A household's monitoring history: its cases, oldest first (at most the last one is
    open), and its clues that were not turned into a case (``(status, reports)``)."""

    cases: tuple[CasePlan, ...]
    clues: tuple[tuple[str, int], ...]

    @property
    def monitored(self) -> bool:
        """The household is 监测户 today: its last case is identified and not eliminated."""
        return bool(self.cases) and self.cases[-1].status in _UNDER_ASSISTANCE

    @property
    def eliminated(self) -> bool:
        return any(c.status == S.eliminated for c in self.cases)

    def counts(self) -> tuple[int, int, int, int]:
        """(cases, clues, reports, transitions) rows."""
        clues = sum(len(c.clues) for c in self.cases) + len(self.clues)
        reports = sum(sum(c.clues) for c in self.cases) + sum(n for _, n in self.clues)
        return len(self.cases), clues, reports, sum(c.transitions for c in self.cases)


_UNDER_ASSISTANCE = frozenset({S.assisting.value, *(s.value for s in ELIMINATION_STEPS)})
_IDENTIFIED = _UNDER_ASSISTANCE | {S.eliminated.value}

LIFTED_SHARE = 0.27  # households lifted out of poverty before any monitoring (25 % are still 脱贫户 today)
# Per household, by its category before monitoring: the share whose last case is open and
# identified (监测户), eliminated, rejected, or being identified now. About 17 % of the
# households have had a case (≈ persons / 20 cases), two thirds of the identified ones
# eliminated by now — the proportions reported nationally.
_RATES = {
    True: (0.09, 0.155, 0.03, 0.015),  # formerly poor households
    False: (0.028, 0.058, 0.023, 0.008),  # ordinary households
}
REOPENED_SHARE = 0.12  # open identified cases that follow an eliminated one (a new risk)


def _reports(r) -> int:
    x = r()
    return 1 if x < 0.7 else (2 if x < 0.92 else 3)


def draw_fate(r, lifted: bool) -> Fate | None:
    """What happens to one household (``r``: the planning stream's ``random``)."""
    open_id, eliminated, rejected, identifying = _RATES[lifted]
    x = r()
    cases: list[CasePlan] = []
    if x < open_id:
        y = r()
        if y < 0.86:
            status, stop = S.assisting, 0
        else:
            stop = min(4, int((y - 0.86) / 0.14 * 5))
            status = ELIMINATION_STEPS[stop]
        case_clues: tuple[int, ...] = (_reports(r),) if r() < 0.85 else (_reports(r), 1)
        cadre = status != S.assisting or r() < 0.95
        if status == S.assisting and r() < REOPENED_SHARE:
            cases.append(CasePlan(S.eliminated.value, 0, (_reports(r),), True))
        cases.append(CasePlan(status.value, stop, case_clues, cadre))
    elif x < open_id + eliminated:
        case_clues = (_reports(r),) if r() < 0.85 else (_reports(r), 1)
        cases.append(CasePlan(S.eliminated.value, 0, case_clues, True))
    elif x < open_id + eliminated + rejected:
        y = r()
        stop = 0 if y < 0.45 else 1 if y < 0.75 else 2 if y < 0.8 else 3 if y < 0.92 else 4
        cases.append(CasePlan(S.rejected.value, stop, (_reports(r),), False))
    elif x < open_id + eliminated + rejected + identifying:
        y = r()
        stop = 0 if y < 0.3 else 1 if y < 0.5 else 2 if y < 0.75 else 3 if y < 0.9 else 4
        cases.append(CasePlan(IDENTIFICATION_STEPS[stop].value, stop, (_reports(r),), False))
    clues: list[tuple[str, int]] = []
    if r() < 0.022:
        clues.append((ClueStatus.dismissed.value, _reports(r)))
    has_open_case = bool(cases) and cases[-1].status not in (S.eliminated, S.rejected)
    if not has_open_case and r() < 0.006:
        clues.append((ClueStatus.open.value, _reports(r)))
    if not cases and not clues:
        return None
    return Fate(tuple(cases), tuple(clues))


# ---- vocabularies ------------------------------------------------------------------------

R = RiskType
_EVIDENCE = {
    R.illness: "家庭成员患病住院，当年医疗费用自付部分较高",
    R.disability: "家庭成员因病因意外致残，丧失部分劳动能力",
    R.schooling_costs: "子女就读高中、职校或大学，教育支出负担较重",
    R.disaster: "遭受暴雨洪涝灾害，房屋和农作物受损",
    R.accident: "家庭主要劳动力发生意外事故，收入骤减",
    R.industry_failure: "种养殖产业受市场价格下跌影响，经营亏损",
    R.unstable_employment: "家庭主要劳动力务工中断，返乡后未稳定就业",
    R.lack_of_labour: "家庭成员年老体弱，缺乏劳动力",
    R.unsafe_housing: "住房经鉴定为危房，存在安全隐患",
    R.unsafe_water: "季节性缺水，饮水安全无保障",
    R.out_of_school: "义务教育阶段子女辍学在家",
    R.income_below_line: "家庭人均纯收入低于当年监测标准",
    R.other: "家庭发生其他重大变故，生活困难",
}
# Department screening: which department's data raises each risk, and its reference prefix.
_DEPARTMENTS = {
    R.illness: ("县医疗保障局", "YB"),
    R.disability: ("县残疾人联合会", "CL"),
    R.schooling_costs: ("县教育局", "JY"),
    R.out_of_school: ("县教育局", "JY"),
    R.disaster: ("县应急管理局", "YJ"),
    R.accident: ("县民政局", "MZ"),
    R.industry_failure: ("县农业农村局", "NY"),
    R.unstable_employment: ("县人力资源和社会保障局", "RS"),
    R.lack_of_labour: ("县民政局", "MZ"),
    R.unsafe_housing: ("县住房和城乡建设局", "ZJ"),
    R.unsafe_water: ("县水务局", "SW"),
    R.income_below_line: ("县乡村振兴局", "XC"),
    R.other: ("县民政局", "MZ"),
}
_GENERIC_RISKS = (
    (R.unstable_employment, 1.5),
    (R.industry_failure, 1.0),
    (R.disaster, 0.5),
    (R.accident, 0.5),
    (R.other, 0.2),
)
_SUDDEN_RISKS = ((R.disaster, 2.0), (R.accident, 2.0), (R.illness, 1.5))

M = MeasureCategory
# (category, content, responsible unit, amount range in yuan or None, term in days or None)
_MEASURES = {
    "health_aid": (
        M.health,
        "落实基本医保、大病保险、医疗救助三重保障，协助办理门诊慢特病待遇",
        "县医疗保障局",
        (2000, 15000),
        365,
    ),
    "family_doctor": (M.health, "签约家庭医生，定期上门随访", "{township}卫生院", None, 365),
    "dibao": (M.social_protection, "纳入农村低保，按月发放低保金", "县民政局", (2400, 4800), 365),
    "temporary_aid": (M.social_protection, "发放临时救助金", "县民政局", (1000, 5000), 30),
    "welfare_post": (M.public_welfare_post, "安排{village}护林员公益性岗位", "{township}人民政府", (6000, 9600), 365),
    "job": (M.employment, "推荐到县城工业园区企业务工，落实稳岗补贴", "县人力资源和社会保障局", (500, 1500), 180),
    "training": (M.employment, "参加电工、焊工技能培训并推荐就业", "县人力资源和社会保障局", None, 90),
    "industry_award": (M.industry, "发放产业奖补资金，发展生猪养殖", "县农业农村局", (2000, 8000), 240),
    "dividends": (M.industry, "入股村集体合作社，享受资产收益分红", "{village}股份经济合作社", (500, 1500), 365),
    "microcredit": (M.finance, "申请脱贫人口小额信贷，用于发展种养殖", "县农村信用合作联社", (30000, 50000), 365),
    "house_repair": (M.housing_safety, "实施农村危房改造（加固维修）", "县住房和城乡建设局", (10000, 35000), 120),
    "water": (M.water_safety, "实施饮水安全巩固提升工程，接通自来水", "县水务局", None, 60),
    "back_to_school": (M.compulsory_education, "劝返复学，落实控辍保学责任", "县教育局", None, 60),
    "yulu": (M.other_education, "落实“雨露计划”职业教育补助", "县乡村振兴局", (3000, 3000), 300),
    "student_aid": (M.other_education, "办理生源地信用助学贷款和国家助学金", "县教育局", (2000, 8000), 300),
    "donation": (M.social_assistance, "协调东西部协作帮扶企业捐赠生活物资", "县乡村振兴局", (500, 2000), 30),
    "disaster_relief": (
        M.living_conditions,
        "修缮受损房屋，补种农作物，发放灾后救助资金",
        "县应急管理局",
        (2000, 10000),
        90,
    ),
}
_MEASURES_FOR = {
    R.illness: ("health_aid", "family_doctor", "dibao"),
    R.disability: ("dibao", "welfare_post", "family_doctor"),
    R.schooling_costs: ("yulu", "student_aid"),
    R.disaster: ("disaster_relief", "house_repair", "temporary_aid"),
    R.accident: ("temporary_aid", "donation", "health_aid"),
    R.industry_failure: ("industry_award", "microcredit", "dividends"),
    R.unstable_employment: ("job", "training", "welfare_post"),
    R.lack_of_labour: ("dibao", "dividends", "welfare_post"),
    R.unsafe_housing: ("house_repair",),
    R.unsafe_water: ("water",),
    R.out_of_school: ("back_to_school",),
    R.income_below_line: ("industry_award", "job", "dividends"),
    R.other: ("donation", "temporary_aid"),
}
_RESULTS = {
    M.health: "已落实，自付医疗费用明显下降",
    M.social_protection: "已按时足额发放到户",
    M.public_welfare_post: "已上岗，工资按月发放",
    M.employment: "已稳定就业，务工收入增加",
    M.industry: "已落实，产业收入增加",
    M.finance: "贷款已发放，按期付息",
    M.housing_safety: "已完成改造并通过验收",
    M.water_safety: "已接通自来水，水质水量达标",
    M.compulsory_education: "已复学，在校就读正常",
    M.other_education: "补助已发放到户",
    M.social_assistance: "物资已送达",
    M.living_conditions: "房屋已修缮，生产生活恢复正常",
}
_VISIT_FINDINGS = (
    "家庭成员身体状况稳定，按时服药",
    "了解务工情况，收入基本稳定",
    "宣讲防返贫政策，核实帮扶措施落实情况",
    "住房安全，饮水正常",
    "子女在校就读正常",
    "产业发展良好，生猪存栏稳定",
    "帮助联系就业岗位，家庭表示满意",
    "核实家庭收支情况，填写入户走访记录",
    "低保金按时到账，生活有保障",
    "协助申请医疗救助，跟踪报销进度",
)
_PHONE_FINDINGS = ("电话了解近况，家庭无新增困难", "电话提醒按时复诊", "视频连线了解务工子女情况")
_DISMISSALS = (
    "经入户核实，家庭收入稳定，无返贫致贫风险",
    "大额医疗费用已由医保报销，自付部分较低，风险已化解",
    "经核实，所报情况与实际不符",
    "已落实临时救助，困难已解决",
    "重复申报，已并入原线索处理",
)
_REJECTIONS = (
    "入户核实：家庭收入稳定，未发现返贫致贫风险",
    "民主评议未通过：家庭拥有商品房和经营性车辆",
    "公示期间群众反映情况属实，不予纳入",
    "乡镇审核：收入核算高于监测标准",
    "县级审批：经部门数据比对，不符合纳入条件",
)
_VERIFIED = "入户核实：风险属实，已签署承诺授权书"
_ELIMINATION_VERIFIED = "入户核实：收入持续稳定高于监测标准，“三保障”和饮水安全有保障，风险已稳定消除"

_POLICY = MonitoringPolicy()
# version 4 and the RFC 4122 variant in a random 128-bit number
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _policy_for(_year: int) -> MonitoringPolicy:
    return _POLICY


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
_APPROVED = _ENCODER.encode({"decision": "approve"})


def _json(value) -> str:
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    if value == {"decision": "approve"}:  # most steps
        return _APPROVED
    return _ENCODER.encode(value)


class CachedCalendar(WorkCalendar):
    """``WorkCalendar()`` whose ``add`` remembers its answers: the deadline functions ask
    for the same few hundred (start, days) again and again. Same answers, by construction."""

    def __init__(self) -> None:
        super().__init__()
        self._added: dict = {}

    def add(self, start: date, days: int, unit):
        key = (start, days, unit)
        found = self._added.get(key)
        if found is None:
            found = self._added[key] = super().add(start, days, unit)
        return found


# ---- the rows of one household -------------------------------------------------------------


@dataclass(slots=True)
class Household:
    """What the monitoring rows need to know about a household of the registry."""

    id: int
    region: str
    village: str
    township: str
    category_before: str  # lifted_out or ordinary
    head_name: str
    head_phone: str | None
    risks: list[tuple[RiskType, float]]  # the risks its facts suggest, with weights


@dataclass(slots=True)
class Ids:
    case: int
    clue: int
    report: int
    transition: int


class CaseMaker:
    """Makes the monitoring rows of households, drawing from the stream's ``rng``."""

    def __init__(self, rng, today: date, cadres: dict[str, tuple[int, ...]]):
        self.rng = rng
        self.r = rng.random
        self.today = today
        self.t = today.toordinal()
        self.cadres = cadres
        self.cal = CachedCalendar()

    # ---- small helpers -----------------------------------------------------------------

    def _between(self, lo: int, hi: int) -> int:
        return lo + int(self.r() * (hi - lo + 1)) if hi > lo else lo

    def _uuid(self) -> str:
        """A random (version 4) UUID, as a mobile client would make it."""
        h = f"{self.rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _pick(self, weighted: Sequence[tuple[_T, float]]) -> _T:
        total = sum(w for _, w in weighted)
        x = self.r() * total
        for value, w in weighted:
            x -= w
            if x < 0:
                return value
        return weighted[-1][0]

    def _risks(self, h: Household, case_type: str | None, k: int, exclude=()) -> list[str]:
        pool = [
            (v, w) for v, w in (_SUDDEN_RISKS if case_type == CaseType.sudden_hardship else h.risks) if v not in exclude
        ]
        if not pool:
            pool = [(v, w) for v, w in _GENERIC_RISKS if v not in exclude] or [(R.other, 1.0)]
        out: list[str] = []
        while len(out) < k and pool:
            risk = self._pick(pool)
            out.append(risk.value)
            pool = [(v, w) for v, w in pool if v != risk]
        return out

    def _cadre(self, h: Household) -> int | None:
        ids = self.cadres.get(h.region)
        return ids[int(self.r() * len(ids))] if ids else None

    def _identification_gaps(self) -> tuple[int, ...]:
        """Days between the identification steps (see ``_chain``)."""
        b, r = self._between, self.r
        return (
            0 if r() < 0.5 else b(1, 3),
            b(1, 2),
            b(1, 2),
            b(1, 2) if r() < 0.15 else 0,  # some villages post the notice longer than the minimum
            1 if r() < 0.7 else 2,
            b(0, 1),
            b(1, 2) if r() < 0.9 else b(3, 8),
        )

    def _elimination_gaps(self) -> tuple[int, ...]:
        b, r = self._between, self.r
        return (0, b(1, 5), b(1, 4), 0, 1 if r() < 0.7 else 2, b(1, 4), b(1, 5))

    def _chain(self, anchor: int, gaps: tuple[int, ...]) -> list[int]:
        """Ordinals of the steps of a phase from ``anchor`` (the first clue, or the day risk
        elimination was proposed): the first step (the case opened / the proposal), the
        verification, the village review (the notice starts), the notice result, the
        township review, the county decision; and at index 6 the notice's last day, at
        least the policy's minimum after its start."""
        opened = anchor + gaps[0]
        verified = opened + gaps[1]
        review = verified + gaps[2]
        end = dl.notice_min_end(date.fromordinal(review), _POLICY, self.cal)[0].toordinal() + gaps[3]
        result = end + gaps[4]
        township = result + gaps[5]
        return [opened, verified, review, result, township, township + gaps[6], end]

    def _ending_at(self, gaps: tuple[int, ...], index: int, day: int) -> tuple[int, list[int]]:
        """The anchor and steps of a chain whose step ``index`` falls on ``day`` (a notice
        in working days may stretch the chain when it moves: then it is moved again)."""
        anchor = day - sum(gaps[: index + 1]) - (4 if index >= 3 else 0)
        for _ in range(8):
            steps = self._chain(anchor, gaps)
            if steps[index] == day:
                break
            anchor += day - steps[index]
        return anchor, steps

    # ---- one household ------------------------------------------------------------------

    def household(self, h: Household, fate: Fate, ids: Ids, out) -> None:
        """Append the rows of ``fate`` for household ``h`` to batch ``out``."""
        previous_case: tuple[int, int] | None = None  # (id, elimination day) of an eliminated case
        n = len(fate.cases)
        for i, plan in enumerate(fate.cases):
            later = fate.cases[i + 1] if i + 1 < n else None
            previous_case = self._case(h, plan, ids, out, previous_case, followed_by=later)
        for status, reports in fate.clues:
            self._loose_clue(h, status, reports, ids, out)

    def _timeline(self, plan: CasePlan, previous: tuple[int, int] | None, followed: bool):
        """(first clue, identification steps, identified on or None, elimination steps or
        None) of a case, as ordinals (``previous``: the household's eliminated case this one
        reopens; ``followed``: a later case of the household follows this one)."""
        t, b, r = self.t, self._between, self.r
        status = plan.status
        if status in (s.value for s in IDENTIFICATION_STEPS):
            wait = b(0, 3) if r() < 0.85 else b(4, 12)
            first, steps = self._ending_at(self._identification_gaps(), plan.stop, t - wait)
            return first, steps, None, None
        if status == S.rejected:
            first = b(t - 720, t - 25)
            return first, self._chain(first, self._identification_gaps()), None, None
        if status == S.eliminated:
            # (an earlier case of a household that has an open one now ended well before it)
            eliminated = b(t - 480, t - 330) if followed else b(t - 420, t - 2)
            proposed, esteps = self._ending_at(self._elimination_gaps(), 5, eliminated)
            identified = proposed - (b(184, 240) if followed else b(184, 330))
        elif status == S.assisting:
            if previous is not None:
                identified = b(max(previous[1] + 45, t - 300), t - 1)
            elif not plan.cadre and r() < 0.8:
                identified = b(t - 14, t - 1)  # recently identified, cadre not yet assigned
            else:
                identified = b(t - 700, t - 1)
            esteps = None
        else:  # elimination phase
            wait = b(0, 4) if r() < 0.85 else b(5, 10)
            proposed, esteps = self._ending_at(self._elimination_gaps(), plan.stop, t - wait)
            identified = proposed - b(184, 480)
        first, steps = self._ending_at(self._identification_gaps(), 5, identified)
        return first, steps, identified, esteps

    def _case(
        self,
        h: Household,
        plan: CasePlan,
        ids: Ids,
        out,
        previous: tuple[int, int] | None,
        followed_by: CasePlan | None,
    ) -> tuple[int, int] | None:
        r, b, t = self.r, self._between, self.t
        d = date.fromordinal
        case_id = ids.case
        ids.case += 1
        first, steps, identified, esteps = self._timeline(plan, previous, followed_by is not None)
        lifted = h.category_before == "lifted_out"
        if r() < (0.15 if lifted else 0.25):
            case_type = CaseType.sudden_hardship.value
        else:
            case_type = (CaseType.unstable_lifted_out if lifted else CaseType.marginal).value
        risks = self._risks(h, case_type, 1 if r() < 0.6 else (2 if r() < 0.8 else 3))
        status = plan.status
        opened = steps[0]
        # the end of the case's active life: today, or the day it was closed
        if status == S.rejected:
            closed = steps[plan.stop + 1]
        elif status == S.eliminated:
            closed = esteps[5]
        else:
            closed = None
        last_day = closed if closed is not None else t

        transitions: list[list] = []  # [action, from, to, comment, details, day]

        def step(action, frm, to, day, comment=None, **details):
            transitions.append([action.value, frm.value if frm else None, to.value, comment, details, day])

        def village_review(frm, to, day, notice_start, notice_end):
            """The village review step (民主评议) with its public notice, both phases alike."""
            step(
                Action.village_review,
                frm,
                to,
                day,
                None,
                decision="approve",
                notice_start=d(notice_start).isoformat(),
                notice_end=d(notice_end).isoformat(),
            )
            return notice_start, notice_end

        # ---- the first clue and the opening
        clue_rows = []
        clue_rows.append(self._clue(h, risks, plan.clues[0], first, opened, ClueStatus.converted, case_id, ids, out))
        step(
            Action.open,
            None,
            S.verification,
            opened,
            **{"clue_id": clue_rows[0], **({"reopened_from": previous[0]} if previous else {})},
        )

        # ---- identification
        done = (
            plan.stop
            if status in (s.value for s in IDENTIFICATION_STEPS)
            else (plan.stop if status == S.rejected else 5)
        )
        consent = notice_start = notice_end = None
        for k in range(done):
            frm = IDENTIFICATION_STEPS[k]
            to = _approved(frm)
            day = steps[k + 1]
            if k == 0:
                consent = day
                step(Action.verify, frm, to, day, None, decision="approve", findings=_VERIFIED, consent_signed=True)
            elif k == 1:
                notice_start, notice_end = village_review(frm, to, day, steps[2], steps[6])
            else:
                step(_STEP_ACTIONS[k], frm, to, day, None, decision="approve")
        if status == S.rejected:
            k = plan.stop
            details: dict[str, Any] = {"decision": "reject"}
            if k == 0:
                details["findings"] = _REJECTIONS[0]
            step(_STEP_ACTIONS[k], IDENTIFICATION_STEPS[k], S.rejected, steps[k + 1], _REJECTIONS[k], **details)

        # ---- deadline bookkeeping, with the API's functions
        facts = SimpleNamespace(
            status=None, first_clue_on=d(first), identified_on=None, cadre_user_id=None, plan_on=None
        )
        breaches: list[dict] = []

        def pending(state_status, visits_until: int | None = None) -> list[dl.Deadline]:
            facts.status = state_status
            # The visits are in date order: those up to a day are a prefix of them.
            counted = visit_dates if visits_until is None else visit_dates[: bisect_right(visit_days, visits_until)]
            return dl.case_deadlines(facts, counted, _policy_for, self.cal)

        visit_days: list[int] = []
        visit_dates: list[date] = []
        if identified is None:
            # identification phase or rejected
            if status == S.rejected:
                before = pending(IDENTIFICATION_STEPS[plan.stop])
                late = dl.breaches(before, [], d(closed))
                if late:
                    transitions[-1][4]["breaches"] = late
                    breaches += late
            cadre = cadre_on = plan_on = None
        else:
            before = pending(S.county_approval)
            facts.identified_on = d(identified)
            after = pending(S.assisting)
            late = dl.breaches(before, after, d(identified))
            if late:
                transitions[-1][4]["breaches"] = late
                breaches += late
            # the cadre and the plan (一户一策), due within 10 working days
            due = self.cal.add(d(identified), _POLICY.plan_days, _POLICY.plan_unit)[0].toordinal()
            cadre = cadre_on = None
            if plan.cadre:
                cadre = self._cadre(h)
                x = r()
                cadre_on = (
                    identified + b(0, 2) if x < 0.25 else b(identified + 1, due) if x < 0.95 else b(due + 1, due + 15)
                )
                cadre_on = min(cadre_on, last_day if closed is None else esteps[0])
                if cadre is None:
                    cadre_on = None
            x = r()
            plan_on = identified + b(0, 3) if x < 0.2 else b(identified + 1, due) if x < 0.93 else b(due + 1, due + 30)
            if status != S.assisting:
                plan_on = min(plan_on, esteps[0] - 60)  # a completed measure before the proposal
            if plan_on > t:
                plan_on = None
            # visits, then the breaches of the cadre and the plan (met when they were)
            if cadre is not None and cadre_on is not None:  # assigned on cadre_on
                visit_days = self._visits(h, case_id, cadre, identified, cadre_on, last_day, closed is None, out)
                visit_dates = [d(v) for v in visit_days]
            events = sorted((on, which) for on, which in ((cadre_on, 0), (plan_on, 1)) if on is not None)
            for day, which in events:
                before = pending(S.assisting, day)
                if which == 0:
                    facts.cadre_user_id = cadre
                else:
                    facts.plan_on = d(day)  # plan_on
                breaches += dl.breaches(before, pending(S.assisting, day), d(day))
            if cadre is not None:
                transitions.append([Action.assign_cadre.value, None, None, None, {"cadre_user_id": cadre}, cadre_on])
            self._measures(h, case_id, risks, plan_on, esteps, out)

        # ---- risk elimination
        way = proposed = eliminated = None
        if esteps is not None:
            proposed = esteps[0]
            step(
                Action.propose_elimination, S.assisting, S.elimination_verification, proposed, None, decision="approve"
            )
            taken = 5 if status == S.eliminated else plan.stop
            for k in range(taken):
                frm = ELIMINATION_STEPS[k]
                to = _approved(frm)
                day = esteps[k + 1]
                if k == 0:
                    step(Action.verify, frm, to, day, None, decision="approve", findings=_ELIMINATION_VERIFIED)
                elif k == 1:
                    notice_start, notice_end = village_review(frm, to, day, esteps[2], esteps[6])
                elif k == 4:
                    way = (EliminationWay.by_assistance if r() < 0.82 else EliminationWay.natural).value
                    eliminated = day
                    before = pending(S.elimination_approval, day)
                    late = dl.breaches(before, [], d(day))
                    details = {"decision": "approve", "way": way}
                    if late:
                        details["breaches"] = late
                        breaches += late
                    step(Action.county_decision, frm, to, day, None, **details)
                else:
                    step(_STEP_ACTIONS[k], frm, to, day, None, decision="approve")

        # ---- a later clue that added risks to the open case
        for reports in plan.clues[1:]:
            new = self._risks(h, None, 1, exclude=risks) or self._risks(h, None, 1)
            end = last_day if closed is None else closed - 1
            reported = b(min(opened + 5, end), end)
            converted = min(end, reported + b(0, 3))
            clue_id = self._clue(h, new, reports, reported, converted, ClueStatus.converted, case_id, ids, out)
            added = [x for x in new if x not in risks]
            risks = risks + added
            transitions.append(
                [Action.add_risks.value, None, None, None, {"clue_id": clue_id, "added": added}, converted]
            )

        # ---- the rows
        transitions.sort(key=lambda tr: tr[5])  # stable: same-day steps keep their order
        state = S.verification.value
        for tr in transitions:
            action, src, dst, comment, details, day = tr
            if action in (Action.assign_cadre, Action.add_risks):  # no change of status
                src = dst = state
            state = dst
            out.case_transitions.append(
                (
                    ids.transition,
                    case_id,
                    h.region,
                    action,
                    src,
                    dst,
                    comment,
                    "[]",
                    _json(details),
                    d(day),
                    None,
                    None,
                    d(day),
                )
            )
            ids.transition += 1
        if state != status:
            raise AssertionError(f"case {case_id}: the steps lead to {state}, not {status}")

        open_case = closed is None
        facts.cadre_user_id = cadre
        facts.plan_on = d(plan_on) if plan_on is not None else None
        if open_case:
            pending_now = pending(CaseStatus(status))
        else:
            pending_now = []
        nxt = pending_now[0] if pending_now else None
        counted = [v for v in visit_days if v <= last_day]
        out.monitoring_cases.append(
            (
                case_id,
                h.id,
                h.region,
                case_type,
                risks,
                status,
                d(first),
                d(opened),
                d(consent) if consent else None,
                d(notice_start) if notice_start else None,
                d(notice_end) if notice_end else None,
                d(identified) if identified else None,
                h.category_before if identified else None,
                cadre,
                d(cadre_on) if cadre_on else None,
                d(plan_on) if plan_on else None,
                d(max(counted)) if counted else None,
                d(proposed) if proposed else None,
                d(eliminated) if eliminated else None,
                way,
                d(closed) if closed else None,
                None,
                nxt.due if nxt else None,
                nxt.kind.value if nxt else None,
                any(x.provisional for x in pending_now),
                _json(breaches),
                previous[0] if previous else None,
                1,
            )
        )
        if status != S.eliminated:
            return None
        assert eliminated is not None  # the day of the county's decision, the last step
        return case_id, eliminated

    # ---- clues and their reports ---------------------------------------------------------

    def _clue(
        self,
        h: Household,
        risks: list[str],
        reports: int,
        first: int,
        handled: int | None,
        status,
        case_id: int | None,
        ids: Ids,
        out,
        reason: str | None = None,
    ) -> int:
        """A clue with its reports, the first on ``first``, the others by ``handled`` (or
        today, while open). Returns its id."""
        r, b = self.r, self._between
        d = date.fromordinal
        clue_id = ids.clue
        ids.clue += 1
        last = handled if handled is not None else self.t
        days = sorted([first] + [b(first, last) for _ in range(reports - 1)])
        channels: list[str] = []
        self_declared = None
        for day in days:
            x = r()
            if x < 0.2:
                channel = Channel.self_declaration
            elif x < 0.7:
                channel = Channel.visit
            else:
                channel = Channel.department_screening
            if channel.value not in channels:
                channels.append(channel.value)
            risk = RiskType(risks[0])
            source = ref = declarant = phone = reporter = None
            if channel == Channel.self_declaration:
                self_declared = day if self_declared is None else self_declared
                evidence = f"农户通过手机APP自主申报：{_EVIDENCE[risk]}"
                declarant, phone = h.head_name, h.head_phone
            elif channel == Channel.visit:
                evidence = f"{'网格员' if r() < 0.6 else '驻村干部'}走访排查发现：{_EVIDENCE[risk]}"
                reporter = self._cadre(h)
            else:
                source, prefix = _DEPARTMENTS[risk]
                ref = f"{prefix}-{d(day).year}-{ids.report:08d}"
                evidence = f"{source}数据比对预警：{_EVIDENCE[risk]}"
            out.clue_reports.append(
                (
                    ids.report,
                    clue_id,
                    h.region,
                    channel.value,
                    risks,
                    evidence,
                    "[]",
                    d(day),
                    reporter,
                    None,
                    declarant,
                    phone,
                    source,
                    ref,
                    d(day),
                )
            )
            ids.report += 1
        before = dl.clue_deadlines(
            ClueStatus.open, d(first), d(self_declared) if self_declared else None, _policy_for, self.cal
        )
        if status == ClueStatus.open:
            nxt = before[0] if before else None
            breaches: list = []
            row_deadline = (
                nxt.due if nxt else None,
                nxt.kind.value if nxt else None,
                any(x.provisional for x in before),
            )
        else:
            assert handled is not None  # a clue no longer open was handled
            breaches = dl.breaches(before, [], d(handled))
            row_deadline = (None, None, False)
        out.risk_clues.append(
            (
                clue_id,
                h.id,
                h.region,
                risks,
                channels,
                status.value,
                d(first),
                reports,
                *row_deadline,
                _json(breaches),
                case_id,
                reason,
                None,
                d(handled) if handled is not None else None,
                1,
            )
        )
        return clue_id

    def _loose_clue(self, h: Household, status: str, reports: int, ids: Ids, out) -> None:
        """A clue that was dismissed, or is still open (recent, waiting for a decision)."""
        b, r, t = self._between, self.r, self.t
        risks = self._risks(h, None, 1 if r() < 0.75 else 2)
        if status == ClueStatus.open:
            first = t - (b(0, 12) if r() < 0.85 else b(13, 25))
            self._clue(h, risks, reports, first, None, ClueStatus.open, None, ids, out)
        else:
            first = b(t - 720, t - 5)
            handled = min(t, first + b(1, 12))
            self._clue(
                h,
                risks,
                reports,
                first,
                handled,
                ClueStatus.dismissed,
                None,
                ids,
                out,
                reason=_DISMISSALS[int(r() * len(_DISMISSALS))],
            )

    # ---- measures and visits --------------------------------------------------------------

    def _measures(
        self, h: Household, case_id: int, risks: list[str], plan_on: int | None, esteps: list[int] | None, out
    ) -> int:
        """一户一策: the first measure on ``plan_on``, one or more per risk. With an
        elimination proposed, the first is completed before it. Returns how many."""
        if plan_on is None:
            return 0
        r, b, t = self.r, self._between, self.t
        d = date.fromordinal
        keys: list[str] = []
        for risk in risks:
            options = _MEASURES_FOR[RiskType(risk)]
            for _ in range(1 if r() < 0.7 else 2):
                key = options[int(r() * len(options))]
                if key not in keys:
                    keys.append(key)
        horizon = esteps[0] if esteps is not None else t
        for i, key in enumerate(keys):
            category, content, unit, amounts, term = _MEASURES[key]
            planned = plan_on if i == 0 else min(horizon, plan_on + b(0, 90))
            start = planned + b(0, 10)
            end = start + b(term // 2, term) if term and r() < 0.85 else None
            if i == 0 and esteps is not None:
                start = min(start, esteps[0] - 40)
                end = min(end or start + 30, esteps[0] - 5)
                end = max(end, start)
            if end is not None and end <= t:
                state = (
                    MeasureStatus.completed if (i == 0 and esteps is not None) or r() < 0.96 else MeasureStatus.stopped
                )
            elif start > t:
                state = MeasureStatus.planned
            else:
                state = MeasureStatus.in_progress
            amount = None
            if amounts is not None:
                amount = self._between(amounts[0], amounts[1]) // 100 * 10_000  # whole hundreds of yuan, in fen
                amount = amount or amounts[0] * 100
            out.assistance_measures.append(
                (
                    self._uuid(),
                    case_id,
                    h.id,
                    h.region,
                    category.value,
                    content.format(village=h.village, township=h.township),
                    unit.format(village=h.village, township=h.township),
                    d(planned),
                    d(start),
                    d(end) if end is not None else None,
                    state.value,
                    _RESULTS[category] if state == MeasureStatus.completed else None,
                    amount,
                    None,
                    1,
                )
            )
        return len(keys)

    def _visits(
        self,
        h: Household,
        case_id: int,
        cadre: int,
        identified: int,
        cadre_on: int,
        last_day: int,
        still_open: bool,
        out,
    ) -> list[int]:
        """The cadre's visits from the month after identification until ``last_day``: one
        in person in most months (only those count, with the default policy), now and then
        a call. A minority of cases missed a recent month (they are late on the overdue
        list), and this month's visit may not have happened yet. Returns the days of the
        visits in person."""
        r = self.r
        d = date.fromordinal
        last = d(last_day)
        months = []
        month = add_months(d(identified).replace(day=1), 1)
        while month <= last:
            months.append(month)
            month = add_months(month, 1)
        skip = None
        if months and r() < (0.07 if still_open else 0.03):
            complete = months[:-1] if still_open else months
            if complete:
                skip = complete[-1 - int(r() * min(3, len(complete)))]
        visits: list[tuple[int, str]] = []
        for month in months:
            lo = max(month.toordinal(), cadre_on)
            hi = min(month_end(month).toordinal(), last_day)
            if lo > hi:
                continue
            if month == skip:
                if r() < 0.5:  # a call instead of the visit: it does not count
                    visits.append((lo + int(r() * (hi - lo + 1)), VisitMode.phone.value))
                continue
            if (
                still_open
                and month.year == last.year
                and month.month == last.month
                # this month's visit: by now in most cases, more likely the later in the month
                and r() > 0.9 * last.day / month_end(month).day
            ):
                continue
            visits.append((lo + int(r() * (hi - lo + 1)), VisitMode.in_person.value))
            if r() < 0.08:
                mode = VisitMode.phone.value if r() < 0.7 else VisitMode.video.value
                visits.append((lo + int(r() * (hi - lo + 1)), mode))
        visits.sort()
        in_person = VisitMode.in_person.value
        for day, mode in visits:
            if mode == in_person:
                findings = _VISIT_FINDINGS[int(r() * len(_VISIT_FINDINGS))]
            else:
                findings = _PHONE_FINDINGS[int(r() * len(_PHONE_FINDINGS))]
            out.case_visits.append(
                (self._uuid(), case_id, h.id, h.region, cadre, d(day), mode, findings, "[]", None, d(day))
            )
        return [day for day, mode in visits if mode == in_person]


__all__ = [
    "CaseMaker",
    "CasePlan",
    "Fate",
    "Household",
    "Ids",
    "draw_fate",
]
