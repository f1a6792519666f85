"""Region scope: the one place where every ORM query is limited to the caller's regions.

A session must say whose it is before its first query: ``bind_scope(session, prefix)`` for
a user or client, ``bind_scope(session, UNRESTRICTED)`` for the CLI and the worker. A
session without a scope refuses to query (fail closed). The filter is added by a
``do_orm_execute`` hook with ``with_loader_criteria``, so it also reaches joins, subqueries,
relationship loads and ORM UPDATE/DELETE statements; a handler cannot forget it.

The few reads that run many times a second (``ScopedRead``) skip the ORM at run time, but
their SQL is compiled from ``limit_to`` with the prefix of the session or ``Reader`` they
are given — the same filter, applied in the same place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import String, TextClause, and_, bindparam, event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from services.core.base import RegionScoped

SCOPE_KEY = "guardline.region_prefix"
UNRESTRICTED = ""  # the empty prefix: every region (system processes only)


class ScopeMissing(RuntimeError):
    pass


def bind_scope(session, prefix: str) -> None:
    """Attach the caller's region prefix to a (sync or async) session."""
    target = getattr(session, "sync_session", session)
    target.info[SCOPE_KEY] = prefix


def scope_of(session) -> str:
    target = getattr(session, "sync_session", session)
    try:
        return target.info[SCOPE_KEY]
    except KeyError:
        raise ScopeMissing("session has no region scope; call bind_scope first") from None


# Raw SQL (``text()``) does not pass the ORM hook below, so it carries the region bounds
# itself, always with these two parameter names: ``region_sql("h")`` writes the condition,
# ``region_params(prefix)`` (or ``scoped_params(session)``) gives its values. ``scoped_text``
# refuses SQL without them, so raw SQL over regional rows without bounds fails at import.
REGION_LO = "region_lo"
REGION_HI = "region_hi"


def region_sql(alias: str | None = None, column: str = "region_code") -> str:
    """The region filter of raw SQL: ``alias.region_code >= :region_lo AND … < :region_hi``."""
    qualified = f"{alias}.{column}" if alias else column
    return f"{qualified} >= CAST(:{REGION_LO} AS text) AND {qualified} < CAST(:{REGION_HI} AS text)"


def region_params(prefix: str, **params: Any) -> dict[str, Any]:
    """``params`` with the bounds of ``prefix`` (``UNRESTRICTED`` bounds every digit code)."""
    return {**params, REGION_LO: prefix, REGION_HI: prefix + ":"}


def scoped_params(session, **params: Any) -> dict[str, Any]:
    """``params`` with the bounds of the session's own scope (fails closed without one)."""
    return region_params(scope_of(session), **params)


def scoped_text(sql: str) -> TextClause:
    """``text(sql)`` for raw SQL over regional rows: it must hold ``region_sql``'s bounds
    (``ValueError`` otherwise, when the module defining it is imported)."""
    if f":{REGION_LO}" not in sql or f":{REGION_HI}" not in sql:
        raise ValueError("raw SQL over regional rows must carry scope.region_sql bounds")
    return text(sql)


def under(column, prefix: str, *, inline: bool = False):
    """``column`` lies under the region ``prefix``. Written as a range rather than LIKE so
    that even a generic prepared plan can use the btree index (codes are digits, and ':'
    sorts right after '9' in the "C" collation).

    ``inline`` writes the bounds into the SQL text rather than sending them as parameters:
    with parameters PostgreSQL switches to a generic plan after five runs of a statement,
    and a generic plan cannot know that a province's prefix covers most of the table (it
    chose nested loops, 5–20 times slower, for the province's fund summary). Only for
    prefixes checked to be digits before any query."""
    if inline:
        return and_(
            column >= bindparam(None, prefix, String, literal_execute=True),
            column < bindparam(None, prefix + ":", String, literal_execute=True),
        )
    return and_(column >= prefix, column < prefix + ":")


def limit_to(statement, prefix: str):
    """``statement`` with the region filter on every scoped entity in it (also used to show
    the exact SQL a scoped query runs, e.g. by the benchmark's bare endpoint)."""
    if prefix == UNRESTRICTED:
        return statement
    return statement.options(
        with_loader_criteria(
            RegionScoped,
            lambda cls: and_(cls.region_code >= prefix, cls.region_code < prefix + ":"),
            include_aliases=True,
        )
    )


