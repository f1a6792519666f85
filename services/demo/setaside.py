"""Setting a table's secondary indexes and constraints aside for a bulk write, and putting
them back exactly: every row checked by a foreign key or added to an index one at a time
costs the server many times what one index build or one set-based check of the whole
table costs afterwards (a follow-up visit's two foreign-key checks cost more than
writing it).

Only for writes inside one transaction that also puts them back: a failure anywhere rolls
the drop back with the rows, and nobody sees the tables without them (the drop holds an
exclusive lock on the table, and on a foreign key's referenced table, until commit).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import asyncpg

_SECONDARY_INDEXES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(ci.relname) AS name, pg_get_indexdef(i.indexrelid) AS ddl
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ci.relnamespace
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY ci.relname
"""
# Unique constraints no foreign key depends on, and foreign keys of the tables.
_CONSTRAINTS = """
SELECT c.contype, c.conrelid::regclass::text AS tbl, quote_ident(c.conname) AS name,
       pg_get_constraintdef(c.oid) AS ddl
FROM pg_constraint c
WHERE c.conrelid = ANY($1::regclass[])
  AND (c.contype = 'f'
       OR (c.contype = 'u' AND NOT EXISTS (
             SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)))
ORDER BY c.contype DESC, c.conrelid::regclass::text, c.conname
"""

SetAside = tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]


async def set_aside(conn: asyncpg.Connection, tables: Sequence[str], keep: Collection[str] = ()) -> SetAside:
    """Drop the secondary indexes and the constraints above of ``tables`` (except those named
    in ``keep``); return what ``put_back`` needs to recreate them — same names, same
    definitions read from the catalog, so ``alembic check`` stays clean."""
    indexes = [
        (r["name"], r["ddl"])
        for r in await conn.fetch(_SECONDARY_INDEXES, list(tables))
        if r["name"].rpartition(".")[2] not in keep
    ]
    constraints = [
        (r["contype"], r["tbl"], r["name"], r["ddl"])
        for r in await conn.fetch(_CONSTRAINTS, list(tables))
        if r["name"] not in keep
    ]
    for _kind, table, name, _ in constraints:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        await conn.execute(f"DROP INDEX {name}")
    return indexes, constraints


async def put_back(conn: asyncpg.Connection, aside: SetAside) -> None:
    """Recreate what ``set_aside`` dropped: the indexes, then unique constraints, then
    foreign keys (each checked over the whole table in one statement)."""
    indexes, constraints = aside
    for _, ddl in indexes:
        await conn.execute(ddl)
    for _kind, table, name, ddl in sorted(constraints, key=lambda c: c[0] == "f"):  # unique before foreign
        await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {ddl}")
