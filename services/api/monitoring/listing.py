"""The direct handlers (``routing.fast_path``) of the monitoring lists that mobile apps page
through: risk clues (``GET /api/v1/risk-clues``), monitoring cases
(``GET /api/v1/monitoring-cases``) and the daily work list
(``GET /api/v1/monitoring-cases/overdue``), answered without FastAPI's dependency solving and
without the ORM at run time (``services.api.listing``).

Each takes on only queries whose every parameter has its plain valid form, each at most
once, and declines (None) anything else before doing anything, so FastAPI's handling of
the route answers it as always. What it takes on, it answers as the route does, in the
same order: the caller (401, 403 without ``monitoring:read``), the rate limit, a health
risk type (403 for a role that does not see health), the region filter and the household
filter (404 when missing or outside the caller's regions), then the page — the service's
own statement (``queries.clue_list_statement`` / ``case_list_statement``) compiled once
per shape and region prefix (``queries.CLUE_LISTS`` / ``CASE_LISTS``), run on the read
pool, each row shaped as the route shapes its object (``bodies``). The work list checks its
region first (``params.RegionQ``) and reads its two sources (``queries.overdue_statement``,
compiled by ``overdue_read``) as the service does, merged by ``queries.overdue_page``.
``tests/api/test_monitoring_list_direct.py`` holds both to the routes' answers, input by input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.listing import (
    Declined,
    cursor_of,
    day_of,
    enum_of,
    id_of,
    limit_of,
    list_reader,
    plain_query,
    prefix_of,
)
from services.api.monitoring.bodies import case_item, clue_item, no_health_filter
from services.api.pagination import page_limit
from services.api.responses import JSON
from services.core.accounts.roles import Permission
from services.core.households.service import check_household_visible, region_bounds
from services.core.monitoring.enums import CaseStatus, CaseType, Channel, ClueStatus, DeadlineKind, RiskType
from services.core.monitoring.queries import (
    CASE_LISTS,
    CASE_ORDER,
    CLUE_LISTS,
    CLUE_ORDER,
    OVERDUE_KEY,
    overdue_page,
    overdue_read,
    overdue_relation,
    overdue_sources,
)
from services.core.paging import ListReads, key_types
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import today


@dataclass(frozen=True)
class _List:
    """What differs between the two lists: their own enum filters (query name → (enum, the
    statement's filter)), id filters (query name, also the statement's), statements and items."""

    enums: dict[str, tuple[Any, str]]
    ids: tuple[str, ...]
    reads: ListReads
    key: tuple[type, ...]
    item: Callable[[Any, Any], dict[str, Any]]

    @cached_property
    def single(self) -> frozenset[str]:
        """The query's parameters (each at most once)."""
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


def _read(request: Request, kind: _List) -> dict[str, Any]:
    """The list's parameters as the route would get them, or ``Declined`` for anything but
    their plain valid forms. Only reads the query: nothing has happened yet."""
    given, _ = plain_query(request, kind.single)
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
    return _read(request, _CLUES)


def _case_query(request: Request) -> dict[str, Any]:
    return _read(request, _CASES)


async def check_list_filters(
    source: Any, caller: Any, region: str | None, risk_type: RiskType | None, household_id: int | None
) -> None:
    """The filters of the clue and case lists (the routes' and the direct handlers'; ``source``
    a session or a ``Reader``): a health risk type 403 for a role that does not see health,
    first; then a region or household the caller cannot see 404, as a missing one (the
    region is checked here, not by ``params.RegionQ``, for that order)."""
    no_health_filter(risk_type, caller)
    if region is not None:
        await check_prefix_visible(source, region)
    if household_id is not None:
        await check_household_visible(source, household_id)


async def _answer(request: Request, kind: _List, query: dict[str, Any]) -> Response:
    caller, reader = await list_reader(request, Permission.monitoring_read)
    risk_type, region, filters = query["risk_type"], query["region"], query["filters"]
    await check_list_filters(reader, caller, region, risk_type, filters.get("household_id"))
    if region is not None:
        filters["region"] = region_bounds(region)
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


# ---- the overdue list (the daily work list) ---------------------------------------------

_OVERDUE_SINGLE = frozenset({"region", "within_days", "as_of", "kind", "subject", "cadre_user_id", "limit", "cursor"})
_DAYS = re.compile(r"0|[1-9][0-9]{0,2}")


def _overdue_query(request: Request) -> dict[str, Any]:
    """The overdue list's parameters as the route would get them, or ``Declined``."""
    given, _ = plain_query(request, _OVERDUE_SINGLE)
    days = given.get("within_days", "0")
    if not (_DAYS.fullmatch(days) and int(days) <= 366):
        raise Declined
    subject = given.get("subject")
    if subject not in (None, "case", "clue"):
        raise Declined
    return {
        "region": prefix_of(given.get("region")),
        "within_days": int(days),
        "as_of": day_of(given.get("as_of")),
        "kind": enum_of(DeadlineKind, given.get("kind")),
        "subject": subject,
        "cadre_user_id": id_of(given.get("cadre_user_id")),
        "limit": limit_of(given.get("limit")),
        "after": cursor_of(given.get("cursor"), OVERDUE_KEY),
    }


async def list_overdue_directly(request: Request) -> Response | None:
    """``GET /api/v1/monitoring-cases/overdue`` (see the module), or None to leave it to FastAPI."""
    try:
        query = _overdue_query(request)
    except Declined:
        return None
    region, kind, cadre, after = query["region"], query["kind"], query["cadre_user_id"], query["after"]
    _, reader = await list_reader(request, Permission.monitoring_read, region=region)
    limit = page_limit(request, query["limit"])
    as_of = query["as_of"] or today()
    values: dict[str, Any] = {"until": as_of + timedelta(days=query["within_days"]), "size": limit + 1}
    if region is not None:
        values["filter_lo"], values["filter_hi"] = region_bounds(region)
    if kind is not None:
        values["kind"] = kind
    if cadre is not None:
        values["cadre_user_id"] = cadre
    rows: list[dict] = []
    for name, _model in overdue_sources(query["subject"], cadre):
        relation = None if after is None else overdue_relation(name, after[1])
        bound = values
        if after is not None:
            bound = {**values, "after_due": after[0]}
            if relation == "key":
                bound["after_id"] = after[2]
        read = overdue_read(
            name, region=region is not None, kind=kind is not None, cadre=cadre is not None, relation=relation
        )
        rows.extend(dict(row.items()) for row in await read.all(reader, **bound))
    return JSON(overdue_page(rows, as_of, limit).body())
