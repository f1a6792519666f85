"""Helpers of the asset tests: projects written straight to the database (the project
library's own API is tested elsewhere), and objects to aim asset requests at."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.core.funds.enums import ProjectCategory, ProjectStatus
from services.core.timeutil import today as china_today


async def add_project(
    db, village: str, status: ProjectStatus = ProjectStatus.accepted, accepted_on: date | None = None, **kw
) -> int:
    """A project of ``village`` at ``status`` (accepted 400 days ago by default); its id."""
    from services.core.funds.models import Project
    from services.core.scope import UNRESTRICTED, bind_scope

    start = china_today() - timedelta(days=700)
    accepted = accepted_on or china_today() - timedelta(days=400)
    done = status in (ProjectStatus.accepted, ProjectStatus.handed_over)
    project = Project(
        year=start.year,
        name=kw.pop("name", "白岩村蔬菜大棚"),
        category=kw.pop("category", ProjectCategory.industry),
        region_code=village,
        implementing_unit="县农业农村局",
        budget=Decimal("500000.00"),
        planned_start=start,
        planned_end=start + timedelta(days=200),
        status=status,
        proposed_on=start,
        reviewed_on=start,
        approved_on=start + timedelta(days=10),
        tendering_on=start + timedelta(days=20),
        started_on=start + timedelta(days=30) if done else None,
        completed_on=accepted - timedelta(days=5) if done else None,
        accepted_on=accepted if done else None,
        handed_over_on=accepted if status == ProjectStatus.handed_over else None,
        **kw,
    )
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        session.add(project)
        await session.commit()
        return project.id
    finally:
        await session.close()


def asset_body(**kw) -> dict:
    body = {
        "name": "蔬菜大棚",
        "asset_class": "operating",
        "value": "320000.00",
        "owner": "白岩村股份经济合作社",
        "custodian": "王管护",
        "handover_on": str(china_today() - timedelta(days=300)),
    }
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


async def asset_objects(db, village: str) -> dict:
    """In ``village``: an accepted project (``accepted_project_id``), an operating asset in
    use handed over a year ago without income (``asset_id``) and an open finding about it
    (``fund_finding_id``)."""
    from services.core.funds import findings
    from services.core.funds.enums import FundFindingRule
    from services.core.funds.models import Asset
    from services.core.scope import UNRESTRICTED, bind_scope

    project_id = await add_project(db, village)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        asset = Asset(
            project_id=project_id,
            region_code=village,
            name="光伏电站",
            asset_class="operating",
            value=Decimal("800000.00"),
            owner="村股份经济合作社",
            custodian="村委会",
            handover_on=china_today() - timedelta(days=365),
            status="in_use",
        )
        session.add(asset)
        await session.flush()
        finding = await findings.record(
            session,
            FundFindingRule.idle_operating_asset,
            f"asset:{asset.id}",
            village,
            {"asset_name": asset.name},
            project_id=project_id,
            asset_id=asset.id,
        )
        await session.commit()
        return {"accepted_project_id": project_id, "asset_id": asset.id, "fund_finding_id": finding.id}
    finally:
        await session.close()
