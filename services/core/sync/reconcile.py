"""Reconciliation of one source's staged records of one county with the registry, set-based
inside the caller's transaction (the worker commits it with the run's counts):

1. ``sync_rec``: the records joined by ID hash to persons, households and open cases,
   materialised once (``CREATE TEMP TABLE … AS``: PostgreSQL hash-joins a million records
   to a million persons in about a second; fetching them into Python would take minutes);
2. ``sync_cand``: each rule of the source's kind as one ``INSERT … SELECT`` (``rules``);
3. the merge into ``sync_findings``: ``INSERT … ON CONFLICT (fingerprint)`` (new ones
   open, known ones seen again, resolved ones found again open again) and one ``UPDATE``
   resolving what this run no longer finds;
4. afterwards, in transactions of their own (``raise_clues``, a batch each): risk clues
   for open risk findings that have none yet, through the monitoring workflow's bulk
   intake ``intake.report_many`` (the fingerprint is the clue's external reference, and
   the clue's id is stored on the finding in the same transaction, so nothing is raised
   twice). A reopened finding keeps its clue while the clue is still being handled; when
   the clue was dismissed or its case has ended, the merge lets go of it and the finding
   raises a new clue (``queries.LET_GO_OF_ENDED_CLUES``).

Fingerprints are ``<rule>:<source>:<county>:<subject>``: the same person found by two
sources, or by one source in two counties, is two findings that each run resolves on its
own, and a run never touches another run's findings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.income.rolling import quarter_of
from services.core.monitoring.enums import FINAL, Channel
from services.core.policy import sync as sync_policy
from services.core.policy.sync import SyncPolicy
from services.core.scope import region_params, scoped_text
from services.core.settings import Settings
from services.core.sync import queries
from services.core.sync.config import SourceConfig
from services.core.sync.rules import KIND_COLUMNS, REC_COLUMNS, RuleContext, rules_for
from services.core.timeutil import today as china_today
from services.core.tuning import tune

log = logging.getLogger(__name__)

RESOLVED_NOTE = "condition no longer found"
CLUE_BATCH = 1000  # findings per transaction of raise_clues (the bulk intake writes them in a few statements)
EXTERNAL_REF_MAX = 128  # clue_reports.external_ref
CLUE_SOURCE_MAX = 64  # clue_reports.source
EVIDENCE_MAX = 2000
# Bind parameters in a statement, as SQLAlchemy's text() finds them.
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)")


def fingerprint_prefix(rule_id: str, source: str, county: str) -> str:
    return f"{rule_id}:{source}:{county}:"


def clue_ref(fingerprint: str, clue_round: int = 0) -> str:
    """The clue's external reference: the fingerprint, then for a clue raised anew after
    reopening (``clue_round`` ≥ 1) ``:r<round>`` — a reference of its own, so the intake's
    re-send check does not take it for the first clue's report. Longer than the column:
    the rule and a digest of the whole."""
    ref = fingerprint if clue_round == 0 else f"{fingerprint}:r{clue_round}"
    if len(ref) <= EXTERNAL_REF_MAX:
        return ref
    return f"{fingerprint.split(':', 1)[0]}:{hashlib.sha256(ref.encode()).hexdigest()[:40]}"


def clue_source(source_name: str) -> str:
    return f"sync:{source_name}"[:CLUE_SOURCE_MAX]


def rule_params(policy: SyncPolicy, source: SourceConfig, county: str) -> dict[str, Any]:
    """The rules' bind parameters: the run's source, county and day, every field of the
    sync policy in force by its name (``services.core.policy.sync.params``), and the
    county's region bounds (``scope.region_params``) for the rules that read the registry."""
    day = china_today()
    return region_params(
        county,
        **sync_policy.params(policy)
        | {"source": source.name, "county": county, "today": day, "year": day.year, "upto": quarter_of(day)},
    )


async def _run(session: AsyncSession, sql: str, params: dict[str, Any] | None = None, *, scoped: bool = False):
    """Execute with just the parameters the statement names. ``scoped``: the SQL reads
    regional rows itself and must carry the region bounds (``scope.scoped_text``)."""
    params = params or {}
    used = {name: params[name] for name in _BIND.findall(sql) if name in params}
    return await session.execute(scoped_text(sql) if scoped else text(sql), used)


