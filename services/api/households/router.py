"""Households and persons. Thin: parse, check permission after the scoped lookup, call the
service, shape the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.api import tags
from services.api.auditing import base_event, record_sensitive_read
from services.api.deps import (
    CurrentCaller,
    Needs,
    Reads,
    Session,
    check_if_match,
    check_optional_if_match,
    health_keyring,
    path_object,
)
from services.api.errors_doc import responses
from services.api.households.listing import list_households_directly
from services.api.idempotency import IDEMPOTENCY_DOC
from services.api.pagination import Page, page_limit
from services.api.params import Amount, Cursor, IdPath, Limit, PlainText, RegionQ
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute, fast_path, hot_read, no_idempotency
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.audit import AuditRecord, record
from services.core.audit.service import REVEAL_ACTION, check_reveal_rate
from services.core.crypto import Keyring, keyring
from services.core.errors import Unprocessable
from services.core.households import service
from services.core.households.enums import Category, Flag, HouseholdStatus
from services.core.households.models import Household, Person
from services.core.households.schemas import (
    DeathRequest,
    HouseholdCreate,
    HouseholdDetail,
    HouseholdHistory,
    HouseholdSummary,
    HouseholdUpdate,
    MergeRequest,
    MoveRequest,
    PersonCreate,
    PersonLookup,
    PersonOut,
    PersonUpdate,
    SplitRequest,
    UnmaskedIdNumber,
    UnmaskRequest,
)
from services.core.households.sensitive import sees_birth_date
from services.core.regions.service import get_village
from services.core.scope import Reader

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

HouseholdId = Annotated[int, IdPath("Household id")]
PersonId = Annotated[int, IdPath("Person id")]
# The caller of a route, with the permission it needs (``deps.Needs``); for a hot read, its
# ``Reader`` (``deps.Reads``).
Unmasker = Annotated[Caller, Needs(Permission.registry_unmask)]
Writer = Annotated[Caller, Needs(Permission.households_write)]
LookupReader = Annotated[Reader, Reads(Permission.persons_lookup)]
RegistryReader = Annotated[Reader, Reads(Permission.registry_read)]
READ = [Needs(Permission.registry_read)]
path_object("household_id", Household)
path_object("person_id", Person)


def _raw(
    version: int, document: str | bytes, kind: str, ident: int, status: int = 200, location: str | None = None
) -> Response:
    headers = {"ETag": etag(kind, ident, version)}
    if location:
        headers["Location"] = location
    return Response(content=document, status_code=status, media_type="application/json", headers=headers)


# ``health`` is the keyring from ``health_keyring`` (or the reader's): given only when the
# caller's role may see health and disability details, which are then in the response.
# Birth dates only for roles that may reveal the ID number (``sees_birth_date``); the
# others get the birth year.


async def _household_response(
    request: Request, source, household_id: int, caller: Caller, health: Keyring | None, status: int = 200
) -> Response:
    version, document = await service.household_detail(
        source, household_id, health, birth_date=sees_birth_date(caller.permissions)
    )
    if health is not None and request.method == "GET":  # a write's answer is audited with the write
        await record_sensitive_read(request, caller, "household.read_health", "household", household_id)
    location = f"/api/v1/households/{household_id}" if status == 201 else None
    return _raw(version, document, "household", household_id, status, location)


async def _person_response(
    request: Request, session, person_id: int, caller: Caller, health: Keyring | None, status: int = 200
) -> Response:
    version, document = await service.person_json(
        session, person_id, health, birth_date=sees_birth_date(caller.permissions)
    )
    if health is not None and request.method == "GET":
        await record_sensitive_read(request, caller, "person.read_health", "person", person_id)
    return _raw(version, document, "person", person_id, status)


# ---- the lookup first: routes are matched in order, and it is the busiest --------------


@router.post(
    "/persons/lookup",
    response_model=PersonOut,
    operation_id="lookupPerson",
    tags=[tags.PERSONS],
    responses=responses(404),
    summary="Find a person by ID number 按身份证号查询",
    description="The ID number travels in the body, never in the URL, so it stays out of access logs.",
)
@hot_read
async def lookup_person(request: Request, body: PersonLookup, reader: LookupReader):
    version, person_id, document = await service.person_by_id_number(
        reader,
        body.id_number,
        request.app.state.settings.id_hash_key,
        reader.health,
        birth_date=sees_birth_date(reader.caller.permissions),
    )
    if reader.health is not None:
        await record_sensitive_read(request, reader.caller, "person.read_health", "person", person_id, via="lookup")
    return _raw(version, document, "person", person_id)


# ---- households -----------------------------------------------------------------------


@router.get(
    "/households",
    response_model=Page[HouseholdSummary],
    operation_id="listHouseholds",
    dependencies=[*READ, Depends(bulk_read)],
    tags=[tags.HOUSEHOLDS],
    responses=responses(404),
    summary="Find households 农户查询",
)
@fast_path(list_households_directly)  # the common queries; the same answers (tests/api/test_list_direct.py)
async def list_households(
    request: Request,
    session: Session,
    region: RegionQ = None,
    category: Annotated[Category | None, Query(description="户类型")] = None,
    flags: Annotated[
        list[Flag] | None,
        Query(
            description="All of these flags 标识（全部满足）; disabled and serious_illness only with registry:health"
        ),
    ] = None,
    income_below: Annotated[
        Amount, Query(description="Per-capita net income below (yuan); needs income_year 人均纯收入低于")
    ] = None,
    income_year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Year of income_below (both or neither)")
    ] = None,
    name: Annotated[str | None, PlainText(1, 50, "A member's name starts with 姓名")] = None,
    status: Annotated[HouseholdStatus | None, Query()] = HouseholdStatus.active,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """Households in your regions, by id, filtered by village or region prefix, category, flags, a member's name,
    status (default active) or per-capita net income below an amount in a year (人均纯收入低于). ID numbers never
    appear; the health flags (disabled, serious_illness) are shown and filterable only with registry:health.
    Needs registry:read. 农户查询。"""
    limit = page_limit(request, limit)
    if (income_below is None) != (income_year is None):
        raise Unprocessable("income_below_needs_year", field="income_year" if income_year is None else "income_below")
    found = await service.list_households(
        session,
        region=region,
        category=category,
        flags=flags,
        income_below=income_below,
        income_year=income_year,
        name=name,
        status=status,
        cursor=cursor,
        limit=limit,
        health=Permission.registry_health in request.state.caller.permissions,
    )
    return JSON(found.body())


@router.post(
    "/households",
    status_code=201,
    response_model=HouseholdDetail,
    operation_id="createHousehold",
    tags=[tags.HOUSEHOLDS],
    responses=responses(403, 404, 409),
    summary="Register a household 新增农户",
    description=IDEMPOTENCY_DOC,
)
async def create_household(request: Request, body: HouseholdCreate, session: Session, caller: Writer):
    await get_village(session, body.region_code)
    settings = request.app.state.settings
    household = await service.create_household(
        session, body, key=settings.id_hash_key, keyring=keyring(settings), actor_id=caller.user_id
    )
    return await _household_response(
        request, session, household.id, caller, health_keyring(request, caller), status=201
    )


@router.get(
    "/households/{household_id}",
    response_model=HouseholdDetail,
    operation_id="getHousehold",
    tags=[tags.HOUSEHOLDS],
    responses=responses(404),
    summary="One household with its members 农户详情",
)
@hot_read
async def get_household(request: Request, household_id: HouseholdId, reader: RegistryReader):
    """One household with its current members (ID numbers masked; health details only with registry:health) and the
    ETag to send as If-Match when changing it. Needs registry:read. 农户详情。"""
    return await _household_response(request, reader, household_id, reader.caller, reader.health)


@router.patch(
    "/households/{household_id}",
    response_model=HouseholdDetail,
    operation_id="updateHousehold",
    tags=[tags.HOUSEHOLDS],
    responses=responses(403, 404, 409, 412, 428),
    summary="Change a household (needs If-Match) 修改农户信息",
)
async def update_household(
    request: Request, household_id: HouseholdId, body: HouseholdUpdate, session: Session, caller: Writer
):
    """Changes a household's category (never to monitored: a household becomes 监测户 only through a monitoring case),
    flags, address, phone or resettlement site; moves it to another village (搬迁); or makes another member the
    head (变更户主). Fields left out keep their value. Needs households:write and If-Match with the household's ETag
    (412 when it changed meanwhile, 428 without it). 修改农户信息。"""
    household = await service.get_household(session, household_id, for_update=True)
    check_if_match(request, etag("household", household.id, household.version))
    await service.update_household(session, household, body, caller.user_id)
    return await _household_response(request, session, household_id, caller, health_keyring(request, caller))


@router.get(
    "/households/{household_id}/history",
    response_model=HouseholdHistory,
    operation_id="getHouseholdHistory",
    dependencies=READ,
    tags=[tags.HOUSEHOLDS],
    responses=responses(404),
    summary="Members over time, splits and merges 家庭成员变动历史",
)
async def household_history(household_id: HouseholdId, session: Session):
    """Who belonged to the household and when (every membership with its start and end reason) and the household's
    events: creation, splits, merges and changes. Needs registry:read. 家庭成员变动历史。"""
    return JSON(await service.history(session, household_id))


@router.post(
    "/households/{household_id}/members",
    status_code=201,
    response_model=PersonOut,
    operation_id="addMember",
    tags=[tags.HOUSEHOLDS],
    responses=responses(403, 404, 409, 412),
    summary="Add a new member 新增家庭成员",
    description=IDEMPOTENCY_DOC,
)
async def add_member(request: Request, household_id: HouseholdId, body: PersonCreate, session: Session, caller: Writer):
    household = await service.get_active_household(session, household_id)
    check_optional_if_match(request, etag("household", household.id, household.version))
    settings = request.app.state.settings
    person = await service.add_member(
        session, household, body, key=settings.id_hash_key, keyring=keyring(settings), actor_id=caller.user_id
    )
    return await _person_response(request, session, person.id, caller, health_keyring(request, caller), status=201)


@router.post(
    "/households/{household_id}/split",
    status_code=201,
    response_model=HouseholdDetail,
    operation_id="splitHousehold",
    tags=[tags.HOUSEHOLDS],
    responses=responses(403, 404, 409, 412),
    summary="Split members off into a new household 分户",
    description=IDEMPOTENCY_DOC,
)
async def split_household(
    request: Request, household_id: HouseholdId, body: SplitRequest, session: Session, caller: Writer
):
    household = await service.get_active_household(session, household_id)
    check_optional_if_match(request, etag("household", household.id, household.version))
    new = await service.split_household(session, household, body, actor_id=caller.user_id)
    return await _household_response(request, session, new.id, caller, health_keyring(request, caller), status=201)


@router.post(
    "/households/{household_id}/merge",
    response_model=HouseholdDetail,
    operation_id="mergeHousehold",
    tags=[tags.HOUSEHOLDS],
    responses=responses(403, 404, 409, 412),
    summary="Merge another household into this one 合户",
    description=IDEMPOTENCY_DOC,
)
async def merge_household(
    request: Request, household_id: HouseholdId, body: MergeRequest, session: Session, caller: Writer
):
    household = await service.get_active_household(session, household_id)
    check_optional_if_match(request, etag("household", household.id, household.version))
    await service.merge_households(session, household, body, actor_id=caller.user_id)
    return await _household_response(request, session, household_id, caller, health_keyring(request, caller))


# ---- persons --------------------------------------------------------------------------


@router.get(
    "/persons/{person_id}",
    response_model=PersonOut,
    operation_id="getPerson",
    dependencies=READ,
    tags=[tags.PERSONS],
    responses=responses(404),
    summary="One person 人员详情",
)
async def get_person(request: Request, person_id: PersonId, session: Session, caller: CurrentCaller):
    """One person: relation, labour capacity, schooling, insurance, employment, with the ID number masked and the
    birth year only (the full birth date with registry:unmask). Health and disability details only with
    registry:health, and reading them is audited. Needs registry:read. 人员详情。"""
    return await _person_response(request, session, person_id, caller, health_keyring(request, caller))


@router.patch(
    "/persons/{person_id}",
    response_model=PersonOut,
    operation_id="updatePerson",
    tags=[tags.PERSONS],
    responses=responses(403, 404, 409, 412, 428),
    summary="Change a person (needs If-Match) 修改人员信息",
)
async def update_person(request: Request, person_id: PersonId, body: PersonUpdate, session: Session, caller: Writer):
    """Changes a person's details; fields left out keep their value, the ID number never changes and the relation
    cannot become head (change the head on the household). Needs households:write and If-Match with the person's
    ETag. 修改人员信息。"""
    person = await service.get_person(session, person_id, for_update=True)
    check_if_match(request, etag("person", person.id, person.version))
    await service.update_person(session, person, body, keyring=keyring(request.app.state.settings))
    return await _person_response(request, session, person_id, caller, health_keyring(request, caller))


@router.post(
    "/persons/{person_id}/move",
    response_model=PersonOut,
    operation_id="movePerson",
    tags=[tags.PERSONS],
    responses=responses(403, 404, 409, 412),
    summary="Move to another household 迁移至他户",
    description=IDEMPOTENCY_DOC,
)
async def move_person(request: Request, person_id: PersonId, body: MoveRequest, session: Session, caller: Writer):
    person = await service.get_person(session, person_id, for_update=True)
    target = await service.get_active_household(session, body.household_id, field="household_id")
    check_optional_if_match(request, etag("person", person.id, person.version))
    await service.move_person(session, person, target, body.relation, caller.user_id)
    return await _person_response(request, session, person_id, caller, health_keyring(request, caller))


@router.post(
    "/persons/{person_id}/death",
    response_model=PersonOut,
    operation_id="recordDeath",
    tags=[tags.PERSONS],
    responses=responses(403, 404, 409, 412),
    summary="Record a death 登记死亡",
    description=IDEMPOTENCY_DOC,
)
async def record_death(request: Request, person_id: PersonId, body: DeathRequest, session: Session, caller: Writer):
    person = await service.get_person(session, person_id, for_update=True)
    check_optional_if_match(request, etag("person", person.id, person.version))
    await service.record_death(session, person, body.date_of_death, caller.user_id)
    return await _person_response(request, session, person_id, caller, health_keyring(request, caller))


@router.post(
    "/persons/{person_id}/id-number",
    response_model=UnmaskedIdNumber,
    operation_id="unmaskIdNumber",
    tags=[tags.PERSONS],
    responses=responses(403, 404, 429),
    summary="The complete ID number, with a reason 查看完整身份证号码",
    description="Only for roles allowed to unmask (`registry:unmask`); every call is recorded in the "
    "audit trail with its reason. Never cached, and an `Idempotency-Key` is ignored: each "
    "call is a new, audited read. At most `rate_limits.reveals_per_hour` (30) reveals per "
    "user in an hour and `rate_limits.reveals_per_day` (100) in 24 hours: beyond, 429 "
    "`reveal_rate_limited` with Retry-After (the refusal is in the audit trail too; "
    "auditors see the counts at GET /api/v1/audit/reveals).",
)
@no_idempotency
async def unmask_id_number(
    request: Request, person_id: PersonId, body: UnmaskRequest, session: Session, caller: Unmasker
):
    limits = request.app.state.settings.rate_limits
    await check_reveal_rate(session, caller.principal, limits.reveals_per_hour, limits.reveals_per_day)
    person = await service.get_person(session, person_id)
    number = service.full_id_number(person, keyring(request.app.state.settings))
    await record(
        session,
        AuditRecord(
            **base_event(
                request,
                caller,
                action=REVEAL_ACTION,
                object_type="person",
                object_id=str(person.id),
                region_code=person.region_code,
                status=200,
                detail={"reason": body.reason},
            )
        ),
    )
    request.state.audited = True
    return JSON(
        {"person_id": person.id, "id_number": number}, headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
