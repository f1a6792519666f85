"""The demo loader and the region importer against a real database.

``load_demo`` commits and truncates, so it runs on a database of its own on the same server
(``guardline_test_demo``), created and migrated here and dropped at the end of the module.
Every test loads what it needs itself, so the tests do not depend on their order.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core.accounts.models import User
from services.core.crypto import key_id_of, keyring
from services.core.db import Database, asyncpg_dsn, create_engine
from services.core.households.enums import Category
from services.core.households.models import Household
from services.core.households.sensitive import health_json, open_id_number
from services.core.idnumber import keyed_hash, mask, normalise
from services.core.models import metadata
from services.core.monitoring import cases as case_service
from services.core.monitoring.context import load_policy_context
from services.core.regions.importer import DEMO_REGIONS_CSV, import_regions_csv, parse_regions_csv
from services.core.regions.models import Region
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.settings import DEMO_PASSWORD, Settings
from services.demo.income import demo_income_line, fen_decimal, income_quarters
from services.demo.layout import COPY_COLUMNS, DEPENDENT_TABLES, LOADED_TABLES, MONITORING_TABLES, SERIAL_TABLES
from services.demo.loader import create_demo_users, demo_villages, load_demo
from services.demo.plan import plan_chunks
from services.demo.setaside import put_back, set_aside
from tests.conftest import scratch_database

DEMO_DB = "guardline_test_demo"
TODAY = date(2025, 10, 15)  # in the past (ID numbers refuse future births); Q1–Q3 ended: 4 + 3 records
SEED = 11
PERSONS = 3_000
CHUNK = 500  # several chunks, so both generator streams (and both worker processes) are used

VILLAGE = "529901001001"  # the village of the demo users *.village
OTHER_VILLAGE = "529901002001"


# ---- the scratch database -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def demo_url(engine: AsyncEngine) -> AsyncIterator[str]:
    """URL of a freshly migrated database next to the test database (embedded or external)."""
    async with scratch_database(engine, DEMO_DB) as url:
        yield url


@pytest.fixture(scope="module")
async def demo_engine(demo_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(demo_url, settings, "tests-demo")
    yield eng
    await eng.dispose()


@pytest.fixture(scope="module")
async def migrated_catalog(demo_engine: AsyncEngine) -> dict:
    """Indexes and constraints as the migrations made them (taken before any load)."""
    return await _catalog(demo_engine)


_INDEXES = """
SELECT c.relname AS tbl, ci.relname AS name, pg_get_indexdef(i.indexrelid) AS ddl, i.indisvalid, i.indisready
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
ORDER BY 1, 2
"""
_CONSTRAINTS = """
SELECT conrelid::regclass::text AS tbl, conname, contype, pg_get_constraintdef(oid) AS ddl, convalidated
FROM pg_constraint
WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


async def _catalog(eng: AsyncEngine) -> dict:
    async with eng.connect() as conn:
        return {
            "indexes": [tuple(r) for r in await conn.execute(text(_INDEXES))],
            "constraints": [tuple(r) for r in await conn.execute(text(_CONSTRAINTS))],
        }


async def _counts(eng: AsyncEngine, tables=LOADED_TABLES + DEPENDENT_TABLES + ("regions", "users")) -> dict:
    async with eng.connect() as conn:
        return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in tables}


ENCRYPTED_COLUMNS = {"id_number_enc", "health_enc"}  # random nonces: compared by what they decrypt to


async def _fingerprint(eng: AsyncEngine, settings: Settings) -> dict[str, str]:
    """md5 of every generated column of every registry row (timestamps that the server
    fills in, such as created_at, are left out), in a fixed order; encrypted columns by
    their plaintext."""
    out = {}
    async with eng.connect() as conn:
        for table in LOADED_TABLES:
            row = "ROW(" + ", ".join(c for c in COPY_COLUMNS[table] if c not in ENCRYPTED_COLUMNS) + ")::text"
            out[table] = (
                await conn.execute(
                    text(
                        f"SELECT count(*) || ':' || coalesce(md5(string_agg({row}, E'\\n' ORDER BY {row})), '') FROM {table}"
                    )
                )
            ).scalar_one()
        ring = keyring(settings)
        plain = hashlib.md5()
        for pid, number, health in await conn.execute(
            text("SELECT id, id_number_enc, health_enc FROM persons ORDER BY id")
        ):
            plain.update(f"{pid}:{open_id_number(ring, number)}:{sorted(health_json(ring, health).items())}\n".encode())
        out["persons (encrypted columns)"] = plain.hexdigest()
    return out


