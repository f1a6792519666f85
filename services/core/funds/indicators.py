"""Compliance indicators of funds and projects for a region (county, city or province) and
year, as of any day — a report for 30 June run in July counts only what had happened by 30
June (allocations, payments and project steps are dated).

* ``industry_share.<level>`` — of each level's funds (of the industry fund kinds) received,
  the share allocated to industry projects, against its minimum [000 §五].
* ``spending_progress`` — paid out of the funds received, against the quarterly milestones
  [000 §七].
* ``start_rate`` — projects started of those in the library, against the April and June
  milestones [000 §七]; ``details.alarm`` below the criticised rate [002].
* ``labour_pay_share`` — labour pay of work-for-relief projects against their city-and-above
  funds: each project needs 10 % (15 % of dedicated 以工代赈 funds) [004 §19].
* ``management_fee_share`` — management fees of the funds allocated, at most the cap.

Status: ``met`` (the target is reached), ``on_track`` (not yet, but where it should be by
this day — on the straight line between milestones — or still reachable before the year or
the project is over), ``behind``. Each indicator names the projects that pull it down,
the worst first. Everything comes from two queries, whatever the number of projects.
The figures used are those of the funds policy in force for the region and year.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.funds.enums import HIGHER_LEVELS, FundKind, FundLevel, IndicatorStatus
from services.core.funds.policy import FundsPolicy, Milestone, policy_for

ZERO = Decimal("0.00")
PLACES = Decimal("0.0001")

# The region's funds received by the day, per level and kind.
_FUNDS = text("""
SELECT level, kind, sum(amount) AS amount FROM funds
WHERE year = :year AND region_code >= :lo AND region_code < :hi AND received_on <= :as_of
GROUP BY level, kind
""")

# One row per project of the year in the region with its money as of the day.
_PROJECTS = text("""
SELECT p.id, p.name, p.region_code, p.category, p.status, p.planned_start, p.reviewed_on, p.started_on,
       p.completed_on, p.cancelled_on,
       coalesce(a.total, 0) AS allocated,
       coalesce(a.industry, '{}'::jsonb) AS by_level,
       coalesce(a.spendable, 0) AS spendable,
       coalesce(a.higher_general, 0) AS higher_general,
       coalesce(a.higher_dedicated, 0) AS higher_dedicated,
       coalesce(d.spent, 0) AS spent,
       coalesce(d.labour, 0) AS labour,
       coalesce(d.fee, 0) AS fee
FROM projects p
LEFT JOIN (
    SELECT project_id, sum(total) AS total, jsonb_object_agg(level, industry::text) FILTER (WHERE industry > 0) AS industry,
           sum(spendable) AS spendable, sum(higher_general) AS higher_general,
           sum(higher_dedicated) AS higher_dedicated
    FROM (
        SELECT al.project_id, f.level,
               sum(al.amount) AS total,
               coalesce(sum(al.amount) FILTER (WHERE f.kind IN :industry_kinds), 0) AS industry,
               coalesce(sum(al.amount) FILTER (WHERE f.kind IN :spending_kinds), 0) AS spendable,
               coalesce(sum(al.amount) FILTER (WHERE f.level IN :higher AND f.kind <> :dedicated), 0)
                   AS higher_general,
               coalesce(sum(al.amount) FILTER (WHERE f.level IN :higher AND f.kind = :dedicated), 0)
                   AS higher_dedicated
        FROM fund_allocations al JOIN funds f ON f.id = al.fund_id
        WHERE al.region_code >= :lo AND al.region_code < :hi AND al.allocated_on <= :as_of AND f.year = :year
        GROUP BY al.project_id, f.level
    ) per_level
    GROUP BY project_id
) a ON a.project_id = p.id
LEFT JOIN (
    SELECT di.project_id,
           coalesce(sum(di.amount) FILTER (WHERE f.kind IN :spending_kinds), 0) AS spent,
           coalesce(sum(di.amount) FILTER (WHERE di.item = 'labour_pay'), 0) AS labour,
           coalesce(sum(di.amount) FILTER (WHERE di.item = 'management_fee'), 0) AS fee
    FROM fund_disbursements di JOIN funds f ON f.id = di.fund_id
    WHERE di.region_code >= :lo AND di.region_code < :hi AND di.paid_on <= :as_of AND f.year = :year
    GROUP BY di.project_id
) d ON d.project_id = p.id
WHERE p.year = :year AND p.region_code >= :lo AND p.region_code < :hi
  AND p.reviewed_on IS NOT NULL AND p.reviewed_on <= :as_of
