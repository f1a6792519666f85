"""``guardline funds scan`` as an operator runs it (e.g. nightly from cron), on a database
whose rows are really committed (a scratch database, dropped afterwards)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.funds.models import Asset, FundFinding, Project
from services.core.regions.models import Region
from services.core.regions.rules import level_of, parent_of
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.timeutil import today as china_today
from tests.cli import committed_engine, needs_embedded_server, run_guardline

SCRATCH = "guardline_funds_cli"
VILLAGE = "529901001001"

pytestmark = needs_embedded_server


@pytest.fixture
async def committed(engine, settings):
    async with committed_engine(engine, settings, SCRATCH) as eng:
        yield eng


async def _seed(eng) -> int:
    """An operating asset handed over a year ago that never earned anything."""
    async with AsyncSession(eng, expire_on_commit=False) as session:
        bind_scope(session, UNRESTRICTED)
        for code in ("520000000000", "529900000000", "529901000000", "529901001000", VILLAGE):
            session.add(Region(code=code, name=code, level=int(level_of(code)), parent_code=parent_of(code)))
            await session.flush()
        day = china_today() - timedelta(days=400)
        project = Project(
            year=day.year,
            name="光伏",
            category="industry",
            region_code=VILLAGE,
            implementing_unit="县乡村振兴局",
            budget=Decimal("100.00"),
            planned_start=day,
            planned_end=day,
            status="accepted",
            proposed_on=day,
            accepted_on=day,
        )
        session.add(project)
        await session.flush()
        asset = Asset(
            project_id=project.id,
            region_code=VILLAGE,
            name="光伏电站",
            asset_class="operating",
            value=Decimal("100.00"),
            owner="村集体",
            custodian="村委会",
            handover_on=day + timedelta(days=1),
        )
        session.add(asset)
        await session.commit()
        return asset.id


async def test_scan_from_the_command_line(committed, settings):
    asset_id = await _seed(committed)
    done = await asyncio.to_thread(run_guardline, settings, SCRATCH, "funds", "scan", "--region", "529901")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["region"] == "529901"
    assert report["rules"]["idle_operating_asset"] == {"found": 1, "new": 1, "resolved": 0}
    async with AsyncSession(committed) as session:
        bind_scope(session, UNRESTRICTED)
        finding = (await session.execute(select(FundFinding).where(FundFinding.asset_id == asset_id))).scalar_one()
        assert finding.status == "open" and finding.rule_id == "idle_operating_asset"
    # judged as of the handover day, nothing is idle yet: the finding is resolved
    early = (china_today() - timedelta(days=399)).isoformat()
    done = await asyncio.to_thread(run_guardline, settings, SCRATCH, "funds", "scan", "--as-of", early)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["rules"]["idle_operating_asset"]["resolved"] == 1
    bad = await asyncio.to_thread(run_guardline, settings, SCRATCH, "funds", "scan", "--region", "5299011")
    assert bad.returncode == 2 and "region prefix" in bad.stderr
