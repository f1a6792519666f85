"""The risk-elimination guard (风险消除条件) as a plain function: every unmet condition is
listed, so the approver sees all that is missing at once, not the first."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.core.errors import FieldError
from services.core.households.enums import LabourCapacity
from services.core.monitoring.policy import MonitoringPolicy
from services.core.workdays import add_months


@dataclass
class EliminationFacts:
    decided_on: date
    identified_on: date | None
    completed_measures: int
    # (year, quarter) -> per-capita net income of that quarter
    quarterly_income: Mapping[tuple[int, int], Decimal]
    # year -> the province's yearly monitoring line (absent: no line set)
    lines: Mapping[int, Decimal]
    province_code: str
    # item -> status of the three guarantees and water; None when never recorded
    guarantees: Mapping[str, str] | None
    # labour capacity of every living member
    labour: Iterable[LabourCapacity] = field(default_factory=list)


def completed_quarters(before: date, count: int) -> list[tuple[int, int]]:
    """The ``count`` calendar quarters completed before ``before``, latest first."""
    year, quarter = before.year, (before.month - 1) // 3 + 1
    out = []
    for _ in range(count):
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
        out.append((year, quarter))
    return out


def unmet_conditions(facts: EliminationFacts, policy: MonitoringPolicy) -> list[FieldError]:
    unmet: list[FieldError] = []
    if facts.identified_on is None:
        unmet.append(FieldError("identified_on", "elimination_not_identified"))
    else:
        earliest = add_months(facts.identified_on, policy.elimination_min_months)
        if facts.decided_on < earliest:
            unmet.append(FieldError("identified_on", "elimination_too_early", {
                "months": policy.elimination_min_months, "identified_on": facts.identified_on.isoformat(),
                "earliest": earliest.isoformat()}))
    if facts.completed_measures < policy.elimination_min_completed_measures:
        unmet.append(FieldError("measures", "elimination_measures_missing", {
            "required": policy.elimination_min_completed_measures, "completed": facts.completed_measures}))
    for year, quarter in completed_quarters(facts.decided_on, policy.elimination_income_quarters):
        where = f"income[{year}Q{quarter}]"
        line = facts.lines.get(year)
        income = facts.quarterly_income.get((year, quarter))
        if line is None:
            unmet.append(FieldError(where, "elimination_no_income_line",
                                    {"year": year, "province": facts.province_code}))
        elif income is None:
            unmet.append(FieldError(where, "elimination_income_missing", {"year": year, "quarter": quarter}))
        elif income * 4 < line:
            unmet.append(FieldError(where, "elimination_income_below_line", {
                "year": year, "quarter": quarter, "annualised": f"{income * 4:.2f}", "line": f"{line:.2f}"}))
    if policy.elimination_requires_guarantees:
        if facts.guarantees is None:
            unmet.append(FieldError("guarantees", "elimination_guarantees_unknown"))
        else:
            insecure = sorted(k for k, v in facts.guarantees.items() if v not in ("secure", "not_applicable"))
            if insecure:
                unmet.append(FieldError("guarantees", "elimination_guarantees_insecure", {"items": ", ".join(insecure)}))
    if policy.elimination_requires_labour:
        able = set(policy.labour_capacities_able)
        if not any(capacity in able for capacity in facts.labour):
            unmet.append(FieldError("members", "elimination_no_labour"))
    return unmet