async def county_region(session: AsyncSession, county: str) -> str:
    """The region of findings about no one in the registry: the county's row (its code
    padded to 12 digits), else its city's or province's."""
    candidates = [county + "000000", county[:4] + "00000000", county[:2] + "0000000000"]
    found = set((await session.execute(text(queries.REGION_CODES), {"codes": candidates})).scalars())
    for code in candidates:
        if code in found:
            return code
    raise LookupError(f"county {county} is not in the regions table")


async def merge_candidates(session: AsyncSession, params: dict[str, Any], rule_ids: list[str]) -> tuple[int, int, int]:
    """``sync_cand`` into ``sync_findings`` for ``params``' source and county (also ``at``,
    ``run_id``, ``resolved_note``): new and resolved candidates open, known ones are seen
    again, and open findings of ``rule_ids`` that are no longer candidates resolve. Shared
    by a source's reconciliation and the registry check (``registry_check``). Returns
    (opened, resolved, open or acknowledged findings of the source and county afterwards)."""
    await session.execute(text(queries.CREATE_FRESH))
    opened = (await session.execute(text(queries.COUNT_FRESH))).scalar_one()
    await _run(session, queries.MERGE, params)
    # A reopened finding whose clue was dismissed, or whose case has ended, lets go of it:
    # ``raise_clues`` raises a new one (its next round).
    final = ", ".join(f"'{s.value}'" for s in sorted(FINAL))
    await session.execute(text(queries.LET_GO_OF_ENDED_CLUES.format(final=final)))
    resolved = (await _run(session, queries.RESOLVE, params | {"rule_ids": rule_ids})).rowcount
    still_open = (await _run(session, queries.STILL_OPEN, params)).scalar_one()
    return opened, resolved, still_open


async def reconcile(
    session: AsyncSession, settings: Settings, source: SourceConfig, county: str, run_id: int
) -> dict[str, int]:
    """Reconcile ``source``'s records of ``county`` (run ``run_id``) in the caller's
    transaction, which must commit (or roll back) everything together. Returns counts:
    matched / unmatched records, findings_opened (new or reopened), findings_resolved,
    findings_open (open or acknowledged findings of the source and county afterwards).
    Risk clues follow, in their own transactions (``raise_clues``)."""
    kind = source.kind
    started = time.perf_counter()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - started - sum(phases.values()), 3)

    # The thresholds in force for the county this year (a county's own row wins over its
    # province's, a later year over an earlier one).
    policy = await sync_policy.policy_for(session, county, china_today().year)
    params = rule_params(policy, source, county)
    params["at"] = (await session.execute(text(queries.NOW))).scalar_one()
    params["run_id"] = run_id
    params["resolved_note"] = RESOLVED_NOTE
    params["county_region"] = await county_region(session, county)

    # A second reconciliation in one transaction (tests, a CLI batch) starts afresh.
    await session.execute(text(queries.DROP_WORK_TABLES))
    # Hash joins and aggregates of a million rows in memory rather than in batches on disk;
    # for this transaction only, put back at the end.
    work_mem = await tune(session, work_mem=settings.sync.reconcile_work_mem)
    # Records staged moments ago are not yet in dept_records' statistics; a planner that
    # expects a handful of them picks a nested loop over a million persons (minutes instead
    # of seconds). Hash joins whatever the estimate (a temp table of the records first,
    # analysed, would lose the parallel scan: measured slower).
    nestloop = await tune(session, enable_nestloop="off")
    final = ", ".join(f"'{s.value}'" for s in sorted(FINAL))
    await _run(session, queries.CREATE_REC.format(columns=REC_COLUMNS + KIND_COLUMNS[kind], final=final), params)
    await tune(session, **nestloop)
    # Temporary tables get no statistics unless asked (autovacuum never sees them).
    await session.execute(text(queries.ANALYZE_REC))
    matched, unmatched = (await session.execute(text(queries.MATCH_COUNTS))).one()
    phase("match")

    await session.execute(text(queries.CREATE_CAND))
    ctx = RuleContext(
        kind=kind, policy=policy, unmatched_findings=source.unmatched_findings, fields=frozenset(source.fields)
    )
    rules = rules_for(kind)
    for rule in rules:
        sql = rule.sql(ctx)
        if sql is None:  # switched off: its open findings resolve below
            continue
        await _run(
            session,
            queries.ADD_CANDIDATES.format(rule=sql),
            params
            | {
                "prefix": fingerprint_prefix(rule.id, source.name, county),
                "rule_id": rule.id,
                "severity": rule.severity.value,
                "health": rule.health,
            },
            scoped=rule.scoped,
        )
    await session.execute(text(queries.ANALYZE_CAND))
    phase("rules")

    opened, resolved, still_open = await merge_candidates(session, params, [r.id for r in rules])
    phase("merge")
    # Findings that put an item of the three guarantees or safe water at risk open entries of
    # the monthly clearing ledger (月清零), once per household and item, in this transaction.
    from services.core.ledgers.clearing import open_from_known

    clearing_opened = await open_from_known(session, county)
    phase("clearing")

    await tune(session, **work_mem)
    counts = {
        "matched": matched,
        "unmatched": unmatched,
        "findings_opened": opened,
        "findings_resolved": resolved,
        "findings_open": still_open,
    }
    log.info(
        "reconciled %s/%s run %s: %s, clearing entries opened %s; seconds %s",
        source.name,
        county,
        run_id,
        counts,
        clearing_opened,
        phases,
    )
    return counts


