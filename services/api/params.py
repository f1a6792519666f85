"""Query parameters shared by many routes, declared with the constraints they are checked
by, so that the OpenAPI document says exactly which values are valid: a generated client
(or schemathesis) that sends a value the document allows is not refused as malformed, and
one the document forbids is refused with a 422 naming the parameter.

Each check raises the same error code the service used before (``cursor_invalid``,
``region_prefix_malformed`` …); the pattern in the document is the same rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic.fields import FieldInfo

from services.core.regions.rules import CODE_PATTERN, PREFIX_PATTERN, VILLAGE_PATTERN
from services.core.settings import PagingSettings
from services.core.types import MONEY_PATTERN

# What ``services.core.paging.encode_cursor`` writes: unpadded base64url (padding is tolerated).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"
CURSOR_MAX_LENGTH = 512
# Free text in a query (a name, an actor): no control characters (C0, DEL, C1).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def _check(pattern: str, code: str):
    """A value of ``pattern`` (or none); otherwise the error ``code`` (problems.py names the field)."""
    compiled = re.compile(pattern)

    def check(value):
        if value is not None and not (isinstance(value, str) and compiled.match(value)):
            raise ValueError(code)
        return value

    return check


def _matching(pattern: str, code: str) -> AfterValidator:
    return AfterValidator(_check(pattern, code))


Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=CURSOR_MAX_LENGTH,
        json_schema_extra={"pattern": CURSOR_PATTERN},
        description="`next_cursor` of the previous page (opaque) 下一页游标",
    ),
    _matching(CURSOR_PATTERN, "cursor_invalid"),
]
"""``?cursor=``: the previous page's ``next_cursor``; anything else is a 422 ``cursor_invalid``."""


# Ids of rows are bigints from 1 (a larger number is refused as a 422, never looked up).
MAX_ID = 2**62


def IdPath(description: str | None = None) -> Any:
    """A row's id in the path, ``Annotated[int, IdPath("Household id")]``: 1 to ``MAX_ID``."""
    return Path(ge=1, le=MAX_ID, description=description)


Id = Annotated[int, IdPath()]


def IdQuery(description: str | None = None) -> Any:
    """A row's id as an optional query filter, ``Annotated[int | None, IdQuery("…")]``: 1 to ``MAX_ID``."""
    return Query(ge=1, le=MAX_ID, description=description)


IdQ = Annotated[int | None, IdQuery()]
"""``?household_id=``-style filters by a row's id."""
"""A row's id in the path (described by ``contract.PARAMETER_DESCRIPTIONS`` under its name)."""


# The largest page any list gives (``settings.paging.max_limit``, which may only be set lower).
MAX_LIMIT = PagingSettings.model_fields["max_limit"].default

Limit = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"Items per page, 1 to {MAX_LIMIT} (default {PagingSettings.model_fields['default_limit'].default}) 每页条数",
    ),
]
"""``?limit=``: the page size; beyond the maximum is a 422 naming ``limit``."""


def PrefixQuery(description: str = "Region code prefix (2/4/6/9/12 digits) 区划前缀") -> Any:
    """``?region=`` (or another name): a region code prefix of 2, 4, 6, 9 or 12 digits, declared
    with ``PrefixCheck`` as ``Annotated[str | None, PrefixQuery("…"), PrefixCheck]`` (``RegionPrefix``
    has the usual description)."""
    return Query(json_schema_extra={"pattern": PREFIX_PATTERN}, description=description)


PrefixCheck = _matching(PREFIX_PATTERN, "region_prefix_malformed")
RegionPrefix = Annotated[str | None, PrefixQuery(), PrefixCheck]


