"""The follow-up rules as plain functions (no I/O): when a scheduled follow-up visit is due,
which scheduled visit an as-of day looks back on, when a quarter's income must be entered,
and which households' income is to be looked at first. docs/follow-up.md explains each
reading of the seeds.

* Scheduled visits (定期走访): assistance cadres visit formerly poor households (脱贫户) in
  March, August and November [004 §6] — ``followup_visit_months`` of the monitoring policy.
  The seed names months, not days: the visit of a month is due by that month's **last
  working day** on China's official calendar (``visit_due``), and a visit counts for it when
  made in that month, on or before the due day (a visit on a weekend after the last
  working day is late).
* Eliminated households (风险消除户) stay on the scheduled visits for
  ``followup_after_elimination_months`` after elimination (持续跟踪、动态保障 [003]).
* Quarterly income (季度收入) is entered ``income_entry_days`` (``income_entry_unit``) after the
  quarter's last day (在规定时限内 [000 §三.三]).
* Households to look at first [000 §二.二]: per-capita net income of the rolling year under
  ``income_watch_per_capita`` (人均纯收入1万元以下), or lower than the rolling year that
  ended with the same quarter a year earlier (收入不增反降).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.core.income.rolling import RollingIncome, quarter_index, quarter_of_index
from services.core.labels import LabelledEnum
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import WorkCalendar, add_months, month_end


class IncomeFlag(LabelledEnum):
    """Why a household's income is to be looked at first 收入关注原因."""

    below_watch_line = "below_watch_line", "人均纯收入低于关注线"
    fell = "fell", "收入不增反降"


class FollowUpReason(LabelledEnum):
    """Why a household is on the scheduled follow-up visits 跟踪原因."""

    lifted_out = "lifted_out", "脱贫户定期走访"
    eliminated = "eliminated", "风险消除后持续跟踪"


def last_workday(day: date, cal: WorkCalendar) -> tuple[date, bool]:
    """The last working day (工作日) on or before ``day`` and whether it rests on a provisional calendar."""
    provisional = False
    while True:
        provisional = provisional or cal.is_provisional(day)
        if cal.is_workday(day):
            return day, provisional
        day -= timedelta(days=1)


def visit_due(year: int, month: int, cal: WorkCalendar) -> tuple[date, bool]:
    """The scheduled follow-up visit (定期走访) of ``month`` is due by the month's last working
    day (an adjusted Saturday counts; a holiday does not)."""
    return last_workday(month_end(date(year, month, 1)), cal)


@dataclass(frozen=True, slots=True)
class VisitPeriod:
    """One scheduled follow-up visit (定期走访): its month (first day), the day it is due, and
    the policy figures of its year that the list needs."""

    month: date
    due: date
    provisional: bool
    after_elimination_months: int
    modes: tuple[str, ...]  # visit modes that count

    @property
    def eliminated_since(self) -> date:
        """An eliminated household is on this visit when eliminated on or after this day
        (and on or before ``due``)."""
        return add_months(self.month, -self.after_elimination_months)


def latest_period(policy_for, as_of: date, cal: WorkCalendar) -> VisitPeriod | None:
    """The latest scheduled visit (定期走访) whose due day is before ``as_of`` (so missing it is
    late, 逾期, on ``as_of``), looking back over this year and last; None when the policy
    schedules none."""
    found: VisitPeriod | None = None
    for year in (as_of.year - 1, as_of.year):
        policy: MonitoringPolicy = policy_for(year)
        for month in policy.followup_visit_months:
            due, provisional = visit_due(year, month, cal)
            if due < as_of and (found is None or due > found.due):
                found = VisitPeriod(
                    date(year, month, 1),
                    due,
                    provisional,
                    policy.followup_after_elimination_months,
                    tuple(m.value for m in policy.visit_modes_counted),
                )
    return found


def quarter_end(year: int, quarter: int) -> date:
    """The quarter's last day (季度末)."""
    return month_end(date(year, quarter * 3, 1))


def income_deadline(year: int, quarter: int, policy: MonitoringPolicy, cal: WorkCalendar) -> tuple[date, bool]:
    """The day by which the quarter's income (季度收入) must be entered:
    ``income_entry_days`` after the quarter's last day, in ``income_entry_unit`` (working days
    on the official calendar by default), with the policy of the quarter's year."""
    return cal.add(quarter_end(year, quarter), policy.income_entry_days, policy.income_entry_unit)


def previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    """The quarter before (上一季度), as (year, quarter)."""
    return quarter_of_index(quarter_index(year, quarter) - 1)


def income_flags(current: RollingIncome | None, year_before: RollingIncome | None, watch: Decimal) -> list[IncomeFlag]:
    """Why the household's income is to be looked at first: the complete rolling year ending
    with the quarter is under ``watch`` per capita (人均纯收入1万元以下), and/or lower per capita
    than the complete rolling year ending with the same quarter a year earlier (收入不增反降).
    An incomplete year is unknown, never low (docs/domain.md: never a part year)."""
    if current is None or not current.complete or current.per_capita_net is None:
        return []
    flags = []
    if current.per_capita_net < watch:
        flags.append(IncomeFlag.below_watch_line)
    if (
        year_before is not None
        and year_before.complete
        and year_before.per_capita_net is not None
        and current.per_capita_net < year_before.per_capita_net
    ):
        flags.append(IncomeFlag.fell)
    return flags
