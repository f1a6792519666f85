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
import json
import math
import os
import sys
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import date

import asyncpg

from services.core.crypto import Keyring, decode_key, keyring
from services.core.db import asyncpg_dsn
from services.core.households.sensitive import HEALTH_AAD, ID_NUMBER_AAD, health_plaintext
from services.core.idnumber import mask
from services.core.monitoring.counts import REBUILD_SQL
from services.core.progress import Report, Step, silent
from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv, parse_regions_csv
from services.core.settings import DEMO_PASSWORD, Settings
from services.demo.generator import (
    STREAMS,
    Batch,
    ChunkPlan,
    DemoGenerator,
    Village,
    fen_text,
    plan_chunks,
    villages_from_regions,
)
from services.demo.monitoring import (
    CASE_COLUMNS,
    CLUE_COLUMNS,
    DEMO_PROVINCE,
    MEASURE_COLUMNS,
    REPORT_COLUMNS,
    TRANSITION_COLUMNS,
    VISIT_COLUMNS,
    demo_income_line,
)

# Tables replaced by the demo, in load order (parents first).
REGISTRY_TABLES = (
    "households",
    "persons",
    "memberships",
    "household_events",
    "income_records",
    "income_years",
    "household_guarantees",
)
# Monitoring tables replaced by the demo, in load order.
MONITORING_TABLES = (
    "monitoring_cases",
    "risk_clues",
    "clue_reports",
    "case_transitions",
    "assistance_measures",
    "case_visits",
)
LOADED_TABLES = REGISTRY_TABLES + MONITORING_TABLES
# Emptied too: they hang off households and would point at households that no longer exist.
DEPENDENT_TABLES = ("guarantee_changes",)
SERIAL_TABLES = (
    "households",
    "persons",
    "memberships",
    "household_events",
    "income_records",
    "monitoring_cases",
    "risk_clues",
    "clue_reports",
    "case_transitions",
)

COPY_COLUMNS = {
    "households": (
        "id",
        "household_no",
        "region_code",
        "category",
        "previous_category",
        "flags",
        "resettlement_site",
        "address",
        "phone",
        "status",
        "head_name",
        "member_count",
        "version",
    ),
    "persons": (
        "id",
        "id_number_enc",
        "id_hash",
        "id_masked",
        "name",
        "sex",
        "birth_date",
        "household_id",
        "region_code",
        "relation",
        "health_enc",
        "labour_capacity",
        "education_level",
        "schooling",
        "school",
        "medical_insurance",
        "pension_insurance",
        "family_doctor",
        "employment",
        "employment_place",
        "employment_months",
        "employment_income",
        "phone",
        "status",
        "version",
    ),
    "memberships": ("id", "person_id", "household_id", "region_code", "relation", "start_reason"),
    "household_events": ("id", "household_id", "region_code", "kind", "person_ids", "note"),
    "income_records": (
        "id",
        "household_id",
        "region_code",
        "year",
        "quarter",
        "wages",
        "business",
        "property",
        "transfers",
        "details",
        "production_costs",
        "eligible_spending",
        "member_count",
        "net_income",
        "per_capita_net",
        "version",
    ),
    "income_years": (
        "household_id",
        "year",
        "region_code",
        "quarters",
        "wages",
        "business",
        "property",
        "transfers",
        "production_costs",
        "eligible_spending",
        "member_count",
        "net_income",
        "per_capita_net",
    ),
    "household_guarantees": (
        "household_id",
        "region_code",
        "education",
        "medical",
        "housing",
        "water",
        "housing_grade",
        "note",
        "version",
    ),
    "monitoring_cases": CASE_COLUMNS,
    "risk_clues": CLUE_COLUMNS,
    "clue_reports": REPORT_COLUMNS,
    "case_transitions": TRANSITION_COLUMNS,
    "assistance_measures": MEASURE_COLUMNS,
    "case_visits": VISIT_COLUMNS,
}

CHUNK_PERSONS = 25_000
# Rows of a table are sent in COPYs of at least this many bytes (a small table's rows of
# several chunks together): each COPY … FREEZE leaves the pages it extended the table by
# and did not fill empty for good (never marked all-visible, which also makes index-only
# scans look dear to the planner) — 40 % of the case table with one COPY per chunk.
COPY_AT_LEAST = 4 << 20
IN_PROCESS_BELOW = 150_000  # smaller loads are generated in this process (no worker start-up)

