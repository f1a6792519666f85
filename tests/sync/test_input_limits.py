"""Malformed department input through the real import (``worker.import_file``, what
``guardline sync import`` runs) and the real pull (``runner.execute`` over HTTP): every bad
row is quarantined with its reason, field and row, the rows after it are read, and the run
succeeds; a file that cannot be read safely is refused whole, with a clear reason, and
never counts against the source's circuit breaker."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import httpx
import orjson
import pytest
from openpyxl import Workbook

from services.core.crypto import keyring
from services.core.sync.config import parse_sources
from services.core.sync.enums import Trigger
from services.core.sync.normalise import EVIDENCE, MAX_CELL_CHARS
from services.core.sync.sealing import QUARANTINE_AAD
from services.worker import queue
from services.worker.fetch import SourceClient
from services.worker.runner import execute
from services.worker.sheets import csv_text
from services.worker.worker import Session, import_file
from tests.api.sync_helpers import civil_affairs_pull

VALID = "11010519491231002X"
OTHER = "110105194912310013"
TITLE = ["清溪县民政局社会救助对象名单"]
HEADER = ["记录编号", "身份证号", "姓名", "救助类型", "开始日期", "月救助金额", "停保原因", "备注"]


def good(key: str, **over) -> list[str]:
    row = {
        "记录编号": key,
        "身份证号": VALID,
        "姓名": "张三",
        "救助类型": "低保",
        "开始日期": "2024-01-01",
        "月救助金额": "580.00",
        "停保原因": "",
        "备注": "",
    }
    row.update(over)
    return [row[h] for h in HEADER]


@pytest.fixture
async def session(pool, sync_url, settings):
    local = settings.model_copy(
        update={"database_url": sync_url, "sync": settings.sync.model_copy(update={"prepare_processes": 0})}
    )
    s = await Session.open(local)
    try:
        yield s
    finally:
        await s.close()


async def quarantine(pool) -> dict[str, tuple]:
    rows = await pool.fetch("SELECT location, reason, field, external_key, detail FROM sync_quarantine ORDER BY id")
    return {r["location"]: (r["reason"], r["field"], r["external_key"]) for r in rows}


async def test_bad_rows_of_a_csv_are_quarantined_one_by_one_and_the_rest_is_read(session, pool, settings, tmp_path):
    rows = [
        TITLE,
        [],
        HEADER,
        good("MZ1"),  # row 4
        good("MZ5", 姓名="张" * 65),  # row 5
        good("MZ6", 备注="核\x00查"),  # row 6: NUL in a column nobody maps
        good("MZ7", 姓名="张\x00三"),  # row 7
        good("MZ8", 停保原因="因" * 600),  # row 8
        good("MZ9", 开始日期="2025-02-30"),  # row 9
        good("MZ10", 开始日期="20251301"),  # row 10
        good("MZ11", 月救助金额="1000000000000000"),  # row 11
        good("MZ12", 备注="长" * 300_000),  # row 12: a 300,000-character field
        good("MZ2"),  # row 13
        good("MZ14", 备注="x" * 1_200_000),  # row 14: a line beyond the line limit
        good("MZ3"),  # row 15
        good("M" * 300),  # row 16: a key beyond its column
        good("MZ17\x01"),  # row 17
        good("MZ4"),
    ]  # row 18
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_text(rows))
    run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded", (run["error_code"], run["error"])
    assert (run["fetched"], run["staged"], run["quarantined"]) == (15, 4, 11)
    assert await quarantine(pool) == {
        "row 5": ("too_long.name", "name", "MZ5"),
        "row 6": ("control_character.record", None, "MZ6"),
        "row 7": ("control_character.name", "name", "MZ7"),
        "row 8": ("too_long.stop_reason", "stop_reason", "MZ8"),
        "row 9": ("invalid.start_date", "start_date", "MZ9"),
        "row 10": ("invalid.start_date", "start_date", "MZ10"),
        "row 11": ("invalid.amount", "amount", "MZ11"),
        "row 12": ("too_long.record", None, None),
        "row 14": ("too_large.row", None, None),
        "row 16": ("too_long.record_id", "record_id", None),
        "row 17": ("control_character.record_id", "record_id", None),
    }
    assert {r["external_key"] for r in await pool.fetch("SELECT external_key FROM dept_records")} == {
        "MZ1",
        "MZ2",
        "MZ3",
        "MZ4",
    }
    ring = keyring(settings)
    stored = {
        r["location"]: r for r in await pool.fetch("SELECT location, raw_enc, raw_hash, detail FROM sync_quarantine")
    }
    # The record with the NUL is kept as received (encrypted, so storable as it is).
    assert orjson.loads(ring.decrypt(stored["row 6"]["raw_enc"], QUARANTINE_AAD))["备注"] == "核\x00查"
    # The 300,000 characters are not kept: a shortened copy with the digest of the whole.
    kept = ring.decrypt(stored["row 12"]["raw_enc"], QUARANTINE_AAD)
    assert len(kept) < 10_000
    shortened = orjson.loads(kept)
    assert shortened[EVIDENCE]["sha256"] == bytes(stored["row 12"]["raw_hash"]).hex()
    assert shortened["values"]["记录编号"] == "MZ12" and "300000" in stored["row 12"]["detail"]
    assert str(MAX_CELL_CHARS) in stored["row 12"]["detail"] and "备注" in stored["row 12"]["detail"]
    line = orjson.loads(ring.decrypt(stored["row 14"]["raw_enc"], QUARANTINE_AAD))
    assert len(line["values"]["line"]) <= 1000 and "1000000" in stored["row 14"]["detail"]

    # The same file again: the same quarantine rows (by digest), nothing doubled, nothing new.
    again = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert again["status"] == "succeeded" and again["staged"] == 0 and again["unchanged"] == 4
    assert await pool.fetchval("SELECT count(*) FROM sync_quarantine") == 11

    # Re-processing the quarantine (the worker's own run) leaves every one of them there,
    # shortened copies included, under the same reason.
    run_id, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.reprocess)
    claim = await queue.claim(session.dsn, ["civil-affairs"], "test", run_id=run_id)
    try:
        assert await execute(session.ctx, claim) == "succeeded"
    finally:
        await claim.release()
    assert await pool.fetchval("SELECT count(*) FROM sync_quarantine WHERE status = 'open'") == 11
    assert (await quarantine(pool))["row 12"] == ("too_long.record", None, None)


async def test_a_quoted_field_beyond_the_line_limit_over_several_lines(session, pool, tmp_path):
    half = "长" * 600_000
    body = csv_text([TITLE, HEADER, good("MZ1")]).decode("utf-8")
    body += f'MZ2,{VALID},张三,低保,2024-01-01,1.00,,"{half}\n{half}"\r\n'
    body += ",".join(good("MZ3")) + "\r\n"
    path = tmp_path / "quoted.csv"
    path.write_text(body, encoding="utf-8")
    run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded", run["error"]
    assert await quarantine(pool) == {"row 4": ("too_large.row", None, None)}
    assert {r["external_key"] for r in await pool.fetch("SELECT external_key FROM dept_records")} == {"MZ1", "MZ3"}


async def test_numbers_out_of_range_in_a_medical_file(session, pool, tmp_path):
    header = ["记录编号", "记录类型", "身份证号码", "姓名", "年度", "结算日期", "总费用", "个人自付费用"]
    rows = [
        header,
        ["CB1", "参保", VALID, "张三", "2026", "", "", ""],
        ["CB2", "参保", VALID, "张三", "99999999999", "", "", ""],
        ["CB3", "参保", VALID, "张三", "1" * 5000, "", "", ""],
        ["JS1", "结算", VALID, "张三", "2026", "2026-03-01", "100000000000000", "1.00"],
        ["JS2", "结算", VALID, "张三", "2026", "2026-02-30", "100.00", "1.00"],
        ["JS3", "结算", VALID, "张三", "2026", "2026-03-01", "100.00", "25.50"],
    ]
    path = tmp_path / "医保.csv"
    path.write_bytes(csv_text(rows))
    run = await import_file(session, session.source("medical-insurance"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded", run["error"]
    assert await quarantine(pool) == {
        "row 3": ("invalid.year", "year", "CB2"),
        "row 4": ("too_long.year", "year", "CB3"),
        "row 5": ("invalid.total_cost", "total_cost", "JS1"),
        "row 6": ("invalid.settled_on", "settled_on", "JS2"),
    }
    claim = await pool.fetchval("SELECT data->>'out_of_pocket' FROM dept_records WHERE external_key = 'JS3'")
    assert claim == "25.50"  # 个人自付费用, the header Guardline's own export writes


async def test_an_xlsx_with_huge_numbers_and_cells_beyond_excels_limit(session, pool, settings, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([*good("MZ1")[:1], int(VALID[:17] + "1"), *good("MZ1")[2:]])  # ID typed as a number: check digit
    sheet.append(good("MZ2", 月救助金额=10**30))
    sheet.append(good("MZ3", 备注="长" * 40_000))  # openpyxl keeps Excel's 32,767: at the bound, staged
    sheet.append(good("MZ4", 开始日期=99_999_999_999))
    sheet.append(good("MZ5"))
    path = tmp_path / "名单.xlsx"
    book.save(path)
    run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded", run["error"]
    assert await quarantine(pool) == {
        "row 2": ("id_number.check_digit", "id_number", "MZ1"),
        "row 3": ("invalid.amount", "amount", "MZ2"),
        "row 5": ("invalid.start_date", "start_date", "MZ4"),
    }
    assert {r["external_key"] for r in await pool.fetch("SELECT external_key FROM dept_records")} == {"MZ3", "MZ5"}


def _bomb(path: Path, entries: dict[str, int]) -> None:
    """A zip whose entries unpack to the given sizes (of zeros, which deflate to little)."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, size in entries.items():
            with archive.open(name, "w", force_zip64=True) as out:
                for start in range(0, size, len(chunk)):
                    out.write(chunk[: min(len(chunk), size - start)])


