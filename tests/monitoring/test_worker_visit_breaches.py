"""The sync worker records missed visit months once a day, each once per case and month."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from services.core.accounts.models import User
from services.core.households.models import Household
from services.core.monitoring.models import MonitoringCase, VisitBreach
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.timeutil import today
from services.core.workdays import add_months
from services.worker.worker import daily_visit_breaches
from tests.factories import VILLAGE


async def _breaches(db, case_id) -> list:
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        rows = await session.execute(
            select(VisitBreach.month, VisitBreach.made)
            .where(VisitBreach.case_id == case_id)
            .order_by(VisitBreach.month)
        )
        return [tuple(r) for r in rows]
    finally:
        await session.close()


async def test_missed_months_recorded_once(db):
    identified = add_months(today().replace(day=1), -4) + timedelta(days=14)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    cadre = (await session.execute(select(User.id).where(User.username == "assistance_cadre.village"))).scalar_one()
    household = Household(household_no="VISIT-1", region_code=VILLAGE, category="monitored", member_count=1)
    session.add(household)
    await session.flush()
    case = MonitoringCase(
        household_id=household.id,
        region_code=VILLAGE,
        case_type="marginal",
        risk_types=["other"],
        status="assisting",
        first_clue_on=identified - timedelta(days=10),
        opened_on=identified - timedelta(days=10),
        identified_on=identified,
        plan_on=identified,
        cadre_user_id=cadre,
        cadre_assigned_on=identified,
        deadline_breaches=[],
        next_deadline=identified,
        next_deadline_kind="plan",
    )
    session.add(case)
    await session.commit()
    case_id = case.id
    await session.close()
    ctx = SimpleNamespace(db=db)

    assert await daily_visit_breaches(ctx, None) == today()
    months = [add_months(today().replace(day=1), k) for k in (-3, -2, -1)]
    assert await _breaches(db, case_id) == [(m, 0) for m in months]
    # Again (another worker, or the next loop after a restart): nothing more.
    assert await daily_visit_breaches(ctx, today() - timedelta(days=1)) == today()
    assert await _breaches(db, case_id) == [(m, 0) for m in months]
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    stored = (await session.execute(select(MonitoringCase).where(MonitoringCase.id == case_id))).scalar_one()
    assert stored.next_deadline == add_months(today().replace(day=1), 1) - timedelta(days=1)
    assert stored.next_deadline_kind == "monthly_visit"
    assert [b["due"] for b in stored.deadline_breaches] == [
        (add_months(m, 1) - timedelta(days=1)).isoformat() for m in months
    ]
    await session.close()


async def test_a_failed_run_is_tried_again(db):
    class Broken:
        def session(self):
            raise OSError("database down")

    yesterday = today() - timedelta(days=1)
    assert await daily_visit_breaches(SimpleNamespace(db=Broken()), yesterday) == yesterday
