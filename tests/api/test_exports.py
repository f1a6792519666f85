"""Ledgers out: every export is the list's rows (scope, filters, 404/403, masking), in Chinese
headers, as XLSX or CSV, streamed a batch at a time, and audited."""

from __future__ import annotations

import contextlib
import csv
import io
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import text

from services.api.exports import stream as export_stream
from services.core.exports import writer as sheet_writer
from services.core.exports.writer import Column, CsvWriter, Ledger, XlsxWriter, field
from tests.api.funds_helpers import create as create_funds_object
from tests.api.funds_helpers import funds_objects, project_body
from tests.api.monitoring_helpers import monitoring_objects
from tests.api.sync_helpers import add_finding, add_run
from tests.api.world import make_world
from tests.factories import OTHER_COUNTY_VILLAGE, TOWNSHIP, VILLAGE, household, person

XLSX = sheet_writer.XLSX_MEDIA_TYPE


def sheet(response) -> list[list]:
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def column(rows: list[list], header: str) -> list:
    index = rows[0].index(header)
    return [r[index] for r in rows[1:]]


async def audited_exports(db) -> list[dict]:
    session = db.session()
    try:
        rows = await session.execute(
            text(
                "SELECT actor_name, object_type, result, detail FROM audit_log WHERE action = 'ledger.export' ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]
    finally:
        await session.close()


@pytest.fixture
async def world(client, auth):
    return await make_world(client, auth)


# ---- households: scope, role, headers, file name, audit -----------------------------------


async def test_household_ledger_is_the_list_in_chinese_headers(client, auth, world, db):
    r = await client.get("/api/v1/households/export", headers=auth("township_staff.township"))
    assert r.headers["content-type"] == XLSX
    rows = sheet(r)
    assert rows[0][:4] == ["农户标识", "户编号", "所属行政村代码", "户类型"]
    listed = await client.get("/api/v1/households", headers=auth("township_staff.township"))
    ids = [h["id"] for h in listed.json()["items"]]
    assert column(rows, "农户标识") == ids
    assert world.foreign["id"] not in ids
    assert set(column(rows, "户类型")) == {"脱贫户"}  # the enum's Chinese label
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="households_')
    chinese = unquote(disposition.split("filename*=UTF-8''")[1])
    assert chinese.startswith("农户台账_") and chinese.endswith(".xlsx")
    [event] = await audited_exports(db)
    assert event["actor_name"] == "township_staff.township"
    assert event["object_type"] == "households"
    assert event["result"] == "success"
    assert event["detail"]["rows"] == len(ids)
    assert event["detail"]["format"] == "xlsx"
    assert event["detail"]["filters"] == {"status": "active"}


async def test_another_countys_staff_sees_none_of_ours(client, auth, world):
    rows = sheet(await client.get("/api/v1/households/export", headers=auth("county_staff.other")))
    assert column(rows, "农户标识") == [world.foreign["id"]]
    r = await client.get("/api/v1/households/export", params={"region": TOWNSHIP}, headers=auth("county_staff.other"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_role_without_the_lists_permission_is_refused(client, auth, world, db):
    for path in (
        "/api/v1/households/export",
        "/api/v1/monitoring-cases/export",
        "/api/v1/measures/export",
        "/api/v1/visits/export",
        "/api/v1/findings/export",
        "/api/v1/projects/export",
        "/api/v1/payments/export",
    ):
        r = await client.get(path, headers=auth("department_system.county"))
        assert r.status_code == 403, path
    # a grid worker reads the registry and monitoring, not the funds
    assert (await client.get("/api/v1/projects/export", headers=auth("grid_worker.village"))).status_code == 403
    assert await audited_exports(db) == []


async def test_filters_are_the_lists(client, auth, world):
    headers = auth("county_staff.county")
    rows = sheet(await client.get("/api/v1/households/export", params={"name": "陈"}, headers=headers))
    assert column(rows, "农户标识") == [world.village2["id"]]
    r = await client.get("/api/v1/households/export", params={"income_below": "100.00"}, headers=headers)
    assert r.status_code == 422
    r = await client.get("/api/v1/households/export", params={"format": "pdf"}, headers=headers)
    assert r.status_code == 422


async def test_health_flags_only_for_roles_that_see_health(client, auth, world):
    await client.post(
        "/api/v1/households",
        json=household(members=[person("head", name="孙康")], flags=["disabled", "dibao"]),
        headers=auth("village_staff.village"),
    )
    grid = sheet(
        await client.get("/api/v1/households/export", params={"name": "孙"}, headers=auth("grid_worker.village"))
    )
    assert column(grid, "标识") == ["残疾户、低保户"] or "残" in column(grid, "标识")[0]
    auditor = sheet(
        await client.get("/api/v1/households/export", params={"name": "孙"}, headers=auth("auditor.county"))
    )
    assert "残" not in (column(auditor, "标识")[0] or "")
    r = await client.get("/api/v1/households/export", params={"flags": "disabled"}, headers=auth("auditor.county"))
    assert r.status_code == 403


# ---- CSV, formula escaping ---------------------------------------------------------------


async def test_csv_has_a_bom_and_defuses_formulas(client, auth, world):
    headers = auth("county_staff.county")
    for name in ("=1+2", "+86 茶园", "-负数", "@SUM(A1)", "普通项目"):
        await create_funds_object(client, "/api/v1/projects", project_body(VILLAGE, name=name), headers)
    rows = csv_rows(await client.get("/api/v1/projects/export", params={"format": "csv"}, headers=headers))
    assert rows[0][:3] == ["项目标识", "项目年度", "项目名称"]
    assert sorted(column(rows, "项目名称")) == sorted(["'=1+2", "'+86 茶园", "'-负数", "'@SUM(A1)", "普通项目"])
    r = await client.get("/api/v1/projects/export", params={"format": "csv"}, headers=headers)
    assert r.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    book = sheet(await client.get("/api/v1/projects/export", headers=headers))
    assert "'=1+2" in column(book, "项目名称")
    budget = column(book, "计划投资（元）")
    assert all(isinstance(v, (int, float)) for v in budget)  # money stays a number


# ---- masking: findings quote persons ------------------------------------------------------


async def test_findings_ledger_masks_as_the_list(client, auth, world, db):
    from services.core.scope import UNRESTRICTED, bind_scope

    session = db.session()
    bind_scope(session, UNRESTRICTED)
    run = await add_run(session, "medical-insurance", "529901")
    head = world.home["members"][0]
    await add_finding(session, region_code=VILLAGE, run_id=run.id, person_id=head["id"], household_id=world.home["id"])
    await add_finding(
        session,
        region_code=VILLAGE,
        run_id=run.id,
        rule_id="large_medical_cost",
        health=True,
        person_id=head["id"],
        household_id=world.home["id"],
    )
    await session.commit()
    await session.close()
    for user in ("grid_worker.village", "county_staff.county", "auditor.county"):
        listed = (await client.get("/api/v1/findings", headers=auth(user))).json()["items"]
        rows = sheet(await client.get("/api/v1/findings/export", headers=auth(user)))
        assert column(rows, "问题标识") == [f["id"] for f in listed], user
        numbers = column(rows, "身份证号（脱敏）")
        assert numbers == [f["person"]["id_number"] for f in listed]
        assert all(n == world.home_id_number[:6] + "*" * 12 for n in numbers)
        assert (
            world.home_id_number
            not in (await client.get("/api/v1/findings/export", params={"format": "csv"}, headers=auth(user))).text
        )
    # the auditor does not see health details: the health finding is not in its ledger
    assert len(sheet(await client.get("/api/v1/findings/export", headers=auth("auditor.county")))) == 2
    assert len(sheet(await client.get("/api/v1/findings/export", headers=auth("grid_worker.village")))) == 3
    r = await client.get(
        "/api/v1/findings/export", params={"rule_id": "large_medical_cost"}, headers=auth("auditor.county")
    )
    assert r.status_code == 403


# ---- the other ledgers ---------------------------------------------------------------------


async def test_monitoring_ledgers(client, auth, world, db):
    headers = auth("county_staff.county")
    ids = await monitoring_objects(client, headers, db, world.home["id"], world.neighbour["id"])
    cases = sheet(await client.get("/api/v1/monitoring-cases/export", headers=auth("township_staff.township")))
    listed = (await client.get("/api/v1/monitoring-cases", headers=auth("township_staff.township"))).json()["items"]
    assert column(cases, "监测对象标识") == [c["id"] for c in listed]
    assert "当前环节" in cases[0]
    measures = sheet(await client.get("/api/v1/measures/export", headers=headers))
    assert column(measures, "措施标识") == [ids["measure_id"]]
    assert column(measures, "帮扶措施类别")[0] and column(measures, "措施内容") == ["危房改造"]
    of_case = sheet(await client.get("/api/v1/measures/export", params={"case_id": ids["case_id"]}, headers=headers))
    assert len(of_case) == 1  # the header alone
    assert sheet(await client.get("/api/v1/measures/export", headers=auth("county_staff.other"))) == [measures[0]]
    r = await client.get(
        "/api/v1/measures/export", params={"case_id": ids["case_id"]}, headers=auth("county_staff.other")
    )
    assert r.status_code == 404
    visits = sheet(await client.get("/api/v1/visits/export", headers=headers))
    assert visits[0][:2] == ["走访记录标识", "监测对象标识"]


async def test_payments_ledger(client, auth, world):
    headers = auth("county_staff.county")
    objects = await funds_objects(client, headers, VILLAGE, world.home["id"])
    rows = sheet(await client.get("/api/v1/payments/export", headers=headers))
    assert column(rows, "项目标识") == [objects["approved_project_id"]]
    assert column(rows, "凭证号") == ["记-1"]
    assert column(rows, "支付金额（元）") == [100]
    assert sheet(await client.get("/api/v1/payments/export", headers=auth("county_staff.other"))) == [rows[0]]
    r = await client.get(
        "/api/v1/payments/export",
        params={"project_id": objects["approved_project_id"]},
        headers=auth("county_staff.other"),
    )
    assert r.status_code == 404
    r = await client.get("/api/v1/payments/export", params={"region": OTHER_COUNTY_VILLAGE}, headers=headers)
    assert r.status_code == 404


# ---- streaming: batches, never all rows at once -------------------------------------------


async def test_an_export_reads_in_batches(client, auth, world, monkeypatch, db):
    monkeypatch.setattr(export_stream, "BATCH_ROWS", 2)
    rows = sheet(await client.get("/api/v1/households/export", headers=auth("county_staff.county")))
    listed = (await client.get("/api/v1/households", headers=auth("county_staff.county"))).json()["items"]
    assert column(rows, "农户标识") == [h["id"] for h in listed]
    assert len(listed) > 2  # so it took several batches
    events = await audited_exports(db)
    assert events[-1]["detail"]["rows"] == len(listed) and events[-1]["detail"]["complete"] is True


LEDGER = Ledger("test", "测试台账", (Column("序号", field("n")), Column("备注", field("note"))))


@pytest.mark.parametrize("kind", [XlsxWriter, CsvWriter])
def test_the_writers_never_read_ahead_nor_keep_rows(kind):
    """Each chunk is given out before the next batch is read, and nothing of a batch stays in
    the writer once its bytes are out: memory is one batch whatever the row count."""
    pulled = 0

    def batches():
        nonlocal pulled
        for b in range(40):
            pulled += 1
            yield ({"n": b * 500 + i, "note": "备注" * 5} for i in range(500))

    writer = kind(LEDGER)
    out = [writer.start()]
    for n, batch in enumerate(batches(), start=1):
        out.append(writer.rows(batch))
        assert pulled == n  # the writer took exactly the batch it was given
        if kind is XlsxWriter:
            assert writer._sink.parts == []  # the zip's bytes went out with the chunk
        else:
            assert writer._out.tell() == 0
    out.append(writer.end())
    assert writer.count == 20_000
    data = b"".join(out)
    if kind is XlsxWriter:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        last = None
        count = 0
        for row in book.worksheets[0].iter_rows(values_only=True):
            count += 1
            last = row
        assert count == 20_001 and last == (19_999, "备注" * 5)
    else:
        assert data.count(b"\r\n") == 20_001


def test_formula_cells_are_defused():
    assert sheet_writer.cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    for text_ in ("+1", "-1", "@a", "\tx", "\rx"):
        assert sheet_writer.cell(text_) == "'" + text_
    assert sheet_writer.cell("a=b") == "a=b"
    assert sheet_writer.cell(-5) == -5  # numbers are numbers, not text
    assert sheet_writer.cell(True) == "是"


async def test_an_xlsx_is_not_gzipped_again_but_a_csv_is(client, auth, world):
    headers = auth("county_staff.county", **{"Accept-Encoding": "gzip"})
    r = await client.get("/api/v1/households/export", headers=headers)
    assert "content-encoding" not in r.headers  # a zip already
    r = await client.get("/api/v1/households/export", params={"format": "csv"}, headers=headers)
    assert r.headers.get("content-encoding") == "gzip"
    assert r.content.startswith(b"\xef\xbb\xbf")  # httpx decoded it


async def test_an_export_cut_short_is_audited_as_such(client, auth, world, monkeypatch, db):
    from services.core.households import service as households

    monkeypatch.setattr(export_stream, "BATCH_ROWS", 2)
    real = households.list_households
    calls = 0

    async def failing(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(households, "list_households", failing)
    # the stream breaks after it started: the client sees a cut connection
    with contextlib.suppress(Exception):
        await client.get("/api/v1/households/export", headers=auth("county_staff.county"))
    [event] = await audited_exports(db)
    assert event["result"] == "failure"
    assert event["detail"]["complete"] is False and event["detail"]["rows"] == 2


async def test_another_townships_staff_see_none_of_its_rows_in_any_ledger(client, auth, db, settings):
    """Rows of every ledger in a township of the county: the county's staff find them in each
    export, the staff of another township in none."""
    from services.core.scope import UNRESTRICTED, bind_scope
    from tests.factories import OTHER_TOWNSHIP_VILLAGE

    county = auth("county_staff.county")
    made = []
    for name in ("钱甲", "孙乙"):
        r = await client.post(
            "/api/v1/households",
            json=household(region=OTHER_TOWNSHIP_VILLAGE, members=[person("head", name=name)]),
            headers=county,
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    ids = await monitoring_objects(client, county, db, made[0]["id"], made[1]["id"])
    funds = await funds_objects(client, county, OTHER_TOWNSHIP_VILLAGE, made[0]["id"])
    from services.core.timeutil import today as china_today

    r = await client.post(
        f"/api/v1/monitoring-cases/{ids['assisting_case_id']}/visits",
        json={"visited_on": str(china_today()), "findings": "=了解情况"},
        headers=county,
    )
    assert r.status_code == 201, r.text
    visit = r.json()["id"]
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    run = await add_run(session, "medical-insurance", "529901")
    finding = await add_finding(
        session, region_code=OTHER_TOWNSHIP_VILLAGE, run_id=run.id, person_id=made[0]["members"][0]["id"]
    )
    await session.commit()
    await session.close()
    expected = {
        "households": ("农户标识", made[0]["id"]),
        "monitoring-cases": ("监测对象标识", ids["case_id"]),
        "measures": ("措施标识", ids["measure_id"]),
        "visits": ("走访记录标识", visit),
        "findings": ("问题标识", finding.id),
        "projects": ("项目标识", funds["project_id"]),
        "payments": ("项目标识", funds["approved_project_id"]),
    }
    for ledger, (header, value) in expected.items():
        everyone = sheet(await client.get(f"/api/v1/{ledger}/export", headers=county))
        assert value in column(everyone, header), ledger
        if ledger == "visits":
            assert column(everyone, "走访情况") == ["'=了解情况"]  # typed by anyone: defused
        for user in ("township_staff.township", "village_staff.village"):
            theirs = sheet(await client.get(f"/api/v1/{ledger}/export", headers=auth(user)))
            assert value not in column(theirs, header), (ledger, user)
            r = await client.get(
                f"/api/v1/{ledger}/export", params={"region": OTHER_TOWNSHIP_VILLAGE}, headers=auth(user)
            )
            assert r.status_code == 404, (ledger, user)