def evidence(source: SourceConfig, rule, detail: dict[str, Any]) -> str:
    """The clue's evidence: which source and rule, and the values (never a full ID number:
    findings hold none; the claim list, with hospitals, stays on the finding)."""
    shown = {k: v for k, v in detail.items() if k != "claims"}
    text_ = (
        f"部门筛查 {source.title or source.name} ({source.name}), rule {rule.id}: {rule.explanation_zh} "
        f"{rule.explanation_en} {json.dumps(shown, ensure_ascii=False, sort_keys=True)}"
    )
    return text_[:EVIDENCE_MAX]


async def raise_clues(
    session: AsyncSession,
    settings: Settings,
    source: SourceConfig,
    county: str,
    *,
    after: int = 0,
    limit: int = CLUE_BATCH,
) -> tuple[int, int | None]:
    """One batch of risk clues, through the monitoring workflow's bulk intake
    (``intake.report_many``, as ``clues.report`` one after the other: clues of a household
    merge, a re-sent reference changes nothing), for open risk findings of ``source`` and
    ``county`` that have none yet. Runs in the caller's transaction; each finding gets its
    clue's id in the same transaction, so a batch is raised once even across a crash. A
    household dissolved since the batch was read is skipped (its finding keeps no clue; the
    next run no longer picks it). Returns (clue reports created or merged, the last
    finding id of the batch, or None when nothing was left)."""
    # Imported here: the monitoring workflow is only needed when there is something to raise.
    from services.core.monitoring.context import load_policy_context
    from services.core.monitoring.intake import CREATED, MERGED, report_many
    from services.core.monitoring.schemas import ClueIn, Reporter

    risky = {r.id: r for r in rules_for(source.kind) if r.risk}
    if not settings.sync.raise_clues or not risky:
        return 0, None
    batch = (
        await session.execute(
            text(queries.CLUES_TODO),
            {"source": source.name, "county": county, "risk_ids": list(risky), "after": after, "limit": limit},
        )
    ).all()
    if not batch:
        return 0, None
    monitoring_rules = await load_policy_context(session)
    reporter = Reporter(user_id=None, client_id=None)  # the sync worker itself
    items = []
    for _, fingerprint, rule_id, household_id, detail, clue_round in batch:
        rule = risky[rule_id]
        items.append(
            ClueIn(
                household_id=household_id,
                channel=Channel.department_screening,
                risk_types=[rule.risk_type],
                evidence=evidence(source, rule, detail),
                source=clue_source(source.name),
                external_ref=clue_ref(fingerprint, clue_round),
            )
        )
    outcomes = await report_many(session, monitoring_rules, items, reporter, strict=False)
    raised = sum(1 for _, outcome in outcomes if outcome in (CREATED, MERGED))
    linked = [(row[0], clue_id) for row, (clue_id, _) in zip(batch, outcomes, strict=True) if clue_id is not None]
    finding_ids, clue_ids = [f for f, _ in linked], [c for _, c in linked]
    await session.execute(text(queries.LINK_CLUES), {"ids": finding_ids, "clue_ids": clue_ids})
    return raised, batch[-1][0]
