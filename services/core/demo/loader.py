"""Load the demo county into PostgreSQL, and create the demo users.

``load_demo`` replaces the whole household registry (users and regions are kept) with the
output of ``generator.DemoGenerator``:

1. the regions of ``regions/data/demo_regions.csv`` are upserted;
2. in one transaction: the registry tables are truncated, their secondary indexes, unique
   and foreign-key constraints are dropped (their definitions are read from the catalog
   first), the rows are streamed in with ``COPY … FREEZE`` chunk by chunk, then every
   index and constraint is recreated from its saved definition — same name, same
   definition, so ``alembic check`` stays clean — and each id sequence is moved past the
   largest id. A failure anywhere rolls all of it back;
3. the tables are analysed.

Rows go through COPY in text format: asyncpg's binary encoder spends about a microsecond
per ``numeric`` value in Python, which made ``copy_records_to_table`` about three times
slower than writing the exact decimal text ourselves (income rows have seven money
columns). Large loads generate the rows in a separate process, so Python generation and
the server's COPY run on both cores at once; memory stays bounded by a few chunks.
"""
from __future__ import annotations

import asyncio
import hmac
import multiprocessing
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import asyncpg

from services.core.demo.generator import Batch, DemoGenerator, fen_text, villages_from_regions
from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv, parse_regions_csv
from services.core.settings import DEMO_PASSWORD, Settings

# Tables replaced by the demo, in load order (parents first).
REGISTRY_TABLES = (
    "households", "persons", "memberships", "household_events", "income_records", "income_years",
    "household_guarantees",
)
# Emptied too: they hang off households and would point at households that no longer exist.
DEPENDENT_TABLES = ("guarantee_changes",)
SERIAL_TABLES = ("households", "persons", "memberships", "household_events", "income_records")

COPY_COLUMNS = {
    "households": ("id", "household_no", "region_code", "category", "previous_category", "flags",
                   "resettlement_site", "address", "phone", "status", "head_name", "member_count", "version"),
    "persons": ("id", "id_number", "id_hash", "name", "sex", "birth_date", "household_id", "region_code",
                "relation", "health", "disability_grade", "illness", "labour_capacity", "education_level",
                "schooling", "school", "medical_insurance", "pension_insurance", "family_doctor", "employment",
                "employment_place", "employment_months", "employment_income", "phone", "status", "version"),
    "memberships": ("id", "person_id", "household_id", "region_code", "relation", "start_reason"),
    "household_events": ("id", "household_id", "region_code", "kind", "person_ids", "note"),
    "income_records": ("id", "household_id", "region_code", "year", "quarter", "wages", "business", "property",
                       "transfers", "details", "production_costs", "eligible_spending", "member_count",
                       "net_income", "per_capita_net", "version"),
    "income_years": ("household_id", "year", "region_code", "quarters", "wages", "business", "property",
                     "transfers", "production_costs", "eligible_spending", "member_count", "net_income",
                     "per_capita_net"),
    "household_guarantees": ("household_id", "region_code", "education", "medical", "housing", "water",
                             "housing_grade", "note", "version"),
}

CHUNK_PERSONS = 50_000
IN_PROCESS_BELOW = 150_000  # smaller loads are generated in this process (no worker start-up)

# ---- COPY text format --------------------------------------------------------------------
# Every value the generator makes is free of tab, newline and backslash, so only NULL,
# booleans, arrays, bytea and money need a conversion.

N = "\\N"


def _t(v) -> str:
    return N if v is None else str(v)


def _money(v) -> str:
    return N if v is None else fen_text(v)


