"""The sync worker checks the project assets once a day."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from services.core.funds.models import Asset, FundFinding
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.timeutil import today
from services.worker.worker import daily_asset_checks
from tests.api.asset_helpers import add_project
from tests.factories import VILLAGE


async def _findings(db) -> list[tuple[str, int]]:
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        return [(f.rule_id.value, f.asset_id) for f in (await session.execute(select(FundFinding))).scalars()]
    finally:
        await session.close()


async def test_once_a_day_and_only_once(db):
    from datetime import timedelta
    from decimal import Decimal

    project_id = await add_project(db, VILLAGE)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    asset = Asset(
        project_id=project_id,
        region_code=VILLAGE,
        name="公厕",
        asset_class="public_welfare",
        value=Decimal("90000.00"),
        owner="白岩村村民委员会",
        custodian=None,
        handover_on=today() - timedelta(days=30),
        status="in_use",
    )
    session.add(asset)
    await session.commit()
    await session.close()
    ctx = SimpleNamespace(db=db)

    assert await daily_asset_checks(ctx, None) == today()
    assert await _findings(db) == [("public_asset_no_custodian", asset.id)]
    # Later the same day: nothing is scanned (a finding removed by hand stays removed).
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    await session.execute(FundFinding.__table__.delete())
    await session.commit()
    await session.close()
    assert await daily_asset_checks(ctx, today()) == today()
    assert await _findings(db) == []


async def test_a_failed_check_is_tried_again(db):
    class Broken:
        def session(self):
            raise OSError("database down")

    yesterday = today().replace(day=1) if today().day != 1 else None
    assert await daily_asset_checks(SimpleNamespace(db=Broken()), yesterday) == yesterday


async def test_a_failed_day_is_tried_again_and_leaves_nothing_half_done(db, caplog):
    """A job that fails after writing is rolled back, logged, and its day is not marked
    done (``_once_a_day`` returns the previous day), so the next loop tries it again."""
    from datetime import timedelta

    from services.worker.worker import _once_a_day

    project_id = await add_project(db, VILLAGE)
    yesterday = today() - timedelta(days=1)

    async def job(session, day):
        session.add(
            Asset(
                project_id=project_id,
                region_code=VILLAGE,
                name="半途而废",
                asset_class="public_welfare",
                value="1.00",
                owner="白岩村村民委员会",
                handover_on=day,
                status="in_use",
            )
        )
        await session.flush()
        raise RuntimeError("the job broke half-way")

    assert await _once_a_day(SimpleNamespace(db=db), yesterday, "a test job", job) == yesterday
    assert "a test job failed; trying again" in caplog.text
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        assert (await session.execute(select(Asset).where(Asset.name == "半途而废"))).first() is None
    finally:
        await session.close()
