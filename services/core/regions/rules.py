"""Region codes (统计用区划代码): 12 digits = province(2) city(2) county(2) township(3) village(3)."""

from __future__ import annotations

import re
from enum import IntEnum

_CODE = re.compile(r"^\d{12}$")
_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")


# The same rules as JSON Schema patterns, for the API's documentation (each level's own
# segment is not all zeros; a code of a higher level ends in zeros).
_P, _C, _K = "(0[1-9]|[1-9][0-9])", "(0[1-9]|[1-9][0-9])", "(0[1-9]|[1-9][0-9])"
_T = _V = "(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})"
_TAILS = (
    "",
    "00",
    _C,
    "0{4}",
    f"{_C}00",
    f"{_C}{_K}",
    "0{7}",
    f"{_C}0{{5}}",
    f"{_C}{_K}000",
    f"{_C}{_K}{_T}",
    "0{10}",
    f"{_C}0{{8}}",
    f"{_C}{_K}0{{6}}",
    f"{_C}{_K}{_T}000",
    f"{_C}{_K}{_T}{_V}",
)
PREFIX_PATTERN = f"^{_P}({'|'.join(_TAILS)})$"
"""A region code prefix that ``is_valid_prefix`` and ``level_of`` (of its padded code) accept:
2, 4, 6, 9 or 12 digits that, padded with zeros, are a region's code (``520100`` is the
city 5201 as much as ``5201`` is)."""
CODE_PATTERN = f"^{_P}(0{{10}}|{_C}(0{{8}}|{_K}(0{{6}}|{_T}(000|{_V}))))$"
"""A 12-digit region code that ``level_of`` accepts."""
VILLAGE_PATTERN = f"^{_P}{_C}{_K}{_T}{_V}$"
"""A 12-digit village code."""


class Level(IntEnum):
    province = 1
    city = 2
    county = 3
    township = 4
    village = 5


# Digits that identify a region at each level; the rest of the code is zeros.
PREFIX_LENGTH = {Level.province: 2, Level.city: 4, Level.county: 6, Level.township: 9, Level.village: 12}


class InvalidRegionCode(ValueError):
    pass


def level_of(code: str) -> Level:
    """Level of a well-formed 12-digit code. Every segment down to the region's own level
    is non-zero and everything after it is zero; anything else is malformed."""
    if not _CODE.match(code or ""):
        raise InvalidRegionCode("a region code has exactly 12 digits")
    start = 0
    for level in Level:
        end = PREFIX_LENGTH[level]
        if set(code[start:end]) == {"0"}:
            raise InvalidRegionCode("a region code's own segment cannot be all zeros")
        if set(code[end:]) <= {"0"}:
            return level
        start = end
    raise AssertionError("unreachable: the village segment ends the code")


def prefix_of(code: str) -> str:
    """The significant digits: the region's scope prefix (e.g. 529001 for a county)."""
    return code[: PREFIX_LENGTH[level_of(code)]]


def parent_of(code: str) -> str | None:
    level = level_of(code)
    if level == Level.province:
        return None
    parent_len = PREFIX_LENGTH[Level(level - 1)]
    return code[:parent_len].ljust(12, "0")


def is_valid_prefix(prefix: str) -> bool:
    return bool(_PREFIX.match(prefix or ""))


def code_of_prefix(prefix: str) -> str:
    return prefix.ljust(12, "0")
