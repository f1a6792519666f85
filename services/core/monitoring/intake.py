"""Bulk intake of risk clues (部门筛查 raises thousands at a time): ``report_many`` records a
batch of reports with a handful of set-based statements, and for each report does exactly
what ``clues.report`` would have done had the reports been made one after the other, in
the given order:

* a re-sent ``(source, external_ref)`` — already stored, or earlier in the same batch — is a
  ``duplicate``: nothing is written, the known clue is named;
* the household must be active and in the session's region scope (``report`` answers 404 /
  409 otherwise; here the batch raises the same error, or with ``strict=False`` the item is
  ``refused`` and the others go on);
* an open clue of the household sharing a risk type takes the report (``merged``; the
  oldest such clue, clues created earlier in the batch included), otherwise a new clue is
  ``created``; the clue's risk types, channels, first report day and report count follow;
* each clue's stored next deadline (``deadlines.store_next`` of ``clues.pending``) and its
  ``version`` (the ETag: up once for the report and once more when the next deadline moved,
  as the ORM's flushes of ``report`` do) end as they would.

The statements: one reading the known references, one locking the batch's households
(``ORDER BY id FOR UPDATE``: two batches wait for each other instead of deadlocking, and a
clue of a household is merged under its lock as in ``report``), one reading (and locking)
their open clues, one taking ids from the sequences (so each report knows its clue's id
before anything is written; the order of ``INSERT … RETURNING`` rows is not something
PostgreSQL promises), then one statement writing it all: a multi-row ``INSERT`` of
the new clues, one ``UPDATE`` of the merged ones and a multi-row ``INSERT`` of the reports.
Rows travel as JSON arrays typed by the table's row type, so the SQL text never changes
with the batch size. The statements are ``queries.INTAKE_*`` (the reads bounded by the
session's regions with ``scope.region_sql``).

Audit: a request's audit event lists the rows its flushes changed (``services.api.auditing``);
these statements bypass the ORM's flushes, so the same entries (a clue created with its
values, a clue updated with the columns before and after, a report created) are handed to
the request's collection when the session has one (``audit.service.note_changes``). The
department sync worker writes no audit events (neither did ``report`` on its path); its
trace is the reports' ``source`` / ``external_ref`` and the finding's ``clue_id``.

The risk-clue statistics have no stored counts (open clues are counted live); the running
counts of ``monitoring_case_counts`` follow cases only, which the intake never touches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.service import collects_changes, note_changes
from services.core.errors import Conflict, NotFound
from services.core.monitoring import deadlines as dl
from services.core.monitoring import queries
from services.core.monitoring.context import PolicyContext
from services.core.monitoring.enums import Channel, ClueStatus, DeadlineKind
from services.core.monitoring.queries import INTAKE_CLUE_COLUMNS, INTAKE_MERGED_COLUMNS
from services.core.monitoring.schemas import ClueIn, Reporter
from services.core.scope import scoped_params
from services.core.timeutil import today

CREATED, MERGED, DUPLICATE, REFUSED = "created", "merged", "duplicate", "refused"
_SELF = Channel.self_declaration.value


@dataclass(eq=False)
class _Clue:
    """An open clue of the batch's households as ``report`` would leave it."""

    household_id: int
    region_code: str
    risk_types: list[str]
    channels: list[str]
    first_reported_on: date
    report_count: int
    version: int
    next_deadline: date | None
    next_deadline_kind: DeadlineKind | None
    deadline_provisional: bool
    self_declared_on: date | None
    id: int | None = None  # a new clue's id is taken when the batch is written
    before: dict[str, Any] | None = None  # a stored clue's columns as read (None: a new clue)
    status: ClueStatus = field(default=ClueStatus.open)

    def columns(self, names: Sequence[str]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names}

    @property
    def known_id(self) -> int:
        """The id of a stored clue, or of a new one once taken (before the batch is written)."""
        if self.id is None:
            raise RuntimeError("the clue has no id yet")
        return self.id


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum
        return value.value
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class _Deadlines:
    """``clues.pending`` for an open clue's facts, each combination computed once: regions
    whose policies are alike (most: the national default) share the result."""

    def __init__(self, ctx: PolicyContext):
        self.ctx = ctx
        self.memo: dict[tuple, list[dl.Deadline]] = {}
        self.policies: dict[tuple[str, int], str] = {}

    def _policy(self, region_code: str, day: date | None) -> str | None:
        if day is None:
            return None
        key = (region_code, day.year)
        found = self.policies.get(key)
        if found is None:
            found = self.policies[key] = self.ctx.policy(region_code, day.year).model_dump_json()
        return found

    def __call__(self, clue: _Clue) -> list[dl.Deadline]:
        key = (
            self._policy(clue.region_code, clue.first_reported_on),
            clue.first_reported_on,
            self._policy(clue.region_code, clue.self_declared_on),
            clue.self_declared_on,
        )
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = dl.clue_deadlines(
                ClueStatus.open,
                clue.first_reported_on,
                clue.self_declared_on,
                self.ctx.policy_for(clue.region_code),
                self.ctx.calendar,
            )
        return found


