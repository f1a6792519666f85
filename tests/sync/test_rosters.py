"""Declaring a complete roster, against a committed database: a spreadsheet imported with
``--roster`` and a pull of a roster source record what they read (new, changed, unchanged,
and refused rows with a key) in the page's transaction; a failed run declares nothing and
its entries go; a newer clean roster of the same period replaces the older."""

from __future__ import annotations

import httpx
import pytest

from services.core.db import Database, create_engine
from services.core.sync.config import parse_sources
from services.core.sync.enums import SourceKind, Trigger
from services.core.sync.rosters import declare
from services.core.timeutil import today
from services.worker import queue
from services.worker.fetch import SourceClient
from services.worker.runner import Context, _stage, execute, import_records

VALID = "11010519491231002X"
COUNTY = "529901"
MEDICAL = """
[[sources]]
name = "medical-insurance"
kind = "medical-insurance"
counties = ["529901"]
[sources.fields]
record_id = ["key"]
record_type = ["type"]
id_number = ["id_no"]
year = ["year"]
insured = ["insured"]
family_doctor = ["家庭医生签约"]
"""
PULLED = """
[[sources]]
name = "education"
kind = "education"
base_url = "http://edu.test"
counties = ["529901"]
key = ["record_id", "term"]
[sources.auth]
style = "none"
[sources.paging]
style = "cursor"
path = "/students"
items = "students"
next_cursor = "next"
[sources.fields]
record_id = ["xjh"]
id_number = ["sfzjh"]
term = ["xq"]
status = ["xjzt"]
[sources.roster]
of = "term"
period_path = "roster.term"

[[sources]]
name = "medical-insurance"
kind = "medical-insurance"
base_url = "http://mi.test"
counties = ["529901"]
[sources.auth]
style = "none"
[sources.paging]
style = "updated_since"
path = "/records"
items = "items"
has_more = "has_more"
[sources.fields]
record_id = ["key"]
record_type = ["type"]
id_number = ["id_no"]
year = ["year"]
updated_at = ["updated_at"]
[sources.roster]
of = "enrolment"
"""


def enrolment(key: str | None, **over) -> dict:
    raw = {"key": key, "type": "enrolment", "id_no": VALID, "year": 2026, "insured": "是", "家庭医生签约": "已签约"}
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not None}


@pytest.fixture
async def ctx(pool, sync_url, settings):
    db = Database(create_engine(sync_url, settings, "tests"))
    quick = settings.model_copy(update={"sync": settings.sync.model_copy(update={"prepare_processes": 0})})
    try:
        yield Context.build(quick, parse_sources(MEDICAL), pool, db)
    finally:
        await db.dispose()


async def _import(ctx, dsn, rows, roster: str | None = "2026", region: str | None = None) -> int:
    source = ctx.sources.get("medical-insurance")
    declared = declare(source.kind, COUNTY, roster, region) if roster else None
    claim = await queue.open_import(dsn, source.name, COUNTY, "参保名册.xlsx", "test", declared)
    try:
        await import_records(
            ctx, source, claim, [(f"row {i + 4}", r) for i, r in enumerate(rows)], None, roster=declared is not None
        )
    finally:
        await claim.release()
    return claim.run_id


async def entries(pool, run_id: int) -> set[str]:
    return {
        r["external_key"]
        for r in await pool.fetch("SELECT external_key FROM sync_roster_entries WHERE run_id = $1", run_id)
    }


async def roster_of(pool, run_id: int) -> tuple:
    row = await pool.fetchrow(
        "SELECT status, roster_period, roster_region, roster_records, roster_rejected FROM sync_runs WHERE id = $1",
        run_id,
    )
    return tuple(row)


async def test_an_imported_roster_records_every_row_it_read(ctx, pool, dsn):
    rows = [enrolment("K1"), enrolment("K2", 家庭医生签约="未签约"), enrolment("K3", year="二〇二六"), enrolment(None)]
    first = await _import(ctx, dsn, rows, region="529901001")
    assert await roster_of(pool, first) == ("succeeded", "2026", "529901001", 2, 2)
    # K3 was refused but its key is readable (a person known from before is not absent); the
    # row without a key cannot be anyone.
    assert await entries(pool, first) == {"K1", "K2", "K3"}
    signed = dict(await pool.fetch("SELECT external_key, (data->>'family_doctor')::boolean FROM dept_records"))
    assert signed == {"K1": True, "K2": False}

    # The same file again: nothing is staged, yet every row is in the new roster.
    second = await _import(ctx, dsn, rows)
    run = await pool.fetchrow("SELECT staged, unchanged FROM sync_runs WHERE id = $1", second)
    assert tuple(run) == (0, 2)
    assert await entries(pool, second) == {"K1", "K2", "K3"}
    assert await entries(pool, first) == {"K1", "K2", "K3"}  # another region: kept

    # A clean roster of the same region and period replaces the older one; an import that
    # is not a roster declares nothing.
    third = await _import(ctx, dsn, rows[:2])
    assert await entries(pool, second) == set() and await entries(pool, third) == {"K1", "K2"}
    plain = await _import(ctx, dsn, rows[:1], roster=None)
    assert await roster_of(pool, plain) == ("succeeded", None, None, None, None)
    assert await entries(pool, plain) == set()


