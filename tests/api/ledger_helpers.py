"""Objects to aim the ledger routes at, written straight to the database: an open clearing
entry (``clearing_entry_id``), a problem being rectified (``rectification_id``) and one whose
closure was requested by the system (``requested_rectification_id``)."""

from __future__ import annotations

from datetime import timedelta

from services.core.timeutil import today as china_today


async def ledger_objects(db, village: str, household_id: int) -> dict:
    from services.core.guarantees.models import Item
    from services.core.ledgers.enums import EntryOrigin, EntryStatus, ProblemSource, RectificationStatus
    from services.core.ledgers.models import ClearingEntry, Rectification
    from services.core.scope import UNRESTRICTED, bind_scope

    day = china_today() - timedelta(days=3)
    entry = ClearingEntry(
        region_code=village,
        household_id=household_id,
        kind=Item.water,
        origin=EntryOrigin.manual,
        department="县水务局",
        description="季节性缺水",
        opened_on=day,
        deadline=day + timedelta(days=28),
        status=EntryStatus.open,
        evidence_refs=[],
    )

    def problem(status: RectificationStatus) -> Rectification:
        return Rectification(
            region_code=village,
            source=ProblemSource.inspection,
            title="危房未改造",
            description="暗访发现",
            responsible_unit="镇村建办",
            found_on=day,
            deadline=day + timedelta(days=40),
            status=status,
            evidence="已改造" if status == RectificationStatus.closure_requested else None,
            evidence_refs=["验收单-1"] if status == RectificationStatus.closure_requested else [],
        )

    open_one, requested = problem(RectificationStatus.open), problem(RectificationStatus.closure_requested)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        session.add_all([entry, open_one, requested])
        await session.commit()
        return {
            "clearing_entry_id": entry.id,
            "rectification_id": open_one.id,
            "requested_rectification_id": requested.id,
        }
    finally:
        await session.close()


async def report_objects(db, village: str) -> dict:
    """A stored township report (``report_id``) for the access matrix, kept in the target's
    village so that the matrix's rule (visible to those who see the village) holds."""
    from services.core.reports.enums import ReportKind
    from services.core.reports.models import GeneratedReport
    from services.core.reports.service import MONTHLY_FIGURES
    from services.core.scope import UNRESTRICTED, bind_scope

    first = china_today().replace(day=1)
    row = GeneratedReport(
        region_code=village,
        kind=ReportKind.monthly,
        period="2026-01",
        period_start=first,
        cut_off=first,
        figures={f.key: 0 for f in MONTHLY_FIGURES},
    )
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        session.add(row)
        await session.commit()
        return {"report_id": row.id}
    finally:
        await session.close()
