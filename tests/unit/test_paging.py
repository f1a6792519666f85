"""The keyset page helper (``services.core.paging``): the cursor codec round trip, what it
refuses, cursors that stay the same text for the same key, and a key of several columns,
some descending, that gives every row exactly once across pages (on PostgreSQL)."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import UTC, date, datetime

import orjson
import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select, text

from services.core.errors import Unprocessable
from services.core.paging import (
    KeyPage,
    after_key,
    cursor_id,
    decode_cursor,
    encode_cursor,
    key_types,
    key_values,
    keyset,
    keyset_page,
)

_META = MetaData()
ROWS = Table(
    "paging_rows",
    _META,
    Column("a", Integer),
    Column("b", String(10)),
    Column("day", Date),
    Column("id", Integer, primary_key=True),
)
ORDER = [(ROWS.c.a, True), (ROWS.c.b, False), (ROWS.c.day, True), (ROWS.c.id, False)]


def test_round_trip():
    key = [7, "case", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), uuid.UUID(int=5)]
    cursor = encode_cursor(key_values(key))
    assert decode_cursor(cursor, (int, str, date, datetime, uuid.UUID)) == tuple(key)
    assert cursor_id(encode_cursor([42])) == 42
    assert decode_cursor(None, (int,)) is None and cursor_id(None) is None


def test_a_cursor_is_the_same_text_for_the_same_key():
    """Clients hold cursors: the encoding is unpadded base64url of the key as compact JSON."""
    assert encode_cursor([7]) == "Wzdd"
    key = key_values([date(2026, 1, 2), "case", 3])
    assert key == ["2026-01-02", "case", 3]
    assert encode_cursor(key) == base64.urlsafe_b64encode(b'["2026-01-02","case",3]').decode().rstrip("=")
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert key_values([moment, uuid.UUID(int=1)]) == [moment.isoformat(), str(uuid.UUID(int=1))]


@pytest.mark.parametrize(
    "cursor, types",
    [
        ("!!!", (int,)),
        (encode_cursor(["7"]), (int,)),
        (encode_cursor([7, 8]), (int,)),
        (encode_cursor([-1]), (int,)),
        (encode_cursor([True]), (int,)),
        (encode_cursor([2**63]), (int,)),
        (encode_cursor(["2026-13-01"]), (date,)),
        (encode_cursor(["x\u0000"]), (str,)),
        (encode_cursor(["not-a-uuid-but-36-characters-long!!!"]), (uuid.UUID,)),
        ("A" * 600, (int,)),
    ],
)
def test_a_bad_cursor_is_422_cursor_invalid(cursor, types):
    with pytest.raises(Unprocessable) as caught:
        decode_cursor(cursor, types)
    assert caught.value.code == "cursor_invalid" and caught.value.field == "cursor"


def test_valid_holds_a_key_to_its_range():
    quarter = lambda key: 1 <= key[1] <= 4  # noqa: E731
    assert decode_cursor(encode_cursor([2025, 4]), (int, int), quarter) == (2025, 4)
    with pytest.raises(Unprocessable):
        decode_cursor(encode_cursor([2025, 5]), (int, int), quarter)


def test_key_types_come_from_the_columns():
    assert key_types(ORDER) == (int, str, date, int)
    assert after_key(encode_cursor([1, "x", "2026-01-02", 3]), ORDER) == (1, "x", date(2026, 1, 2), 3)
    with pytest.raises(Unprocessable):
        after_key(encode_cursor(["1", "x", "2026-01-02", 3]), ORDER)


def test_the_bound_of_a_key_with_descending_columns():
    """After (a, b) with a descending: a smaller a, or the same a and a larger b."""
    order = [(ROWS.c.a, True), (ROWS.c.b, False)]
    sql = str(keyset(select(ROWS), order, (5, "x"), 10).compile(compile_kwargs={"literal_binds": True}))
    where = " ".join(sql.split("WHERE", 1)[1].split())
    assert where.startswith("paging_rows.a < 5 OR paging_rows.a = 5 AND paging_rows.b > 'x'")
    assert "ORDER BY paging_rows.a DESC, paging_rows.b LIMIT 11" in " ".join(sql.split())
    assert "WHERE" not in str(keyset(select(ROWS), order, None, 10))


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
async def test_every_row_exactly_once_across_pages(session, limit):
    await session.execute(
        text("CREATE TEMP TABLE paging_rows (a int, b varchar(10), day date, id int PRIMARY KEY) ON COMMIT DROP")
    )
    values = itertools.product([3, 1, 2], ["y", "x"], [date(2026, 1, 1), date(2026, 1, 2)])
    rows = [{"a": a, "b": b, "day": d, "id": i} for i, (a, b, d) in enumerate(values, start=1)]
    await session.execute(ROWS.insert(), rows)
    expected = sorted(rows, key=lambda r: (-r["a"], r["b"], -r["day"].toordinal(), r["id"]))

    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        page = await keyset_page(session, select(ROWS), ORDER, cursor, limit, rows="mappings", row=dict)
        assert isinstance(page, KeyPage) and len(page.items) <= limit
        seen += page.items
        pages += 1
        if page.next_cursor is None:
            break
        assert orjson.loads(base64.urlsafe_b64decode(page.next_cursor + "==")) == key_values(
            [page.items[-1][k] for k in ("a", "b", "day", "id")]
        )
        cursor = page.next_cursor
    assert seen == expected
    assert pages == -(-len(rows) // limit)  # the extra row read tells the last page: none is empty


async def test_a_bad_cursor_is_refused_before_the_query(session):
    with pytest.raises(Unprocessable):
        await keyset_page(session, select(ROWS), ORDER, encode_cursor([1]), 10)  # the table need not exist


def test_body_is_the_page_envelope():
    page = KeyPage([1, 2], "abc")
    assert page.body() == {"items": [1, 2], "next_cursor": "abc"}
    assert page.body(lambda n: n * 10) == {"items": [10, 20], "next_cursor": "abc"}
    items, next_cursor = page
    assert (items, next_cursor) == ([1, 2], "abc")
