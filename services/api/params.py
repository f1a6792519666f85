"""Query parameters shared by many routes, declared with the constraints they are checked
by, so that the OpenAPI document says exactly which values are valid: a generated client
(or schemathesis) that sends a value the document allows is not refused as malformed, and
one the document forbids is refused with a 422 naming the parameter.

Each check raises the same error code the service used before (``cursor_invalid``,
``region_prefix_malformed`` …); the pattern in the document is the same rule.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from services.core.regions.rules import CODE_PATTERN, PREFIX_PATTERN, VILLAGE_PATTERN
from services.core.settings import PagingSettings
from services.core.types import MONEY_PATTERN

# What ``pagination.encode_cursor`` writes: unpadded base64url (padding is tolerated).
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
