"""The audit table in PostgreSQL: the chain the trigger builds, the rows nobody may change,
the purge's floor, and ``verify`` finding each kind of tampering.

These run on a scratch database of their own (``guardline_audit_chain``), each test in a
rolled-back transaction, so every test starts from an empty chain (row 1 first)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.core.audit import AuditRecord, AuditResult, record, record_many
from services.core.audit.chain import PURGE_ACTION, parse_head, purge, verify_chain
from services.core.audit.models import GENESIS_HASH
from services.core.db import create_engine
from tests.conftest import scratch_database

SCRATCH = "guardline_audit_chain"


@pytest.fixture(scope="module")
async def chain_engine(engine: AsyncEngine, settings) -> AsyncIterator[AsyncEngine]:
    async with scratch_database(engine, SCRATCH) as url:
        eng = create_engine(url, settings, "tests")
        yield eng
        await eng.dispose()


@pytest.fixture
async def conn(chain_engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with chain_engine.connect() as connection:
        outer = await connection.begin()
        try:
            yield connection
        finally:
            await outer.rollback()


def event(n: int = 0, **kw) -> AuditRecord:
    base = {
        "action": "household.update",
        "actor": "user:7",
        "actor_name": "村干部",
        "role": "village_staff",
        "object_type": "household",
        "object_id": str(100 + n),
        "region_code": "529901001001",
        "result": "success",
        "status": 200,
        "request_id": f"req-{n}",
        "ip": "10.1.2.3",
        "before": {"phone": "13800000000", "n": n},
        "after": {"phone": "13900000000", "n": n},
    }
    base.update(kw)
    return AuditRecord(**base)


async def add(conn, count: int) -> list[int]:
    refs = await record_many(conn, [event(i) for i in range(count)])
    return [r.id for r in refs]


async def insert_aged(conn, days_ago: float, action: str = "person.unmask") -> int:
    """A row written ``days_ago`` days ago (``at`` given explicitly; still chained)."""
    return (
        await conn.execute(
            text(
                "INSERT INTO audit_log (at, action, result) VALUES (now() - make_interval(secs => :d * 86400), :a, 'success') "
                "RETURNING id"
            ),
            {"d": days_ago, "a": action},
        )
    ).scalar_one()


async def rows(conn):
    return (
        await conn.execute(
            text("SELECT id, prev_hash, hash, audit_canonical(a) AS canonical FROM audit_log a ORDER BY id")
        )
    ).all()


async def refused(conn, sql: str, **params) -> str:
    """Run ``sql`` in a savepoint; it must fail. The database's message."""
    with pytest.raises(DBAPIError) as caught:
        async with conn.begin_nested():
            await conn.execute(text(sql), params)
    return str(caught.value.orig)


# ---- the chain ------------------------------------------------------------------------


async def test_each_row_links_to_the_previous_one(conn):
    await add(conn, 2)
    one = await record(conn, event(9, result=AuditResult.denied, status=403))
    got = await rows(conn)
    assert [r.id for r in got] == [1, 2, 3] and one.id == 3
    assert got[0].prev_hash == GENESIS_HASH
    for prev, row in zip([None, *got], got, strict=False):
        if prev is not None:
            assert row.prev_hash == prev.hash
        assert row.hash == hashlib.sha256(row.prev_hash + row.canonical.encode()).digest()
    assert one.hash == got[-1].hash
    report = await verify_chain(conn)
    assert report.ok and report.rows_checked == 3 and report.first_id == 1
    assert report.head == f"3:{got[-1].hash.hex()}"


