"""The demo county's stored township reports: the previous month's and the previous
quarter's, as the sync worker would have stored them, so that ``GET /api/v1/reports`` lists
something and a download works (docs/reports.md)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Settings


async def load_reports(url: str, settings: Settings, county: str, today: date) -> dict[str, int]:
    from services.core.db import create_engine
    from services.core.followup.rules import previous_quarter
    from services.core.reports import service
    from services.core.reports.enums import ReportKind
    from services.core.scope import UNRESTRICTED, bind_scope

    month = service.previous_month(today).isoformat()[:7]
    year, q = previous_quarter(today.year, (today.month - 1) // 3 + 1)
    engine = create_engine(url, settings, "demo")
    try:
        async with AsyncSession(engine) as session:
            bind_scope(session, UNRESTRICTED)
            await session.execute(text("DELETE FROM generated_reports WHERE region_code LIKE :p"), {"p": f"{county}%"})
            monthly = await service.generate(session, county, ReportKind.monthly, month, today)
            quarterly = await service.generate(session, county, ReportKind.quarterly, f"{year}-Q{q}", today)
            await session.commit()
    finally:
        await engine.dispose()
    return {"generated_reports": monthly + quarterly}
