"""Guardline reads what Guardline writes: for each department, the simulator's spreadsheet
export (CSV and XLSX) of a county, imported with the real import, lands exactly as the same
data pulled over HTTP — the same staged records, the same quarantine, the same findings —
and a clean department's file quarantines nothing.

The simulators serve a demo county from a scratch database (in-process, on free ports);
the export is the one ``guardline simulate --export`` writes (``simulators.export``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from services.core.crypto import keyring
from services.core.db import Database, asyncpg_dsn, create_engine
from services.core.sync.config import builtin_sources_on, parse_sources
from services.core.sync.rosters import declare
from services.simulators.app import create_app
from services.simulators.config import Problems, SimConfig
from services.simulators.export import export
from services.simulators.records import Deriver
from services.simulators.registry import Registry
from services.worker.worker import Session, import_file, run_now
from tests.conftest import scratch_database
from tests.simulators.conftest import CLEAN, TODAY, serving
from tests.sync.conftest import SYNC_TABLES

PERSONS = 1200
COUNTY = "529901"
KINDS = ("civil-affairs", "medical-insurance", "education", "housing")


@pytest.fixture(scope="module")
async def world(engine, settings) -> AsyncIterator[str]:
    from services.demo.loader import load_demo

    async with scratch_database(engine, "guardline_roundtrip") as url:
        await load_demo(url, settings, persons=PERSONS, progress=None, parallel=False)
        yield url


async def _reset(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(f"TRUNCATE {SYNC_TABLES} RESTART IDENTITY CASCADE")
        await conn.execute("DELETE FROM clue_reports WHERE source LIKE 'sync:%'")
        await conn.execute(
            "DELETE FROM risk_clues c WHERE NOT EXISTS (SELECT 1 FROM clue_reports r "
            "WHERE r.clue_id = c.id) AND c.case_id IS NULL"
        )
    finally:
        await conn.close()


def _comparable(finding: tuple) -> tuple:
    """What differs between a pull and a file by nature is left out: an ``id_number_invalid``
    finding is named by its quarantine key (the payload's hash) and says where the record
    was (a page or a spreadsheet row), so it is compared by what it says about the record;
    a roster rule's finding names the roster's file (none for a pull)."""
    fingerprint, rule_id, severity, status, values, records = finding
    if rule_id == "id_number_invalid":
        said = {k: v for k, v in json.loads(values).items() if k != "location"}
        return ("id_number_invalid:" + records, rule_id, severity, status, json.dumps(said, sort_keys=True), records)
    if rule_id in ("missing_from_insurance_roster", "missing_from_school_roster"):
        said = {k: v for k, v in json.loads(values).items() if k != "roster_file"}
        return (fingerprint, rule_id, severity, status, json.dumps(said, sort_keys=True), records)
    return finding


async def _landed(url: str, source: str) -> dict:
    """What a run of ``source`` left, by external key (payload hashes differ by nature: a
    file's columns are not the API's names)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        records = {
            r["external_key"]: (r["record_type"], r["id_masked"], r["name"], r["birth_date"], r["data"])
            for r in await conn.fetch(
                "SELECT external_key, record_type, id_masked, name, birth_date, "
                "data::text FROM dept_records WHERE source = $1",
                source,
            )
        }
        quarantine = sorted(
            (r["external_key"] or "", r["reason"], r["field"] or "")
            for r in await conn.fetch(
                "SELECT external_key, reason, field FROM sync_quarantine WHERE source = $1", source
            )
        )
        findings = sorted(
            _comparable(tuple(r))
            for r in await conn.fetch(
                "SELECT fingerprint, rule_id, severity::text, status::text, values::text, records::text "
                "FROM sync_findings WHERE source = $1",
                source,
            )
        )
        run = await conn.fetchrow(
            "SELECT status, error_code, fetched, quarantined, roster_period, roster_region "
            "FROM sync_runs WHERE source = $1 "
            "ORDER BY id DESC LIMIT 1",
            source,
        )
        return {"records": records, "quarantine": quarantine, "findings": findings, "run": dict(run)}
    finally:
        await conn.close()


@asynccontextmanager
async def department(url: str, settings, kind: str, problems: Problems):
    config = SimConfig(kind, today=TODAY, problems=replace(problems))
    with serving(create_app(config, settings, url)) as base:
        local = settings.model_copy(
            update={"database_url": url, "sync": settings.sync.model_copy(update={"prepare_processes": 0})}
        )
        session = await Session.open(local)
        session.ctx.sources = parse_sources(builtin_sources_on({kind: urlsplit(base).port}))
        try:
            yield session, config
        finally:
            await session.close()


async def _export(url: str, settings, config: SimConfig, target: Path) -> int:
    db = Database(create_engine(url, settings, "tests-export"), read_pool_size=1)
    try:
        registry = Registry(db, keyring(settings))
        return await export(registry, Deriver(config, await registry.county_name(COUNTY)), COUNTY, target)
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("problems", ["clean", "as_served"])
async def test_an_exported_file_imports_as_the_pull_lands(world, settings, tmp_path, kind, problems):
    rates = CLEAN if problems == "clean" else Problems()
    async with department(world, settings, kind, rates) as (session, config):
        source = session.source(kind)
        await _reset(world)
        pulled = await run_now(session, source, COUNTY, lambda r: None)
        assert pulled["status"] == "succeeded", pulled["error"]
        over_http = await _landed(world, kind)
        assert over_http["records"] and over_http["findings"]

        suffixes = (".csv", ".xlsx") if problems == "clean" else (".csv",)
        for suffix in suffixes:
            target = tmp_path / f"{kind}{suffix}"
            count = await _export(world, settings, config, target)
            await _reset(world)
            # A pull of a roster source declares its roster; the file says so on import
            # (``guardline sync import --roster``), as docs/rosters.md tells.
            roster = None
            if over_http["run"]["roster_period"]:
                roster = declare(
                    source.kind, COUNTY, over_http["run"]["roster_period"], over_http["run"]["roster_region"]
                )
            run = await import_file(session, source, COUNTY, target, lambda r: None, roster)
            assert run["status"] == "succeeded", (suffix, run["error_code"], run["error"])
            from_file = await _landed(world, kind)
            assert from_file["run"]["fetched"] == count == over_http["run"]["fetched"]
            if problems == "clean":
                assert from_file["quarantine"] == [] and from_file["run"]["quarantined"] == 0, suffix
            assert from_file["quarantine"] == over_http["quarantine"], suffix
            assert from_file["records"] == over_http["records"], suffix
            assert from_file["findings"] == over_http["findings"], suffix
