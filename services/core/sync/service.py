"""What the API reads and changes of department data: sources with their breaker and last
runs, runs, quarantined records and findings.

Region scope. Findings are region-scoped rows like households (the session's scope filter
applies). Runs, quarantined records and a source's counties belong to a *county*, which
only callers at county level and above see: a county is visible when its code starts with
the caller's region prefix (``county_visible``); anything else answers 404 like a missing
one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import idnumber
from services.core.crypto import DecryptionFailed, Keyring, UnknownKey
from services.core.errors import NotFound, Unprocessable
from services.core.households.models import Household, Person
from services.core.paging import KeyPage, keyset_page
from services.core.regions.models import Region
from services.core.regions.rules import Level
from services.core.scope import under
from services.core.sync.config import SourceConfig, Sources
from services.core.sync.enums import FindingStatus, QuarantineStatus, RunStatus, Severity
from services.core.sync.headers import standard_headers
from services.core.sync.models import Finding, QuarantinedRecord, SourceState, SyncRun
from services.core.sync.normalise import header_key
from services.core.sync.sealing import QUARANTINE_AAD
from services.core.timeutil import now


def county_visible(column, prefix: str):
    """SQL: the county in ``column`` lies within the caller's regions (county level and up)."""
    return under(column, prefix)


def county_in_scope(county: str, prefix: str) -> bool:
    return county.startswith(prefix)


# ---- sources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisibleSource:
    config: SourceConfig
    counties: list[str]  # the source's counties the caller sees


def visible_sources(sources: Sources, prefix: str) -> list[VisibleSource]:
    out = []
    for source in sources:
        counties = [c for c in source.counties if county_in_scope(c, prefix)]
        if counties:
            out.append(VisibleSource(source, counties))
    return out


def get_source(sources: Sources, name: str, prefix: str, field: str = "name") -> VisibleSource:
    """A configured source serving a county of the caller's; otherwise 404 as an unknown name."""
    for visible in visible_sources(sources, prefix):
        if visible.config.name == name:
            return visible
    raise NotFound("sync_source_not_found", field=field, source=name)


async def check_county(session: AsyncSession, county: str, prefix: str, field: str = "county") -> None:
    """A county filter: a county region the caller sees (404 otherwise, hidden or missing alike)."""
    if not county_in_scope(county, prefix):
        raise NotFound("county_not_found", field=field, county=county)
    stmt = select(Region.code).where(Region.code == county.ljust(12, "0"), Region.level == int(Level.county))
    if (await session.execute(stmt)).first() is None:
        raise NotFound("county_not_found", field=field, county=county)


def check_target(sources: Sources, name: str, county: str, prefix: str) -> SourceConfig:
    """Where a run may be queued: a visible source (404 naming ``source``), a county of the
    caller's (404 naming ``county``) that the source serves (422 naming ``county``)."""
    source = get_source(sources, name, prefix, field="source").config
    if not county_in_scope(county, prefix):
        raise NotFound("county_not_found", field="county", county=county)
    if county not in source.counties:
        raise Unprocessable("sync_county_not_served", field="county", source=name, county=county)
    return source


def breaker_state(state: SourceState | None, threshold: int, at: datetime | None = None) -> str:
    if state is None or state.open_until is None:
        return "closed"
    if state.open_until > (at or now()):
        return "open"
    return "half_open" if state.consecutive_failures >= threshold else "closed"


async def breakers(session: AsyncSession, names: Iterable[str]) -> dict[str, SourceState]:
    stmt = select(SourceState).where(SourceState.source.in_(list(names)))
    return {s.source: s for s in (await session.execute(stmt)).scalars()}


async def last_runs(session: AsyncSession, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], SyncRun]:
    """The newest run of each (source, county)."""
    if not pairs:
        return {}
    stmt = (
        select(SyncRun)
        .where(tuple_(SyncRun.source, SyncRun.county).in_(pairs))
        .ext(distinct_on(SyncRun.source, SyncRun.county))
        .order_by(SyncRun.source, SyncRun.county, SyncRun.id.desc())
    )
    return {(r.source, r.county): r for r in (await session.execute(stmt)).scalars()}


# ---- runs ---------------------------------------------------------------------------------