@event.listens_for(Session, "do_orm_execute")
def _limit_to_scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load:
        # A deferred attribute of a row that was already filtered when first selected.
        return
    prefix = state.session.info.get(SCOPE_KEY)
    if prefix is None:
        raise ScopeMissing("query on a session without a region scope")
    state.statement = limit_to(state.statement, prefix)


@dataclass(frozen=True, slots=True)
class Reader:
    """Access for reads that need no session: the process's ``Database`` and the caller's
    region prefix (from the verified token, never from the request). Only ``ScopedRead``
    uses it, so the region filter is the same ``limit_to`` as everywhere else.

    ``caller`` is who reads (for the audit trail); ``health`` is the keyring that decrypts
    health details, given only when the caller's role may see them."""

    db: Any
    prefix: str
    caller: Any = None  # services.core.accounts.security.Caller
    health: Any = None


class ScopedRead:
    """A read that runs many times a second (one household, a person by ID number).

    Building a large statement, computing its cache key and going through the ORM's
    result machinery costs more than PostgreSQL's work for such a read. So its SQL — with
    exactly the region filter ``limit_to`` adds — is compiled once per region prefix and
    run on the session's own driver connection. The prefix comes from the session, as in
    the ORM hook above, so a session without a scope still refuses to query.

    ``names`` are the statement's bind parameters given per call; every other parameter
    (the region bounds, constants in the SQL) is fixed at compile time."""

    MAX_PREFIXES = 1024

    def __init__(self, statement, *names: str):
        self.statement = statement
        self.names = frozenset(names)
        self._compiled: dict[tuple[str, str], tuple[str, list, list]] = {}

    def compile(self, prefix: str, dialect) -> tuple[str, list, list]:
        """(SQL text, positional arguments with the per-call slots empty, the slots as
        (position, name, bind processor or None))."""
        key = (dialect.name, prefix)
        found = self._compiled.get(key)
        if found is not None:
            return found
        compiled = limit_to(self.statement, prefix).compile(dialect=dialect)
        if prefix != UNRESTRICTED and compiled.string == self.statement.compile(dialect=dialect).string:
            # Nothing in it is a region-scoped entity as the ORM sees one (e.g. a table's
            # plain columns rather than the model's): it would read every region.
            raise ScopeMissing("a ScopedRead whose statement the region filter does not reach")
        # The text the driver runs: values written in when a statement is run (``IN`` lists,
        # ``literal_execute``) are rendered now, from its fixed values (the per-call ones,
        # which must be plain parameters, are None here).
        state = compiled.construct_expanded_state(dict.fromkeys(self.names), escape_names=False)
        processors = {**compiled._bind_processors, **state.processors}
        order = list(state.positiontup or ())
        args: list = []
        slots: list = []
        for position, name in enumerate(order):
            processor = processors.get(name)
            if name in self.names:
                slots.append((position, name, processor))
                args.append(None)
            else:
                value = state.parameters[name]
                args.append(processor(value) if processor else value)
        if sorted(name for _, name, _ in slots) != sorted(self.names):  # each once, none expanded
            raise ValueError(f"the per-call parameters {sorted(self.names)} must each be one plain parameter")
        found = inline_fixed(state.statement, args, slots)
        if len(self._compiled) >= self.MAX_PREFIXES:
            self._compiled.clear()
        self._compiled[key] = found
        return found

    def _bind(self, prefix: str, dialect, values: dict) -> tuple[str, list]:
        sql, template, slots = self.compile(prefix, dialect)
        args = list(template)
        for position, name, processor in slots:
            value = values[name]
            args[position] = processor(value) if processor else value
        return sql, args

    async def first(self, source, **values):
        """The first row (a driver record, indexable by position), or None.

        ``source`` is a scoped session (the read then sees the session's own changes) or a
        ``Reader`` (the read runs on the database's read pool)."""
        return await self._run(source, "fetchrow", values)

    async def all(self, source, **values) -> list:
        """Every row (driver records, by position or by column name), as ``first``."""
        return await self._run(source, "fetch", values)

    async def _run(self, source, method: str, values: dict):
        if isinstance(source, Reader):
            sql, args = self._bind(source.prefix, source.db.engine.dialect, values)
            if method == "fetchrow":
                return await source.db.fetch_row(sql, args)
            return await source.db.fetch_rows(sql, args)
        prefix = scope_of(source)
        connection = await source.connection()
        sql, args = self._bind(prefix, connection.dialect, values)
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        try:
            return await getattr(driver, method)(sql, *args)
        except Exception as exc:
            if driver.is_closed():  # the pool must not hand out a dead connection again
                await connection.invalidate(exc)
            raise


