"""The registry checks as they are run: by the sync worker once a day per county, and by
``guardline sync check-registry`` (a real process on a scratch database whose rows are
committed, dropped afterwards)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import idnumber
from services.core.households.models import Household, Person
from services.core.regions.models import Region
from services.core.regions.rules import level_of, parent_of
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.sync.models import Finding
from services.core.timeutil import today
from services.worker.worker import daily_registry_checks
from tests.cli import committed_engine, needs_embedded_server, run_guardline
from tests.factories import COUNTY, VILLAGE, id_number, person

SCRATCH = "guardline_registry_cli"


async def _rows(db, statement: str) -> list:
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        return list(await session.execute(text(statement)))
    finally:
        await session.close()


async def test_the_worker_checks_each_county_once_a_day(db, client, auth, settings):
    r = await client.post(
        "/api/v1/households",
        headers=auth("county_staff.county"),
        json={
            "region_code": VILLAGE,
            "category": "lifted_out",
            "members": [person("head", name="甲"), person("spouse", name="乙", male=True)],
        },
    )
    assert r.status_code == 201, r.text
    ctx = SimpleNamespace(db=db, settings=settings)

    assert await daily_registry_checks(ctx, None, "worker-1") == today()
    runs = await _rows(
        db, "SELECT source, county, trigger, status, worker, findings_open FROM sync_runs WHERE source = 'registry'"
    )
    assert [tuple(x) for x in runs] == [("registry", COUNTY, "schedule", "succeeded", "worker-1", 1)]
    findings = await _rows(db, "SELECT rule_id, household_id FROM sync_findings WHERE source = 'registry'")
    assert [tuple(x) for x in findings] == [("head_spouse_same_sex", r.json()["id"])]

    # Another worker the same day finds the county checked: no second run.
    assert await daily_registry_checks(ctx, None, "worker-2") == today()
    # Later the same day this worker does not even look.
    assert await daily_registry_checks(ctx, today(), "worker-1") == today()
    assert len(await _rows(db, "SELECT id FROM sync_runs WHERE source = 'registry'")) == 1


async def test_a_failed_check_is_tried_again(settings):
    class Broken:
        def session(self):
            raise OSError("database down")

    yesterday = date.fromordinal(today().toordinal() - 1)
    assert await daily_registry_checks(SimpleNamespace(db=Broken(), settings=settings), yesterday) == yesterday


# ---- the command line ------------------------------------------------------------------------


@pytest.fixture
async def committed(engine, settings):
    async with committed_engine(engine, settings, SCRATCH) as eng:
        yield eng


async def _seed(eng, settings) -> int:
    """A household whose head and spouse are both men (entered before the API checked)."""
    key = settings.data_protection.id_hash_key.get_secret_value().encode()
    async with AsyncSession(eng, expire_on_commit=False) as session:
        bind_scope(session, UNRESTRICTED)
        for code in ("520000000000", "529900000000", "529901000000", "529901001000", VILLAGE):
            session.add(Region(code=code, name=code, level=int(level_of(code)), parent_code=parent_of(code)))
            await session.flush()
        home = Household(household_no="H-1", region_code=VILLAGE, category="lifted_out", member_count=2)
        session.add(home)
        await session.flush()
        for relation in ("head", "spouse"):
            number = id_number(date(1970, 1, 1), male=True)
            session.add(
                Person(
                    id_number_enc=b"not used here",
                    id_hash=idnumber.keyed_hash(number, key),
                    id_masked=idnumber.mask(number),
                    name=relation,
                    sex="male",
                    birth_date=date(1970, 1, 1),
                    household_id=home.id,
                    region_code=VILLAGE,
                    relation=relation,
                    labour_capacity="ordinary",
                )
            )
        await session.commit()
        return home.id


@needs_embedded_server
async def test_check_registry_from_the_command_line(committed, settings):
    household_id = await _seed(committed, settings)
    done = await asyncio.to_thread(run_guardline, settings, SCRATCH, "sync", "check-registry", "--county", COUNTY)
    assert done.returncode == 0, done.stderr
    [county] = json.loads(done.stdout.strip().splitlines()[-1])["counties"]
    assert (county["county"], county["findings_opened"], county["findings_resolved"], county["findings_open"]) == (
        COUNTY,
        1,
        0,
        1,
    )
    assert county["rules"]["head_spouse_same_sex"] == 1 and county["rules"]["phone_invalid"] == 0
    async with AsyncSession(committed) as session:
        bind_scope(session, UNRESTRICTED)
        finding = (await session.execute(select(Finding))).scalar_one()
        assert (finding.rule_id, finding.source, finding.household_id, finding.last_run_id) == (
            "head_spouse_same_sex",
            "registry",
            household_id,
            county["run_id"],
        )
        trigger = (
            await session.execute(text("SELECT trigger FROM sync_runs WHERE id = :id"), {"id": county["run_id"]})
        ).scalar_one()
        assert trigger == "manual"
        await session.execute(text("UPDATE persons SET relation = 'child' WHERE relation = 'spouse'"))
        await session.commit()
    # Without --county: every county with households; the mended household resolves.
    again = await asyncio.to_thread(run_guardline, settings, SCRATCH, "sync", "check-registry")
    assert again.returncode == 0, again.stderr
    [county] = json.loads(again.stdout.strip().splitlines()[-1])["counties"]
    assert (county["county"], county["findings_resolved"], county["findings_open"]) == (COUNTY, 1, 0)
    bad = await asyncio.to_thread(run_guardline, settings, SCRATCH, "sync", "check-registry", "--county", "5299")
    assert bad.returncode == 2 and "6-digit" in bad.stderr
    # `sync status` shows each county's last check.
    status = await asyncio.to_thread(run_guardline, settings, SCRATCH, "sync", "status")
    assert status.returncode == 0, status.stderr
    [last] = json.loads(status.stdout.strip().splitlines()[-1])["registry_checks"]
    assert (last["id"], last["county"], last["status"], last["findings_open"]) == (
        county["run_id"],
        COUNTY,
        "succeeded",
        0,
    )