@dataclass(frozen=True)
class Visible:
    """Metadata of a region filter: the route refuses a prefix the caller cannot see (404
    ``region_not_found`` naming the parameter, ``check_prefix_visible``) before its body runs;
    with ``own``, a route that stands for the caller's own regions without one (it says so
    itself, ``region or caller.region_prefix``) has those checked when none is given.

    Not a FastAPI dependency: a dependency's parameter would move to the end of the
    operation's parameters in the OpenAPI document, and a dependency runs before the
    validation of the route's other parameters (a 422 there must still win over the 404).
    ``GuardlineRoute`` runs the check (``check_visible_regions``) after all parameters are
    validated, as the first thing the route does."""

    own: bool = False


RegionQ = Annotated[str | None, PrefixQuery(), PrefixCheck, Visible()]
"""``?region=``: a prefix of 2, 4, 6, 9 or 12 digits (422 ``region_prefix_malformed``) denoting
a region the caller can see (404 ``region_not_found``), or none. Declared under another name or
with another description as ``Annotated[str | None, PrefixQuery("…"), PrefixCheck, Visible()]``."""
OwnRegionQ = Annotated[str | None, PrefixQuery(), PrefixCheck, Visible(own=True)]
"""``?region=`` as ``RegionQ``, for a route that covers the caller's own regions without one:
those must denote a region as well (404 ``region_not_found`` otherwise)."""


def check_visible_regions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` checking its ``Visible`` region filters first (see there), or itself
    when it has none. Built once per route, by ``GuardlineRoute``."""
    from fastapi.dependencies.utils import get_typed_signature

    from services.api.deps import scoped_session
    from services.core.regions.service import check_prefix_visible
    from services.core.scope import scope_of

    filters: list[tuple[str, str, Visible]] = []  # (argument, query name, what is checked)
    session_name = None
    for parameter in get_typed_signature(endpoint).parameters.values():
        metadata = getattr(parameter.annotation, "__metadata__", ())
        for item in metadata:
            if isinstance(item, Visible):
                alias = next((m.alias for m in metadata if isinstance(m, FieldInfo) and m.alias), None)
                filters.append((parameter.name, alias or parameter.name, item))
            elif getattr(item, "dependency", None) is scoped_session:
                session_name = parameter.name
    if not filters:
        return endpoint
    if session_name is None:
        raise TypeError(f"{endpoint.__qualname__}: a region filter needs the route's Session")

    @functools.wraps(endpoint)
    async def checked(*args: Any, **kwargs: Any) -> Any:
        session = kwargs[session_name]
        for argument, name, visible in filters:
            prefix = kwargs[argument] if kwargs[argument] is not None or not visible.own else scope_of(session)
            if prefix is not None:
                await check_prefix_visible(session, prefix, field=name)
        return await endpoint(*args, **kwargs)

    return checked


RegionCode = Annotated[
    str | None,
    Query(json_schema_extra={"pattern": CODE_PATTERN}, description="A 12-digit region code 区划代码"),
    _matching(CODE_PATTERN, "region_code_malformed"),
]
VillageCode = Annotated[
    str,
    Query(json_schema_extra={"pattern": VILLAGE_PATTERN}, description="12-digit village code 村级区划代码"),
    _matching(VILLAGE_PATTERN, "notice_needs_village"),
]


def PlainText(min_length: int = 1, max_length: int = 100, description: str | None = None) -> Any:
    """Free text in a query, ``Annotated[str | None, PlainText(…)]``: no control characters (a NUL
    cannot even be stored)."""
    return Query(min_length=min_length, max_length=max_length, pattern=PLAIN_TEXT_PATTERN, description=description)


# An amount of yuan in a query: digits with at most two decimals (what ``Money`` holds).
AMOUNT_PATTERN = MONEY_PATTERN


Amount = Annotated[
    Decimal | None,
    BeforeValidator(_check(AMOUNT_PATTERN, "decimal_parsing")),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["1250.00"]}),
]
"""``?income_below=1250.00``: plain digits, no exponent, no sign, at most two decimals; with its
description as ``Annotated[Amount, Query(description="…")]``."""