async def test_canonical_text_covers_every_column_but_the_hash(conn):
    await add(conn, 1)
    canonical = (await rows(conn))[0].canonical
    columns = (
        (await conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_log'")))
        .scalars()
        .all()
    )
    assert len(columns) == 19  # a new column must be added to audit_canonical() (and its version tag)
    for value in (
        '"guardline-audit-v1"',
        '"household.update"',
        '"user:7"',
        '"村干部"',
        '"529901001001"',
        '"req-0"',
        '"10.1.2.3',
        '"13900000000"',
        "200",
        GENESIS_HASH.hex(),
    ):
        assert value in canonical, value


async def test_canonical_text_does_not_depend_on_the_session_time_zone(conn):
    await add(conn, 1)
    before = (await rows(conn))[0].canonical
    await conn.execute(text("SET LOCAL timezone = 'America/Los_Angeles'"))
    assert (await rows(conn))[0].canonical == before
    assert (await verify_chain(conn)).ok


async def test_ids_and_hashes_sent_by_a_client_are_overwritten(conn):
    await add(conn, 1)
    forged = (
        await conn.execute(
            text(
                "INSERT INTO audit_log (id, action, result, prev_hash, hash) VALUES (999, 'x.y', 'success', '\\x01', '\\x02') "
                "RETURNING id, prev_hash, hash"
            )
        )
    ).one()
    first = (await rows(conn))[0]
    assert forged.id == 2 and forged.prev_hash == first.hash and len(forged.hash) == 32
    assert (await verify_chain(conn)).ok


async def test_sensitive_values_are_redacted_before_they_reach_the_table(conn):
    await record(
        conn,
        event(
            1,
            before={"id_number": "11010519491231002X", "illness": "肺癌"},
            detail={"note": "查询 11010519491231002X 的人员"},
        ),
    )
    stored = (await conn.execute(text("SELECT before, detail FROM audit_log"))).one()
    assert stored.before == {"id_number": "110105************", "illness": "[redacted]"}
    assert stored.detail == {"note": "查询 110105************ 的人员"}


async def test_an_insert_in_a_repeatable_read_transaction_is_refused(chain_engine):
    """Its snapshot could miss the latest row and fork the chain."""
    async with chain_engine.connect() as other:
        other = await other.execution_options(isolation_level="REPEATABLE READ")
        async with other.begin():
            with pytest.raises(DBAPIError, match="READ COMMITTED"):
                await record(other, event())


# ---- append-only ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET detail = '{\"x\": 1}' WHERE id = 1",
        "UPDATE audit_log SET at = at - interval '1000 days'",
        "DELETE FROM audit_log WHERE id = 1",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_rows_cannot_be_changed_or_removed_even_by_raw_sql(conn, sql):
    await add(conn, 2)
    message = await refused(conn, sql)
    assert "append-only" in message
    assert len(await rows(conn)) == 2


async def test_delete_is_refused_for_old_rows_outside_the_purge(conn):
    await insert_aged(conn, 400)
    assert "append-only" in await refused(conn, "DELETE FROM audit_log WHERE id = 1")


async def test_the_purge_flag_does_not_open_rows_younger_than_six_months(conn):
    await insert_aged(conn, 182.5)
    await conn.execute(text("SELECT set_config('guardline.audit_purge', 'on', true)"))
    assert "183 days" in await refused(conn, "DELETE FROM audit_log WHERE id = 1")
    await insert_aged(conn, 184)
    async with conn.begin_nested():  # the floor itself: 184 days may go
        await conn.execute(text("DELETE FROM audit_log WHERE id = 2"))


async def test_public_has_no_update_delete_or_truncate_privilege(conn):
    granted = (
        await conn.execute(
            text(
                "SELECT count(*) FROM information_schema.role_table_grants WHERE table_name = 'audit_log' "
                "AND grantee = 'PUBLIC' AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')"
            )
        )
    ).scalar_one()
    assert granted == 0


# ---- verify finds tampering -------------------------------------------------------------


async def tamper(conn, sql: str, trigger: str) -> None:
    """What an attacker with the owner's rights could do: switch a guard off, change, switch it on."""
    await conn.execute(text(f"ALTER TABLE audit_log DISABLE TRIGGER {trigger}"))
    for statement in sql.split("; "):
        await conn.execute(text(statement))
    await conn.execute(text(f"ALTER TABLE audit_log ENABLE TRIGGER {trigger}"))


async def test_verify_reports_a_changed_row(conn):
    await add(conn, 5)
    await tamper(conn, 'UPDATE audit_log SET after = \'{"phone": "13700000000"}\' WHERE id = 3', "audit_log_no_update")
    report = await verify_chain(conn)
    assert not report.ok and report.rows_checked == 2
    assert report.broken.row_id == 3 and "content" in report.broken.reason
    stored = (await conn.execute(text("SELECT hash FROM audit_log WHERE id = 3"))).scalar_one()
    assert report.broken.stored == stored.hex() and report.broken.expected != report.broken.stored


async def test_verify_reports_a_changed_row_whose_hash_was_recomputed(conn):
    await add(conn, 5)
    await tamper(
        conn,
        "UPDATE audit_log SET object_id = 'x' WHERE id = 2; "
        "UPDATE audit_log a SET hash = sha256(a.prev_hash || convert_to(audit_canonical(a), 'UTF8')) "
        "WHERE id = 2",
        "audit_log_no_update",
    )
    report = await verify_chain(conn)
    assert report.broken.row_id == 3 and "prev_hash" in report.broken.reason


async def test_verify_reports_a_deleted_row(conn):
    await add(conn, 5)
    await tamper(conn, "DELETE FROM audit_log WHERE id = 3", "audit_log_no_delete")
    report = await verify_chain(conn)
    assert report.broken.row_id == 4 and "row 3 missing" in report.broken.reason
    assert report.rows_checked == 2


async def test_verify_reports_a_truncated_tail_only_against_a_noted_head(conn):
    await add(conn, 5)
    head = parse_head((await verify_chain(conn)).head)
    assert head[0] == 5
    await tamper(conn, "DELETE FROM audit_log WHERE id >= 4", "audit_log_no_delete")
    assert (await verify_chain(conn)).ok  # a shorter chain is still a chain
    report = await verify_chain(conn, expect_head=head)
    assert not report.ok and report.broken.row_id == 5 and "ends at row 3" in report.broken.reason


async def test_verify_reports_a_rewritten_chain_against_a_noted_head(conn):
    await add(conn, 3)
    head_id, _head_hash = parse_head((await verify_chain(conn)).head)
    report = await verify_chain(conn, expect_head=(head_id, bytes(32)))
    assert report.broken.row_id == 3 and "rewritten" in report.broken.reason
    assert (await verify_chain(conn, expect_head=(2, (await rows(conn))[1].hash))).ok


async def test_verify_of_an_empty_log(conn):
    report = await verify_chain(conn)
    assert report.ok and report.rows_checked == 0 and report.head is None
    assert not (await verify_chain(conn, expect_head=(1, bytes(32)))).ok


@pytest.mark.parametrize("bad", ["", "12", "12:abc", "x:" + "0" * 64, "5:" + "g" * 64])
def test_malformed_heads_are_refused(bad):
    with pytest.raises(ValueError):
        parse_head(bad)


# ---- retention --------------------------------------------------------------------------


async def test_purge_removes_the_old_rows_and_verify_starts_after_them(conn):
    for days in (400, 390, 380):
        await insert_aged(conn, days)
    await insert_aged(conn, 200)
    await add(conn, 2)
    last_old_hash = (await rows(conn))[2].hash
    report = await purge(conn, 365)
    assert (report.purged, report.from_id, report.to_id) == (3, 1, 3) and report.last_hash == last_old_hash
    assert [r.id for r in await rows(conn)] == [4, 5, 6, 7]
    marker = (
        await conn.execute(text("SELECT action, detail FROM audit_log WHERE id = :id"), {"id": report.marker_id})
    ).one()
    assert marker.action == PURGE_ACTION and report.marker_id == 7
    assert marker.detail["purged_to_id"] == 3 and marker.detail["last_purged_hash"] == last_old_hash.hex()
    verified = await verify_chain(conn)
    assert verified.ok and verified.first_id == 4 and verified.rows_checked == 4
    assert "rows 1–3 were purged" in verified.notes[0]
    # A second purge later on: the first marker may go too; verify follows the newest one.
    second = await purge(conn, 183)
    assert (second.from_id, second.to_id) == (4, 4)
    assert (await verify_chain(conn)).ok


async def test_purge_keeps_everything_from_the_first_young_row_on(conn):
    await insert_aged(conn, 400)
    await insert_aged(conn, 10)
    await insert_aged(conn, 400)  # old, but after a young row: a purge never cuts the chain in two
    report = await purge(conn, 365)
    assert (report.from_id, report.to_id) == (1, 1)
    assert [r.id for r in await rows(conn)] == [2, 3, 4]
    assert (await verify_chain(conn)).ok


async def test_purge_cannot_go_below_the_floor_even_when_asked(conn):
    """The settings refuse less than 183 days; the database refuses it as well."""
    await insert_aged(conn, 300)
    await insert_aged(conn, 100)
    await add(conn, 1)
    with pytest.raises(DBAPIError, match="183 days"):
        async with conn.begin_nested():
            await purge(conn, 30)
    assert len(await rows(conn)) == 3


async def test_purge_dry_run_and_nothing_to_purge(conn):
    assert (await purge(conn, 365)).purged == 0  # empty log
    await insert_aged(conn, 400)
    await add(conn, 1)
    dry = await purge(conn, 365, dry_run=True)
    assert (dry.purged, dry.to_id, dry.marker_id) == (1, 1, None)
    assert len(await rows(conn)) == 2
    await purge(conn, 365)
    assert (await purge(conn, 365)).purged == 0
    assert (
        await conn.execute(text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": PURGE_ACTION})
    ).scalar_one() == 1


async def test_a_purge_marker_that_was_not_written_by_a_purge_breaks_verification(conn):
    """Anyone who may insert events could add one: it must not pass for a real purge."""
    await add(conn, 2)
    await record(conn, event(action=PURGE_ACTION, detail={"purged_to_id": 1}))
    report = await verify_chain(conn)
    assert report.broken.row_id == 3 and "purge marker" in report.broken.reason
    await record(conn, event(action=PURGE_ACTION, detail={"purged_to_id": 1, "last_purged_hash": "00" * 32}))
    report = await verify_chain(conn)
    assert report.broken.row_id == 1 and "precedes" in report.broken.reason