# ---- COPY text format --------------------------------------------------------------------
# Every value the generator makes is free of tab, newline and backslash, so only NULL,
# booleans, arrays, bytea and money need a conversion.

N = "\\N"


def _t(v) -> str:
    return N if v is None else str(v)


def _arr(values) -> str:
    return "{" + ",".join(values) + "}"


def render_monitoring(batch: Batch) -> list[tuple[str, bytes, int]]:
    """(table, COPY text, rows) of a batch's monitoring rows, in ``MONITORING_TABLES`` order.
    Dates and ids are written with ``str``; the recorded-at timestamps of a demo import are
    the day's date at a fixed hour, China time."""
    t = _t
    out: list[tuple[str, bytes, int]] = []
    lines = [
        f"{cid}\t{hid}\t{region}\t{ctype}\t{_arr(risks)}\t{status}\t{first}\t{opened}\t{t(consent)}\t"
        f"{t(nstart)}\t{t(nend)}\t{t(identified)}\t{t(before)}\t{t(cadre)}\t{t(cadre_on)}\t{t(plan_on)}\t"
        f"{t(visit)}\t{t(proposed)}\t{t(eliminated)}\t{t(way)}\t{t(closed)}\t{t(reason)}\t{t(due)}\t{t(kind)}\t"
        f"{'t' if provisional else 'f'}\t{breaches}\t{t(reopened)}\t{version}\n"
        for (
            cid,
            hid,
            region,
            ctype,
            risks,
            status,
            first,
            opened,
            consent,
            nstart,
            nend,
            identified,
            before,
            cadre,
            cadre_on,
            plan_on,
            visit,
            proposed,
            eliminated,
            way,
            closed,
            reason,
            due,
            kind,
            provisional,
            breaches,
            reopened,
            version,
        ) in batch.monitoring_cases
    ]
    out.append(("monitoring_cases", "".join(lines).encode(), len(lines)))
    lines = [
        f"{cid}\t{hid}\t{region}\t{_arr(risks)}\t{_arr(channels)}\t{status}\t{first}\t{reports}\t{t(due)}\t"
        f"{t(kind)}\t{'t' if provisional else 'f'}\t{breaches}\t{t(case_id)}\t{t(reason)}\t{t(by)}\t"
        f"{N if at is None else f'{at} 16:00:00+08'}\t{version}\n"
        for (
            cid,
            hid,
            region,
            risks,
            channels,
            status,
            first,
            reports,
            due,
            kind,
            provisional,
            breaches,
            case_id,
            reason,
            by,
            at,
            version,
        ) in batch.risk_clues
    ]
    out.append(("risk_clues", "".join(lines).encode(), len(lines)))
    lines = [
        f"{rid}\t{clue}\t{region}\t{channel}\t{_arr(risks)}\t{evidence}\t{attachments}\t{day}\t{t(user)}\t"
        f"{t(client)}\t{t(name)}\t{t(phone)}\t{t(source)}\t{t(ref)}\t{created} 09:00:00+08\n"
        for (
            rid,
            clue,
            region,
            channel,
            risks,
            evidence,
            attachments,
            day,
            user,
            client,
            name,
            phone,
            source,
            ref,
            created,
        ) in batch.clue_reports
    ]
    out.append(("clue_reports", "".join(lines).encode(), len(lines)))
    lines = [
        f"{tid}\t{case_id}\t{region}\t{action}\t{t(frm)}\t{to}\t{t(comment)}\t{attachments}\t{details}\t"
        f"{day}\t{t(user)}\t{t(client)}\t{at} 10:00:00+08\n"
        for (
            tid,
            case_id,
            region,
            action,
            frm,
            to,
            comment,
            attachments,
            details,
            day,
            user,
            client,
            at,
        ) in batch.case_transitions
    ]
    out.append(("case_transitions", "".join(lines).encode(), len(lines)))
    lines = [
        f"{mid}\t{case_id}\t{hid}\t{region}\t{category}\t{content}\t{unit}\t{planned}\t{start}\t{t(end)}\t"
        f"{status}\t{t(result)}\t{N if amount is None else fen_text(amount)}\t{t(by)}\t{version}\n"
        for (
            mid,
            case_id,
            hid,
            region,
            category,
            content,
            unit,
            planned,
            start,
            end,
            status,
            result,
            amount,
            by,
            version,
        ) in batch.assistance_measures
    ]
    out.append(("assistance_measures", "".join(lines).encode(), len(lines)))
    lines = [
        f"{vid}\t{case_id}\t{hid}\t{region}\t{cadre}\t{day}\t{mode}\t{findings}\t{attachments}\t{t(by)}\t"
        f"{created} 18:00:00+08\n"
        for vid, case_id, hid, region, cadre, day, mode, findings, attachments, by, created in batch.case_visits
    ]
    out.append(("case_visits", "".join(lines).encode(), len(lines)))
    assert all(part[0] == table for part, table in zip(out, MONITORING_TABLES, strict=True))
    return out


