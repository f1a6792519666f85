"""Township monthly and quarterly reports (乡镇月报、季报): figures hand-counted on a small
fixture, reproducibility of a past month, the schedule storing each report once, XLSX with
Chinese headers, scope and roles, failure paths."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from types import SimpleNamespace
from urllib.parse import unquote

from sqlalchemy import func, select, text

from services.core.guarantees.models import Item
from services.core.ledgers.enums import EntryOrigin, EntryStatus, ProblemSource, RectificationStatus
from services.core.ledgers.models import ClearingEntry, Rectification
from services.core.monitoring.models import MonitoringCase
from services.core.reports.models import GeneratedReport
from services.core.reports.service import generate_due
from services.core.scope import UNRESTRICTED, bind_scope
from tests.api.test_households import create
from tests.api.test_income import quarter
from tests.factories import OTHER_TOWNSHIP_VILLAGE, VILLAGE, code_of

MONTHLY = "/api/v1/reports/monthly"
QUARTERLY = "/api/v1/reports/quarterly"
COUNTY = "county_staff.county"
T1, T2 = "529901001000", "529901002000"


def _case(household_id: int, region: str, **days) -> MonitoringCase:
    return MonitoringCase(
        household_id=household_id,
        region_code=region,
        case_type="marginal",
        risk_types=["illness"],
        status=days.pop("status", "assisting"),
        first_clue_on=days.get("opened_on"),
        category_before="lifted_out",
        deadline_breaches=[],
        **days,
    )


async def _world(client, auth, db) -> dict:
    """Three households of three members (two in township 1, one in township 2), members
    since 1 January 2026, and their cases and ledger rows (see the test for the counts)."""
    h1 = await create(client, auth)
    h2 = await create(client, auth)
    h3 = await create(client, auth, user=COUNTY, region=OTHER_TOWNSHIP_VILLAGE)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        await session.execute(text("UPDATE memberships SET started_at = '2026-01-01T00:00:00+08:00'"))
        a = _case(h1["id"], VILLAGE, opened_on=date(2026, 10, 1), identified_on=date(2026, 10, 10))
        b = _case(
            h2["id"],
            VILLAGE,
            status="eliminated",
            opened_on=date(2026, 4, 20),
            identified_on=date(2026, 5, 1),
            eliminated_on=date(2026, 10, 20),
            closed_on=date(2026, 10, 20),
        )
        c = _case(
            h3["id"],
            OTHER_TOWNSHIP_VILLAGE,
            opened_on=date(2026, 8, 25),
            identified_on=date(2026, 9, 1),
            next_deadline=date(2026, 10, 15),
        )

        def entry(opened: date, deadline: date, closed: date | None = None) -> ClearingEntry:
            return ClearingEntry(
                region_code=VILLAGE,
                household_id=h1["id"],
                kind=Item.water if closed else Item.housing,
                origin=EntryOrigin.manual,
                department="县水务局",
                description="季节性缺水",
                opened_on=opened,
                deadline=deadline,
                status=EntryStatus.cleared if closed else EntryStatus.open,
                closed_on=closed,
                evidence="已通水" if closed else None,
                evidence_refs=["水-1"] if closed else [],
            )

        cleared = entry(date(2026, 10, 5), date(2026, 11, 2), date(2026, 10, 25))
        late = entry(date(2026, 9, 1), date(2026, 9, 29))
        problem = Rectification(
            region_code=VILLAGE,
            source=ProblemSource.inspection,
            title="危房未改造",
            description="暗访发现",
            responsible_unit="镇村建办",
            found_on=date(2026, 10, 2),
            deadline=date(2026, 10, 20),
            status=RectificationStatus.open,
            evidence_refs=[],
        )
        session.add_all([a, b, c, cleared, late, problem])
        await session.commit()
        return {"h1": h1, "h2": h2, "h3": h3, "a": a.id, "c": c.id, "late": late.id}
    finally:
        await session.close()


async def _sql(db, sql: str, **params) -> None:
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        await session.execute(text(sql), params)
        await session.commit()
    finally:
        await session.close()


EXPECTED_T1 = {
    "households_monitored": 1,  # case a (b's risk eliminated on 20 October)
    "persons_monitored": 3,
    "identified": 1,  # a, 10 October
    "eliminated": 1,  # b, 20 October
    "open_cases": 1,  # a
    "overdue_cases": 0,
    "case_visits": 0,
    "visits_missed": 0,
    "followup_visits": 0,
    "campaign_households": 0,
    "clearing_opened": 1,  # 5 October
    "clearing_cleared": 1,  # 25 October
    "clearing_overdue": 1,  # found 1 September, deadline 29 September, still open
    "rectifications_open": 1,
    "rectifications_overdue": 1,  # deadline 20 October
}
EXPECTED_T2 = {
    **dict.fromkeys(EXPECTED_T1, 0),
    "households_monitored": 1,
    "persons_monitored": 3,
    "open_cases": 1,
    "overdue_cases": 1,  # c's deadline 15 October
}


async def test_monthly_figures_hand_counted_and_reproducible(client, auth, db, today_is):
    today_is(date(2026, 11, 10))
    world = await _world(client, auth, db)
    h = auth(COUNTY)
    r = await client.get(MONTHLY, params={"month": "2026-10"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["month"], body["region"], body["cut_off"]) == ("2026-10", "529901", "2026-10-31")
    rows = {row["township"]: row for row in body["townships"]}
    assert set(rows) == {T1, T2}
    assert rows[T1]["name"] == "石门镇" and rows[T1]["generated_at"] is None
    assert {k: rows[T1][k] for k in EXPECTED_T1} == EXPECTED_T1
    assert {k: rows[T2][k] for k in EXPECTED_T2} == EXPECTED_T2
    assert body["total"]["households_monitored"] == 2 and body["total"]["open_cases"] == 2
    # As of 15 October: b not yet eliminated, nothing cleared yet.
    early = (await client.get(MONTHLY, params={"month": "2026-10", "as_of": "2026-10-15"}, headers=h)).json()
    t1 = next(row for row in early["townships"] if row["township"] == T1)
    assert (early["cut_off"], t1["households_monitored"], t1["eliminated"], t1["clearing_cleared"]) == (
        "2026-10-15",
        2,
        0,
        0,
    )
    # The data changes after the month: a's risk eliminated, a new case, the late item cleared,
    # a member joins. October asked again later gives the same figures.
    today_is(date(2026, 12, 1))
    await _sql(
        db,
        "UPDATE monitoring_cases SET eliminated_on = '2026-11-10', closed_on = '2026-11-10', "
        "status = 'eliminated' WHERE id = :id",
        id=world["a"],
    )
    await _sql(
        db,
        "UPDATE clearing_entries SET status = 'cleared', closed_on = '2026-11-03', evidence = '已改造' WHERE id = :id",
        id=world["late"],
    )
    await _sql(
        db,
        "UPDATE memberships SET ended_at = '2026-11-05T10:00:00+08:00' WHERE household_id = :id AND relation = 'child'",
        id=world["h1"]["id"],
    )
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    session.add(_case(world["h2"]["id"], VILLAGE, opened_on=date(2026, 11, 1), identified_on=date(2026, 11, 5)))
    await session.commit()
    await session.close()
    again = (await client.get(MONTHLY, params={"month": "2026-10"}, headers=h)).json()
    assert again["townships"] == body["townships"]
    november = (await client.get(MONTHLY, params={"month": "2026-11"}, headers=h)).json()
    n1 = next(row for row in november["townships"] if row["township"] == T1)
    # November: a ended, the new case's household (three members) monitored.
    assert (n1["identified"], n1["eliminated"], n1["clearing_cleared"]) == (1, 1, 1)
    assert (n1["households_monitored"], n1["persons_monitored"], n1["clearing_overdue"]) == (1, 3, 0)


async def test_the_schedule_stores_each_report_once_and_serves_it_as_stored(client, auth, db, today_is):
    from services.worker.worker import daily_reports

    today_is(date(2026, 11, 19))
    world = await _world(client, auth, db)
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        # Before the policy's day (the 20th) nothing is due.
        assert (await generate_due(session, UNRESTRICTED, date(2026, 11, 19)))["monthly"] == 0
        # A county whose own day is the 22nd (seed 000): on the 20th only the other county's.
        await session.execute(
            text(
                "INSERT INTO monitoring_policies (region_prefix, year, values, version, created_at, updated_at) "
                "VALUES ('529901', 2026, '{\"monthly_report_day\": 22}', 1, now(), now())"
            )
        )
        assert (await generate_due(session, UNRESTRICTED, date(2026, 11, 20)))["monthly"] == 1  # 松林镇
        await session.commit()
    finally:
        await session.close()
    today_is(date(2026, 11, 22))
    ctx = SimpleNamespace(db=db)
    assert await daily_reports(ctx, None) == date(2026, 11, 22)
    assert await daily_reports(ctx, None) == date(2026, 11, 22)  # a second worker: nothing more
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        counted = await session.execute(
            select(GeneratedReport.region_code, func.count())
            .where(GeneratedReport.kind == "monthly", GeneratedReport.period == "2026-10")
            .group_by(GeneratedReport.region_code)
        )
        assert dict(counted.all()) == {T1: 1, T2: 1, "529902001000": 1}
        # Q3's income deadline (10 working days after 30 September) has passed: stored too.
        quarters = await session.execute(select(func.count()).where(GeneratedReport.kind == "quarterly"))
        assert quarters.scalar_one() == 3
    finally:
        await session.close()
    # A deadline moved after the month changes the computed overdue figure, not the stored one.
    await _sql(db, "UPDATE monitoring_cases SET next_deadline = '2026-12-30' WHERE id = :id", id=world["c"])
    h = auth(COUNTY)
    body = (await client.get(MONTHLY, params={"month": "2026-10"}, headers=h)).json()
    t2 = next(row for row in body["townships"] if row["township"] == T2)
    assert t2["overdue_cases"] == 1 and t2["generated_at"] is not None
    listed = await client.get("/api/v1/reports", params={"kind": "monthly"}, headers=h)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert sorted(i["region_code"] for i in items) == [T1, T2]  # not the other county's
    one = next(i for i in items if i["region_code"] == T1)
    assert one["figures"] == EXPECTED_T1 and one["download"] == f"/api/v1/reports/{one['id']}?format=xlsx"
    got = await client.get(f"/api/v1/reports/{one['id']}", headers=h)
    assert got.status_code == 200 and got.json()["figures"] == EXPECTED_T1
    paged = await client.get("/api/v1/reports", params={"limit": 1}, headers=h)
    assert len(paged.json()["items"]) == 1 and paged.json()["next_cursor"]
    nxt = await client.get("/api/v1/reports", params={"limit": 1, "cursor": paged.json()["next_cursor"]}, headers=h)
    assert nxt.json()["items"][0]["id"] < paged.json()["items"][0]["id"]
    # Another county's stored report is not found; a township's staff see their own only.
    other = await client.get("/api/v1/reports", params={"region": "529902"}, headers=h)
    assert other.status_code == 404
    mine = (await client.get("/api/v1/reports", headers=auth("township_staff.township"))).json()["items"]
    assert {i["region_code"] for i in mine} == {T1}
    t2_id = next(i["id"] for i in items if i["region_code"] == T2)
    hidden = await client.get(f"/api/v1/reports/{t2_id}", headers=auth("township_staff.township"))
    assert hidden.status_code == 404
    xlsx = await client.get(f"/api/v1/reports/{one['id']}", params={"format": "xlsx"}, headers=h)
    assert xlsx.status_code == 200 and "监测户数" in _sheet(xlsx.content) and "石门镇" in _sheet(xlsx.content)


def _sheet(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        return book.read("xl/worksheets/sheet1.xml").decode()


async def test_xlsx_has_chinese_headers_and_file_name_and_is_audited(client, auth, db, today_is):
    today_is(date(2026, 11, 10))
    await _world(client, auth, db)
    h = auth(COUNTY)
    r = await client.get(MONTHLY, params={"month": "2026-10", "format": "xlsx"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    disposition = r.headers["content-disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "防返贫动态监测乡镇月报_2026-10.xlsx"
    sheet = _sheet(r.content)
    for header in ("乡镇代码", "乡镇名称", "监测户数", "监测人数", "当月新识别", "清零台账超期", "生成时间"):
        assert header in sheet
    assert "石门镇" in sheet and "合计" in sheet
    q = await client.get(QUARTERLY, params={"quarter": "2026-Q3", "format": "xlsx"}, headers=h)
    assert q.status_code == 200 and "未录入季度收入户数" in _sheet(q.content)
    read = await client.get(MONTHLY, params={"month": "2026-10"}, headers=h)
    assert read.status_code == 200, read.text
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        actions = await session.execute(
            text("SELECT action, object_type FROM audit_log WHERE object_type = 'township_report' ORDER BY id")
        )
        assert [tuple(a) for a in actions.all()] == [
            ("ledger.export", "township_report"),
            ("ledger.export", "township_report"),
            ("report.read", "township_report"),
        ]
    finally:
        await session.close()


async def test_quarterly_income_collection_and_case_movements(client, auth, db, today_is):
    today_is(date(2026, 11, 10))
    world = await _world(client, auth, db)
    h = auth(COUNTY)
    r = await client.post(
        f"/api/v1/households/{world['h1']['id']}/income-records",
        json=quarter(3, year=2026),
        headers=auth("village_staff.village"),
    )
    assert r.status_code == 201, r.text
    body = (await client.get(QUARTERLY, params={"quarter": "2026-Q3"}, headers=h)).json()
    assert (body["quarter"], body["cut_off"]) == ("2026-Q3", "2026-09-30")
    rows = {row["township"]: row for row in body["townships"]}
    assert (rows[T1]["income_households"], rows[T1]["income_entered"], rows[T1]["income_missing"]) == (2, 1, 1)
    assert (rows[T2]["income_households"], rows[T2]["income_missing"]) == (1, 1)
    assert (rows[T2]["identified"], rows[T2]["open_cases"], rows[T1]["identified"]) == (1, 1, 0)
    assert rows[T1]["open_cases"] == 1  # b, identified in Q2, open until 20 October
    future = await client.get(QUARTERLY, params={"quarter": "2027-Q1"}, headers=h)
    assert (future.status_code, code_of(future)) == (422, "quarter_not_begun")


async def test_scope_roles_and_failure_paths(client, auth, db, today_is):
    today_is(date(2026, 11, 10))
    await _world(client, auth, db)
    township = await client.get(MONTHLY, params={"month": "2026-10"}, headers=auth("township_staff.township"))
    assert [row["township"] for row in township.json()["townships"]] == [T1]
    village = await client.get(MONTHLY, params={"month": "2026-10"}, headers=auth("village_staff.village"))
    assert [row["township"] for row in village.json()["townships"]] == [T1]
    assert village.json()["townships"][0]["identified"] == 1
    far = await client.get(
        MONTHLY, params={"month": "2026-10", "region": "529901"}, headers=auth("village_staff.village")
    )
    assert far.status_code == 404
    other = await client.get(MONTHLY, params={"month": "2026-10", "region": "529902"}, headers=auth(COUNTY))
    assert other.status_code == 404
    for user in ("grid_worker.village", "admin.county"):
        denied = await client.get(MONTHLY, params={"month": "2026-10"}, headers=auth(user))
        assert denied.status_code == 403, user
    zh = {**auth(COUNTY), "Accept-Language": "zh"}
    future = await client.get(MONTHLY, params={"month": "2026-12"}, headers=zh)
    assert (future.status_code, code_of(future)) == (422, "month_not_begun")
    assert "尚未开始" in future.text
    bad = await client.get(MONTHLY, params={"month": "2026-10", "format": "pdf"}, headers=zh)
    assert bad.status_code == 422 and "format" in bad.text
    malformed = await client.get(MONTHLY, params={"month": "2026-13"}, headers=zh)
    assert malformed.status_code == 422
    missing = await client.get("/api/v1/reports/999999", headers=auth(COUNTY))
    assert (missing.status_code, code_of(missing)) == (404, "report_not_found")


async def test_the_due_day_is_a_policy_figure_within_the_month(client, auth):
    h = auth(COUNTY)
    bad = await client.post(
        "/api/v1/monitoring-policies",
        headers=h,
        json={"region_prefix": "529901", "year": 2026, "values": {"monthly_report_day": 31}},
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "values.monthly_report_day")
    good = await client.post(
        "/api/v1/monitoring-policies",
        headers=h,
        json={"region_prefix": "529901001", "year": 2026, "values": {"monthly_report_day": 22}},
    )
    assert good.status_code == 201, good.text


async def test_a_failed_scheduled_run_is_tried_again():
    from services.worker.worker import daily_reports

    class Broken:
        def session(self):
            raise OSError("database down")

    before = date(2026, 11, 1)
    assert await daily_reports(SimpleNamespace(db=Broken()), before) == before