""").bindparams(*(bindparam(n, expanding=True) for n in ("industry_kinds", "spending_kinds", "higher")))


@dataclass
class Row:
    id: int
    name: str
    region_code: str
    category: str
    status: str
    planned_start: date
    reviewed_on: date | None
    started_on: date | None
    completed_on: date | None
    cancelled_on: date | None
    allocated: Decimal
    by_level: dict[str, Any]
    spendable: Decimal
    higher_general: Decimal
    higher_dedicated: Decimal
    spent: Decimal
    labour: Decimal
    fee: Decimal
    extra: dict[str, Any] = field(default_factory=dict)

    def on(self, day: date | None, as_of: date) -> bool:
        return day is not None and day <= as_of

    def live(self, as_of: date) -> bool:
        """In the library and not cancelled by the day."""
        return not self.on(self.cancelled_on, as_of)


def share(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(PLACES, ROUND_HALF_UP)


def milestone_target(milestones: list[Milestone], year: int, as_of: date) -> tuple[Decimal, Decimal]:
    """The milestone being worked towards on ``as_of`` (the next one due on or after it, or
    the last) and where the value should be by then: on a straight line from the previous
    milestone (0 on 1 January) to it."""
    points = [(date(year, 1, 1), Decimal("0"))] + [(m.on(year), m.share) for m in milestones]
    for (d0, s0), (d1, s1) in zip(points, points[1:]):
        if as_of <= d1:
            if as_of <= d0:
                return s1, s0
            expected = s0 + (s1 - s0) * Decimal((as_of - d0).days) / Decimal((d1 - d0).days)
            return s1, expected.quantize(PLACES, ROUND_HALF_UP)
    last = points[-1][1]
    return last, last


def year_over(year: int, as_of: date) -> bool:
    return as_of >= date(year, 12, 31)


def paced(value: Decimal | None, target: Decimal, expected: Decimal) -> IndicatorStatus:
    if value is None or value >= target:
        return IndicatorStatus.met
    return IndicatorStatus.on_track if value >= expected else IndicatorStatus.behind


def _short(row: Row, figures: dict[str, Any]) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "region_code": row.region_code, "category": row.category,
            "status": row.status, "figures": figures}


def _indicator(id_: str, value, target, status, numerator, denominator, projects, *, comparison="at_least",
               expected=None, details=None) -> dict[str, Any]:
    def q(x):
        return None if x is None else Decimal(x).quantize(PLACES, ROUND_HALF_UP)

    return {"id": id_, "value": q(value), "target": q(target), "expected": q(expected), "comparison": comparison,
            "status": status, "numerator": numerator, "denominator": denominator, "details": details or {},
            "projects": projects}


def industry_shares(funds: dict[tuple[str, str], Decimal], rows: list[Row], policy: FundsPolicy, year: int,
                    as_of: date, limit: int) -> list[dict[str, Any]]:
    out = []
    kinds = {k.value for k in policy.industry_fund_kinds}
    categories = {c.value for c in policy.industry_categories}
    for level in FundLevel:
        total = sum((a for (lv, kind), a in funds.items() if lv == level.value and kind in kinds), ZERO)
        if not total or level not in policy.industry_min_share:
            continue
        target = policy.industry_min_share[level]
        industry = sum((Decimal(str(r.by_level.get(level.value, 0))) for r in rows if r.category in categories), ZERO)
        allocated = sum((Decimal(str(r.by_level.get(level.value, 0))) for r in rows), ZERO)
        value = share(industry, total)
        reachable = share(industry + max(total - allocated, ZERO), total)
        # Still reachable with what is left to allocate — until the year is over.
        status = (IndicatorStatus.met if value >= target else
                  IndicatorStatus.on_track if reachable >= target and not year_over(year, as_of)
                  else IndicatorStatus.behind)
        projects = []
        if status != IndicatorStatus.met:
            others = [r for r in rows if r.category not in categories and r.by_level.get(level.value)]
            others.sort(key=lambda r: (-Decimal(str(r.by_level[level.value])), r.id))
            projects = [_short(r, {"allocated": str(Decimal(str(r.by_level[level.value])).quantize(ZERO))})
                        for r in others[:limit]]
        out.append(_indicator(f"industry_share.{level.value}", value, target, status, industry, total, projects,
                              details={"allocated": allocated, "unallocated": max(total - allocated, ZERO)}))
    return out


def spending_progress(funds: dict[tuple[str, str], Decimal], rows: list[Row], policy: FundsPolicy, year: int,
                      as_of: date, limit: int) -> list[dict[str, Any]]:
    kinds = {k.value for k in policy.spending_fund_kinds}
    received = sum((a for (_lv, kind), a in funds.items() if kind in kinds), ZERO)
    if not received:
        return []
    spent = sum((r.spent for r in rows), ZERO)
    value = share(spent, received)
    target, expected = milestone_target(policy.spending_milestones, year, as_of)
    status = paced(value, target, expected)
    projects = []
    if status != IndicatorStatus.met:
        gaps = []
        for r in rows:
            if r.spendable > 0:
                gap = (r.spendable * expected - r.spent).quantize(ZERO, ROUND_HALF_UP)
                if gap > 0:
                    gaps.append((gap, r))
        gaps.sort(key=lambda g: (-g[0], g[1].id))
        projects = [_short(r, {"allocated": str(r.spendable), "disbursed": str(r.spent),
                               "progress": str(share(r.spent, r.spendable)), "gap": str(gap)})
                    for gap, r in gaps[:limit]]
    return [_indicator("spending_progress", value, target, status, spent, received, projects, expected=expected)]


def start_rate(rows: list[Row], policy: FundsPolicy, year: int, as_of: date, limit: int) -> list[dict[str, Any]]:
    live = [r for r in rows if r.live(as_of)]
    if not live:
        return []
    started = [r for r in live if r.on(r.started_on, as_of)]
    value = share(Decimal(len(started)), Decimal(len(live)))
    target, expected = milestone_target(policy.start_milestones, year, as_of)
    status = paced(value, target, expected)
    projects = []
    if status != IndicatorStatus.met:
        waiting = sorted((r for r in live if not r.on(r.started_on, as_of)), key=lambda r: (r.planned_start, r.id))
        projects = [_short(r, {"planned_start": r.planned_start.isoformat(),
                               "late": r.planned_start <= as_of}) for r in waiting[:limit]]
    return [_indicator("start_rate", value, target, status, Decimal(len(started)), Decimal(len(live)), projects,
                       expected=expected, details={"alarm": value < policy.start_rate_alarm,
                                                   "alarm_below": policy.start_rate_alarm})]


def labour_pay(rows: list[Row], policy: FundsPolicy, year: int, as_of: date, limit: int) -> list[dict[str, Any]]:
    categories = {c.value for c in policy.labour_pay_categories}
    relevant = [r for r in rows if r.category in categories and r.live(as_of)
                and (r.higher_general or r.higher_dedicated)]
    if not relevant:
        return []
    base = sum((r.higher_general + r.higher_dedicated for r in relevant), ZERO)
    short = []
    required_total = ZERO
    for r in relevant:
        required = (r.higher_general * policy.labour_pay_min_share
                    + r.higher_dedicated * policy.labour_pay_min_share_dedicated).quantize(ZERO, ROUND_HALF_UP)
        required_total += required
        if r.labour < required:
            short.append((required - r.labour, required, r))
    paid = sum((r.labour for r in relevant), ZERO)
    value, target = share(paid, base), share(required_total, base)
    if not short:
        status = IndicatorStatus.met
    elif not year_over(year, as_of) and all(not r.on(r.completed_on, as_of) for _gap, _req, r in short):
        status = IndicatorStatus.on_track
    else:
        status = IndicatorStatus.behind
    short.sort(key=lambda s: (-s[0], s[2].id))
    projects = [_short(r, {"higher_level_funds": str(r.higher_general + r.higher_dedicated),
                           "dedicated_funds": str(r.higher_dedicated), "required": str(req),
                           "labour_pay": str(r.labour), "completed": r.on(r.completed_on, as_of)})
                for _gap, req, r in short[:limit]]
    return [_indicator("labour_pay_share", value, target, status, paid, base, projects,
                       details={"required": required_total, "projects": len(relevant),
                                "projects_short": len(short)})]


def management_fee(rows: list[Row], policy: FundsPolicy, limit: int) -> list[dict[str, Any]]:
    allocated = sum((r.allocated for r in rows), ZERO)
    if not allocated:
        return []
    fee = sum((r.fee for r in rows), ZERO)
    value, cap = share(fee, allocated), policy.management_fee_max_share
    status = IndicatorStatus.met if value <= cap else IndicatorStatus.behind
    over = [(share(r.fee, r.allocated), r) for r in rows if r.allocated and r.fee]
    over = sorted(((s, r) for s, r in over if s > cap), key=lambda o: (-o[0], o[1].id))
    projects = [_short(r, {"allocated": str(r.allocated), "management_fee": str(r.fee), "share": str(s)})
                for s, r in over[:limit]]
    return [_indicator("management_fee_share", value, cap, status, fee, allocated, projects, comparison="at_most")]


def evaluate(funds: dict[tuple[str, str], Decimal], rows: list[Row], policy: FundsPolicy, year: int, as_of: date
             ) -> list[dict[str, Any]]:
    """The indicator set from the figures (a plain function: the API, the benchmark and the
    tests call it through ``compute``; unit tests call it directly)."""
    limit = policy.indicator_projects
    return [*industry_shares(funds, rows, policy, year, as_of, limit),
            *spending_progress(funds, rows, policy, year, as_of, limit), *start_rate(rows, policy, year, as_of, limit),
            *labour_pay(rows, policy, year, as_of, limit),
            *management_fee(rows, policy, limit)]


async def compute(session: AsyncSession, region_prefix: str, year: int, as_of: date,
                  policy: FundsPolicy | None = None) -> dict[str, Any]:
    """The indicator set of ``region_prefix`` (a county or wider) for ``year`` as of ``as_of``."""
    if policy is None:
        policy = await policy_for(session, region_prefix, year)
    bounds = {"lo": region_prefix, "hi": region_prefix + ":", "year": year, "as_of": as_of}
    funds = {(lv, kind): amount for lv, kind, amount in (await session.execute(_FUNDS, bounds)).all()}
    params = {**bounds, "industry_kinds": [k.value for k in policy.industry_fund_kinds],
              "spending_kinds": [k.value for k in policy.spending_fund_kinds],
              "higher": [lv.value for lv in HIGHER_LEVELS], "dedicated": FundKind.work_relief.value}
    rows = [Row(*r) for r in (await session.execute(_PROJECTS, params)).all()]
    return {"region": region_prefix, "year": year, "as_of": as_of,
            "indicators": evaluate(funds, rows, policy, year, as_of)}
