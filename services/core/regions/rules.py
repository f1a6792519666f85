"""Region codes (统计用区划代码): 12 digits = province(2) city(2) county(2) township(3) village(3)."""
from __future__ import annotations

import re
from enum import IntEnum

_CODE = re.compile(r"^\d{12}$")
_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")


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