@pytest.mark.parametrize(
    "entries, limits, says",
    [
        ({"[Content_Types].xml": 100, "xl/worksheets/sheet1.xml": 210_000_000}, {}, "unpacks to 210000100 bytes"),
        (
            {"xl/sharedStrings.xml": 300_000, "xl/worksheets/sheet1.xml": 10},
            {"max_xlsx_shared_strings_bytes": 200_000},
            "shared strings take 300000 bytes",
        ),
        ({f"xl/media/image{i}.png": 10 for i in range(30)}, {"max_xlsx_entries": 20}, "holds 30 parts"),
    ],
)
async def test_an_xlsx_zip_bomb_is_refused_unopened(session, pool, tmp_path, entries, limits, says):
    path = tmp_path / "bomb.xlsx"
    _bomb(path, entries)
    session.ctx.settings = session.ctx.settings.model_copy(
        update={"sync": session.ctx.settings.sync.model_copy(update=limits)}
    )
    run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert (run["status"], run["error_code"]) == ("failed", "too_large")
    assert says in run["error"] and "refused unopened" in run["error"]
    assert run["pages"] == 0
    # A refused file says nothing about the department's server: the breaker does not count it.
    assert await pool.fetchval("SELECT consecutive_failures FROM sync_source_states") is None
    # And the source goes on: the next file is imported.
    fine = tmp_path / "fine.csv"
    fine.write_bytes(csv_text([HEADER, good("MZ1")]))
    assert (await import_file(session, session.source("civil-affairs"), "529901", fine, lambda r: None))[
        "status"
    ] == "succeeded"


