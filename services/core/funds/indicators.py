"""Compliance indicators of funds and projects for a region (a county, city or province; or a
township or village, measured against the money allocated to its projects) and year, as of any day — a report for 30 June run in July counts only what had happened by 30
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
the worst first. Everything comes from two queries, whatever the number of projects: the
projects' figures are summed and ranked in the database, and only the sums and the short
lists leave it (the SQL: ``queries.FUNDS``/``ALLOCATED`` and ``queries.INDICATORS``). The
figures used are those of the funds policy in force for the region and year.

As of today (or a later day) the projects' money comes from the running totals
(``totals.py``, kept by triggers; ``queries.indicators_of_totals``) instead of grouping
every allocation and payment of the region: the same answer, a fraction of the work. It
is taken only when no allocation or payment it counts is dated after the day (none can be
entered in the future, but a row loaded otherwise could) and each project's rows carry its
region; else, and for a past day, the rows themselves are summed as of the day.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.funds.enums import HIGHER_LEVELS, FundKind, FundLevel, IndicatorStatus
from services.core.funds.queries import ALLOCATED, FUNDS, INDICATORS, indicators_of_totals
from services.core.policy.funds import FundsPolicy, Milestone, policy_for
from services.core.scope import region_params
from services.core.timeutil import today
from services.core.tuning import tuned

ZERO = Decimal("0.00")
PLACES = Decimal("0.0001")
COUNTY_DIGITS = 6

# The per-project grouping of a province's payments fits in memory with this much (it spills
# to disk at the default), and the plan is made for the region's own bounds: a generic plan
# for any prefix, which PostgreSQL may switch to after a few runs, is far slower.
# (``tuned``: also on the API's autocommit read sessions, where ``SET LOCAL`` alone is lost.)
#
# One parallel worker beside the request's own backend joins and computes the projects'
# rows (``pr``): for a province's 19,000 projects about a quarter of the statement's time
# (benchmarks/README.md). PostgreSQL's default costs plan that join on one process until a
# table passes 8 MB; a worker costs about a millisecond to start, so from a table of 1 MB
# on it pays. One, not more: a province's report is read one request at a time, and a
# second worker fights the first for a small server's cores. Where the server allows no
# parallel workers (``max_parallel_workers`` 0, or none free) the plan runs on the backend
# alone, with the same answer.
_SETTINGS = {
    "work_mem": "32MB",
    "plan_cache_mode": "force_custom_plan",
    "max_parallel_workers_per_gather": "1",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "1MB",
}


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator`` ÷ ``denominator`` (not zero): a ratio (占比) to four places, half up."""
    return (Decimal(numerator) / Decimal(denominator)).quantize(PLACES, ROUND_HALF_UP)


