"""The registry check of one county: the rules that need no department record (provincial
data-quality checks on the registry alone, ``rules.registry``), through the same machinery
as a source's reconciliation — each rule's candidates into ``sync_cand``, then
``reconcile.merge_candidates`` (new ones open, known ones are seen again, resolved ones
found again open again, what is no longer found resolves).

Findings carry the pseudo-source ``registry`` (``REGISTRY_SOURCE``; no configured source
may take the name), ``records: []`` and the values that triggered them; fingerprints are
``<rule>:registry:<county>:<subject>``. Each check is a run row (source ``registry``,
trigger ``schedule`` from the worker, ``manual`` from ``guardline sync check-registry``)
written in the check's own transaction, so the run history shows it and its counts; it
is never queued (no worker claims source ``registry``) and is never seen running: it
commits ``succeeded`` with its findings, or not at all.

Registry rules raise no risk clues: they are about the registry's own data, which the
county mends itself.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from datetime import time as datetime_time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.income.rolling import quarter_of
from services.core.policy import sync as sync_policy
from services.core.policy.sync import SyncPolicy
from services.core.scope import region_params, scoped_params, scoped_text
from services.core.settings import Settings
from services.core.sync import queries, runs
from services.core.sync.config import REGISTRY_SOURCE
from services.core.sync.enums import Trigger
from services.core.sync.reconcile import (
    RESOLVED_NOTE,
    _run,
    county_region,
    fingerprint_prefix,
    merge_candidates,
)
from services.core.sync.rules import registry
from services.core.sync.rules.base import RuleContext
from services.core.timeutil import CHINA
from services.core.timeutil import today as china_today
from services.core.tuning import tune

log = logging.getLogger(__name__)

# Serialises the daily checks of one county (two workers starting them at once): a
# transaction-level advisory lock on (LOCK_SPACE, the county's number).
LOCK_SPACE = 0x5352  # "SR"


_COUNTIES = scoped_text(queries.COUNTIES)


async def counties(session: AsyncSession) -> list[str]:
    """The counties with households in the registry, within the session's scope."""
    return list((await session.execute(_COUNTIES, scoped_params(session))).scalars())


def check_params(policy: SyncPolicy, county: str) -> dict[str, Any]:
    """The registry rules' bind parameters: the county and day, every field of the sync
    policy in force by its name (as a source's reconciliation passes them), and the
    county's region bounds (``scope.region_params``: the rules read the registry)."""
    day = china_today()
    return region_params(
        county,
        **sync_policy.params(policy)
        | {"source": REGISTRY_SOURCE, "county": county, "today": day, "year": day.year, "upto": quarter_of(day)},
    )


async def checked_today(session: AsyncSession, county: str) -> bool:
    """Whether a scheduled check of ``county`` already succeeded today (China time); takes
    the county's lock for the rest of the transaction, so that two workers check it once."""
    await session.execute(text(queries.CHECK_LOCK), {"space": LOCK_SPACE, "county": int(county)})
    since = datetime.combine(china_today(), datetime_time.min, CHINA)
    return (
        await session.execute(
            text(queries.CHECKED_SINCE), {"source": REGISTRY_SOURCE, "county": county, "since": since}
        )
    ).scalar_one()


async def check_registry(
    session: AsyncSession,
    settings: Settings,
    county: str,
    *,
    trigger: Trigger = Trigger.manual,
    worker: str | None = None,
) -> dict[str, Any]:
    """The registry check of ``county`` in the caller's transaction (which commits the run
    row and the findings together). Returns the run id and counts: findings_opened (new or
    reopened), findings_resolved, findings_open (open or acknowledged registry findings of
    the county afterwards), and per rule how many it found."""
    started = time.perf_counter()
    policy = await sync_policy.policy_for(session, county, china_today().year)
    params = check_params(policy, county)
    params["county_region"] = await county_region(session, county)
    params["at"] = (await session.execute(text(queries.NOW))).scalar_one()
    params["resolved_note"] = RESOLVED_NOTE
    run_id = await runs.start_check(session, REGISTRY_SOURCE, county, trigger, worker, params["at"])
    params["run_id"] = run_id

    # The joins over a county's persons in memory, as a reconciliation's (put back at the end).
    work_mem = await tune(session, work_mem=settings.sync.reconcile_work_mem)
    await session.execute(text(queries.DROP_CHECK_TABLES))
    await session.execute(text(queries.CREATE_CAND))
    rules = registry.RULES
    ctx = RuleContext(kind=None, policy=policy, unmatched_findings=False)
    found: dict[str, int] = {}
    for rule in rules:
        sql = rule.sql(ctx)
        if sql is None:  # switched off by policy: its open findings resolve below
            found[rule.id] = 0
            continue
        result = await _run(
            session,
            queries.ADD_CANDIDATES.format(rule=sql),
            params
            | {
                "prefix": fingerprint_prefix(rule.id, REGISTRY_SOURCE, county),
                "rule_id": rule.id,
                "severity": rule.severity.value,
                "health": rule.health,
            },
            scoped=rule.scoped,
        )
        found[rule.id] = result.rowcount
    await session.execute(text(queries.ANALYZE_CAND))
    opened, resolved, still_open = await merge_candidates(session, params, [r.id for r in rules])
    counts = {"findings_opened": opened, "findings_resolved": resolved, "findings_open": still_open}
    await runs.finish_check(session, run_id, counts)
    await tune(session, **work_mem)
    log.info(
        "registry check of %s (run %s): %s; found %s; %.2fs",
        county,
        run_id,
        counts,
        found,
        time.perf_counter() - started,
    )
    return {"run_id": run_id, "county": county, **counts, "rules": found}
