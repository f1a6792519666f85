"""Load the demo county into PostgreSQL, and create the demo users.

``load_demo`` replaces the whole household registry and its monitoring (users and regions
are kept) with the output of ``generator.DemoGenerator``:

1. the regions of ``regions/data/demo_regions.csv`` are upserted, and so are the demo
   assistance cadres (``cadre.<village code>.<n>``, role assistance_cadre, the demo
   password), whose user ids the cases and visits name;
2. in one transaction: the demo province's income lines are upserted (demo figures,
   ``monitoring.demo_income_line``); the registry and monitoring tables are truncated,
   their secondary indexes, unique
   and foreign-key constraints are dropped (their definitions are read from the catalog
   first), the rows are streamed in with ``COPY … FREEZE`` chunk by chunk, then every
   index and constraint is recreated from its saved definition — same name, same
   definition, so ``alembic check`` stays clean — and each id sequence is moved past the
   largest id. A failure anywhere rolls all of it back;
3. the tables are analysed (on two connections at once);
4. the county's fund year, follow-up, field work and ledgers are written over the registry,
   one after the other (the follow-up and the field work set their foreign keys and indexes
   aside for their bulk rows, as step 2 does), then the township reports.

The pieces: ``plan`` (villages, households' sizes and histories, chunks), ``generator``
(households and people, with ``income`` and ``cases``), ``render`` (the COPY text of a
chunk), ``streams`` (generation in this process or in worker processes), ``users`` (the
demo's accounts), ``layout`` (the tables and their columns); this module runs the load.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from datetime import date

import asyncpg

from services.core.crypto import decode_key, keyring
from services.core.db import asyncpg_dsn
from services.core.events.triggers import trigger_names
from services.core.monitoring.counts import REBUILD_SQL
from services.core.progress import Report, Step, silent
from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv, parse_regions_csv
from services.core.settings import Settings
from services.demo.income import DEMO_PROVINCE, demo_income_line, fen_text
from services.demo.layout import COPY_COLUMNS, DEPENDENT_TABLES, LOADED_TABLES, SERIAL_TABLES
from services.demo.plan import plan_chunks, villages_from_regions
from services.demo.setaside import put_back, set_aside
from services.demo.streams import local_chunks, worker_chunks
from services.demo.users import cadres_per_village, create_demo_users, ensure_demo_cadres

__all__ = ["create_demo_users", "load_demo"]

CHUNK_PERSONS = 25_000
# Rows of a table are sent in COPYs of at least this many bytes (a small table's rows of
# several chunks together): each COPY … FREEZE leaves the pages it extended the table by
# and did not fill empty for good (never marked all-visible, which also makes index-only
# scans look dear to the planner) — 40 % of the case table with one COPY per chunk.
COPY_AT_LEAST = 4 << 20
IN_PROCESS_BELOW = 150_000  # smaller loads are generated in this process (no worker start-up)


def demo_villages():
    rows, rejected = parse_regions_csv(DEMO_REGIONS_CSV.read_text(encoding="utf-8"))
    if rejected:
        raise RuntimeError(f"demo_regions.csv has bad rows: {rejected}")
    return villages_from_regions([(r.code, r.name) for r in rows])


def china_today() -> date:
    from services.core.timeutil import today

    return today()


# ---- indexes and constraints -------------------------------------------------------------

# Indexes whose keys arrive in ascending order (rows are loaded by household and person
# id): appending to them during COPY costs the server less than a rebuild, and the server
# has time to spare while the generator processes work. Every other index is rebuilt.
KEEP_DURING_COPY = frozenset(
    {
        "ix_persons_household_id",
        "ix_memberships_household_id",
        "ix_memberships_person_id",
        "ix_household_events_household_id",
        "uq_income_records_household_id_year_quarter",
        "ix_monitoring_cases_household_id",
        "ix_case_transitions_case_id_id",
        "ix_clue_reports_clue_id",
        "ix_assistance_measures_case_id",
        "ix_case_visits_case_id_visited_on",
        # Also: recreated from pg_get_indexdef, its predicate (status NOT IN (…)) would be
        # deparsed differently from what the migration made; kept, it checks one open case per
        # household as the rows arrive.
        "uq_monitoring_cases_open_household",
    }
)

# ---- income lines ------------------------------------------------------------------------


async def upsert_income_lines(conn: asyncpg.Connection, today: date) -> int:
    """The demo province's monitoring income lines, 2021 to this year (demo figures)."""
    rows = [
        (year, DEMO_PROVINCE, fen_text(demo_income_line(year)), "演示数据：示意数字，非官方监测标准")
        for year in range(2021, today.year + 1)
    ]
    await conn.executemany(
        "INSERT INTO income_lines (year, province_code, amount, note, version) VALUES ($1, $2, $3::numeric, $4, 1) "
        "ON CONFLICT (year, province_code) DO UPDATE SET amount = excluded.amount, note = excluded.note, "
        "version = income_lines.version + 1, updated_at = now() "
        "WHERE (income_lines.amount, income_lines.note) IS DISTINCT FROM (excluded.amount, excluded.note)",
        rows,
    )
    return len(rows)


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


