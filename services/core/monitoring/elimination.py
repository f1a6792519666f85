"""The risk-elimination guard (风险消除条件) as a plain function: every unmet condition is
listed, so whoever takes the step sees all that is missing at once, not the first.

The same conditions are checked at every step of the elimination that moves it forward —
the village's proposal, the verification visit, the democratic review (before the notice
goes up), the notice's result, the township's review and the county's approval — because
the seeds put the conditions before the notice, not only at the end (docs/domain.md "Monitoring
cases"; docs/monitoring-rules.md §2).

**Income** is judged over a year, never a part year: the rolling twelve months
(``services.core.income.rolling``) ending with the last completed quarter before the day of
the step must be complete and at least the monitoring line of that day's year; and, for
stability ("stably above the line for at least half a year"), so must the rolling twelve
months ending at each of the policy's ``elimination_income_quarters`` last completed
quarters (2 by default: the windows ending with the last two quarters, half a year).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.core.errors import FieldError
from services.core.households.enums import LabourCapacity
from services.core.income.rolling import WINDOW, label, quarter_index, quarter_of, rolling
from services.core.policy.monitoring import MonitoringPolicy
from services.core.workdays import add_months


@dataclass
class EliminationFacts:
    """What the risk-elimination conditions (风险消除条件) are judged on, as of the day of the
    step: identification (识别) date, measures carried out (落实帮扶措施), recorded income
    (人均纯收入 per quarter), the monitoring lines (监测标准), the three guarantees and safe
    water (三保障和饮水安全) and the members' labour capacity (劳动能力)."""

    decided_on: date
    identified_on: date | None
    # measures of the case carried out (落实) as of ``decided_on``: started on or before it,
    # in progress or completed (not planned only, not stopped)
    measures_carried_out: int
    # the household's recorded quarters: (year, quarter, net_income, member_count)
    income_records: Sequence[tuple[int, int, Decimal, int]]
    # year -> the province's yearly monitoring line (absent: no line set)
    lines: Mapping[int, Decimal]
    province_code: str
    # item -> status of the three guarantees and water; None when never recorded
    guarantees: Mapping[str, str] | None
    # labour capacity of every living member
    labour: Iterable[LabourCapacity] = field(default_factory=list)


def income_windows(before: date, count: int) -> list[int]:
    """The quarter indexes of the ``count`` calendar quarters completed before ``before``,
    latest first: the rolling windows that end with them are judged (收入稳定: income stably
    above the monitoring line 监测标准; ``count`` is ``elimination_income_quarters``)."""
    last = quarter_of(before) - 1
    return [last - k for k in range(count)]


def earliest_record_needed(before: date, count: int) -> int:
    """The first quarter index any judged window reaches back to: the income records
    (收入季度记录) the risk-elimination (风险消除) check must read."""
    return quarter_of(before) - 1 - (count - 1) - (WINDOW - 1) if count else quarter_of(before)


def income_conditions(facts: EliminationFacts, policy: MonitoringPolicy) -> list[FieldError]:
    """The income conditions alone: each window complete and at least the line of the
    decision's year. Errors name ``income[<the window's last quarter>]``.

    Risk elimination (风险消除) needs per-capita net income (人均纯收入) stably above the
    monitoring line (监测标准, ``income_lines`` of the province and year) over
    ``elimination_income_quarters`` (收入稳定超过监测标准的季度数) rolling windows."""
    if policy.elimination_income_quarters == 0:
        return []
    unmet: list[FieldError] = []
    year = facts.decided_on.year
    line = facts.lines.get(year)
    if line is None:
        unmet.append(
            FieldError("income", "elimination_no_income_line", {"year": year, "province": facts.province_code})
        )
    recorded_at = {quarter_index(y, q) for y, q, _, _ in facts.income_records}
    for end in income_windows(facts.decided_on, policy.elimination_income_quarters):
        where = f"income[{label(end)}]"
        window = f"{label(end - WINDOW + 1)}–{label(end)}"
        found = rolling(facts.income_records, end)
        # The window must end with this very quarter: a window ending earlier is another year.
        recorded = sum(1 for i in range(end - WINDOW + 1, end + 1) if i in recorded_at)
        if recorded < WINDOW or found is None or found.per_capita_net is None:
            unmet.append(
                FieldError(
                    where, "elimination_income_incomplete", {"window": window, "quarters": recorded, "required": WINDOW}
                )
            )
        elif line is not None and found.per_capita_net < line:
            unmet.append(
                FieldError(
                    where,
                    "elimination_income_below_line",
                    {
                        "window": window,
                        "per_capita_net": f"{found.per_capita_net:.2f}",
                        "line": f"{line:.2f}",
                        "year": year,
                    },
                )
            )
    return unmet


def unmet_conditions(facts: EliminationFacts, policy: MonitoringPolicy) -> list[FieldError]:
    """Every unmet condition of risk elimination (风险消除条件), all listed at once: monitored
    at least ``elimination_min_months`` since identification (风险消除最短监测月数), at least
    ``elimination_min_measures_carried_out`` measures carried out (最少落实措施数), income stably
    above the line (``income_conditions``), the three guarantees and safe water secured when
    ``elimination_requires_guarantees`` (须“三保障”和饮水安全有保障), and someone able to work
    when ``elimination_requires_labour`` (须有劳动能力; ``labour_capacities_able``)."""
    unmet: list[FieldError] = []
    if facts.identified_on is None:
        unmet.append(FieldError("identified_on", "elimination_not_identified"))
    else:
        earliest = add_months(facts.identified_on, policy.elimination_min_months)
        if facts.decided_on < earliest:
            unmet.append(
                FieldError(
                    "identified_on",
                    "elimination_too_early",
                    {
                        "months": policy.elimination_min_months,
                        "identified_on": facts.identified_on.isoformat(),
                        "earliest": earliest.isoformat(),
                    },
                )
            )
    if facts.measures_carried_out < policy.elimination_min_measures_carried_out:
        unmet.append(
            FieldError(
                "measures",
                "elimination_measures_missing",
                {
                    "required": policy.elimination_min_measures_carried_out,
                    "carried_out": facts.measures_carried_out,
                    "on": facts.decided_on.isoformat(),
                },
            )
        )
    unmet.extend(income_conditions(facts, policy))
    if policy.elimination_requires_guarantees:
        if facts.guarantees is None:
            unmet.append(FieldError("guarantees", "elimination_guarantees_unknown"))
        else:
            insecure = sorted(k for k, v in facts.guarantees.items() if v not in ("secure", "not_applicable"))
            if insecure:
                unmet.append(
                    FieldError("guarantees", "elimination_guarantees_insecure", {"items": ", ".join(insecure)})
                )
    if policy.elimination_requires_labour:
        able = set(policy.labour_capacities_able)
        if not any(capacity in able for capacity in facts.labour):
            unmet.append(FieldError("members", "elimination_no_labour"))
    return unmet