async def test_a_roster_run_that_fails_declares_nothing(ctx, pool, dsn, settings):
    source = ctx.sources.get("medical-insurance")
    claim = await queue.open_import(
        dsn, source.name, COUNTY, "参保名册.xlsx", "test", declare(SourceKind.medical_insurance, COUNTY, "2026")
    )
    try:

        async def pages():
            from services.worker.staging import PageIn

            yield PageIn([enrolment("K1")], ["row 4"])

        await _stage(ctx, source, claim, pages(), None, roster=True)
        await queue.record_failure(
            ctx.db, claim.run_id, source.name, "unreadable", "the file broke off", settings.sync, retry=False
        )
    finally:
        await claim.release()
    assert (await roster_of(pool, claim.run_id))[0] == "failed"
    assert await entries(pool, claim.run_id) == {"K1"}
    await _import(ctx, dsn, [enrolment("K2")], roster=None)  # the next success clears the failed roster
    assert await entries(pool, claim.run_id) == set()


def _client(source, settings, handler) -> SourceClient:
    http = httpx.AsyncClient(base_url=source.base_url, transport=httpx.MockTransport(handler))
    return SourceClient(source, settings.sync, client=http)


async def _pull(ctx, dsn, name: str, handler) -> int:
    run_id, _ = await queue.enqueue_run(ctx.db, name, COUNTY, Trigger.manual)
    claim = await queue.claim(dsn, [name], "test", run_id=run_id)
    try:
        await execute(ctx, claim, client=_client(ctx.sources.get(name), ctx.settings, handler))
    finally:
        await claim.release()
    return run_id


def student(key: str, term: str = "2026秋") -> dict:
    return {"xjh": key, "sfzjh": VALID, "xq": term, "xjzt": "在读"}


async def test_a_pull_of_a_roster_source_is_the_roster_its_pages_name(ctx, pool, dsn):
    ctx.sources = parse_sources(PULLED)

    def pages(second_term: str):
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.params.get("cursor") == "c2":
                return httpx.Response(
                    200, json={"students": [student("S2")], "next": "", "roster": {"term": second_term}}
                )
            return httpx.Response(200, json={"students": [student("S1")], "next": "c2", "roster": {"term": "2026秋"}})

        return handler

    good = await _pull(ctx, dsn, "education", pages("2026秋"))
    assert await roster_of(pool, good) == ("succeeded", "2026秋", COUNTY, 2, 0)
    assert await entries(pool, good) == {"S1|2026秋", "S2|2026秋"}
    # Pages that disagree on their term are no roster: the run fails and declares nothing.
    bad = await _pull(ctx, dsn, "education", pages("2027春"))
    row = await pool.fetchrow("SELECT status, error_code FROM sync_runs WHERE id = $1", bad)
    assert tuple(row) == ("failed", "roster_changed")


async def test_an_updated_since_roster_is_only_the_full_pull(ctx, pool, dsn):
    ctx.sources = parse_sources(PULLED)
    year = today().year

    def handler(request: httpx.Request) -> httpx.Response:
        item = {
            "key": "E1",
            "type": "enrolment",
            "id_no": VALID,
            "year": year,
            "updated_at": f"{year}-01-01T09:00:00+08:00",
        }
        if request.url.params.get("updated_since"):
            return httpx.Response(200, json={"items": [], "has_more": False})
        return httpx.Response(200, json={"items": [item], "has_more": False})

    full = await _pull(ctx, dsn, "medical-insurance", handler)
    assert await roster_of(pool, full) == ("succeeded", str(year), COUNTY, 1, 0)
    assert await entries(pool, full) == {"E1"}
    since = await _pull(ctx, dsn, "medical-insurance", handler)  # from the mark: only what changed
    assert await roster_of(pool, since) == ("succeeded", None, None, None, None)
    # Asked for a full pull (`guardline sync run --full`), the next run reads from the start
    # and is a roster again; never while a run is waiting.
    waiting, _ = await queue.enqueue_run(ctx.db, "medical-insurance", COUNTY, Trigger.manual)
    assert await queue.forget_mark(pool, "medical-insurance", COUNTY) is False
    await pool.execute("UPDATE sync_runs SET status = 'failed' WHERE id = $1", waiting)
    assert await queue.forget_mark(pool, "medical-insurance", COUNTY) is True
    again = await _pull(ctx, dsn, "medical-insurance", handler)
    assert await roster_of(pool, again) == ("succeeded", str(year), COUNTY, 1, 0)
