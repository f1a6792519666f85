"""Region scope: the one place where every ORM query is limited to the caller's regions.

A session must say whose it is before its first query: ``bind_scope(session, prefix)`` for
a user or client, ``bind_scope(session, UNRESTRICTED)`` for the CLI and the worker. A
session without a scope refuses to query (fail closed). The filter is added by a
``do_orm_execute`` hook with ``with_loader_criteria``, so it also reaches joins, subqueries,
relationship loads and ORM UPDATE/DELETE statements; a handler cannot forget it.
"""
from __future__ import annotations

from sqlalchemy import and_, event
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


def in_scope(code: str, prefix: str) -> bool:
    return code.startswith(prefix)


def under(column, prefix: str):
    """``column`` lies under the region ``prefix``. Written as a range rather than LIKE so
    that even a generic prepared plan can use the btree index (codes are digits, and ':'
    sorts right after '9' in the "C" collation)."""
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
