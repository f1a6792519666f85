"""National ID numbers (居民身份证号码, GB 11643-1999).

18 characters: 6-digit address code, 8-digit birth date, 3-digit sequence (odd = male) and
a check character (ISO 7064 MOD 11-2). Department exports also carry full-width digits,
lower-case x, spaces and old 15-digit numbers; ``normalise`` copes with all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from operator import mul

from services.core.timeutil import today as china_today

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_MAP = "10X98765432"

_FULLWIDTH = {ord("０") + i: ord("0") + i for i in range(10)}
_FULLWIDTH.update({ord("Ｘ"): ord("X"), ord("ｘ"): ord("X")})


class InvalidIdNumber(ValueError):
    """``code`` names the defect: format, birth_date, check_digit."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class IdNumber:
    value: str
    birth_date: date
    sex: str  # "male" | "female"
    address_code: str

    def masked(self) -> str:
        return mask(self.value)


_TODAY: list = [0.0, date.min]


def _today() -> date:
    """Today, looked up at most once a minute (normalising a million department records
    would otherwise ask the clock a million times)."""
    now = time.monotonic()
    if now - _TODAY[0] > 60:
        _TODAY[:] = [now, china_today()]
    return _TODAY[1]


def check_character(first17: str) -> str:
    return CHECK_MAP[_weighted(first17, 0) % 11]


def clean(raw: str) -> str:
    """Full-width to half-width, drop every kind of space, upper-case the X."""
    if raw.isascii() and raw.isalnum():  # the common case: nothing to translate or drop
        return raw.upper()
    text = raw.translate(_FULLWIDTH)
    return "".join(text.split()).replace("\u3000", "").upper()


def normalise(raw: str, *, allow_15: bool = False) -> IdNumber:
    text, born = checked(raw, allow_15=allow_15)
    return IdNumber(
        value=text,
        birth_date=born,
        sex="male" if int(text[16]) % 2 else "female",
        address_code=text[:6],
    )


def checked(raw: str, *, allow_15: bool = False) -> tuple[str, date]:
    """The number cleaned and checked (18 characters) and its birth date: ``normalise``
    without the rest, for a million department records."""
    if not isinstance(raw, str):
        raise InvalidIdNumber("format", "ID number must be a string")
    text = clean(raw)
    if allow_15 and len(text) == 15 and text.isascii() and text.isdigit():
        # Old numbers: 2-digit year of the 1900s, no check character.
        first17 = text[:6] + "19" + text[6:]
        text = first17 + check_character(first17)
    if len(text) != 18 or not text.isascii() or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise InvalidIdNumber("format", "ID number must have 17 digits followed by a digit or X")
    born, birth_sum = _birth_date(text[6:14])
    if born is None or born > _today():
        raise InvalidIdNumber("birth_date", "ID number contains an impossible birth date")
    # ``check_character`` in parts: the weighted sums of the address code and of the birth
    # date are worked out once each, the sequence's are a table (a million department
    # records, a few hundred counties and some thirty thousand days among them).
    address = text[:6]
    address_sum = _ADDRESS_SUMS.get(address)
    if address_sum is None:
        address_sum = _weighted(address, 0)
        if len(_ADDRESS_SUMS) < 10_000:
            _ADDRESS_SUMS[address] = address_sum
    if CHECK_MAP[(address_sum + birth_sum + _SEQUENCE_SUMS[text[14:17]]) % 11] != text[17]:
        raise InvalidIdNumber("check_digit", "ID number check digit does not match")
    return text, born


def _weighted(digits: str, start: int) -> int:
    """The digits' part of the check sum, the first of them at position ``start``: their code
    points weighted, less the weighted "0"s (no int() per character)."""
    return sum(map(mul, digits.encode("ascii"), WEIGHTS[start:])) - ord("0") * sum(WEIGHTS[start : start + len(digits)])


_ADDRESS_SUMS: dict[str, int] = {}  # 6 digits → their part of the check sum
_SEQUENCE_SUMS = {f"{n:03d}": _weighted(f"{n:03d}", 14) for n in range(1000)}
_BIRTH_DATES: dict[str, tuple[date | None, int]] = {}  # YYYYMMDD → (the day or None, its part of the sum)


def _birth_date(digits: str) -> tuple[date | None, int]:
    """The day of 8 digits (None: impossible, or before 1880) and their part of the check
    sum (a few tens of thousands of distinct days among any number of persons: each is
    worked out once)."""
    found = _BIRTH_DATES.get(digits)
    if found is None:
        try:
            day: date | None = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            day = None
        if day is not None and day.year < 1880:
            day = None
        found = (day, _weighted(digits, 6))
        if len(_BIRTH_DATES) < 100_000:
            _BIRTH_DATES[digits] = found
    return found


# Characters of a number a mask shows: the address code (the person's county, known from
# the household anyway). The birth date, the sequence (with the sex) and the check
# character stay hidden, so the mask together with what a reader without the reveal
# permission sees (region, birth year, sex) leaves some 180,000 candidate numbers
# (docs/personal-data.md has the arithmetic).
MASK_SHOWN = 6


def mask(value: str) -> str:
    """Only the first 6 characters (the address code) shown: 110105************."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:MASK_SHOWN] + "*" * (len(value) - MASK_SHOWN)


def keyed_hash(value: str, key: bytes) -> bytes:
    """Lookup key for an ID number: HMAC-SHA256, so a dump of the index reveals nothing."""
    return hmac.digest(key, value.encode("ascii"), hashlib.sha256)


_BLOCK = hashlib.sha256().block_size


def keyed_hasher(key: bytes) -> Callable[[str], bytes]:
    """``keyed_hash`` under one ``key``, for many numbers (a page of department records):
    HMAC's two keyed SHA-256 states (RFC 2104) are set up once, and each number costs two
    copies of them instead of the whole construction."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(value: str) -> bytes:
        first = inner.copy()
        first.update(value.encode("ascii"))
        second = outer.copy()
        second.update(first.digest())
        return second.digest()

    return digest


# Anything shaped like a full ID number (18 characters, or 15 digits of an old one), with
# half- or full-width digits, standing alone (not inside a longer word such as a hex id).
_ID_LIKE = re.compile(r"(?<![\dA-Za-zＸｘ])(?:\d{17}[\dXxＸｘ]|\d{15})(?![\dA-Za-zＸｘ])")


def redact(text: str) -> str:
    """``text`` with every full ID number in it masked (for error bodies and logs)."""
    if not text or len(text) < 15:
        return text
    return _ID_LIKE.sub(lambda m: mask(m.group(0)), text)


class RedactIdNumbers(logging.Filter):
    """Masks full ID numbers in a log record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(record.exc_text or logging.Formatter().formatException(record.exc_info))
        return True


# Loggers that may see request data: ours, and the server's (paths in the access log).
REDACTED_LOGGERS = (
    "guardline",
    "guardline.api",
    "guardline.db",
    "guardline.sync",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)


def install_log_redaction(names=REDACTED_LOGGERS) -> None:
    """A logger's filters see only its own records, so each logger gets one (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactIdNumbers) for f in logger.filters):
            logger.addFilter(RedactIdNumbers())