def share(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """The ratio (占比), or None when the denominator is zero (nothing to compare against)."""
    return ratio(numerator, denominator) if denominator else None


def milestone_target(milestones: list[Milestone], year: int, as_of: date) -> tuple[Decimal, Decimal]:
    """The milestone being worked towards on ``as_of`` (the next one due on or after it, or
    the last) and where the value should be by then: on a straight line from the previous
    milestone (0 on 1 January) to it. Milestones (时间节点目标) are the policy's
    ``spending_milestones`` (支出进度目标) and ``start_milestones`` (项目开工率目标)."""
    points = [(date(year, 1, 1), Decimal("0"))] + [(m.on(year), m.share) for m in milestones]
    for (d0, s0), (d1, s1) in pairwise(points):
        if as_of <= d1:
            if as_of <= d0:
                return s1, s0
            expected = s0 + (s1 - s0) * Decimal((as_of - d0).days) / Decimal((d1 - d0).days)
            return s1, expected.quantize(PLACES, ROUND_HALF_UP)
    last = points[-1][1]
    return last, last


def year_over(year: int, as_of: date) -> bool:
    """Whether the funds year (资金年度) is over on ``as_of``: nothing is still reachable."""
    return as_of >= date(year, 12, 31)


def paced(value: Decimal | None, target: Decimal, expected: Decimal) -> IndicatorStatus:
    """Met (达标) at the target, on track (进度正常) at the expected value for the day,
    behind (滞后) below it."""
    if value is None or value >= target:
        return IndicatorStatus.met
    return IndicatorStatus.on_track if value >= expected else IndicatorStatus.behind


def _project(item: dict[str, Any], figures: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "name": item["name"],
        "region_code": item["region_code"],
        "category": item["category"],
        "status": item["status"],
        "figures": {f: item[f] for f in figures},
    }


def _indicator(
    id_: str,
    value,
    target,
    status,
    numerator,
    denominator,
    projects,
    *,
    comparison="at_least",
    expected=None,
    details=None,
) -> dict[str, Any]:
    def q(x):
        return None if x is None else Decimal(x).quantize(PLACES, ROUND_HALF_UP)

    return {
        "id": id_,
        "value": q(value),
        "target": q(target),
        "expected": q(expected),
        "comparison": comparison,
        "status": status,
        "numerator": numerator,
        "denominator": denominator,
        "details": details or {},
        "projects": projects,
    }


def industry_shares(
    funds: dict[tuple[str, str], Decimal], t: dict[str, Any], policy: FundsPolicy, year: int, as_of: date
) -> list[dict[str, Any]]:
    """Industry share (产业发展资金占比): of each level's transition funds
    (衔接推进乡村振兴补助资金, the ``industry_fund_kinds``, 计算产业占比的资金类型) received, the
    share allocated to industry projects (产业项目, ``industry_categories``), against that
    level's ``industry_min_share`` (产业发展资金最低占比) [000 §五]. On track while what is left
    to allocate can still reach it and the year is not over."""
    out = []
    kinds = {k.value for k in policy.industry_fund_kinds}
    for level in FundLevel:
        total = sum((a for (lv, kind), a in funds.items() if lv == level.value and kind in kinds), ZERO)
        if not total or level not in policy.industry_min_share:
            continue
        target = policy.industry_min_share[level]
        industry, allocated = t[f"num_{level.value}"] or ZERO, t[f"all_{level.value}"] or ZERO
        unallocated = max(total - allocated, ZERO)
        value = ratio(industry, total)
        # Still reachable with what is left to allocate — until the year is over.
        reachable = ratio(industry + unallocated, total)
        status = (
            IndicatorStatus.met
            if value >= target
            else IndicatorStatus.on_track
            if reachable >= target and not year_over(year, as_of)
            else IndicatorStatus.behind
        )
        projects = (
            [] if status == IndicatorStatus.met else [_project(x, ("allocated",)) for x in t[f"top_{level.value}"]]
        )
        out.append(
            _indicator(
                f"industry_share.{level.value}",
                value,
                target,
                status,
                industry,
                total,
                projects,
                details={"allocated": allocated, "unallocated": unallocated},
            )
        )
    return out


def spending_progress(
    funds: dict[tuple[str, str], Decimal], t: dict[str, Any], policy: FundsPolicy, year: int, as_of: date
) -> list[dict[str, Any]]:
    """Spending progress (资金支出进度): paid out of the funds received (of the
    ``spending_fund_kinds``, 计算支出进度的资金类型), against the ``spending_milestones``
    (支出进度目标) [000 §七]."""
    kinds = {k.value for k in policy.spending_fund_kinds}
    received = sum((a for (_lv, kind), a in funds.items() if kind in kinds), ZERO)
    if not received:
        return []
    spent = t["spent"]
    value = ratio(spent, received)
    target, expected = milestone_target(policy.spending_milestones, year, as_of)
    status = paced(value, target, expected)
    projects = (
        []
        if status == IndicatorStatus.met
        else [_project(x, ("allocated", "disbursed", "progress", "gap")) for x in t["top_spending"]]
    )
    return [_indicator("spending_progress", value, target, status, spent, received, projects, expected=expected)]


def start_rate(t: dict[str, Any], policy: FundsPolicy, year: int, as_of: date) -> list[dict[str, Any]]:
    """Project start rate (项目开工率): projects started (开工) of those in the project library
    (项目库), against the ``start_milestones`` (项目开工率目标) [000 §七]; ``details.alarm`` below
    ``start_rate_alarm`` (开工率警戒值) [002]."""
    if not t["live"]:
        return []
    started, live = Decimal(t["started"]), Decimal(t["live"])
    value = ratio(started, live)
    target, expected = milestone_target(policy.start_milestones, year, as_of)
    status = paced(value, target, expected)
    projects = [] if status == IndicatorStatus.met else [_project(x, ("planned_start", "late")) for x in t["top_start"]]
    return [
        _indicator(
            "start_rate",
            value,
            target,
            status,
            started,
            live,
            projects,
            expected=expected,
            details={"alarm": value < policy.start_rate_alarm, "alarm_below": policy.start_rate_alarm},
        )
    ]


def labour_pay(t: dict[str, Any], year: int, as_of: date) -> list[dict[str, Any]]:
    """Each project needs its own minimum: met when none is short; on track while the short
    ones are unfinished and the year is not over. Labour pay (劳务报酬) of work-for-relief
    projects (以工代赈项目): at least ``labour_pay_min_share`` (劳务报酬最低占比) of the
    city-and-above funds, ``labour_pay_min_share_dedicated`` (以工代赈专项资金劳务报酬最低占比) of
    dedicated 以工代赈 funds [004 §19]."""
    if not t["labour_projects"]:
        return []
    base, required, paid = t["labour_base"], t["labour_required"], t["labour_paid"]
    if not t["labour_short"]:
        status = IndicatorStatus.met
    elif not t["labour_short_completed"] and not year_over(year, as_of):
        status = IndicatorStatus.on_track
    else:
        status = IndicatorStatus.behind
    projects = [
        _project(x, ("higher_level_funds", "dedicated_funds", "required", "labour_pay", "completed"))
        for x in t["top_labour"]
    ]
    return [
        _indicator(
            "labour_pay_share",
            share(paid, base),
            share(required, base),
            status,
            paid,
            base,
            projects,
            details={"required": required, "projects": t["labour_projects"], "projects_short": t["labour_short"]},
        )
    ]


def management_fee(t: dict[str, Any], policy: FundsPolicy) -> list[dict[str, Any]]:
    """Project management fees (项目管理费) of the funds allocated, at most
    ``management_fee_max_share`` (项目管理费最高占比; one county's rule)."""
    allocated = t["allocated"]
    if not allocated:
        return []
    value, cap = ratio(t["fee"], allocated), policy.management_fee_max_share
    status = IndicatorStatus.met if value <= cap else IndicatorStatus.behind
    projects = [_project(x, ("allocated", "management_fee", "share")) for x in t["top_fee"]]
    return [_indicator("management_fee_share", value, cap, status, t["fee"], allocated, projects, comparison="at_most")]


def evaluate(
    funds: dict[tuple[str, str], Decimal], totals: dict[str, Any], policy: FundsPolicy, year: int, as_of: date
) -> list[dict[str, Any]]:
    """The indicator set from the region's fund totals per (level, kind) and what the query
    gathered (``totals``: sums, counts and the ``top_*`` lists of projects). A plain
    function: the unit tests give it figures directly. The compliance indicators
    (资金项目合规指标): industry share (产业发展资金占比), spending progress (支出进度), start rate
    (开工率), labour pay (劳务报酬占比) and management fees (项目管理费占比)."""
    return [
        *industry_shares(funds, totals, policy, year, as_of),
        *spending_progress(funds, totals, policy, year, as_of),
        *start_rate(totals, policy, year, as_of),
        *labour_pay(totals, year, as_of),
        *management_fee(totals, policy),
    ]


async def compute(
    session: AsyncSession, region_prefix: str, year: int, as_of: date, policy: FundsPolicy | None = None
) -> dict[str, Any]:
    """The indicator set of ``region_prefix`` for ``year`` as of ``as_of``. For a county or
    wider the shares are of the funds received; for a township or village, of the money
    allocated to its projects. The funds policy (资金政策, ``FundsPolicy``) in force for the
    region and year gives every figure."""
    if policy is None:
        policy = await policy_for(session, region_prefix, year)
    bounds = region_params(region_prefix, year=year, as_of=as_of)
    received = FUNDS if len(region_prefix) <= COUNTY_DIGITS else ALLOCATED
    _target, expected = milestone_target(policy.spending_milestones, year, as_of)
    params = {
        **bounds,
        "industry_kinds": [k.value for k in policy.industry_fund_kinds],
        "spending_kinds": [k.value for k in policy.spending_fund_kinds],
        "higher": [lv.value for lv in HIGHER_LEVELS],
        "dedicated": FundKind.work_relief.value,
        "industry_categories": [c.value for c in policy.industry_categories],
        "labour_categories": [c.value for c in policy.labour_pay_categories],
        "labour_share": policy.labour_pay_min_share,
        "labour_dedicated": policy.labour_pay_min_share_dedicated,
        "expected": expected,
        "fee_cap": policy.management_fee_max_share,
        "top": policy.indicator_projects,
    }
    async with tuned(session, **_SETTINGS):
        funds = {(lv, kind): amount for lv, kind, amount in (await session.execute(received, bounds)).all()}
        totals: dict[str, Any] | None = None
        if as_of >= today():
            of_totals = indicators_of_totals(
                tuple(params["industry_kinds"]),
                tuple(params["spending_kinds"]),
                tuple(params["higher"]),
                params["dedicated"],
            )
            totals = dict((await session.execute(of_totals, params)).mappings().one())
            last_on, strays = totals.pop("last_on"), totals.pop("strays")
            # A row dated after the day (counted, must not be), or a project's row under
            # another region code than its own (it may have two): the rows themselves.
            if (last_on is not None and last_on > as_of) or strays:
                totals = None
        if totals is None:
            totals = dict((await session.execute(INDICATORS, params)).mappings().one())
    return {
        "region": region_prefix,
        "year": year,
        "as_of": as_of,
        "indicators": evaluate(funds, totals, policy, year, as_of),
    }
