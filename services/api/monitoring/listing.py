"""The direct handlers (``routing.fast_path``) of the monitoring lists that mobile apps page
through: risk clues (``GET /api/v1/risk-clues``) and monitoring cases
(``GET /api/v1/monitoring-cases``), answered without FastAPI's dependency solving and
without the ORM at run time (``services.api.listing``).

Each takes on only queries whose every parameter has its plain valid form, each at most
once, and declines (None) anything else before doing anything, so FastAPI's handling of
the route answers it as always. What it takes on, it answers as the route does, in the
same order: the caller (401, 403 without ``monitoring:read``), the rate limit, a health
risk type (403 for a role that does not see health), the region filter and the household
filter (404 when missing or outside the caller's regions), then the page — the service's
own statement (``queries.clue_list_statement`` / ``case_list_statement``) compiled once
per shape and region prefix (``queries.CLUE_LISTS`` / ``CASE_LISTS``), run on the read
pool, each row shaped as the route shapes its object (``bodies``).
``tests/api/test_monitoring_list_direct.py`` holds both to the routes' answers, input by input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import Declined, cursor_of, enum_of, id_of, limit_of, list_reader, plain_query, prefix_of
from services.api.monitoring.bodies import case_item, clue_item, no_health_filter
from services.api.pagination import page_limit
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.households.service import check_household_visible, region_bounds
from services.core.monitoring.enums import CaseStatus, CaseType, Channel, ClueStatus, RiskType
from services.core.monitoring.queries import CASE_LISTS, CASE_ORDER, CLUE_LISTS, CLUE_ORDER
from services.core.paging import ListReads, key_types
from services.core.regions.service import check_prefix_visible


@dataclass(frozen=True)
class _List:
    """What differs between the two lists: their own enum filters (query name → (enum, the
    statement's filter)), id filters (query name, also the statement's), statements and items."""

    enums: dict[str, tuple[Any, str]]
    ids: tuple[str, ...]
    reads: ListReads
    key: tuple[type, ...]
    item: Callable[[Any, Any], dict[str, Any]]

    @property
    def single(self) -> frozenset[str]:
        return frozenset({"region", "risk_type", "limit", "cursor", *self.enums, *self.ids})


_CLUES = _List(
    enums={"status": (ClueStatus, "status"), "channel": (Channel, "channels")},
    ids=("household_id",),
    reads=CLUE_LISTS,
    key=key_types(CLUE_ORDER),
    item=clue_item,
)
_CASES = _List(
    enums={"status": (CaseStatus, "status"), "case_type": (CaseType, "case_type")},
    ids=("household_id", "cadre_user_id"),
    reads=CASE_LISTS,
    key=key_types(CASE_ORDER),
    item=case_item,
)
_CLUE_SINGLE = _CLUES.single
_CASE_SINGLE = _CASES.single


def _read(request: Request, kind: _List, single: frozenset[str]) -> dict[str, Any]:
    """The list's parameters as the route would get them, or ``Declined`` for anything but
    their plain valid forms. Only reads the query: nothing has happened yet."""
    given, _ = plain_query(request, single)
    filters: dict[str, Any] = {}
    for name, (enum, filter_name) in kind.enums.items():
        value = enum_of(enum, given.get(name))
        if value is not None:
            filters[filter_name] = [value.value] if filter_name == "channels" else value
    for name in kind.ids:
        value = id_of(given.get(name))
        if value is not None:
            filters[name] = value
    return {
        "filters": filters,
        "region": prefix_of(given.get("region")),
        "risk_type": enum_of(RiskType, given.get("risk_type")),
        "limit": limit_of(given.get("limit")),
        "after": cursor_of(given.get("cursor"), kind.key),
    }


def _clue_query(request: Request) -> dict[str, Any]:
    return _read(request, _CLUES, _CLUE_SINGLE)


def _case_query(request: Request) -> dict[str, Any]:
    return _read(request, _CASES, _CASE_SINGLE)


async def _answer(request: Request, kind: _List, query: dict[str, Any]) -> Response:
    caller, reader = await list_reader(request, Permission.monitoring_read)
    risk_type, region, filters = query["risk_type"], query["region"], query["filters"]
    no_health_filter(risk_type, caller)
    if region is not None:
        await check_prefix_visible(reader, region)
        filters["region"] = region_bounds(region)
    if "household_id" in filters:
        await check_household_visible(reader, filters["household_id"])
    if risk_type is not None:
        filters["risk_types"] = [risk_type.value]
    limit = page_limit(request, query["limit"])
    after = query["after"]
    reads = kind.reads
    rows, next_cursor = await reads.page(reads.read(filters, after=after is not None), reader, limit, after, **filters)
    return JSON({"items": [kind.item(row, caller) for row in rows], "next_cursor": next_cursor})


async def list_clues_directly(request: Request) -> Response | None:
    """``GET /api/v1/risk-clues`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _clue_query(request)
    except Declined:
        return None
    return await _answer(request, _CLUES, query)


async def list_cases_directly(request: Request) -> Response | None:
    """``GET /api/v1/monitoring-cases`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _case_query(request)
    except Declined:
        return None
    return await _answer(request, _CASES, query)
