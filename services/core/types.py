"""Validated field types shared by request schemas of every domain."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

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


# ---- characters no text accepts (docs/personal-data.md) ----------------------------------
# Invisible characters that change how text reads or compares without being seen: the
# Unicode bidirectional marks, embeddings, overrides and isolates (U+200E, U+200F, U+061C,
# U+202A–U+202E, U+2066–U+2069: "Trojan Source", a name that displays reversed), the zero-width
# space, joiners and word joiner (U+200B–U+200D, U+2060), the byte-order mark (U+FEFF) and the
# line and paragraph separators (U+2028, U+2029).
INVISIBLE = r"\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff"
C1 = r"\x7f-\x9f"  # DEL and the C1 controls
# Lone surrogates (JSON's "\\ud800" escapes): not text at all, and not storable as UTF-8.
C1 += r"\ud800-\udfff"
# Names, codes, addresses and every other single-line value: no control character at all.
SINGLE_LINE_FORBIDDEN = re.compile(rf"[\x00-\x1f{C1}{INVISIBLE}]")
# Multi-line free text (notes, reasons, findings, descriptions): line feed and tab allowed
# (a CR LF from a text box arrives as LF); nothing else.
MULTILINE_FORBIDDEN = re.compile(rf"[\x00-\x08\x0b-\x1f{C1}{INVISIBLE}]")


class _Multiline:
    """Marks a text type as multi-line (``MultilineText``, or in ``Annotated[str, MULTILINE]``)."""

    def __repr__(self) -> str:
        return "MULTILINE"


MULTILINE = _Multiline()


def forbidden_character(value: str, multiline: bool = False) -> str | None:
    """The first character ``value`` may not hold, or None."""
    if value.isprintable():  # the usual case, in C: none of them (all are unprintable)
        return None
    found = (MULTILINE_FORBIDDEN if multiline else SINGLE_LINE_FORBIDDEN).search(value)
    return found.group() if found else None


def checked_text(value: Any, multiline: bool = False) -> Any:
    """``value`` (a string, or lists and maps of them: keys are single-line) with the forbidden
    characters refused: ValueError("text_forbidden_characters"). Multi-line text has its
    CR LF made LF."""
    if isinstance(value, str):
        if multiline and "\r\n" in value:
            value = value.replace("\r\n", "\n")
        if forbidden_character(value, multiline) is not None:
            raise ValueError("text_forbidden_characters")
        return value
    if isinstance(value, list):
        return [checked_text(v, multiline) for v in value]
    if isinstance(value, dict):
        return {checked_text(k): checked_text(v, multiline) for k, v in value.items()}
    return value


def _annotated_multiline(annotation: Any) -> bool:
    if annotation is MULTILINE:
        return True
    return any(_annotated_multiline(a) for a in get_args(annotation)) or any(
        m is MULTILINE for m in getattr(annotation, "__metadata__", ())
    )


def multiline_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields of a request model declared multi-line (their type carries ``MULTILINE``)."""
    found = model.__dict__.get("__multiline_fields__")
    if found is None:
        found = frozenset(
            name
            for name, info in model.model_fields.items()
            if any(m is MULTILINE for m in info.metadata) or _annotated_multiline(info.annotation)
        )
        setattr(model, "__multiline_fields__", found)  # noqa: B010 (not an attribute BaseModel declares)
    return found


class CheckedText(BaseModel):
    """Base of request models: every string of every field — names, addresses, codes, notes —
    is refused with 422 ``text_forbidden_characters`` (naming the field) when it holds a
    control character, a bidirectional control or a zero-width character. Multi-line
    fields (``MultilineText``) may hold line feeds and tabs."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_hidden_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, (str, list, dict)):
            return checked_text(value, info.field_name in multiline_fields(cls))
        return value


IdNumberStr = Annotated[
    str,
    Field(
        description="居民身份证号码 (18 characters; full-width digits, lower-case x and spaces are accepted)",
        examples=["11010519491231002X"],
        max_length=40,
    ),
    AfterValidator(_id_number),
]
Phone = Annotated[str, Field(max_length=20, examples=["13812345678"]), AfterValidator(_phone)]
RegionCodeStr = Annotated[
    str,
    Field(
        description="12-digit region code (统计用区划代码)",
        examples=["529901001001"],
        json_schema_extra={"pattern": CODE_PATTERN},
    ),  # the rule ``_region_code`` checks
    AfterValidator(_region_code),
]
RegionPrefixStr = Annotated[
    str,
    Field(description="Region code prefix: 2, 4, 6, 9 or 12 digits", examples=["529901001"]),
    AfterValidator(_region_prefix),
]
# Single-line text (the check itself is ``CheckedText``'s, for every string of a request).
# A name keeps ordinary Chinese and Latin letters, the middle dot of transcribed names
# (阿卜杜拉·买买提, U+00B7; the katakana middle dot U+30FB some input methods type) and inner
# spaces.
Name = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=50)]
Text200 = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=200)]
Text100 = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=100)]
# Multi-line free text: notes, reasons, findings, descriptions.
MultilineText = Annotated[str, MULTILINE, BeforeValidator(_strip)]
# ---- money -------------------------------------------------------------------------------
# One type in the contract: a decimal string of yuan, at most ten digits before the point and
# two after (the columns are NUMERIC(14, 2): sums of twelve-digit amounts still fit). A JSON
# number is still accepted where it is exact to two places (10.5, not 10.123), for clients
# written before amounts were strings; the document shows the string only.
MONEY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
SIGNED_MONEY_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_MONEY_NOTE = (
    'A decimal string of yuan with at most two decimals, e.g. "1250.00" (a JSON number is accepted '
    "only where it is exact to two places). 金额（元），字符串，最多两位小数"
)


def _money_text(value: Any) -> Any:
    """Plain decimal digits only: no exponent, sign, spaces, NaN or infinity in a string (the
    range and the places are checked by the field's constraints, with their own codes); a
    JSON number as the decimal it was written as (``10.1``, not its binary approximation)."""
    if isinstance(value, str):
        if not _DECIMAL_TEXT.match(value):
            raise ValueError("decimal_parsing")
        return value
    if isinstance(value, bool):
        raise ValueError("decimal_type")  # pydantic reports a ValueError as the field's error
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as this float: what the client wrote
    return value


_CENT = Decimal("0.01")


def _money(pattern: str, description: str = _MONEY_NOTE, **constraints: Any) -> Any:
    """Money with two places from here on ("1250.5" is 1250.50, as the column will hold it)."""
    return Annotated[
        Decimal,
        BeforeValidator(_money_text),
        Field(max_digits=12, decimal_places=2, **constraints),
        AfterValidator(lambda amount: amount.quantize(_CENT)),
        WithJsonSchema(
            {"type": "string", "pattern": pattern, "examples": ["1250.00"], "description": description},
            mode="validation",
        ),
    ]


Money = _money(MONEY_PATTERN, ge=0)
SignedMoney = _money(SIGNED_MONEY_PATTERN)
PositiveMoney = _money(MONEY_PATTERN, _MONEY_NOTE + "; more than zero 大于零", gt=0)


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