async def list_runs(
    session: AsyncSession,
    prefix: str,
    *,
    source: str | None,
    county: str | None,
    status: RunStatus | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[SyncRun]:
    stmt = select(SyncRun).where(county_visible(SyncRun.county, prefix))
    if source is not None:
        stmt = stmt.where(SyncRun.source == source)
    if county is not None:
        stmt = stmt.where(SyncRun.county == county)
    if status is not None:
        stmt = stmt.where(SyncRun.status == status)
    return await keyset_page(session, stmt, [(SyncRun.id, True)], cursor, limit)


async def get_run(session: AsyncSession, prefix: str, run_id: int) -> SyncRun:
    stmt = select(SyncRun).where(SyncRun.id == run_id, county_visible(SyncRun.county, prefix))
    run = (await session.execute(stmt)).scalar_one_or_none()
    if run is None:
        raise NotFound("sync_run_not_found", field="run_id", id=run_id)
    return run


# ---- quarantine ---------------------------------------------------------------------------


async def list_quarantine(
    session: AsyncSession,
    prefix: str,
    *,
    source: str | None,
    county: str | None,
    reason: str | None,
    status: QuarantineStatus | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[QuarantinedRecord]:
    stmt = select(QuarantinedRecord).where(county_visible(QuarantinedRecord.county, prefix))
    if source is not None:
        stmt = stmt.where(QuarantinedRecord.source == source)
    if county is not None:
        stmt = stmt.where(QuarantinedRecord.county == county)
    if reason is not None:
        stmt = stmt.where(QuarantinedRecord.reason == reason)
    if status is not None:
        stmt = stmt.where(QuarantinedRecord.status == status)
    return await keyset_page(session, stmt, [(QuarantinedRecord.id, True)], cursor, limit)


async def get_quarantined(session: AsyncSession, prefix: str, record_id: int) -> QuarantinedRecord:
    stmt = select(QuarantinedRecord).where(
        QuarantinedRecord.id == record_id, county_visible(QuarantinedRecord.county, prefix)
    )
    record = (await session.execute(stmt)).scalar_one_or_none()
    if record is None:
        raise NotFound("quarantined_record_not_found", field="quarantine_id", id=record_id)
    return record


def masked(value: Any, id_keys: frozenset[str] = frozenset()) -> Any:
    """``value`` (a decoded payload) with every ID number masked: any string or long number
    shaped like one, and whatever stands under a key the source uses for ID numbers even
    when it is malformed (a 17-digit number is still someone's number)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if header_key(key) in id_keys and item is not None and not isinstance(item, (dict, list, bool)):
                out[key] = idnumber.mask(idnumber.clean(str(item)))
            else:
                out[key] = masked(item, id_keys)
        return out
    if isinstance(value, list):
        return [masked(item, id_keys) for item in value]
    if isinstance(value, str):
        return idnumber.redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**14:
        return idnumber.redact(str(value))
    if isinstance(value, float) and abs(value) >= 1e14:
        return idnumber.redact(str(int(value)))
    return value


def id_keys_of(source: SourceConfig | None) -> frozenset[str]:
    names = {"id_number", "idnumber", "sfzh", "身份证号", "身份证号码"}
    if source is not None:
        names.update(source.fields.get("id_number", []))
        names.update(standard_headers(source.kind, "id_number"))  # read by the import too
    return frozenset(header_key(n) for n in names)


def raw_payload(record: QuarantinedRecord, ring: Keyring, source: SourceConfig | None) -> Any:
    """The payload as received, decrypted, ID numbers masked. A payload that is not JSON
    (a spreadsheet row kept as text) is masked as text."""
    try:
        plain = ring.decrypt(record.raw_enc, QUARANTINE_AAD)
    except (DecryptionFailed, UnknownKey, ValueError):
        return None
    try:
        decoded = orjson.loads(plain)
    except orjson.JSONDecodeError:
        return idnumber.redact(plain.decode("utf-8", errors="replace"))
    return masked(decoded, id_keys_of(source))


# ---- findings -----------------------------------------------------------------------------


async def list_findings(
    session: AsyncSession,
    *,
    sees_health: bool,
    rule_id: str | None,
    severity: Severity | None,
    status: FindingStatus | None,
    source: str | None,
    region: str | None,
    household_id: int | None,
    person_id: int | None,
    seen_since: datetime | None,
    cursor: str | None,
    limit: int,
) -> KeyPage[Finding]:
    stmt = select(Finding)
    if not sees_health:
        stmt = stmt.where(Finding.health.is_(False))
    if rule_id is not None:
        stmt = stmt.where(Finding.rule_id == rule_id)
    if severity is not None:
        stmt = stmt.where(Finding.severity == severity)
    if status is not None:
        stmt = stmt.where(Finding.status == status)
    if source is not None:
        stmt = stmt.where(Finding.source == source)
    if region:
        stmt = stmt.where(under(Finding.region_code, region))
    if household_id is not None:
        stmt = stmt.where(Finding.household_id == household_id)
    if person_id is not None:
        stmt = stmt.where(Finding.person_id == person_id)
    if seen_since is not None:
        stmt = stmt.where(Finding.last_seen_at >= seen_since)
    return await keyset_page(session, stmt, [(Finding.id, True)], cursor, limit)


async def get_finding(
    session: AsyncSession, finding_id: int, *, sees_health: bool, for_update: bool = False
) -> Finding:
    """A finding in the caller's regions; one that tells health is, for a role that may not
    see health, as missing as one elsewhere."""
    stmt = select(Finding).where(Finding.id == finding_id)
    if not sees_health:
        stmt = stmt.where(Finding.health.is_(False))
    if for_update:
        stmt = stmt.with_for_update()
    finding = (await session.execute(stmt)).scalar_one_or_none()
    if finding is None:
        raise NotFound("finding_not_found", field="finding_id", id=finding_id)
    return finding


async def subjects_of(session: AsyncSession, findings: list[Finding]) -> tuple[dict[int, Person], dict[int, Household]]:
    """The persons and households the findings name (in the caller's regions)."""
    person_ids = {f.person_id for f in findings if f.person_id is not None}
    household_ids = {f.household_id for f in findings if f.household_id is not None}
    persons: dict[int, Any] = {}
    households: dict[int, Any] = {}
    if person_ids:
        rows = await session.execute(select(Person.id, Person.id_masked, Person.name).where(Person.id.in_(person_ids)))
        persons = {r.id: r for r in rows}
    if household_ids:
        rows = await session.execute(
            select(Household.id, Household.household_no).where(Household.id.in_(household_ids))
        )
        households = {r.id: r for r in rows}
    return persons, households


def change_status(finding: Finding, status: FindingStatus, note: str | None, user_id: int | None) -> None:
    """A person's decision on a finding. Resolving needs a note and records who resolved it;
    acknowledging or reopening clears a resolution."""
    if status == FindingStatus.resolved:
        if note is None:
            raise Unprocessable("finding_note_required", field="note")
        if finding.status != FindingStatus.resolved:
            finding.resolved_at = now()
            finding.resolved_by = user_id
    else:
        finding.resolved_at = None
        finding.resolved_by = None
    finding.status = status
    if note is not None:
        finding.note = note
