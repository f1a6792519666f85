"""Reconciliation rules (部门信息比对): what a department's records, matched to the registry
by ID number, reveal (docs/domain.md "Department cross-checking"; the table of every rule with
its seed and thresholds: docs/department-rules.md).

Each rule is defined once, as a ``Rule`` (``base``): its id, Chinese term, seed, severity,
risk type, explanations, the ``SyncPolicy`` thresholds it reads and its SQL, one set-based
SELECT over ``sync_rec`` (``sql``). One module per source family: ``common`` (any kind),
``civil_affairs``, ``medical_insurance``, ``education``, ``housing``, and ``registry`` for rules about
the registry's own data. ``reconcile`` runs ``rules_for(kind)``; the findings API explains
findings from ``BY_ID``.
"""

from __future__ import annotations

from services.core.sync.enums import SourceKind
from services.core.sync.rules import civil_affairs, common, education, housing, medical_insurance, registry
from services.core.sync.rules.base import ANY_KIND, NO_SEED, Rule, RuleContext
from services.core.sync.rules.sql import KIND_COLUMNS, REC_COLUMNS

RULES: tuple[Rule, ...] = (
    common.RULES + civil_affairs.RULES + medical_insurance.RULES + education.RULES + housing.RULES + registry.RULES
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
assert len(BY_ID) == len(RULES), "rule ids must be unique"


def rules_for(kind: SourceKind) -> list[Rule]:
    return [r for r in RULES if r.applies_to(kind)]


def explain(rule_id: str, chinese: bool) -> str:
    """A finding's explanation; a rule that no longer exists is explained by its id."""
    rule = BY_ID.get(rule_id)
    if rule is None:
        return rule_id
    return rule.explanation_zh if chinese else rule.explanation_en


def tells_health(rule_id: str) -> bool:
    rule = BY_ID.get(rule_id)
    return rule is not None and rule.health


__all__ = [
    "ANY_KIND",
    "BY_ID",
    "KIND_COLUMNS",
    "NO_SEED",
    "REC_COLUMNS",
    "RULES",
    "Rule",
    "RuleContext",
    "explain",
    "rules_for",
    "tells_health",
]