async def _load(url: str, settings: Settings, persons: int = PERSONS, **kw) -> tuple[dict, list[str]]:
    messages: list[str] = []
    kw = {"seed": SEED, "today": TODAY, "chunk_persons": CHUNK, "parallel": False, **kw}
    counts = await load_demo(url, settings, persons=persons, progress=lambda step: messages.append(str(step)), **kw)
    return counts, messages


async def _scalar(eng: AsyncEngine, sql: str, **params):
    async with eng.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def _rows(eng: AsyncEngine, sql: str, **params) -> list:
    async with eng.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql), params)]


# ---- 1. an in-process load ------------------------------------------------------------------


async def test_in_process_load_makes_a_consistent_registry(demo_url, demo_engine, settings, migrated_catalog):
    counts, messages = await _load(demo_url, settings)

    # The counts it reports are what is in the tables.
    in_db = await _counts(demo_engine)
    assert counts["persons"] == in_db["persons"] == PERSONS
    for table in LOADED_TABLES:
        assert counts[table] == in_db[table] > 0, table
    households = in_db["households"]
    assert in_db["memberships"] == PERSONS
    assert in_db["household_events"] == in_db["household_guarantees"] == households
    # The latest quarter whose entry deadline has passed is not yet entered for a few
    # households (services/demo/followup.py): the missing-income list shows them.
    assert 0 < counts["income_not_entered"] < households // 10
    assert in_db["income_records"] == households * sum(income_quarters(TODAY)) - counts["income_not_entered"]
    assert isinstance(counts["seconds"], float)
    # ids are contiguous from 1 (the identities were restarted)
    assert await _scalar(demo_engine, "SELECT min(id) || '-' || max(id) FROM persons") == f"1-{PERSONS}"
    assert await _scalar(demo_engine, "SELECT max(id) FROM households") == households

    # ID numbers are valid, distinct, and their lookup hash is the keyed hash of the number;
    # they are stored encrypted under the active key, with the masked form beside them.
    ring = keyring(settings)
    people = await _rows(demo_engine, "SELECT id_number_enc, id_hash, id_masked, birth_date, sex FROM persons")
    numbers = [open_id_number(ring, p[0]) for p in people]
    assert len(set(numbers)) == PERSONS
    for id_number, (blob, id_hash, masked, born, sex) in zip(numbers, people, strict=True):
        parsed = normalise(id_number)
        assert parsed.value == id_number
        assert (parsed.birth_date, parsed.sex) == (born, sex)
        assert bytes(id_hash) == keyed_hash(id_number, settings.id_hash_key)
        assert masked == mask(id_number) and key_id_of(blob) == ring.active
    dump = await _scalar(demo_engine, "SELECT string_agg(p::text, E'\\n') FROM persons p")
    assert not any(number in dump for number in numbers[:200])
    assert not any(name in dump for name in ("高血压", "糖尿病", "脑梗")), "illness text in clear"

    # Every person lives in a demo village, the village of their household.
    villages = {v.code for v in demo_villages()}
    used = {r[0] for r in await _rows(demo_engine, "SELECT DISTINCT region_code FROM persons")}
    assert used <= villages and len(used) > len(villages) // 2
    assert await _scalar(demo_engine, "SELECT count(*) FROM persons WHERE household_id IS NULL") == 0
    for table in (
        "persons",
        "memberships",
        "household_events",
        "income_records",
        "income_years",
        "household_guarantees",
    ):
        mismatched = await _scalar(
            demo_engine,
            f"""
            SELECT count(*) FROM {table} t JOIN households h ON h.id = t.household_id
            WHERE t.region_code <> h.region_code""",
        )
        assert mismatched == 0, table

    # One head per household; its name and the member count are denormalised correctly.
    bad = await _rows(
        demo_engine,
        """
        SELECT h.id FROM households h LEFT JOIN persons p ON p.household_id = h.id
        GROUP BY h.id, h.head_name, h.member_count
        HAVING count(*) FILTER (WHERE p.relation = 'head') <> 1
            OR count(p.id) <> h.member_count
            OR max(p.name) FILTER (WHERE p.relation = 'head') IS DISTINCT FROM h.head_name""",
    )
    assert bad == []

    # Every index and constraint is back, exactly as the migrations made it, valid.
    after = await _catalog(demo_engine)
    assert after == migrated_catalog
    assert all(valid and ready for *_, valid, ready in after["indexes"])
    assert all(validated for *_, validated in after["constraints"])
    async with demo_engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
        )
    assert diff == [], diff

    # The id sequences continue after the loaded rows: the next ORM insert gets max(id) + 1.
    async with AsyncSession(demo_engine) as session:
        bind_scope(session, UNRESTRICTED)
        h = Household(household_no="TEST-AFTER-LOAD", region_code=VILLAGE, category=Category.ordinary)
        session.add(h)
        await session.flush()
        assert h.id == households + 1
        for table in SERIAL_TABLES:
            top = (await session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))).scalar_one()
            nxt = (await session.execute(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"))).scalar_one()
            assert nxt > top, table
        await session.rollback()

    # ...and enforced: a duplicate household number and a dangling foreign key are refused
    # (checked after the sequences, since a failed INSERT uses up an id).
    async with demo_engine.connect() as conn:
        with pytest.raises(IntegrityError, match="household_no"):
            async with conn.begin():
                await conn.execute(
                    text(
                        "INSERT INTO households (household_no, region_code, category, status, member_count, version) "
                        "SELECT household_no, region_code, category, status, 0, 1 FROM households WHERE id = 1"
                    )
                )
    async with demo_engine.connect() as conn:
        with pytest.raises(IntegrityError, match="foreign key"):
            async with conn.begin():
                await conn.execute(text("UPDATE memberships SET person_id = :pid WHERE id = 1"), {"pid": PERSONS + 100})

    # Monitoring: about one case per 20 persons; every 监测户 has exactly one open identified
    # case (the partial unique index allows one open case of any status), others none.
    assert 0.8 * PERSONS / 20 < in_db["monitoring_cases"] < 1.25 * PERSONS / 20
    wrong = await _rows(
        demo_engine,
        """
        SELECT h.id, h.category, h.previous_category,
               count(c.id) FILTER (WHERE c.status IN ('assisting', 'elimination_verification', 'elimination_review',
                                   'elimination_notice', 'elimination_township_review', 'elimination_approval')),
               max(c.category_before) FILTER (WHERE c.status = 'assisting' OR c.status LIKE 'elimination\\_%')
        FROM households h LEFT JOIN monitoring_cases c ON c.household_id = h.id
        GROUP BY h.id
        HAVING (h.category = 'monitored') <> (count(c.id) FILTER (WHERE c.status IN ('assisting',
                    'elimination_verification', 'elimination_review', 'elimination_notice',
                    'elimination_township_review', 'elimination_approval')) = 1)
            OR (h.category = 'monitored' AND max(c.category_before) FILTER (
                    WHERE c.status = 'assisting' OR c.status LIKE 'elimination\\_%') IS DISTINCT FROM h.previous_category)""",
    )
    assert wrong == []
    assert await _scalar(demo_engine, "SELECT count(*) FROM households WHERE category = 'monitored'") > 0
    for table in MONITORING_TABLES:
        mismatched = (
            await _scalar(
                demo_engine,
                f"""
            SELECT count(*) FROM {table} t JOIN households h ON h.id = t.household_id
            WHERE t.region_code <> h.region_code""",
            )
            if table in ("monitoring_cases", "risk_clues", "assistance_measures", "case_visits")
            else 0
        )
        assert mismatched == 0, table
    # The cadres are demo accounts that may assist, in the case's village.
    cadres = await _rows(
        demo_engine,
        """
        SELECT DISTINCT u.role, u.region_prefix = c.region_code, u.username LIKE 'cadre.' || c.region_code || '.%'
        FROM monitoring_cases c JOIN users u ON u.id = c.cadre_user_id""",
    )
    assert cadres == [("assistance_cadre", True, True)]
    # The demo province's income lines, 2021 to the load's year.
    lines = await _rows(demo_engine, "SELECT year, amount FROM income_lines WHERE province_code = '52' ORDER BY year")
    assert lines == [(y, fen_decimal(demo_income_line(y))) for y in range(2021, TODAY.year + 1)]

    # Progress: the regions, one line per chunk ending with the full count, the commit.
    chunks = len(plan_chunks(PERSONS, seed=SEED, today=TODAY, chunk_persons=CHUNK))
    assert chunks >= 5
    progress = [m for m in messages if m.startswith("persons ")]
    assert len(progress) == chunks
    assert progress[-1].startswith(f"persons {PERSONS:,}/{PERSONS:,} ")
    assert messages[0].startswith("regions: ")
    assert any(m.startswith("committed") for m in messages)


# ---- 2. determinism independent of the process split ---------------------------------------


async def test_parallel_load_gives_the_same_rows_as_in_process(demo_url, demo_engine, settings):
    local_counts, _ = await _load(demo_url, settings, parallel=False)
    local = await _fingerprint(demo_engine, settings)

    parallel_counts, messages = await _load(demo_url, settings, parallel=True)
    assert parallel_counts["persons"] == PERSONS
    assert {t: parallel_counts[t] for t in LOADED_TABLES} == {t: local_counts[t] for t in LOADED_TABLES}
    assert await _fingerprint(demo_engine, settings) == local
    assert messages[-6].startswith("analysed") and messages[-5].startswith("fund year: 6 funds")
    assert messages[-4].startswith("follow-up: ")
    assert parallel_counts["household_cadres"] == local_counts["household_cadres"] > 0
    assert parallel_counts["followup_visits"] == local_counts["followup_visits"] > 0
    assert messages[-3].startswith("field work: ")
    # The demo county's ledgers: entries from the households at risk, three rectifications.
    assert messages[-2].startswith("ledgers: ")
    # Its township reports of the previous month and quarter, as the schedule stores them.
    assert messages[-1].startswith("reports: ")
    assert parallel_counts["generated_reports"] == local_counts["generated_reports"] > 0
    assert parallel_counts["clearing_entries"] == local_counts["clearing_entries"] > 0
    assert parallel_counts["rectifications"] == 3

    # The fingerprint does see a difference: another seed gives other rows.
    await _load(demo_url, settings, persons=PERSONS, seed=SEED + 1)
    other = await _fingerprint(demo_engine, settings)
    assert other["persons"] != local["persons"] and other["households"] != local["households"]
    assert other["monitoring_cases"] != local["monitoring_cases"]


# ---- 3. reloading ----------------------------------------------------------------------------


async def test_reload_replaces_the_registry_and_keeps_users_and_regions(demo_url, demo_engine, settings):
    await _load(demo_url, settings)
    # Something of our own in every kind of table the reload must keep or clear.
    async with demo_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_code) "
                "VALUES ('529901001099', '自建村', 5, '529901001000') ON CONFLICT DO NOTHING"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
                "VALUES ('kept.user', 'kept', 'x', 'county_staff', '529901', true, 1) ON CONFLICT DO NOTHING"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO households (household_no, region_code, category, status, member_count, version) "
                "VALUES ('LEFTOVER', '529901001099', 'ordinary', 'active', 0, 1)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO guarantee_changes (household_id, region_code, item, old_status, new_status) "
                "SELECT household_id, region_code, 'water', water, 'secure' FROM household_guarantees "
                "WHERE household_id = 1"
            )
        )
    before = await _counts(demo_engine)

    smaller = 1_234
    counts, _ = await _load(demo_url, settings, persons=smaller, seed=SEED + 2)
    after = await _counts(demo_engine)
    assert counts["persons"] == after["persons"] == smaller
    assert {t: after[t] for t in LOADED_TABLES} == {t: counts[t] for t in LOADED_TABLES}
    assert after["monitoring_cases"] < before["monitoring_cases"]
    assert after["households"] < before["households"]
    assert await _scalar(demo_engine, "SELECT max(id) FROM persons") == smaller
    assert await _scalar(demo_engine, "SELECT count(*) FROM households WHERE household_no = 'LEFTOVER'") == 0
    assert before["guarantee_changes"] == 1
    assert before["events"] >= 1  # the leftover household's
    for table in DEPENDENT_TABLES:
        assert after[table] == 0
    # The load switched the event triggers off for its rows, and on again.
    assert (
        await _scalar(demo_engine, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'events_%' AND tgenabled <> 'O'")
        == 0
    )
    # Users and regions are untouched, our own ones included.
    assert (after["users"], after["regions"]) == (before["users"], before["regions"])
    assert await _scalar(demo_engine, "SELECT name FROM regions WHERE code = '529901001099'") == "自建村"
    assert await _scalar(demo_engine, "SELECT role FROM users WHERE username = 'kept.user'") == "county_staff"

    # Zero persons empties the registry and its monitoring.
    counts, _ = await _load(demo_url, settings, persons=0)
    assert all(counts[t] == 0 for t in LOADED_TABLES)
    assert all(n == 0 for t, n in (await _counts(demo_engine)).items() if t in LOADED_TABLES)


# ---- 4. the API on a loaded county -----------------------------------------------------------


async def test_demo_users_can_use_the_api_on_the_loaded_county(demo_url, demo_engine, settings):
    await _load(demo_url, settings)
    db = Database(create_engine(demo_url, settings, "tests-demo-api"))
    try:
        async with db.session() as session:
            bind_scope(session, UNRESTRICTED)
            users = await create_demo_users(session, settings)
            await session.commit()
        assert {u["username"] for u in users} >= {"county_staff.county", "village_staff.village"}
        async with db.session() as session:
            bind_scope(session, UNRESTRICTED)
            stored = (
                await session.execute(
                    select(User.role, User.region_prefix).where(User.username == "village_staff.village")
                )
            ).one()
        assert tuple(stored) == ("village_staff", VILLAGE)

        own = await _rows(
            demo_engine, "SELECT id, household_no FROM households WHERE region_code = :r ORDER BY id LIMIT 1", r=VILLAGE
        )
        other = await _rows(
            demo_engine,
            "SELECT id, household_no FROM households WHERE region_code = :r ORDER BY id LIMIT 1",
            r=OTHER_VILLAGE,
        )
        assert own and other, "the demo load should reach both villages"
        (own_id, own_no), (other_id, other_no) = own[0], other[0]
        person_id, blob = (
            await _rows(
                demo_engine,
                "SELECT id, id_number_enc FROM persons WHERE household_id = :h ORDER BY id LIMIT 1",
                h=other_id,
            )
        )[0]
        id_number = open_id_number(keyring(settings), blob)

        app = create_app(settings, database=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def login(username: str) -> dict[str, str]:
                r = await client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
                assert r.status_code == 200, r.text
                return {"Authorization": f"Bearer {r.json()['access_token']}"}

            wrong = await client.post(
                "/api/v1/auth/token", data={"username": "county_staff.county", "password": DEMO_PASSWORD + "x"}
            )
            assert wrong.status_code == 401

            county = await login("county_staff.county")
            r = await client.get(f"/api/v1/households/{other_id}", headers=county)
            assert r.status_code == 200, r.text
            assert (r.json()["id"], r.json()["household_no"], r.json()["region_code"]) == (
                other_id,
                other_no,
                OTHER_VILLAGE,
            )

            r = await client.post("/api/v1/persons/lookup", json={"id_number": id_number}, headers=county)
            assert r.status_code == 200, r.text
            assert r.json()["id"] == person_id

            # The follow-up of the demo county (services/demo/followup.py): some scheduled visits
            # were missed, and the income flags find households under the watch line.
            r = await client.get("/api/v1/follow-up/overdue", params={"as_of": str(TODAY)}, headers=county)
            assert r.status_code == 200 and r.json()["items"], r.text
            assert all(i["cadre_user_id"] for i in r.json()["items"])
            r = await client.get("/api/v1/follow-up/income-missing", params={"as_of": str(TODAY)}, headers=county)
            assert r.status_code == 200 and r.json()["items"], r.text
            r = await client.get(
                "/api/v1/follow-up/income-flags", params={"year": TODAY.year - 1, "quarter": 4}, headers=county
            )
            assert r.status_code == 200 and r.json()["items"], r.text

            village = await login("village_staff.village")
            r = await client.get(f"/api/v1/households/{other_id}", headers=village)
            assert r.status_code == 404, r.text
            r = await client.get(f"/api/v1/households/{own_id}", headers=village)
            assert r.status_code == 200, r.text
            assert (r.json()["household_no"], r.json()["region_code"]) == (own_no, VILLAGE)
            r = await client.post("/api/v1/persons/lookup", json={"id_number": id_number}, headers=village)
            assert r.status_code == 404

            # Monitoring: the overdue list of the load's day, nearest first, the village's own only.
            r = await client.get(
                "/api/v1/monitoring-cases/overdue",
                params={"as_of": TODAY.isoformat(), "within_days": 7, "limit": 200},
                headers=county,
            )
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert items and any(i["days_late"] > 0 for i in items) and any(i["days_late"] <= 0 for i in items)
            assert [(i["due"], i["subject"], i["id"]) for i in items] == sorted(
                (i["due"], i["subject"], i["id"]) for i in items
            )
            assert {i["subject"] for i in items} == {"case", "clue"}
            r = await client.get(
                "/api/v1/monitoring-cases/overdue",
                params={"as_of": TODAY.isoformat(), "within_days": 31, "limit": 200},
                headers=village,
            )
            assert r.status_code == 200, r.text
            assert r.json()["items"] and {i["region_code"] for i in r.json()["items"]} == {VILLAGE}
            case_id = next(i["id"] for i in items if i["subject"] == "case")
            r = await client.get(f"/api/v1/monitoring-cases/{case_id}", headers=county)
            assert r.status_code == 200, r.text
            r = await client.get(f"/api/v1/monitoring-cases/{case_id}/transitions", headers=county)
            assert r.status_code == 200 and r.json()["items"][0]["action"] == "open", r.text

        # The stored deadlines are what the API computes: recomputing them changes nothing.
        async with db.session() as session:
            bind_scope(session, UNRESTRICTED)
            assert await case_service.refresh_deadlines(session, await load_policy_context(session), "529901") == 0
            await session.rollback()
    finally:
        await db.dispose()


# ---- 5. production ---------------------------------------------------------------------------


async def test_a_row_breaking_a_set_aside_foreign_key_fails_the_write_and_changes_nothing(
    demo_url, demo_engine, settings, migrated_catalog
):
    """``setaside``: the foreign keys put back check the rows written meanwhile, and a row
    that breaks one fails the transaction, which restores the indexes and constraints too."""
    await _load(demo_url, settings, persons=400)
    before = await _scalar(demo_engine, "SELECT count(*) FROM household_cadres")
    conn = await asyncpg.connect(asyncpg_dsn(demo_url))
    try:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="household_id"):
            async with conn.transaction():
                aside = await set_aside(conn, ("household_cadres",), keep={"uq_household_cadres_current"})
                assert {name for name, _ in aside[0]} == {
                    "public.ix_household_cadres_household_id_from_on",
                    "public.ix_household_cadres_cadre_current",
                }
                assert {c[2] for c in aside[1]} == {
                    "fk_household_cadres_household_id_households",
                    "fk_household_cadres_cadre_user_id_users",
                }
                cadre = await conn.fetchval("SELECT min(id) FROM users")
                await conn.execute(
                    "INSERT INTO household_cadres (household_id, region_code, cadre_user_id, from_on, note) "
                    "VALUES (-1, $1, $2, current_date, 'no such household')",
                    VILLAGE,
                    cadre,
                )
                await put_back(conn, aside)
    finally:
        await conn.close()
    assert await _scalar(demo_engine, "SELECT count(*) FROM household_cadres") == before
    assert await _catalog(demo_engine) == migrated_catalog


async def test_production_refuses_and_leaves_the_data_alone(demo_url, demo_engine, settings):
    await _load(demo_url, settings, persons=400)
    before = (await _counts(demo_engine), await _fingerprint(demo_engine, settings))
    production = Settings(
        env="production",
        data_dir=settings.data_dir,
        database_url=None,
        auth={"secret_key": "s" * 40},
        data_protection={
            "id_hash_key": "h" * 40,
            "active_key": "k1",
            "encryption_keys": {"k1": "cHJpdmF0ZS10ZXN0LWtleS1ub3QtdGhlLWRlbW8tMDE="},
        },
    )
    assert not production.demo_allowed

    with pytest.raises(RuntimeError, match="production"):
        await load_demo(demo_url, production, persons=10, today=TODAY, progress=None)
    with pytest.raises(RuntimeError, match="production"):
        await load_demo(demo_url, production, persons=10, today=TODAY, progress=None, parallel=True)
    async with AsyncSession(demo_engine) as session:
        bind_scope(session, UNRESTRICTED)
        with pytest.raises(RuntimeError, match="production"):
            await create_demo_users(session, production)
        await session.rollback()

    assert (await _counts(demo_engine), await _fingerprint(demo_engine, settings)) == before


# ---- 6. region import ------------------------------------------------------------------------


@pytest.fixture
async def empty_regions(demo_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the scratch database with no regions (nor anything that refers to
    them), all rolled back afterwards."""
    async with demo_engine.connect() as conn:
        outer = await conn.begin()
        try:
            await conn.execute(text("TRUNCATE regions CASCADE"))
            session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint", autoflush=False)
            bind_scope(session, UNRESTRICTED)
            try:
                yield session
            finally:
                await session.close()
        finally:
            await outer.rollback()


async def _stored_regions(session: AsyncSession) -> dict[str, tuple[str, int, str | None]]:
    rows = await session.execute(select(Region.code, Region.name, Region.level, Region.parent_code))
    return {code: (name, level, parent) for code, name, level, parent in rows}


async def test_importing_the_demo_regions_twice(empty_regions):
    session = empty_regions
    rows, _ = parse_regions_csv(DEMO_REGIONS_CSV.read_text(encoding="utf-8"))
    n = len(rows)
    assert n == 27

    first = await import_regions_csv(session, DEMO_REGIONS_CSV)
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (n, 0, 0, [])
    stored = await _stored_regions(session)
    assert stored == {r.code: (r.name, r.level, r.parent_code) for r in rows}

    again = await import_regions_csv(session, DEMO_REGIONS_CSV)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, n, [])
    assert await _stored_regions(session) == stored


async def test_importing_a_changed_name_updates_one_region(empty_regions):
    session = empty_regions
    await import_regions_csv(session, DEMO_REGIONS_CSV)
    changed = DEMO_REGIONS_CSV.read_text(encoding="utf-8").replace("529901001003,杉木村", "529901001003,杉木新村")
    report = await import_regions_csv(session, changed)
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (0, 1, 26, [])
    stored = await _stored_regions(session)
    assert stored["529901001003"] == ("杉木新村", 5, "529901001000")
    assert stored["529901001004"][0] == "大坪村"


async def test_bad_rows_are_rejected_with_a_reason_and_good_rows_stored(empty_regions):
    session = empty_regions
    await import_regions_csv(session, DEMO_REGIONS_CSV)
    csv_text = (
        "code,name\n"
        "529901001006,新建村\n"  # line 2: good, parent in the database
        "52990100100X,坏码村\n"  # line 3: malformed code
        "529901009001,无乡村\n"  # line 4: parent 529901009000 is nowhere
        "529901005000,新设镇\n"  # line 5: good, parent (the county) in the database
        "529901005001,新设村\n"  # line 6: good, parent is line 5 of this file
    )
    report = await import_regions_csv(session, csv_text)
    assert (report.inserted, report.updated, report.unchanged) == (3, 0, 0)
    reasons = {line: (code, reason) for line, code, reason in report.rejected}
    assert set(reasons) == {3, 4}
    assert reasons[3][0] == "52990100100X" and "12 digits" in reasons[3][1]
    assert reasons[4] == ("529901009001", "parent region 529901009000 is not in the database or the file")

    stored = await _stored_regions(session)
    assert stored["529901001006"] == ("新建村", 5, "529901001000")
    assert stored["529901005000"] == ("新设镇", 4, "529901000000")
    assert stored["529901005001"] == ("新设村", 5, "529901005000")
    assert "529901009001" not in stored and "52990100100X" not in stored
    assert len(stored) == 27 + 3