def _settle(clue: _Clue, pending: _Deadlines) -> None:
    """``store_next`` after a report; a change of the stored deadline is one more version,
    as the second flush of ``report`` makes it."""
    before = (clue.next_deadline, clue.next_deadline_kind, clue.deadline_provisional)
    dl.store_next(clue, pending(clue))
    if (clue.next_deadline, clue.next_deadline_kind, clue.deadline_provisional) != before:
        clue.version += 1


async def report_many(
    session: AsyncSession, ctx: PolicyContext, items: Sequence[ClueIn], reporter: Reporter, *, strict: bool = True
) -> list[tuple[int | None, str]]:
    """Record ``items`` in the caller's transaction as successive ``clues.report`` calls
    would; one (clue id, outcome) per item, in order: "created", "merged", "duplicate", or
    — only with ``strict=False`` — (None, "refused") for a household that is not active or
    not in the session's regions (with ``strict`` the error ``report`` raises is raised, and
    nothing of the batch is written). Items name their household (``household_id``).
    Clue objects the session already holds are not refreshed (the writes bypass the ORM)."""
    if not items:
        return []
    household_ids: list[int] = []
    for item in items:
        if item.household_id is None:
            raise ValueError("report_many needs each item's household_id (an ID number is resolved by report)")
        household_ids.append(item.household_id)
    await session.flush()  # the statements below read the tables, not the session's pending objects
    # Plans made for each batch's values and the tables' present size: a generic plan made
    # while the reports were few (a first run) keeps scanning them whole as they grow —
    # measured 40 times slower by the third 10,000 clues. For the rest of the transaction
    # (``tuning.custom_plans`` is the same for a block).
    await session.execute(queries.INTAKE_CUSTOM_PLANS)
    keys = sorted({(i.source, i.external_ref) for i in items if i.external_ref is not None})
    # (source, external_ref); a source is always given with a reference (ClueIn checks it)
    known: dict[tuple[str | None, str], int | _Clue] = {}
    if keys:
        rows = await session.execute(
            queries.INTAKE_KNOWN, scoped_params(session, sources=[k[0] for k in keys], refs=[k[1] for k in keys])
        )
        known = {(source, ref): clue_id for source, ref, clue_id in rows}

    wanted = sorted(
        {
            hid
            for i, hid in zip(items, household_ids, strict=True)
            if i.external_ref is None or (i.source, i.external_ref) not in known
        }
    )
    households: dict[int, tuple[str, str]] = {}
    open_clues: dict[int, list[_Clue]] = {}
    if wanted:
        rows = await session.execute(queries.INTAKE_LOCK_HOUSEHOLDS, scoped_params(session, ids=wanted))
        households = {hid: (region, status) for hid, region, status in rows}
        active = [hid for hid, (_, status) in households.items() if status == "active"]
        if active:
            rows = await session.execute(queries.INTAKE_OPEN_CLUES, scoped_params(session, ids=active))
            for row in rows.mappings():
                stored = _Clue(
                    household_id=row["household_id"],
                    region_code=row["region_code"],
                    risk_types=list(row["risk_types"]),
                    channels=list(row["channels"]),
                    first_reported_on=row["first_reported_on"],
                    report_count=row["report_count"],
                    version=row["version"],
                    next_deadline=row["next_deadline"],
                    next_deadline_kind=DeadlineKind(row["next_deadline_kind"]) if row["next_deadline_kind"] else None,
                    deadline_provisional=row["deadline_provisional"],
                    self_declared_on=row["self_declared_on"],
                    id=row["id"],
                )
                stored.before = stored.columns(INTAKE_MERGED_COLUMNS)
                open_clues.setdefault(stored.household_id, []).append(stored)

    pending = _Deadlines(ctx)
    day = today()
    results: list[tuple[int | _Clue | None, str]] = []
    created: list[_Clue] = []
    touched: dict[int, _Clue] = {}  # stored clues that take reports, by id
    reports: list[tuple[_Clue, ClueIn, list[str], date]] = []
    for item, household_id in zip(items, household_ids, strict=True):
        key = (item.source, item.external_ref) if item.external_ref is not None else None
        if key is not None and key in known:
            results.append((known[key], DUPLICATE))
            continue
        found = households.get(household_id)
        if found is None or found[1] != "active":
            if strict:
                if found is None:
                    raise NotFound("household_not_found", field="household_id", id=household_id)
                raise Conflict("household_dissolved", field="household_id", id=household_id)
            results.append((None, REFUSED))
            continue
        reported_on = item.reported_on or day
        risks = [r.value for r in item.risk_types]
        channel = item.channel.value
        mine = open_clues.setdefault(household_id, [])
        clue = next((c for c in mine if any(r in c.risk_types for r in risks)), None)
        if clue is None:
            clue = _Clue(
                household_id=household_id,
                region_code=found[0],
                risk_types=risks,
                channels=[channel],
                first_reported_on=reported_on,
                report_count=1,
                version=1,
                next_deadline=None,
                next_deadline_kind=None,
                deadline_provisional=False,
                self_declared_on=reported_on if channel == _SELF else None,
            )
            mine.append(clue)  # after the stored ones: its id will be larger
            created.append(clue)
            outcome = CREATED
        else:
            clue.risk_types = clue.risk_types + [r for r in risks if r not in clue.risk_types]
            if channel not in clue.channels:
                clue.channels = [*clue.channels, channel]
            clue.first_reported_on = min(clue.first_reported_on, reported_on)
            if channel == _SELF:
                clue.self_declared_on = min(filter(None, (clue.self_declared_on, reported_on)))
            clue.report_count += 1
            clue.version += 1
            if clue.before is not None:  # a stored clue
                touched[clue.known_id] = clue
            outcome = MERGED
        _settle(clue, pending)
        reports.append((clue, item, risks, reported_on))
        if key is not None:
            known[key] = clue
        results.append((clue, outcome))

    if reports:
        clue_ids, report_ids = (
            await session.execute(queries.INTAKE_IDS, {"clues": len(created), "reports": len(reports)})
        ).one()
        for clue, new_id in zip(created, sorted(clue_ids), strict=True):
            clue.id = new_id
        await _write(
            session,
            created,
            list(touched.values()),
            reports,
            sorted(report_ids),
            reporter,
            audited=collects_changes(session),
        )
    return [(r.id if isinstance(r, _Clue) else r, outcome) for r, outcome in results]


