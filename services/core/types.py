"""Validated field types shared by request schemas of every domain."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from services.core import idnumber
from services.core.regions.rules import CODE_PATTERN, InvalidRegionCode, is_valid_prefix, level_of

# A mainland mobile number (provincial data-quality checks: 1[3-9] and nine digits); the
# registry's rule ``phone_invalid`` holds stored numbers to the same pattern.
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
_PHONE = re.compile(MOBILE_PATTERN)


def _id_number(value: str) -> str:
    try:
        return idnumber.normalise(value).value
    except idnumber.InvalidIdNumber as exc:
        raise ValueError(f"id_number_{exc.code}") from None


def _phone(value: str) -> str:
    value = idnumber.clean(value)
    if not _PHONE.match(value):
        raise ValueError("phone_invalid")
    return value


def _region_code(value: str) -> str:
    try:
        level_of(value)
    except InvalidRegionCode:
        raise ValueError("region_code_malformed") from None
    return value


def _region_prefix(value: str) -> str:
    if not is_valid_prefix(value):
        raise ValueError("region_prefix_malformed")
    return value


def _strip(value):
    return value.strip() if isinstance(value, str) else value


IdNumberStr = Annotated[
    str,
    Field(description="居民身份证号码 (18 characters; full-width digits, lower-case x and spaces are accepted)",
          examples=["11010519491231002X"], max_length=40),
    AfterValidator(_id_number),
]
Phone = Annotated[str, Field(max_length=20, examples=["13812345678"]), AfterValidator(_phone)]
RegionCodeStr = Annotated[
    str, Field(description="12-digit region code (统计用区划代码)", examples=["529901001001"],
               json_schema_extra={"pattern": CODE_PATTERN}),  # the rule ``_region_code`` checks
    AfterValidator(_region_code),
]
RegionPrefixStr = Annotated[
    str, Field(description="Region code prefix: 2, 4, 6, 9 or 12 digits", examples=["529901001"]),
    AfterValidator(_region_prefix),
]
Name = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=50)]
Text200 = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=200)]
Text100 = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=100)]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, description="Yuan with at most two decimals (元)", examples=["1250.00"]),
]
SignedMoney = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2, description="Yuan, more than zero, at most two decimals (元)",
          examples=["1250.00"]),
]


# Dates and times only as ISO 8601 text. Pydantic's lax mode reads a number (``0``, ``"0"``)
# as a Unix timestamp, so ``?on=0`` meant 1970-01-01; here it is a 422 naming the field.
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _iso_day(value):
    if isinstance(value, date):  # from Python (a row, a default), not from a client
        return value
    if isinstance(value, str) and _ISO_DAY.match(value):
        return value
    raise ValueError("date_parsing")


def _iso_moment(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        return value
    raise ValueError("datetime_parsing")


Day = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar day, sent as ``YYYY-MM-DD`` (no timestamps, no other formats)."""
Moment = Annotated[datetime, BeforeValidator(_iso_moment)]
"""A point in time, sent as ISO 8601 ``YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM]``."""
