"""Department spreadsheets in over the API: the command line's import (same reader,
normaliser, quarantine and reconciliation) on an uploaded file, answered row by row; a file
of another kind, a damaged one or one too large is refused whole, with nothing imported."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.api.app import create_app
from services.core.accounts.security import Caller, issue_token
from services.core.db import Database, asyncpg_dsn, create_engine
from services.worker.sheets import csv_text
from tests.conftest import _client, _load_base_data, scratch_database
from tests.factories import USERS

DATA = Path(__file__).parent / "data"
PATH = "/api/v1/sync/sources/civil-affairs/imports"
HEADER = ["记录编号", "身份证号", "姓名", "救助类型", "开始日期", "月救助金额", "停保原因", "备注"]
VALID = "11010519491231002X"


def row(key: str, **over) -> list[str]:
    values = dict(zip(HEADER, [key, VALID, "张三", "低保", "2024-01-01", "580.00", "", ""], strict=True))
    values.update(over)
    return [values[h] for h in HEADER]


@pytest.fixture(scope="module")
async def upload_url(engine, settings):
    async with scratch_database(engine, "guardline_upload_test") as url:
        eng = create_engine(url, settings, "tests")
        try:
            await _load_base_data(eng)
        finally:
            await eng.dispose()
        yield url


@pytest.fixture
async def pool(upload_url):
    p = await asyncpg.create_pool(asyncpg_dsn(upload_url), min_size=1, max_size=2)
    await p.execute(
        "TRUNCATE sync_runs, sync_cursors, sync_source_states, dept_records, sync_quarantine, sync_findings "
        "RESTART IDENTITY CASCADE"
    )
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def api(upload_url, settings, pool):
    local = settings.model_copy(
        update={
            "database_url": upload_url,
            "sync": settings.sync.model_copy(update={"prepare_processes": 0, "max_upload_bytes": 200_000}),
        }
    )
    database = Database(create_engine(upload_url, local, "tests"))
    ids = dict(await pool.fetch("SELECT username, id FROM users"))
    app = create_app(local, database=database)

    def auth(username: str, **extra: str) -> dict[str, str]:
        role, prefix = USERS[username]
        token, _ = issue_token(local, Caller(ids[username], username, role, prefix))
        return {"Authorization": f"Bearer {token}", **extra}

    try:
        async with _client(app) as client:
            yield client, auth
    finally:
        await database.dispose()


async def post(client: httpx.AsyncClient, headers, name: str, content: bytes, county: str = "529901", **extra):
    return await client.post(
        PATH, data={"county": county}, files={"file": (name, content)}, headers={**headers, **extra}
    )


async def counts(pool) -> tuple[int, int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM sync_runs"),
        await pool.fetchval("SELECT count(*) FROM dept_records"),
        await pool.fetchval("SELECT count(*) FROM sync_quarantine"),
    )


async def test_a_csv_is_imported_and_reported_row_by_row(api, pool):
    client, auth = api
    rows = [
        ["清溪县民政局社会救助对象名单"],
        HEADER,  # row 2
        row("UP1"),  # row 3
        row("UP2", 身份证号="110105194912310014"),  # row 4: a wrong check digit
        [],  # row 5: blank, not a data row
        row("UP3", 开始日期="2025-02-30"),  # row 6
        row("UP4"),  # row 7
        row("UP5"),  # row 8
    ]
    r = await post(client, auth("county_staff.county"), "救助名单.csv", csv_text(rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "succeeded"
    assert (report["rows"], report["accepted"], report["quarantined"]) == (5, 3, 2)
    assert report["accepted_rows"] == [[3, 3], [7, 8]]
    assert [(q["row"], q["reason"], q["field"]) for q in report["quarantined_rows"]] == [
        (4, "id_number.check_digit", "id_number"),
        (6, "invalid.start_date", "start_date"),
    ]
    assert report["file_name"] == "救助名单.csv"
    run = await pool.fetchrow(
        "SELECT trigger, file_name, requested_by, status FROM sync_runs WHERE id = $1", report["run_id"]
    )
    assert (run["trigger"], run["file_name"], run["status"]) == ("spreadsheet", "救助名单.csv", "succeeded")
    assert run["requested_by"] is not None
    assert await pool.fetchval("SELECT count(*) FROM dept_records") == 3
    event = await pool.fetchrow("SELECT actor_name, detail FROM audit_log WHERE action = 'sync.import_upload'")
    assert event["actor_name"] == "county_staff.county"
    # the same file again: nothing new, the same report
    again = (await post(client, auth("county_staff.county"), "救助名单.csv", csv_text(rows))).json()
    assert (again["accepted"], again["quarantined"], again["staged"], again["unchanged"]) == (3, 2, 0, 3)


async def test_an_xls_is_read_by_calamine(api, pool):
    client, auth = api
    r = await post(client, auth("county_staff.county"), "民政.xls", (DATA / "civil_affairs.xls").read_bytes())
    assert r.status_code == 200, r.text
    report = r.json()
    # the title row, a blank row and the header above; two wrong check digits and an impossible day
    assert (report["rows"], report["accepted"], report["quarantined"]) == (4, 1, 3)
    assert report["accepted_rows"] == [[4, 4]]
    assert [(q["row"], q["reason"]) for q in report["quarantined_rows"]] == [
        (5, "id_number.check_digit"),
        (6, "id_number.check_digit"),
        (7, "invalid.start_date"),
    ]
    assert await pool.fetchval("SELECT external_key FROM dept_records") == "XLS1"


async def test_an_xlsx_is_read(api, pool):
    from openpyxl import Workbook

    client, auth = api
    book = Workbook()
    sheet = book.active
    for values in (HEADER, row("X1"), row("X2", 开始日期="2024-13-01")):
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    report = (await post(client, auth("county_staff.county"), "名单.xlsx", out.getvalue())).json()
    assert report["accepted_rows"] == [[2, 2]]
    assert [q["row"] for q in report["quarantined_rows"]] == [3]


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("名单.xlsx", b"PK\x03\x04 this zip ends here", 422, "upload_unreadable"),
        ("名单.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, 422, "upload_unreadable"),
        ("名单.pdf", b"%PDF-1.7", 415, "upload_type_unsupported"),
        ("名单.xlsx", b"%PDF-1.7 renamed", 415, "upload_type_mismatch"),
        ("名单.csv", b"PK\x03\x04 a zip named .csv", 415, "upload_type_mismatch"),
        ("名单.csv", b"", 422, "upload_empty"),
        ("名单.csv", "姓名,年龄\n张三,40\n".encode(), 422, "upload_no_header"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_whole(api, pool, name, content, status, code):
    client, auth = api
    r = await post(client, auth("county_staff.county", **{"Accept-Language": "zh"}), name, content)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == code
    assert problem["errors"][0]["field"] == "file"
    assert any("\u4e00" <= c <= "\u9fff" for c in problem["detail"])  # the Chinese message
    assert await counts(pool) == (0, 0, 0)  # nothing imported, not even a run


async def test_an_xlsx_broken_after_its_good_rows_imports_nothing(api, pool):
    """A file damaged past its first rows must not leave those rows imported."""
    from openpyxl import Workbook

    client, auth = api
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(50):
        sheet.append(row(f"B{i}"))
    out = io.BytesIO()
    book.save(out)
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as good, zipfile.ZipFile(damaged, "w") as bad:
        for item in good.infolist():
            data = good.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the sheet's XML cut in the middle
            bad.writestr(item, data)
    r = await post(client, auth("county_staff.county"), "坏表.xlsx", damaged.getvalue())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "upload_unreadable"
    assert await counts(pool) == (0, 0, 0)


async def test_size_scope_and_role(api, pool):
    client, auth = api
    big = csv_text([HEADER] + [row(f"K{i}", 备注="x" * 100) for i in range(2000)])
    assert len(big) > 200_000
    r = await post(client, auth("county_staff.county"), "大表.csv", big)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    r = await post(client, auth("county_staff.other"), "名单.csv", csv_text([HEADER, row("S1")]), county="529902")
    assert r.status_code == 404  # civil-affairs serves 529901 only: another county's staff do not see it
    r = await post(client, auth("county_staff.county"), "名单.csv", csv_text([HEADER, row("S1")]), county="529902")
    assert r.status_code == 404
    r = await post(client, auth("township_staff.township"), "名单.csv", csv_text([HEADER, row("S1")]))
    assert r.status_code == 403
    assert await counts(pool) == (0, 0, 0)


async def test_an_upload_sent_again_with_its_idempotency_key_is_imported_once(api, pool):
    """A phone on a bad network sends the same upload again under its Idempotency-Key: the
    first answer comes back and nothing is imported twice; another file under the key is
    refused."""
    client, auth = api
    rows = [HEADER, row("IK1"), row("IK2")]
    headers = auth("county_staff.county")
    first = await post(client, headers, "名单.csv", csv_text(rows), **{"Idempotency-Key": "upload-ik-1"})
    assert first.status_code == 200, first.text
    runs = await pool.fetchval("SELECT count(*) FROM sync_runs")
    again = await post(client, headers, "名单.csv", csv_text(rows), **{"Idempotency-Key": "upload-ik-1"})
    assert again.status_code == 200 and again.json()["run_id"] == first.json()["run_id"]
    assert await pool.fetchval("SELECT count(*) FROM sync_runs") == runs
    other = await post(
        client, headers, "名单.csv", csv_text([HEADER, row("IK3")]), **{"Idempotency-Key": "upload-ik-1"}
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_a_multipart_body_that_cannot_be_read_is_422_naming_the_body(api):
    client, auth = api
    r = await client.post(
        PATH,
        content=b"--x\r\nnot a part at all",
        headers={
            **auth("county_staff.county"),
            "Content-Type": "multipart/form-data; boundary=x",
            "Accept-Language": "zh",
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body" and r.json()["errors"][0]["code"] == "multipart_invalid"
    assert r.json()["errors"][0]["message"] == "请求体不是可解析的 multipart 表单。"