class VisibleRead:
    """A read on the read pool of a table that is not region-scoped (users, campaigns), whose
    statement says itself which rows a caller's prefix sees: ``statement(prefix)``, compiled
    once per caller prefix (the prefix, from the verified token, written into its text) and
    run without the registry's filter. ``names`` are its per-call bind parameters."""

    def __init__(self, statement: Callable[[str], Any], *names: str):
        self.statement = statement
        self.names = names
        self._reads: dict[str, ScopedRead] = {}

    async def first(self, reader: Reader, **values):
        """The first row the reader's prefix sees (a driver record), or None."""
        read = self._reads.get(reader.prefix)
        if read is None:
            if len(self._reads) >= ScopedRead.MAX_PREFIXES:
                self._reads.clear()
            read = self._reads[reader.prefix] = ScopedRead(self.statement(reader.prefix), *self.names)
        return await read.first(Reader(reader.db, UNRESTRICTED, reader.caller), **values)


_PLACEHOLDER = re.compile(r"\$(\d+)\b")
# A quoted literal of the compiled text ('' is a quote inside it): no parameter is in one.
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def _sql_literal(value: Any) -> str | None:
    """``value`` as a PostgreSQL literal, or None when it is not a plain string, integer,
    boolean, day, finite decimal or None (``NULL``: its type is taken from where it stands, as the
    parameter's was). The compiled text casts most parameters (``$3::DATE``): the literal
    takes the same cast."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    if type(value) is date:  # not a datetime (a subclass): its time zone would matter
        return f"'{value.isoformat()}'"
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    return None


def inline_fixed(sql: str, args: list, slots: list) -> tuple[str, list, list]:
    """The compiled read with its fixed parameters (the region bounds, constants) written into
    the text and only the per-call ones left as ``$n``, renumbered.

    The text is compiled per region prefix anyway; with the bounds as parameters, a plan
    PostgreSQL makes once for every call of a statement (after five, it may) could not see
    them, took a county for a handful of rows and chose accordingly: the overdue work list's
    pages after the first took 12–15 ms instead of 1 ms. Literals the text has already
    (quoted, as ``literal_execute`` writes a day) are left as they are: ``$n`` is replaced
    outside them only. Left as it is when a fixed value is not one ``_sql_literal`` writes,
    or when the text quotes in another way (``E'…'``, ``$$…$$``)."""
    fixed = set(range(len(args))) - {position for position, _, _ in slots}
    literals = {position: _sql_literal(args[position]) for position in fixed}
    if "$$" in sql or re.search(r"\bE'", sql) or any(text is None for text in literals.values()):
        return sql, args, slots
    renumbered = {position: index for index, (position, _, _) in enumerate(slots)}

    def replace(match: re.Match[str]) -> str:
        position = int(match.group(1)) - 1
        if position in renumbered:
            return f"${renumbered[position] + 1}"
        return literals[position]  # type: ignore[return-value]  # checked above: none is None

    parts, start = [], 0
    for quoted in _QUOTED.finditer(sql):
        parts += [_PLACEHOLDER.sub(replace, sql[start : quoted.start()]), quoted.group()]
        start = quoted.end()
    if "'" in sql[start:]:  # a quote left open: not a text this reads
        return sql, args, slots
    parts.append(_PLACEHOLDER.sub(replace, sql[start:]))
    text = "".join(parts)
    return text, [None] * len(slots), [(index, name, processor) for index, (_, name, processor) in enumerate(slots)]