def render(batch: Batch, id_hash_key: bytes, keyring: Keyring) -> list[tuple[str, bytes, int]]:
    """(table, COPY text, rows) for each table of a batch, in load order (``LOADED_TABLES``).

    Money is exact decimal text from integer fen (``fen_text``); amounts that cannot be
    negative are formatted inline, which is measurably faster than a call per value. ID
    numbers and health details are encrypted here (in the worker processes of a large
    load), as ``services.core.households.sensitive`` stores them."""
    digest = hmac.digest
    ft = fen_text
    seal = keyring.encrypt
    health_plain = health_plaintext
    out: list[tuple[str, bytes, int]] = []

    lines = [
        f"{hid}\t{no}\t{region}\t{cat}\t{N if prev is None else prev}\t{{{','.join(flags)}}}\t"
        f"{N if site is None else site}\t{N if addr is None else addr}\t{N if phone is None else phone}\t"
        f"{status}\t{N if head is None else head}\t{members}\t{version}\n"
        for hid, no, region, cat, prev, flags, site, addr, phone, status, head, members, version in batch.households
    ]
    out.append(("households", "".join(lines).encode(), len(lines)))

    lines = [
        f"{pid}\t\\\\x{seal(idn.encode(), ID_NUMBER_AAD).hex()}\t"
        f"\\\\x{digest(id_hash_key, idn.encode(), 'sha256').hex()}\t{mask(idn)}\t{name}\t{sex}\t"
        f"{born}\t{hid}\t{region}\t{N if rel is None else rel}\t"
        f"\\\\x{seal(health_plain(health, grade, illness), HEALTH_AAD).hex()}\t{labour}\t"
        f"{N if edu is None else edu}\t{schooling}\t"
        f"{N if school is None else school}\t{'t' if med else 'f'}\t{'t' if pension else 'f'}\t"
        f"{'t' if doctor else 'f'}\t{emp}\t{N if place is None else place}\t{N if months is None else months}\t"
        f"{N if income is None else ft(income)}\t{N if phone is None else phone}\t{status}\t{version}\n"
        for (
            pid,
            idn,
            name,
            sex,
            born,
            hid,
            region,
            rel,
            health,
            grade,
            illness,
            labour,
            edu,
            schooling,
            school,
            med,
            pension,
            doctor,
            emp,
            place,
            months,
            income,
            phone,
            status,
            version,
        ) in batch.persons
    ]
    out.append(("persons", "".join(lines).encode(), len(lines)))

    lines = [
        f"{mid}\t{pid}\t{hid}\t{region}\t{N if rel is None else rel}\t{reason}\n"
        for mid, pid, hid, region, rel, reason in batch.memberships
    ]
    out.append(("memberships", "".join(lines).encode(), len(lines)))

    lines = [
        f"{eid}\t{hid}\t{region}\t{kind}\t{{{','.join(map(str, pids))}}}\t{N if note is None else note}\n"
        for eid, hid, region, kind, pids, note in batch.events
    ]
    out.append(("household_events", "".join(lines).encode(), len(lines)))

    # The four parts, costs and spending are never negative; net income can be.
    lines = [
        f"{rid}\t{hid}\t{region}\t{year}\t{quarter}\t{w // 100}.{w % 100:02d}\t{b // 100}.{b % 100:02d}\t"
        f"{p // 100}.{p % 100:02d}\t{t // 100}.{t % 100:02d}\t{details}\t{c // 100}.{c % 100:02d}\t"
        f"{e // 100}.{e % 100:02d}\t{n}\t{ft(net)}\t{ft(pc)}\t{version}\n"
        for rid, hid, region, year, quarter, w, b, p, t, details, c, e, n, net, pc, version in batch.income_records
    ]
    out.append(("income_records", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{year}\t{region}\t{quarters}\t{ft(w)}\t{ft(b)}\t{ft(p)}\t{ft(t)}\t{ft(c)}\t{ft(e)}\t"
        f"{n}\t{ft(net)}\t{ft(pc)}\n"
        for hid, year, region, quarters, w, b, p, t, c, e, n, net, pc in batch.income_years
    ]
    out.append(("income_years", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{region}\t{edu}\t{med}\t{housing}\t{water}\t{N if grade is None else grade}\t"
        f"{N if note is None else note}\t{version}\n"
        for hid, region, edu, med, housing, water, grade, note, version in batch.guarantees
    ]
    out.append(("household_guarantees", "".join(lines).encode(), len(lines)))
    out += render_monitoring(batch)
    assert [part[0] for part in out] == list(LOADED_TABLES)
    return out


# ---- generation (in this process or in worker processes) --------------------------------

Rendered = list[tuple[str, bytes, int]]


def _streams(params: dict, stream_ids) -> dict[int, DemoGenerator]:
    return {
        s: DemoGenerator(
            params["villages"],
            seed=params["seed"],
            today=params["today"],
            stream=s,
            deduct_eligible_spending=params["deduct"],
            cadres=params["cadres"],
        )
        for s in stream_ids
    }


async def _local_chunks(params: dict, plans: list[ChunkPlan]) -> AsyncGenerator[Rendered, None]:
    streams = _streams(params, range(STREAMS))
    for plan in plans:
        yield render(streams[plan.index % STREAMS].chunk(plan), params["key"], params["keyring"])


async def _worker_chunks(params: dict, plans: list[ChunkPlan]) -> AsyncGenerator[Rendered, None]:
    """Chunks generated by ``STREAMS`` processes ``python -m services.demo.loader
    --worker``, stream s making chunks s, s + STREAMS, …; they are read in order.

    Child processes rather than multiprocessing: the caller's script needs no
    ``if __name__ == "__main__"`` guard, and no event loop or connection is inherited. The
    parameters (with the hash key and the active encryption key) go through stdin; each table of a chunk comes back on
    stdout as a line "<rows> <bytes>" and the COPY text. The pipes' back-pressure keeps a
    worker at most one chunk ahead, so memory stays bounded."""
    header = {
        "villages": [[v.code, v.name, v.township_name] for v in params["villages"]],
        "seed": params["seed"],
        "today": params["today"].isoformat(),
        "key": params["key"].hex(),
        "enc_key_id": params["keyring"].active,
        "enc_key": params["enc_key"].hex(),
        "deduct": params["deduct"],
        "persons": params["persons"],
        "chunk_persons": params["chunk_persons"],
        "cadres": params["cadres"],
        "parent": os.getpid(),
    }
    procs = []
    outputs: list[asyncio.StreamReader] = []  # each process's stdout
    try:
        for s in range(min(STREAMS, len(plans))):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.demo.loader",
                "--worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            procs.append(proc)
            assert proc.stdin is not None and proc.stdout is not None  # both piped
            outputs.append(proc.stdout)
            proc.stdin.write(json.dumps({**header, "stream": s}).encode() + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
        for plan in plans:
            proc, output = procs[plan.index % STREAMS], outputs[plan.index % STREAMS]
            rendered = []
            for table in LOADED_TABLES:
                line = await output.readline()
                if not line:
                    code = await proc.wait()
                    raise RuntimeError(f"a demo generator process stopped early (exit code {code})")
                rows, size = (int(x) for x in line.split())
                rendered.append((table, await output.readexactly(size), rows))
            yield rendered
        for proc in procs:
            if await proc.wait() != 0:
                raise RuntimeError(f"a demo generator process failed (exit code {proc.returncode})")
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def _worker_main() -> int:
    """Entry point of a generator process (see ``_worker_chunks``)."""
    from services.core.children import tie_to_parent

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not corrupt the data stream
    header = json.loads(sys.stdin.buffer.readline())
    tie_to_parent(header["parent"])  # Ctrl-C is the loader's to handle; it stops this process
    params = {
        "villages": [Village(*v) for v in header["villages"]],
        "seed": header["seed"],
        "today": date.fromisoformat(header["today"]),
        "deduct": header["deduct"],
        "cadres": header["cadres"],
    }
    stream = header["stream"]
    generator = _streams(params, [stream])[stream]
    key = bytes.fromhex(header["key"])
    ring = Keyring({header["enc_key_id"]: bytes.fromhex(header["enc_key"])}, header["enc_key_id"])
    plans = plan_chunks(
        header["persons"], seed=params["seed"], today=params["today"], chunk_persons=header["chunk_persons"]
    )
    for plan in plans[stream::STREAMS]:
        for _table, data, rows in render(generator.chunk(plan), key, ring):
            out.write(b"%d %d\n" % (rows, len(data)))
            out.write(data)
        out.flush()
    out.close()
    return 0


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
    indexes = [
        (r["name"], r["ddl"])
        for r in await conn.fetch(_SECONDARY_INDEXES, list(tables))
        if r["name"].rpartition(".")[2] not in KEEP_DURING_COPY
    ]
    constraints = [
        (r["contype"], r["tbl"], r["name"], r["ddl"])
        for r in await conn.fetch(_CONSTRAINTS, list(tables))
        if r["name"] not in KEEP_DURING_COPY
    ]
    for _kind, table, name, _ in constraints:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        await conn.execute(f"DROP INDEX {name}")
    return indexes, constraints


async def _restore_secondary(conn: asyncpg.Connection, indexes: list, constraints: list) -> None:
    for _, ddl in indexes:
        await conn.execute(ddl)
    for _kind, table, name, ddl in sorted(constraints, key=lambda c: c[0] == "f"):  # unique before foreign
        await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {ddl}")


# ---- demo cadres and income lines ---------------------------------------------------------

CADRES_PER_VILLAGE_MIN = 2
HOUSEHOLDS_PER_CADRE = 8  # open cases per assistance cadre, roughly (a cadre helps a handful of households)


def cadres_per_village(persons: int, villages: int) -> int:
    """Assistance cadres each village needs for the open cases of ``persons`` people (about
    4.5 % of the households, 3.35 people each, are 监测户)."""
    open_cases = persons / 3.35 * 0.045
    return max(CADRES_PER_VILLAGE_MIN, math.ceil(open_cases / max(1, villages) / HOUSEHOLDS_PER_CADRE))


_CADRE_GIVEN = "国华建明军平志伟强勇福荣顺德永兴春光正红兰梅玲燕萍琴凤芳娟敏静艳"


async def ensure_demo_cadres(
    conn: asyncpg.Connection, villages: list[Village], per_village: int, seed: int
) -> dict[str, list[int]]:
    """Upsert ``per_village`` assistance cadres per village (``cadre.<village>.<nnn>``, all
    with the demo password; never removed, so reloading a smaller county keeps them) and
    return the user ids of the first ``per_village`` of each village."""
    import random

    from services.core.accounts.roles import Role
    from services.core.accounts.security import hash_password

    rng = random.Random(f"{seed}/cadres")
    surnames = "王李张刘陈杨黄赵吴周罗潘石龙田韦"
    rows = []
    for v in villages:
        for k in range(1, per_village + 1):
            name = rng.choice(surnames) + "".join(rng.choice(_CADRE_GIVEN) for _ in range(1 + (rng.random() < 0.7)))
            rows.append((f"cadre.{v.code}.{k:03d}", f"{name}（{v.name}帮扶责任人）", v.code))
    usernames = [r[0] for r in rows]
    have = {
        r["username"]: r["id"]
        for r in await conn.fetch("SELECT id, username FROM users WHERE username = ANY($1::text[])", usernames)
    }
    missing = [r for r in rows if r[0] not in have]
    if missing:
        password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
        await conn.executemany(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "VALUES ($1, $2, $3, $4, $5, true, 1) ON CONFLICT (username) DO NOTHING",
            [(u, name, password_hash, Role.assistance_cadre.value, code) for u, name, code in missing],
        )
        have = {
            r["username"]: r["id"]
            for r in await conn.fetch("SELECT id, username FROM users WHERE username = ANY($1::text[])", usernames)
        }
    out: dict[str, list[int]] = {v.code: [] for v in villages}
    for username, _name, code in rows:
        out[code].append(have[username])
    return out


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
    conn = await asyncpg.connect(
        asyncpg_dsn(url),
        server_settings={
            "application_name": "guardline-demo",
            "timezone": "Asia/Shanghai",
        },
    )
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
            indexes, constraints = await _drop_secondary(conn, LOADED_TABLES)
            # The statistics' running counts are computed once after the load, not per row.
            await conn.execute("ALTER TABLE monitoring_cases DISABLE TRIGGER monitoring_cases_count")
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
            source = (_worker_chunks if parallel else _local_chunks)(params, plans)
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
            await _restore_secondary(conn, indexes, constraints)
            for sql in REBUILD_SQL:
                await conn.execute(sql)
            await conn.execute("ALTER TABLE monitoring_cases ENABLE TRIGGER monitoring_cases_count")
            for table in SERIAL_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        say(Step("commit", f"committed  {elapsed()}"))
        await conn.execute(f"ANALYZE {', '.join(LOADED_TABLES)}, monitoring_case_counts")
        say(Step("analyse", f"analysed  {elapsed()}"))
        from services.demo.funds import load_funds

        funds = await load_funds(conn, villages[0].code[:6], day, seed)  # the demo is one county
        counts.update(funds)
        say(
            Step(
                "funds",
                f"fund year: {funds['funds']} funds, {funds['projects']} projects, "
                f"{funds['fund_disbursements']} payments, {funds['project_assets']} assets  {elapsed()}",
            )
        )
    finally:
        await conn.close()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


# ---- demo users ----------------------------------------------------------------------------

DEMO_LEVELS = (
    ("county", "529901", "清溪县"),
    ("township", "529901001", "石门镇"),
    ("village", "529901001001", "白岩村"),
)
ROLE_NAMES = {
    "grid_worker": "网格员",
    "assistance_cadre": "帮扶责任人",
    "village_staff": "村干部",
    "township_staff": "乡镇工作人员",
    "county_staff": "县乡村振兴局工作人员",
    "county_approver": "县级审批人",
    "department_system": "部门系统",
    "auditor": "审计人员",
    "admin": "系统管理员",
}


async def create_demo_users(session, settings: Settings) -> list[dict]:
    """One user per role at county, township and village level (``<role>.<level>``), all
    with the published demo password. Upserts by username; flushes, does not commit."""
    from sqlalchemy import func
    from sqlalchemy.dialects.postgresql import insert

    from services.core.accounts.models import User
    from services.core.accounts.roles import Role
    from services.core.accounts.security import hash_password
    from services.core.base import table_of

    if not settings.demo_allowed:
        raise RuntimeError("demo users are refused in production")
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
    users = []
    for role in Role:
        for level, prefix, place in DEMO_LEVELS:
            users.append(
                {
                    "username": f"{role.value}.{level}",
                    "display_name": f"演示{ROLE_NAMES.get(role.value, role.value)}（{place}）",
                    "role": role.value,
                    "region_prefix": prefix,
                }
            )
    table = table_of(User)
    stmt = insert(table).values([{**u, "password_hash": password_hash, "active": True, "version": 1} for u in users])
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.username],
        set_={
            "display_name": stmt.excluded.display_name,
            "password_hash": stmt.excluded.password_hash,
            "role": stmt.excluded.role,
            "region_prefix": stmt.excluded.region_prefix,
            "active": True,
            "version": table.c.version + 1,
            "updated_at": func.now(),
        },
    )
    await session.execute(stmt)
    return users


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    raise SystemExit(_worker_main())
