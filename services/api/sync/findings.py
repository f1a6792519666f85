"""Findings of the department cross-checks: list, read, acknowledge, resolve, reopen.
Region-scoped like households; findings that tell health only for roles that see health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.api import tags
from services.api.auditing import record_sensitive_read
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, IdQ, Limit, RegionPrefix
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.api.sync.router import SourceQ
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Forbidden
from services.core.households.service import get_household, get_person
from services.core.i18n import wants_chinese
from services.core.idnumber import redact
from services.core.regions.service import check_prefix_visible
from services.core.sync import service
from services.core.sync.enums import FindingStatus, Severity
from services.core.sync.models import Finding
from services.core.sync.rules import explain, tells_health
from services.core.sync.schemas import FindingOut, FindingUpdate
from services.core.timeutil import CHINA
from services.core.types import Moment

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)
FINDINGS: tags.Tags = [tags.FINDINGS]
# The caller of a route, with the permission it needs (``deps.Needs``).
FindingsHandler = Annotated[Caller, Needs(Permission.findings_handle)]
FindingsReader = Annotated[Caller, Needs(Permission.findings_read)]

RuleQ = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Rule id, e.g. not_insured 规则")]
path_object("finding_id", Finding)


def _sees_health(caller: Caller) -> bool:
    return Permission.registry_health in caller.permissions


def _redacted(value: Any) -> Any:
    """Values and record keys as the rules stored them, with any ID number masked."""
    return service.masked(value)


def finding_body(f: Finding, persons: dict, households: dict, chinese: bool) -> dict[str, Any]:
    person = persons.get(f.person_id)
    household = households.get(f.household_id)
    body = {
        k: getattr(f, k)
        for k in (
            "id",
            "rule_id",
            "severity",
            "health",
            "status",
            "source",
            "county",
            "region_code",
            "first_seen_at",
            "last_seen_at",
            "first_run_id",
            "last_run_id",
            "resolved_at",
            "resolved_by",
            "clue_id",
            "version",
        )
    }
    body["explanation"] = explain(f.rule_id, chinese)
    body["person"] = (
        {"id": person.id, "id_number": person.id_masked, "name": person.name} if person is not None else None
    )
    body["household"] = {"id": household.id, "household_no": household.household_no} if household is not None else None
    body["records"] = [
        {"source": r.get("source"), "external_key": _redacted(r.get("external_key"))}
        for r in (f.records or [])
        if isinstance(r, dict)
    ]
    body["values"] = _redacted(f.values if isinstance(f.values, dict) else {})
    body["note"] = redact(f.note) if f.note else f.note
    return body


async def finding_bodies(request: Request, session, findings: list[Finding]) -> list[dict]:
    persons, households = await service.subjects_of(session, findings)
    chinese = wants_chinese(request.headers.get("accept-language"))
    return [finding_body(f, persons, households, chinese) for f in findings]


async def _response(request: Request, session, finding: Finding) -> JSON:
    [body] = await finding_bodies(request, session, [finding])
    return JSON(body, headers={"ETag": etag("finding", finding.id, finding.version)})


async def _audit_health(request: Request, caller: Caller, findings: list[Finding], object_id: Any) -> None:
    """A read that showed findings telling someone's health is audited, as other health reads are."""
    shown = [f.id for f in findings if f.health]
    if shown:
        await record_sensitive_read(request, caller, "finding.read_health", "finding", object_id, findings=shown)


async def check_finding_filters(
    session, caller: Caller, rule_id: str | None, region: str | None, household_id: int | None, person_id: int | None
) -> None:
    """Filters naming what the caller may not see: a health rule is 403 for a role without
    health details; a region, household or person elsewhere is 404 as a missing one (the
    region here, not by ``params.RegionQ``, so that the 403 comes first)."""
    if rule_id is not None and tells_health(rule_id) and not _sees_health(caller):
        raise Forbidden("health_rule_forbidden", field="rule_id")
    if region is not None:
        await check_prefix_visible(session, region)
    if household_id is not None:
        await get_household(session, household_id)
    if person_id is not None:
        await get_person(session, person_id)


@router.get(
    "/findings",
    response_model=Page[FindingOut],
    operation_id="listFindings",
    tags=FINDINGS,
    dependencies=[Depends(bulk_read)],
    responses=responses(404),
    summary="Findings of the department cross-checks, newest first 比对发现列表",
    description="Findings in your regions: of the department sources' runs, and of the daily registry "
    "checks (`source=registry`: rules on the registry alone, with no department record). "
    "Findings that tell a person's health (large medical costs …) "
    "appear only for roles that see health details, and filtering by such a rule is refused "
    "(403) for the others. `seen_since`: findings seen again by a run since then (naive times "
    "are China time).",
)
async def list_findings(
    request: Request,
    session: Session,
    caller: FindingsReader,
    rule_id: RuleQ = None,
    severity: Severity | None = None,
    status: FindingStatus | None = None,
    source: SourceQ = None,
    region: RegionPrefix = None,
    household_id: IdQ = None,
    person_id: IdQ = None,
    seen_since: Moment | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    await check_finding_filters(session, caller, rule_id, region, household_id, person_id)
    if seen_since is not None and seen_since.tzinfo is None:
        seen_since = seen_since.replace(tzinfo=CHINA)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_findings(
        session,
        sees_health=_sees_health(caller),
        rule_id=rule_id,
        severity=severity,
        status=status,
        source=source,
        region=region,
        household_id=household_id,
        person_id=person_id,
        seen_since=seen_since,
        cursor=cursor,
        limit=limit,
    )
    await _audit_health(request, caller, rows, "list")
    return JSON({"items": await finding_bodies(request, session, rows), "next_cursor": next_cursor})


@router.get(
    "/findings/{finding_id}",
    response_model=FindingOut,
    operation_id="getFinding",
    tags=FINDINGS,
    responses=responses(404),
    summary="One finding 比对发现详情",
    description="With its ETag, which `PATCH` needs in `If-Match`.",
)
async def get_finding(request: Request, finding_id: Id, session: Session, caller: FindingsReader):
    finding = await service.get_finding(session, finding_id, sees_health=_sees_health(caller))
    await _audit_health(request, caller, [finding], finding.id)
    return await _response(request, session, finding)


@router.patch(
    "/findings/{finding_id}",
    response_model=FindingOut,
    operation_id="updateFinding",
    tags=FINDINGS,
    responses=responses(404, 412, 428),
    summary="Acknowledge, resolve or reopen a finding 处理比对发现",
    description="`acknowledged` (seen, being followed up), `resolved` (with a `note` saying what was "
    "done; records who resolved it) or `open` again. A later run that no longer finds the "
    "condition resolves a finding by itself; one that finds it again reopens it. Needs "
    "`If-Match` with the finding's ETag (428 without, 412 when stale).",
)
async def update_finding(
    request: Request, finding_id: Id, body: FindingUpdate, session: Session, caller: FindingsHandler
):
    finding = await service.get_finding(session, finding_id, sees_health=_sees_health(caller), for_update=True)
    check_if_match(request, etag("finding", finding.id, finding.version))
    service.change_status(finding, body.status, body.note, caller.user_id)
    await session.flush()
    return await _response(request, session, finding)
