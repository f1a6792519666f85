from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from services.api import tags
from services.api.deps import Needs, Session, check_if_match, path_object
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.households.service import get_active_household, get_household
from services.core.income import service
from services.core.income.models import IncomeRecord, IncomeYear
from services.core.income.schemas import IncomeCreate, IncomeRecordOut, IncomeUpdate, IncomeYearOut

READ = [Needs(Permission.registry_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
IncomeWriter = Annotated[Caller, Needs(Permission.income_write)]
router = APIRouter(prefix="/api/v1", tags=[tags.INCOME], route_class=GuardlineRoute)

HouseholdId = Id
RecordId = Id
path_object("record_id", IncomeRecord)

_RECORD_FIELDS = tuple(IncomeRecordOut.model_fields)
_YEAR_FIELDS = tuple(IncomeYearOut.model_fields)


def record_out(r: IncomeRecord) -> dict:
    return {f: getattr(r, f) for f in _RECORD_FIELDS}


def year_out(y: IncomeYear) -> dict:
    return {f: getattr(y, f) for f in _YEAR_FIELDS}


def _record_response(record: IncomeRecord, status: int = 200) -> JSON:
    headers = {"ETag": etag("income", record.id, record.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/income-records/{record.id}"
    return JSON(record_out(record), status_code=status, headers=headers)


@router.get(
    "/households/{household_id}/income-records",
    response_model=Page[IncomeRecordOut],
    operation_id="listIncomeRecords",
    dependencies=READ,
    responses=responses(404),
    summary="Quarterly income 季度收入",
)
async def list_records(
    request: Request,
    household_id: HouseholdId,
    session: Session,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The household's quarterly income records (optionally of one year), with the net and per-capita net income
    the server computed for each quarter. Needs registry:read. 季度收入记录。"""
    await get_household(session, household_id)
    limit = page_limit(request, limit)
    found = await service.records_for(session, household_id, year, cursor=cursor, limit=limit)
    return JSON(found.body(record_out))


@router.post(
    "/households/{household_id}/income-records",
    status_code=201,
    response_model=IncomeRecordOut,
    operation_id="createIncomeRecord",
    responses=responses(403, 404, 409),
    summary="Record a quarter's income 登记季度收入",
    description="Net and per-capita income are computed by the server. Send an `Idempotency-Key`.",
)
async def create_record(
    request: Request, household_id: HouseholdId, body: IncomeCreate, session: Session, caller: IncomeWriter
):
    household = await get_active_household(session, household_id)
    record = await service.create_record(session, household, body, request.app.state.settings, caller.user_id)
    return _record_response(record, 201)


@router.get(
    "/households/{household_id}/income-years",
    response_model=Page[IncomeYearOut],
    operation_id="listIncomeYears",
    dependencies=READ,
    responses=responses(404),
    summary="Yearly totals 年度收入合计",
)
async def list_years(
    request: Request, household_id: HouseholdId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """The household's yearly totals, one per year with recorded quarters: the four income parts, costs, eligible
    spending, net income and per-capita net income (人均纯收入) over the quarters recorded, and how many quarters
    that is. Needs registry:read. 年度收入合计。"""
    await get_household(session, household_id)
    limit = page_limit(request, limit)
    found = await service.years_for(session, household_id, cursor=cursor, limit=limit)
    return JSON(found.body(year_out))


@router.get(
    "/income-records/{record_id}",
    response_model=IncomeRecordOut,
    operation_id="getIncomeRecord",
    dependencies=READ,
    responses=responses(404),
    summary="One quarter's income 收入记录",
)
async def get_record(record_id: RecordId, session: Session):
    """One quarter's income record with its ETag. Needs registry:read. 季度收入记录详情。"""
    return _record_response(await service.get_record(session, record_id))


@router.put(
    "/income-records/{record_id}",
    response_model=IncomeRecordOut,
    operation_id="updateIncomeRecord",
    responses=responses(403, 404, 409, 412, 428),
    summary="Correct a quarter's income (needs If-Match) 更正收入",
)
async def update_record(
    request: Request, record_id: RecordId, body: IncomeUpdate, session: Session, caller: IncomeWriter
):
    """Corrects a quarter's income: the figures are replaced and the net and per-capita net income computed again.
    Year and quarter stay. Needs income:write and If-Match with the record's ETag. 更正收入。"""
    record = await service.get_record(session, record_id, for_update=True)
    check_if_match(request, etag("income", record.id, record.version))
    record = await service.update_record(session, record, body, request.app.state.settings, caller.user_id)
    return _record_response(record)


@router.delete(
    "/income-records/{record_id}",
    status_code=204,
    operation_id="deleteIncomeRecord",
    responses=responses(403, 404, 412, 428),
    summary="Delete a wrong record (needs If-Match) 删除收入记录",
)
async def delete_record(request: Request, record_id: RecordId, session: Session, caller: IncomeWriter):
    """Deletes a wrongly entered quarter; the year's totals are computed again. Needs income:write and If-Match
    with the record's ETag. 删除收入记录。"""
    record = await service.get_record(session, record_id, for_update=True)
    check_if_match(request, etag("income", record.id, record.version))
    await service.delete_record(session, record)
    return Response(status_code=204)
