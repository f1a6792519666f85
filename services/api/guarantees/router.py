from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from services.api import tags
from services.api.deps import Needs, Session, check_if_match
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit
from services.api.responses import JSON, etag
from services.api.routing import GuardlineRoute
from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.guarantees import service
from services.core.guarantees.models import HouseholdGuarantees
from services.core.guarantees.schemas import GuaranteeChangeOut, GuaranteesOut, GuaranteesUpdate
from services.core.ledgers.clearing import open_from_known

READ = [Needs(Permission.registry_read)]
# The caller of a route, with the permission it needs (``deps.Needs``).
GuaranteesWriter = Annotated[Caller, Needs(Permission.guarantees_write)]
router = APIRouter(
    prefix="/api/v1/households/{household_id}/guarantees", route_class=GuardlineRoute, tags=[tags.GUARANTEES]
)

HouseholdId = Id


def _out(g: HouseholdGuarantees) -> JSON:
    body = {f: getattr(g, f) for f in GuaranteesOut.model_fields if f != "all_secure"}
    body["all_secure"] = service.all_secure(g)
    return JSON(body, headers={"ETag": etag("guarantees", g.household_id, g.version)})


@router.get(
    "",
    response_model=GuaranteesOut,
    operation_id="getGuarantees",
    dependencies=READ,
    responses=responses(404),
    summary="Three guarantees and safe water 两不愁三保障及饮水安全",
)
async def get_guarantees(household_id: HouseholdId, session: Session):
    """The household's status for compulsory education, basic medical care, housing safety and drinking-water
    safety (两不愁三保障及饮水安全): secure, at risk, not applicable or unknown, and whether all are secure. Needs
    registry:read. 查看保障状况。"""
    return _out(await service.get(session, household_id))


@router.put(
    "",
    response_model=GuaranteesOut,
    operation_id="updateGuarantees",
    responses=responses(403, 404, 412, 428),
    summary="Set the status (needs If-Match) 更新保障状况",
)
async def put_guarantees(
    request: Request, household_id: HouseholdId, body: GuaranteesUpdate, session: Session, caller: GuaranteesWriter
):
    """Sets the whole status of the four guarantees at once (PUT); an at-risk item must be cleared (动态清零). A C or D
    unsafe-house grade only with housing at risk. Each changed item is kept in the history; an item at risk opens
    its entry of the monthly clearing ledger (once while it is open). Needs
    guarantees:write and If-Match with the guarantees' ETag. 更新保障状况。"""
    current = await service.get(session, household_id, for_update=True)
    check_if_match(request, etag("guarantees", household_id, current.version))
    updated = await service.update(session, current, body, caller.user_id)
    # An item now at risk opens its entry of the monthly clearing ledger (月清零), once.
    await open_from_known(session, updated.region_code, household_id=household_id)
    return _out(updated)


@router.get(
    "/history",
    response_model=Page[GuaranteeChangeOut],
    operation_id="listGuaranteeChanges",
    dependencies=READ,
    responses=responses(404),
    summary="History of changes, newest first 变更记录",
)
async def guarantee_history(
    request: Request, household_id: HouseholdId, session: Session, limit: Limit = None, cursor: Cursor = None
):
    """Every change of the household's guarantees, newest first: which item, old and new status, who and when.
    Needs registry:read. 保障状况变更记录。"""
    await service.get(session, household_id)
    limit = page_limit(request, limit)
    rows, next_cursor = await service.changes(session, household_id, cursor, limit)
    return JSON(
        {
            "items": [{f: getattr(c, f) for f in GuaranteeChangeOut.model_fields} for c in rows],
            "next_cursor": next_cursor,
        }
    )