async def load_demo(
    url: str,
    settings: Settings,
    *,
    persons: int,
    seed: int = 2026,
    progress: Report | None = print,
    today: date | None = None,
    chunk_persons: int = CHUNK_PERSONS,
    parallel: bool | None = None,
) -> dict:
    """Replace the household registry with ``persons`` synthetic people of the demo county.

    Users and regions are kept (the demo regions are upserted). Returns the row counts.
    ``today`` (default: today in Asia/Shanghai) fixes ages and the income quarters;
    ``parallel`` (default: for 150,000 persons or more) generates in a worker process.
    ``progress`` gets a ``Step`` per stage and per chunk (its ``str`` is a plain line)."""
    if not settings.demo_allowed:
        raise RuntimeError("demo data is refused in production (it replaces the household registry)")
    if persons < 0:
        raise ValueError("persons must not be negative")
    say: Report = progress or silent
    started = time.perf_counter()

    def elapsed() -> str:
        return f"{time.perf_counter() - started:.1f} s"

    report = await _import_regions(url, settings)
    say(
        Step(
            "regions",
            f"regions: {report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged  {elapsed()}",
        )
    )

    villages = demo_villages()
    day = today or china_today()
    key = settings.id_hash_key
    ring = keyring(settings)
    protection = settings.data_protection
    enc_key = decode_key(protection.active_key, protection.encryption_keys[protection.active_key].get_secret_value())
    deduct = settings.income.deduct_eligible_spending
    plans = plan_chunks(persons, seed=seed, today=day, chunk_persons=chunk_persons)
    if parallel is None:
        parallel = persons >= IN_PROCESS_BELOW

    counts: dict[str, float] = dict.fromkeys(LOADED_TABLES, 0)  # and the seconds taken
    event_triggers = [(table, name) for table in LOADED_TABLES for name in trigger_names(table)]
    session = {"application_name": "guardline-demo", "timezone": "Asia/Shanghai"}
    conn = await asyncpg.connect(asyncpg_dsn(url), server_settings=session)
    other: asyncpg.Connection | None = None  # the second connection, once the registry is in
    try:
        cadres = await ensure_demo_cadres(conn, villages, cadres_per_village(persons, len(villages)), seed)
        say(
            Step(
                "cadres", f"assistance cadres: {sum(map(len, cadres.values()))} in {len(cadres)} villages  {elapsed()}"
            )
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            await conn.execute("SET LOCAL synchronous_commit = off")
            lines = await upsert_income_lines(conn, day)
            tables = ", ".join(LOADED_TABLES + DEPENDENT_TABLES)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            indexes, constraints = aside = await set_aside(conn, LOADED_TABLES, KEEP_DURING_COPY)
            # The statistics' running counts are computed once after the load, not per row.
            await conn.execute("ALTER TABLE monitoring_cases DISABLE TRIGGER monitoring_cases_count")
            # A loaded county is history, not news: no event for each of its rows.
            for table, name in event_triggers:
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
            say(
                Step(
                    "prepare",
                    f"registry emptied; {lines} income lines; {len(indexes)} indexes and "
                    f"{len(constraints)} constraints set aside  {elapsed()}",
                )
            )

            params = {
                "villages": villages,
                "seed": seed,
                "today": day,
                "key": key,
                "keyring": ring,
                "enc_key": enc_key,
                "deduct": deduct,
                "cadres": cadres,
                "persons": persons,
                "chunk_persons": chunk_persons,
            }
            source = (worker_chunks if parallel else local_chunks)(params, plans)
            pending: dict[str, list[bytes]] = {table: [] for table in LOADED_TABLES}
            pending_size = dict.fromkeys(LOADED_TABLES, 0)

            async def copy(table: str) -> None:
                data = b"".join(pending[table])
                pending[table].clear()
                pending_size[table] = 0
                # A memoryview: asyncpg would take bytes for a file name.
                # asyncpg takes any buffer (Connection._copy_in); its stubs name only paths, files and
                # async iterables.
                await conn.copy_to_table(
                    table,
                    source=memoryview(data),  # type: ignore[arg-type]
                    columns=COPY_COLUMNS[table],
                    format="text",
                    freeze=True,
                )

            async with aclosing(source):  # stops the worker if a COPY fails
                async for rendered in source:
                    for table, data, rows in rendered:
                        if rows:
                            pending[table].append(data)
                            pending_size[table] += len(data)
                            counts[table] += rows
                            if pending_size[table] >= COPY_AT_LEAST:
                                await copy(table)
                    say(
                        Step(
                            "persons",
                            f"persons {counts['persons']:,}/{persons:,}  {elapsed()}",
                            int(counts["persons"]),
                            persons,
                            "persons",
                        )
                    )
            for table in LOADED_TABLES:
                if pending[table]:
                    await copy(table)

            say(Step("indexes", f"rebuilding {len(indexes)} indexes and {len(constraints)} constraints  {elapsed()}"))
            await put_back(conn, aside)
            for sql in REBUILD_SQL:
                await conn.execute(sql)
            await conn.execute("ALTER TABLE monitoring_cases ENABLE TRIGGER monitoring_cases_count")
            for table, name in event_triggers:
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
            for table in SERIAL_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        say(Step("commit", f"committed  {elapsed()}"))
        # Half of the tables are analysed on a second connection meanwhile: nothing else runs
        # now, and two ANALYZEs use two cores (300,000 persons: 1.6 s instead of 2.15 s).
        analysed = (*LOADED_TABLES, "monitoring_case_counts")
        other = await asyncpg.connect(asyncpg_dsn(url), server_settings=session)
        await asyncio.gather(
            conn.execute(f"ANALYZE {', '.join(analysed[0::2])}"),
            other.execute(f"ANALYZE {', '.join(analysed[1::2])}"),
        )
        say(Step("analyse", f"analysed  {elapsed()}"))
        from services.demo.fieldwork import load_fieldwork
        from services.demo.followup import load_followup
        from services.demo.funds import load_funds
        from services.demo.ledgers import load_ledgers

        county = villages[0].code[:6]  # the demo is one county

        # One after the other on one connection: the follow-up and the field work each set
        # their tables' foreign keys aside for their bulk rows (``setaside``), which locks the
        # households and the users until they commit — side by side, they could deadlock.
        funds = await load_funds(conn, county, day, seed)
        say(
            Step(
                "funds",
                f"fund year: {funds['funds']} funds, {funds['projects']} projects, "
                f"{funds['fund_disbursements']} payments, {funds['project_assets']} assets  {elapsed()}",
            )
        )
        followup = await load_followup(conn, county, day, seed)
        say(
            Step(
                "followup",
                f"follow-up: {followup['household_cadres']} cadre assignments, "
                f"{followup['followup_visits']} scheduled visits, {followup['income_not_entered']} quarters of "
                f"income not yet entered  {elapsed()}",
            )
        )
        field = await load_fieldwork(conn, county, day, seed)
        say(
            Step(
                "fieldwork",
                f"field work: {field['field_roster']} on the roster, a campaign with "
                f"{field['field_campaign_visits']} households visited  {elapsed()}",
            )
        )
        ledgers = await load_ledgers(conn, county, day)
        say(
            Step(
                "ledgers",
                f"ledgers: {ledgers['clearing_entries']} clearing entries, "
                f"{ledgers['rectifications']} rectifications  {elapsed()}",
            )
        )
        for part in (funds, followup, field, ledgers):
            counts.update(part)
        counts["income_records"] -= followup["income_not_entered"]  # the latest due quarter, not yet entered
    finally:
        await conn.close()
        if other is not None:
            await other.close()
    from services.demo.reports import load_reports

    reports = await load_reports(url, settings, villages[0].code[:6], day)
    counts.update(reports)
    say(Step("reports", f"reports: {reports['generated_reports']} township reports stored  {elapsed()}"))
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts
