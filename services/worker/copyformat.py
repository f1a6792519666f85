"""PostgreSQL's binary COPY format, as far as staging writes it: the preparing processes turn
each record into its row's fields (``text``, ``int8``, ``jsonb_length``, …), and the writer puts a
page's rows together (``table``) and hands the bytes to ``COPY … FROM STDIN (FORMAT
binary)`` as they are — no encoding per value in the process that talks to the database.

A row is a 16-bit count of its fields, then each field as a 32-bit length (-1: NULL) and
its bytes in the type's binary form: text as UTF-8, bytea as is, int8 as 8 bytes, date as
days since 2000-01-01 (32 bits), jsonb as a version byte (1) and the JSON text. All
integers are big-endian.
"""

from __future__ import annotations

import struct
from datetime import date

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, no extension
TRAILER = struct.pack("!h", -1)
NULL = struct.pack("!i", -1)
EPOCH = date(2000, 1, 1).toordinal()

length = struct.Struct("!i").pack
_JSONB = struct.Struct("!ib")
_INT8 = struct.Struct("!iq")


def count(fields: int) -> bytes:
    """The start of a row of ``fields`` fields."""
    return struct.pack("!h", fields)


def text(value: str | None) -> bytes:
    if value is None:
        return NULL
    data = value.encode("utf-8")
    return length(len(data)) + data


def int8(value: int) -> bytes:
    return _INT8.pack(8, value)


def jsonb_length(document: bytes) -> bytes:
    """What comes before the JSON text ``document`` (UTF-8) in a jsonb field: the field's
    length and the format's version (1). A date is ``day.toordinal() - EPOCH`` as a 32-bit
    field (packed by the caller with the fields around it)."""
    return _JSONB.pack(len(document) + 1, 1)


def table(start: bytes, rows: list[bytes]) -> bytes:
    """The data of a COPY: each of ``rows`` after ``start`` (the row's field count and the
    fields every row of the page shares), between the header and the trailer."""
    if not rows:
        return HEADER + TRAILER
    return b"".join((HEADER, start, start.join(rows), TRAILER))
