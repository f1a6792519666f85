"""Keyset pages, in one place: the cursor codec and the query of one page.

Every list is ordered by a unique key (one or more columns, each ascending or descending)
and paged by it: a page is the ``limit`` rows after the last key given out, and its
``next_cursor`` holds that key. A list function builds its statement with its filters and
hands it to ``keyset_page`` with the key's columns, the caller's cursor and the page size::

    ORDER = [(Household.id, False)]
    page = await keyset_page(session, stmt, ORDER, cursor, limit)
    page.items, page.next_cursor

A cursor is base64url (unpadded) of a JSON list, the key of the last row given out; a
cursor is input like any other and never reaches a query unchecked (``decode_cursor``:
422 ``cursor_invalid`` naming the field ``cursor``). Clients may hold cursors across
releases: the encoding of a key does not change.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Generic, NamedTuple, TypeVar

import orjson
from sqlalchemy import Select, and_, or_, tuple_, type_coerce

from services.core.errors import Unprocessable

T = TypeVar("T")

# The sort key of a list: (column, descending) pairs, the last of them unique.
Order = Sequence[tuple[Any, bool]]

# Longer input than any key we make is refused before it is decoded.
MAX_CURSOR_CHARS = 512
MAX_TEXT_KEY_CHARS = 100
_BIGINT = 2**63


# ---- the cursor codec ------------------------------------------------------------------


def encode_cursor(values: list[Any]) -> str:
    """The cursor of a key (its values as JSON: a date, a time or a UUID as its ISO text)."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, types: tuple[type, ...], valid: Callable[[tuple[Any, ...]], bool] | None = None
) -> tuple[Any, ...] | None:
    """The key a cursor holds, one value per entry of ``types`` (``int``: a bigint >= 0;
    ``str``: text without NUL; ``date`` / ``datetime``: ISO 8601 text; ``uuid.UUID``), or None without a
    cursor. Anything else (not base64url, not JSON, another shape, a value of another type
    or out of range) is 422 ``cursor_invalid`` naming the field ``cursor``: a cursor is
    input like any other and never reaches a query unchecked. ``valid`` may hold the key to
    its range (a year, a quarter) beyond its types."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("longer than any cursor we make")
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = orjson.loads(raw)
        if type(values) is not list or len(values) != len(types):
            raise ValueError("not a list of the key's length")
        key = tuple(_key(value, kind) for value, kind in zip(values, types, strict=True))
        if valid is not None and not valid(key):
            raise ValueError("outside the key's range")
        return key
    except ValueError:  # also binascii.Error, orjson.JSONDecodeError, UnicodeEncodeError
        raise Unprocessable("cursor_invalid", field="cursor") from None


def _key(value: Any, kind: type) -> Any:
    if kind is int:
        if type(value) is int and 0 <= value < _BIGINT:  # not bool, not float
            return value
    elif kind is str:
        if type(value) is str and len(value) <= MAX_TEXT_KEY_CHARS and "\x00" not in value:
            return value
    elif kind is datetime:
        if type(value) is str and len(value) <= 40:
            return datetime.fromisoformat(value)
    elif kind is date:
        if type(value) is str and len(value) == 10:
            return date.fromisoformat(value)
    elif kind is uuid.UUID:
        if type(value) is str and len(value) == 36:
            return uuid.UUID(value)
    else:
        raise TypeError(f"no cursor key of type {kind.__name__}")
    raise ValueError("not a value of the key's type")


def cursor_id(cursor: str | None) -> int | None:
    """The id a one-key cursor (``[id]``) holds, or None without a cursor (422 when it is
    not a cursor of ours)."""
    key = decode_cursor(cursor, (int,))
    return None if key is None else key[0]


def key_types(order: Order) -> tuple[type, ...]:
    """The types of a key's values, from its columns' types (``Integer``: int, ``Date``: date …)."""
    return tuple(column.type.python_type for column, _ in order)


def after_key(
    cursor: str | None, order: Order, valid: Callable[[tuple[Any, ...]], bool] | None = None
) -> tuple[Any, ...] | None:
    """The key of ``order`` a cursor holds (``decode_cursor`` by the columns' types), for a list
    that must refuse a bad cursor before its other checks; ``keyset_page`` takes the key."""
    return decode_cursor(cursor, key_types(order), valid)


def key_values(values: Sequence[Any]) -> list[Any]:
    """A key as its cursor holds it: a date, a time or a UUID as text (what ``decode_cursor`` reads)."""
    return [v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, uuid.UUID) else v for v in values]


# ---- one page --------------------------------------------------------------------------


class KeyPage(NamedTuple, Generic[T]):
    """One page of a list: its items in the list's order, and the cursor of the next page
    (None on the last page); ``items, next_cursor = await keyset_page(...)``."""

    items: list[T]
    next_cursor: str | None

    def body(self, item: Callable[[T], Any] | None = None) -> dict[str, Any]:
        """The page envelope ``{items, next_cursor}``, each item as ``item`` makes it."""
        items = self.items if item is None else [item(row) for row in self.items]
        return {"items": items, "next_cursor": self.next_cursor}


def follows_key(order: Order, after: Sequence[Any]) -> Any:
    """The condition "the row's key comes after ``after``" in the order of ``order``. When
    every column runs one way, a row comparison, which an index on the key's columns seeks
    to; written with OR (needed when they do not), the rows before the cursor were read and
    dropped."""
    directions = {desc for _, desc in order}
    if len(order) > 1 and len(directions) == 1:
        columns = tuple_(*(col for col, _ in order))
        values = tuple_(*(type_coerce(v, col.type) for (col, _), v in zip(order, after, strict=True)))
        return columns < values if directions == {True} else columns > values
    return or_(
        *(
            and_(
                *(c == v for (c, _), v in zip(order[:i], after[:i], strict=True)),
                col < after[i] if desc else col > after[i],
            )
            for i, (col, desc) in enumerate(order)
        )
    )


def keyset(stmt: Select, order: Order, after: Sequence[Any] | None, limit: int) -> Select:
    """``stmt`` ordered by ``order`` (column, descending) pairs, a unique key, from the row
    after ``after`` (that key's values, or None for the first page), ``limit + 1`` rows: the
    extra row tells that a next page exists (``page_of``)."""
    if after is not None:
        stmt = stmt.where(follows_key(order, after))
    return stmt.order_by(*(col.desc() if desc else col for col, desc in order)).limit(limit + 1)


def page_of(rows: list[Any], limit: int, key: Callable[[Any], list[Any]]) -> tuple[list[Any], str | None]:
    """``rows`` was fetched with ``limit + 1``: the extra row tells whether a next page exists,
    whose cursor is ``key`` of the last row kept (``key_values``)."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key_values(key(rows[-1])))
    return rows, None


def list_page(
    items: Iterable[T], key: Callable[[T], list[Any]], types: tuple[type, ...], cursor: str | None, limit: int
) -> KeyPage[T]:
    """The page after ``cursor`` of a list held in memory (configured things, not rows), in
    the order of ``key`` (unique; its values of ``types``)."""
    after = decode_cursor(cursor, types)
    ordered = sorted((item for item in items if after is None or tuple(key(item)) > after), key=key)
    return KeyPage(*page_of(ordered[: limit + 1], limit, key))


def _key_of(order: Order) -> Callable[[Any], list[Any]]:
    """The key of a row by the names of the order's columns (an entity's attributes, a row's
    labels or a mapping's keys)."""
    names = [column.key for column, _ in order]

    def key(row: Any) -> list[Any]:
        if isinstance(row, Mapping):
            return [row[name] for name in names]
        return [getattr(row, name) for name in names]

    return key


async def keyset_page(
    session: Any,
    stmt: Select,
    order: Order,
    cursor: str | tuple[Any, ...] | None,
    limit: int,
    *,
    rows: str = "scalars",
    key: Callable[[Any], list[Any]] | None = None,
    types: tuple[type, ...] | None = None,
    valid: Callable[[tuple[Any, ...]], bool] | None = None,
    row: Callable[[Any], Any] | None = None,
) -> KeyPage[Any]:
    """The page of ``stmt`` (filtered by the caller) after ``cursor``, in ``order`` (the
    (column, descending) pairs of a unique key), at most ``limit`` items.

    ``cursor`` is the client's text (decoded by the key's ``types``, by default those of the
    order's columns, and ``valid``) or a key already decoded (``decode_cursor``) where the
    list must refuse a bad cursor before other checks. ``rows``: ``"scalars"`` (the first
    entity of each row), ``"rows"`` or ``"mappings"``. The next cursor is ``key`` of the
    last item (by default the values of the order's columns, by name); ``row`` turns each
    item into what the page holds."""
    after = cursor if isinstance(cursor, tuple) else decode_cursor(cursor, types or key_types(order), valid)
    result = await session.execute(keyset(stmt, order, after, limit))
    fetched: list[Any]
    if rows == "scalars":
        fetched = list(result.scalars())
    elif rows == "mappings":
        fetched = list(result.mappings())
    elif rows == "rows":
        fetched = list(result.all())
    else:
        raise ValueError(f"rows: scalars, mappings or rows, not {rows!r}")
    items, next_cursor = page_of(fetched, limit, key or _key_of(order))
    return KeyPage([row(item) for item in items] if row is not None else items, next_cursor)


# ---- a list's page with its values in the text ---------------------------------------------

# The compiled pages of ``compiled_page``, by list, the values written into the text and shape:
# a few per region a list is asked for (a list's zones or a campaign; a new visit period or
# quarter a few times a year). A region filter is a shape of its own, so a province's villages
# asked one by one can fill it: it is then emptied, and each page compiled again as it comes
# (a few ms, as every page cost before).
_PAGE_READS: dict[tuple[Any, ...], Any] = {}
_PAGE_READS_MAX = 512


def compiled_page(
    shape: tuple[Any, ...], statement: Callable[[Any], Select], key: Any, size: int, after: bool, *names: str
) -> Any:
    """The ``ScopedRead`` of one page of a list ordered by the one column ``key`` (ascending):
    ``statement(after)`` (``after`` the bind parameter of the page's lower bound, or None)
    ordered by ``key``, ``size`` rows. ``shape`` names the list and every value its
    statement writes into the text (a region's bounds, a period's days). Its parameters are
    ``after`` (``after``) and ``names``; every other value is in its text — the number of
    rows too: a plan kept for a ``LIMIT $n`` expects a tenth of the table, and for the
    missing-income list PostgreSQL then started two parallel workers for every page (8 ms
    of the database's CPU a page; apps ask one page size). ``page_values`` gives a page's
    values."""
    from sqlalchemy import bindparam

    from services.core.scope import ScopedRead

    cache_key = (*shape, size, after, names)
    found = _PAGE_READS.get(cache_key)
    if found is None:
        stmt = statement(bindparam("after", type_=key.type) if after else None)
        found = ScopedRead(stmt.order_by(key).limit(size), *(["after"] if after else []), *names)
        if len(_PAGE_READS) >= _PAGE_READS_MAX:
            _PAGE_READS.clear()
        _PAGE_READS[cache_key] = found
    return found


def page_values(after: tuple[Any, ...] | None, **values: Any) -> dict[str, Any]:
    """The per-call values of a ``compiled_page``: the page's lower bound, and ``values``."""
    if after is not None:
        values["after"] = after[0]
    return values


# ---- one list's statements, compiled once per shape ---------------------------------------


class ListReads:
    """The pages of one list as its direct handler reads them (``services.api.listing``):
    the statement its service runs, built with bind parameters instead of values and
    compiled once per shape — which filters are given, whether a cursor is, and
    ``options`` such as whether health flags are shown — and, by ``ScopedRead``, once per
    region prefix. Only the values are bound per request.

    ``statement(**filters, **options)`` builds the list before its page, as the service does
    with values (a filter not given is not passed); ``binds`` holds each filter's argument as
    bind parameters (one, or a tuple of them for a filter of several values, such as a
    region's bounds). The key (``order``) has one column: a page binds ``after`` (its value
    in the cursor) and ``limit`` (the page size; ``keyset`` reads one row more)."""

    def __init__(self, order: Order, statement: Callable[..., Select], **binds: Any):
        if len(order) != 1:
            raise ValueError("ListReads pages by a one-column key")
        self.order = order
        self.statement = statement
        self.binds = binds
        self._reads: dict[tuple[Any, ...], Any] = {}

    def read(self, filters: Iterable[str], *, after: bool, **options: Any) -> Any:
        """The ``ScopedRead`` of one shape (see the class)."""
        given = frozenset(filters)
        shape = (given, after, tuple(sorted(options.items())))
        found = self._reads.get(shape)
        if found is None:
            found = self._reads[shape] = self._compose(given, after, options)
        return found

    def _compose(self, filters: frozenset[str], after: bool, options: dict[str, Any]) -> Any:
        from sqlalchemy import Integer, bindparam

        from services.core.scope import ScopedRead

        args = {name: self.binds[name] for name in filters}
        names = ["limit"] + [bind.key for arg in args.values() for bind in _each(arg)]
        column = self.order[0][0]
        key = None
        if after:
            names.append("after")
            key = (bindparam("after", type_=column.type),)
        stmt = self.statement(**args, **options)
        page_size: Any = bindparam("limit", type_=Integer)  # ``keyset`` adds the extra row to it
        return ScopedRead(keyset(stmt, self.order, key, page_size), *names)

    def values(self, limit: int, after: tuple[Any, ...] | None, **filters: Any) -> dict[str, Any]:
        """The bound values of a page: ``filters`` by name, each a value (a tuple of values
        for a filter of several bind parameters)."""
        out: dict[str, Any] = {"limit": limit}
        for name, value in filters.items():
            out.update(zip((bind.key for bind in _each(self.binds[name])), _each(value), strict=True))
        if after is not None:
            out["after"] = after[0]
        return out

    async def page(
        self, read: Any, source: Any, limit: int, after: tuple[Any, ...] | None, **filters: Any
    ) -> tuple[list[Any], str | None]:
        """The rows (driver records) of a page of ``read`` (``self.read``'s) and the next page's cursor."""
        name = self.order[0][0].key
        rows = await read.all(source, **self.values(limit, after, **filters))
        return page_of(rows, limit, lambda row: [row[name]])


def _each(arg: Any) -> tuple[Any, ...]:
    return arg if isinstance(arg, tuple) else (arg,)