PULLED = civil_affairs_pull("http://department.test")


def _api(records: list[dict]) -> list[dict]:
    return [
        {"jzid": f"A{i}", "sfzh": VALID, "xm": "张三", "jzlx": "低保", "ksrq": "2024-01-01", **r}
        for i, r in enumerate(records)
    ]


async def test_a_pulled_page_with_bad_records_is_staged_around_them(session, pool):
    records = _api(
        [
            {},
            {"xm": "张\u0000三"},
            {"remark": {"nested": ["a\u0000b"]}},
            {"jzid": "K" * 300},
            {"yje": 1e300},
            {"remark": "长" * 300_000},
            {"ksrq": "2025-02-30"},
            {"sfzh": OTHER},
            {},
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=orjson.dumps({"records": records, "next": None}))

    sources = parse_sources(PULLED)
    session.ctx.sources = sources
    source = sources.get("civil-affairs")
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url=source.base_url)
    run_id, _ = await queue.enqueue_run(session.ctx.db, "civil-affairs", "529901", Trigger.manual)
    claim = await queue.claim(session.dsn, ["civil-affairs"], "test", run_id=run_id)
    try:
        assert (
            await execute(session.ctx, claim, client=SourceClient(source, session.ctx.settings.sync, client=http))
            == "succeeded"
        )
    finally:
        await claim.release()
        await http.aclose()
    reasons = sorted((r["reason"], r["field"]) for r in await pool.fetch("SELECT reason, field FROM sync_quarantine"))
    assert reasons == sorted(
        [
            ("control_character.name", "name"),
            ("control_character.record", None),
            ("too_long.record_id", "record_id"),
            ("invalid.amount", "amount"),
            ("too_long.record", None),
            ("invalid.start_date", "start_date"),
            ("id_number.check_digit", "id_number"),
        ]
    )
    assert sorted(r["external_key"] for r in await pool.fetch("SELECT external_key FROM dept_records")) == ["A0", "A8"]
    run = await pool.fetchrow("SELECT status, fetched, staged, quarantined FROM sync_runs WHERE id = $1", run_id)
    assert tuple(run) == ("succeeded", 9, 2, 7)


def test_payload_bytes_takes_what_json_cannot():
    """An XLSX cell may hold an integer beyond 64 bits; the payload is still hashed (the
    same way each time) and kept."""
    from services.worker.preparing import payload_bytes

    body = payload_bytes({"a": 10**30, "b": "\ud800", "c": 10**20000})
    assert orjson.loads(body)["a"] == str(10**30)
    assert (
        hashlib.sha256(body).digest()
        == hashlib.sha256(payload_bytes({"a": 10**30, "b": "\ud800", "c": 10**20000})).digest()
    )


async def test_the_same_bad_row_twice_in_a_page_is_one_quarantine_row(session, pool, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_bytes(
        csv_text(
            [
                HEADER,
                good("MZ1"),
                good("MZ2", 开始日期="2025-02-30"),
                good("MZ2", 开始日期="2025-02-30"),
                good("MZ3", 备注="长" * 40_000),
                good("MZ3", 备注="长" * 40_000),
                good("MZ4"),
            ]
        )
    )
    run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    assert run["status"] == "succeeded", (run["error_code"], run["error"])
    assert (run["fetched"], run["staged"], run["quarantined"]) == (6, 2, 4)
    # The last of the same payload in a page wins, as across pages.
    assert await quarantine(pool) == {
        "row 4": ("invalid.start_date", "start_date", "MZ2"),
        "row 6": ("too_long.record", None, None),
    }


async def test_bad_rows_prepared_in_another_process(pool, sync_url, settings, tmp_path):
    """The worker's default: pages are normalised in a separate process (evidence and all)."""
    local = settings.model_copy(
        update={
            "database_url": sync_url,
            "sync": settings.sync.model_copy(update={"prepare_processes": 1, "page_size": 2}),
        }
    )
    path = tmp_path / "名单.csv"
    header = [*HEADER[:-1], "备\x00注"]  # a NUL in a header is dropped, not held against every row
    path.write_bytes(
        csv_text(
            [header, good("MZ1"), good("MZ2", 姓名="张\x00三"), good("MZ3", 备注="长" * 40_000), good("MZ4", 备注="x")]
        )
    )
    session = await Session.open(local)
    try:
        run = await import_file(session, session.source("civil-affairs"), "529901", path, lambda r: None)
    finally:
        await session.close()
    assert run["status"] == "succeeded", run["error"]
    assert (run["pages"], run["staged"], run["quarantined"]) == (2, 2, 2)
    assert await quarantine(pool) == {
        "row 3": ("control_character.name", "name", "MZ2"),
        "row 4": ("too_long.record", None, None),
    }