async def _write(
    session: AsyncSession,
    created: list[_Clue],
    touched: list[_Clue],
    reports: list[tuple[_Clue, ClueIn, list[str], date]],
    report_ids: list[int],
    reporter: Reporter,
    audited: bool,
) -> None:
    changes: list[dict[str, Any]] = []
    clue_rows = []
    for clue in created:  # orjson writes dates and enums as the JSON the row types read
        clue_rows.append({**clue.columns(INTAKE_CLUE_COLUMNS[:-2]), "deadline_breaches": [], "version": clue.version})
        if audited:
            changes.append(
                _change(
                    "risk_clues",
                    clue.known_id,
                    "create",
                    clue.region_code,
                    None,
                    {k: _json(v) for k, v in clue_rows[-1].items()},
                )
            )
    report_rows = []
    for report_id, (clue, item, risks, reported_on) in zip(report_ids, reports, strict=True):
        row = {
            "id": report_id,
            "clue_id": clue.id,
            "region_code": clue.region_code,
            "channel": item.channel.value,
            "risk_types": risks,
            "evidence": item.evidence,
            "attachments": [a.model_dump(mode="json") for a in item.attachments],
            "reported_on": reported_on,
            "reporter_user_id": reporter.user_id,
            "reporter_client_id": reporter.client_id,
            "declarant_name": item.declarant_name,
            "declarant_phone": item.declarant_phone,
            "source": item.source,
            "external_ref": item.external_ref,
        }
        report_rows.append(row)
        if audited:
            changes.append(
                _change(
                    "clue_reports", report_id, "create", clue.region_code, None, {k: _json(v) for k, v in row.items()}
                )
            )
    merged_rows = []
    for clue in sorted(touched, key=lambda c: c.known_id):
        merged_rows.append({"id": clue.id, **clue.columns(INTAKE_MERGED_COLUMNS)})
        if audited:
            assert clue.before is not None
            before = {k: _json(v) for k, v in clue.before.items()}
            after = {k: _json(v) for k, v in clue.columns(INTAKE_MERGED_COLUMNS).items()}
            after = {k: v for k, v in after.items() if before.get(k) != v}
            changes.append(
                _change("risk_clues", clue.known_id, "update", clue.region_code, {k: before[k] for k in after}, after)
            )
    await session.execute(
        queries.INTAKE_WRITE,
        {
            "clues": orjson.dumps(clue_rows).decode(),
            "merged": orjson.dumps(merged_rows).decode(),
            "reports": orjson.dumps(report_rows).decode(),
        },
    )
    if changes:
        note_changes(session, changes)


def _change(table: str, row_id: int, kind: str, region_code: str, before: dict | None, after: dict) -> dict:
    """An entry as the request's audit collects them from ORM flushes (values as JSON,
    empty values left out of a created row)."""
    if kind == "create":
        after = {k: v for k, v in after.items() if v is not None}
    return {
        "table": table,
        "id": str(row_id),
        "kind": kind,
        "region_code": region_code,
        "before": before or None,
        "after": after or None,
    }