def render(batch: Batch, id_hash_key: bytes) -> list[tuple[str, bytes, int]]:
    """(table, COPY text, rows) for each table of a batch, in load order."""
    digest = hmac.digest
    out: list[tuple[str, bytes, int]] = []

    lines = [
        f"{hid}\t{no}\t{region}\t{cat}\t{_t(prev)}\t{{{','.join(flags)}}}\t{_t(site)}\t{_t(addr)}\t{_t(phone)}\t"
        f"{status}\t{_t(head)}\t{members}\t{version}\n"
        for hid, no, region, cat, prev, flags, site, addr, phone, status, head, members, version in batch.households
    ]
    out.append(("households", "".join(lines).encode(), len(lines)))

    lines = [
        f"{pid}\t{idn}\t\\\\x{digest(id_hash_key, idn.encode(), 'sha256').hex()}\t{name}\t{sex}\t{born}\t{hid}\t"
        f"{region}\t{_t(rel)}\t{health}\t{_t(grade)}\t{_t(illness)}\t{labour}\t{_t(edu)}\t{schooling}\t"
        f"{_t(school)}\t{'t' if med else 'f'}\t{'t' if pension else 'f'}\t{'t' if doctor else 'f'}\t{emp}\t"
        f"{_t(place)}\t{_t(months)}\t{_money(income)}\t{_t(phone)}\t{status}\t{version}\n"
        for (pid, idn, name, sex, born, hid, region, rel, health, grade, illness, labour, edu, schooling, school,
             med, pension, doctor, emp, place, months, income, phone, status, version) in batch.persons
    ]
    out.append(("persons", "".join(lines).encode(), len(lines)))

    lines = [
        f"{mid}\t{pid}\t{hid}\t{region}\t{_t(rel)}\t{reason}\n"
        for mid, pid, hid, region, rel, reason in batch.memberships
    ]
    out.append(("memberships", "".join(lines).encode(), len(lines)))

    lines = [
        f"{eid}\t{hid}\t{region}\t{kind}\t{{{','.join(map(str, pids))}}}\t{_t(note)}\n"
        for eid, hid, region, kind, pids, note in batch.events
    ]
    out.append(("household_events", "".join(lines).encode(), len(lines)))

    ft = fen_text
    lines = [
        f"{rid}\t{hid}\t{region}\t{year}\t{quarter}\t{ft(w)}\t{ft(b)}\t{ft(p)}\t{ft(t)}\t{details}\t{ft(costs)}\t"
        f"{ft(spend)}\t{n}\t{ft(net)}\t{ft(pc)}\t{version}\n"
        for rid, hid, region, year, quarter, w, b, p, t, details, costs, spend, n, net, pc, version
        in batch.income_records
    ]
    out.append(("income_records", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{year}\t{region}\t{quarters}\t{ft(w)}\t{ft(b)}\t{ft(p)}\t{ft(t)}\t{ft(costs)}\t{ft(spend)}\t"
        f"{n}\t{ft(net)}\t{ft(pc)}\n"
        for hid, year, region, quarters, w, b, p, t, costs, spend, n, net, pc in batch.income_years
    ]
    out.append(("income_years", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{region}\t{edu}\t{med}\t{housing}\t{water}\t{_t(grade)}\t{_t(note)}\t{version}\n"
        for hid, region, edu, med, housing, water, grade, note, version in batch.guarantees
    ]
    out.append(("household_guarantees", "".join(lines).encode(), len(lines)))
    return out


# ---- generation (in this process or in a worker process) ---------------------------------

_worker: tuple[DemoGenerator, bytes] | None = None


def _start_generator(villages, seed: int, today: date, id_hash_key: bytes, deduct: bool) -> None:
    global _worker
    _worker = (DemoGenerator(villages, seed=seed, today=today, deduct_eligible_spending=deduct), id_hash_key)


def _next_chunk(persons: int) -> list[tuple[str, bytes, int]]:
    """The next ``persons`` people (whole households) as COPY text."""
    assert _worker is not None, "generator not started"
    generator, key = _worker
    batch = Batch()
    made = 0
    while made < persons:
        made += generator.household(batch, limit=persons - made)
    return render(batch, key)


def demo_villages():
    rows, rejected = parse_regions_csv(DEMO_REGIONS_CSV.read_text(encoding="utf-8"))
    if rejected:
        raise RuntimeError(f"demo_regions.csv has bad rows: {rejected}")
    return villages_from_regions([(r.code, r.name) for r in rows])


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://…?host=/socket/dir) as an asyncpg DSN."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def china_today() -> date:
    from services.core.timeutil import today

    return today()


# ---- indexes and constraints -------------------------------------------------------------

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
# Unique constraints no foreign key depends on, and foreign keys of the loaded tables.
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


async def _drop_secondary(conn: asyncpg.Connection, tables: tuple[str, ...]) -> tuple[list, list]:
    """Drop what slows COPY down; return what is needed to put it back exactly."""
    indexes = [(r["name"], r["ddl"]) for r in await conn.fetch(_SECONDARY_INDEXES, list(tables))]
    constraints = [(r["contype"], r["tbl"], r["name"], r["ddl"]) for r in await conn.fetch(_CONSTRAINTS, list(tables))]
    for kind, table, name, _ in constraints:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        await conn.execute(f"DROP INDEX {name}")
    return indexes, constraints


async def _restore_secondary(conn: asyncpg.Connection, indexes: list, constraints: list) -> None:
    for _, ddl in indexes:
        await conn.execute(ddl)
    for kind, table, name, ddl in sorted(constraints, key=lambda c: c[0] == "f"):  # unique before foreign
        await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {ddl}")


# ---- the load ----------------------------------------------------------------------------

async def _import_regions(url: str, settings: Settings):
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.core.db import create_engine
    from services.core.scope import UNRESTRICTED, bind_scope

    engine = create_engine(url, settings, "demo")
    try:
        async with AsyncSession(engine) as session:
            bind_scope(session, UNRESTRICTED)
            report = await import_regions_csv(session, DEMO_REGIONS_CSV)
            await session.commit()
    finally:
        await engine.dispose()
    if report.rejected:
        raise RuntimeError(f"demo regions rejected: {report.rejected}")
    return report


async def load_demo(url: str, settings: Settings, *, persons: int, seed: int = 2026,
                    progress: Callable[[str], object] | None = print, today: date | None = None,
                    chunk_persons: int = CHUNK_PERSONS, parallel: bool | None = None) -> dict:
    """Replace the household registry with ``persons`` synthetic people of the demo county.

    Users and regions are kept (the demo regions are upserted). Returns the row counts.
    ``today`` (default: today in Asia/Shanghai) fixes ages and the income quarters;
    ``parallel`` (default: for 150,000 persons or more) generates in a worker process."""
    if not settings.demo_allowed:
        raise RuntimeError("demo data is refused in production (it replaces the household registry)")
    if persons < 0:
        raise ValueError("persons must not be negative")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()

    def elapsed() -> str:
        return f"{time.perf_counter() - started:.1f} s"

    report = await _import_regions(url, settings)
    say(f"regions: {report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged  {elapsed()}")

    villages = demo_villages()
    day = today or china_today()
    key = settings.id_hash_key
    deduct = settings.income.deduct_eligible_spending
    chunks = [chunk_persons] * (persons // chunk_persons)
    if persons % chunk_persons:
        chunks.append(persons % chunk_persons)
    if parallel is None:
        parallel = persons >= IN_PROCESS_BELOW

    counts = dict.fromkeys(REGISTRY_TABLES, 0)
    conn = await asyncpg.connect(asyncpg_dsn(url), server_settings={
        "application_name": "guardline-demo", "timezone": "Asia/Shanghai",
    })
    pool = None
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            await conn.execute("SET LOCAL synchronous_commit = off")
            tables = ", ".join(REGISTRY_TABLES + DEPENDENT_TABLES)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            indexes, constraints = await _drop_secondary(conn, REGISTRY_TABLES)
            say(f"registry emptied; {len(indexes)} indexes and {len(constraints)} constraints set aside  {elapsed()}")

            loop = asyncio.get_running_loop()
            if parallel:
                pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_generator, initargs=(villages, seed, day, key, deduct),
                )

                def submit(n: int):
                    return asyncio.wrap_future(pool.submit(_next_chunk, n), loop=loop)
            else:
                _start_generator(villages, seed, day, key, deduct)

                def submit(n: int):
                    future = loop.create_future()
                    future.set_result(_next_chunk(n))
                    return future

            pending = deque(submit(n) for n in chunks[:2])  # one chunk ahead of the COPY
            queued = len(pending)
            done = 0
            for n in chunks:
                rendered = await pending.popleft()
                if queued < len(chunks):
                    pending.append(submit(chunks[queued]))
                    queued += 1
                for table, data, rows in rendered:
                    if rows:
                        # A memoryview: asyncpg would take bytes for a file name.
                        await conn.copy_to_table(table, source=memoryview(data), columns=COPY_COLUMNS[table],
                                                 format="text", freeze=True)
                        counts[table] += rows
                done += n
                say(f"persons {done:,}/{persons:,}  {elapsed()}")
            if pool is not None:
                pool.shutdown()
                pool = None

            say(f"rebuilding {len(indexes)} indexes and {len(constraints)} constraints  {elapsed()}")
            await _restore_secondary(conn, indexes, constraints)
            for table in SERIAL_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        say(f"committed  {elapsed()}")
        await conn.execute(f"ANALYZE {', '.join(REGISTRY_TABLES)}")
        say(f"analysed  {elapsed()}")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        await conn.close()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


# ---- demo users ----------------------------------------------------------------------------

DEMO_LEVELS = (("county", "529901", "清溪县"), ("township", "529901001", "石门镇"), ("village", "529901001001", "白岩村"))
ROLE_NAMES = {
    "grid_worker": "网格员", "assistance_cadre": "帮扶责任人", "village_staff": "村干部",
    "township_staff": "乡镇工作人员", "county_staff": "县乡村振兴局工作人员", "county_approver": "县级审批人",
    "department_system": "部门系统", "auditor": "审计人员", "admin": "系统管理员",
}


async def create_demo_users(session, settings: Settings) -> list[dict]:
    """One user per role at county, township and village level (``<role>.<level>``), all
    with the published demo password. Upserts by username; flushes, does not commit."""
    from sqlalchemy import func
    from sqlalchemy.dialects.postgresql import insert

    from services.core.accounts.models import User
    from services.core.accounts.roles import Role
    from services.core.accounts.security import hash_password

    if not settings.demo_allowed:
        raise RuntimeError("demo users are refused in production")
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
    users = []
    for role in Role:
        for level, prefix, place in DEMO_LEVELS:
            users.append({
                "username": f"{role.value}.{level}",
                "display_name": f"演示{ROLE_NAMES.get(role.value, role.value)}（{place}）",
                "role": role.value,
                "region_prefix": prefix,
            })
    table = User.__table__
    stmt = insert(table).values([{**u, "password_hash": password_hash, "active": True, "version": 1} for u in users])
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.username],
        set_={
            "display_name": stmt.excluded.display_name, "password_hash": stmt.excluded.password_hash,
            "role": stmt.excluded.role, "region_prefix": stmt.excluded.region_prefix, "active": True,
            "version": table.c.version + 1, "updated_at": func.now(),
        },
    )
    await session.execute(stmt)
    return users
