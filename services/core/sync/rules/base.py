"""What a rule is, and what its SQL is built from (``RuleContext``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.core.guarantees.models import Item
from services.core.monitoring.enums import RiskType
from services.core.policy.sync import SyncPolicy
from services.core.sync.enums import Severity, SourceKind

ANY_KIND = frozenset(SourceKind)
CIVIL, MEDICAL, EDUCATION = SourceKind.civil_affairs, SourceKind.medical_insurance, SourceKind.education
HOUSING = SourceKind.housing
NO_SEED = "provincial data-quality check"


@dataclass(frozen=True)
class RuleContext:
    kind: SourceKind | None  # None: the registry check (rules on the registry alone)
    policy: SyncPolicy  # the thresholds in force for the county and year of the run
    unmatched_findings: bool  # the source's records of unknown ID numbers are findings
    # The canonical fields the source maps (None: all of them): a rule that needs a field
    # the source does not carry judges nothing.
    fields: frozenset[str] | None = None

    def carries(self, *names: str) -> bool:
        """Whether the source maps any of these canonical fields."""
        return self.fields is None or any(n in self.fields for n in names)


@dataclass(frozen=True)
class Rule:
    """One cross-check, defined once: the findings API explains and hides findings from it,
    ``reconcile`` runs its SQL, the clue intake takes its risk type."""

    id: str
    term_zh: str  # the Chinese term (应纳未纳, 大额医疗支出 …): what a reader greps for
    seed: str  # where it comes from: "001 §五.1", or NO_SEED
    severity: Severity
    kinds: frozenset[SourceKind]
    explanation_en: str
    explanation_zh: str
    # The rule as one SELECT over ``sync_rec`` (columns: see ``sql``); None: switched off by
    # the policy (its open findings resolve).
    build_sql: Callable[[RuleContext], str | None]
    risk_type: RiskType | None = None  # a risk rule: its findings also raise risk clues
    health: bool = False  # the finding tells a person's health (hidden without registry:health)
    thresholds: tuple[str, ...] = ()  # the ``SyncPolicy`` fields its SQL reads (as ``:field``)
    # Its SQL reads the registry's regional tables (persons, households, cases) of the county
    # itself, not only through ``sync_rec``: it is limited by ``scope.region_sql``'s bounds
    # (the county's), and is run through ``scope.scoped_text``, which refuses it without them.
    scoped: bool = False
    # The item of the three guarantees and safe water its findings put at risk: each open
    # finding about a household opens an entry of the monthly clearing ledger
    # (``services.core.ledgers.clearing``; 月清零).
    guarantee: Item | None = None

    @property
    def risk(self) -> bool:
        return self.risk_type is not None

    def applies_to(self, kind: SourceKind) -> bool:
        return kind in self.kinds

    def sql(self, ctx: RuleContext) -> str | None:
        return self.build_sql(ctx)
