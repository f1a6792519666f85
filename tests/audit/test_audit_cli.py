"""``guardline audit verify`` and ``purge`` as an operator runs them, on a database where the
audit rows are really committed (a scratch database, dropped afterwards); and the chain
under concurrent writers."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from services.core.audit import AuditRecord, record, record_now
from services.core.audit.chain import verify_database
from services.core.db import Database
from tests.cli import committed_engine, needs_embedded_server, run_guardline

SCRATCH = "guardline_audit_cli"

pytestmark = needs_embedded_server


@pytest.fixture
async def committed(engine, settings):
    async with committed_engine(engine, settings, SCRATCH) as eng:
        yield eng


def guardline(settings, *args: str, **env: str):
    return run_guardline(settings, SCRATCH, *args, **env)


def event(n: int) -> AuditRecord:
    return AuditRecord(
        action="person.unmask",
        actor=f"user:{n}",
        object_type="person",
        object_id=str(n),
        region_code="529901001001",
        request_id=f"cli-{n}",
    )


async def test_verify_and_purge_from_the_command_line(committed, settings):
    async with committed.begin() as conn:
        for n in range(3):
            await record(conn, event(n))
        await conn.execute(
            text(
                "INSERT INTO audit_log (at, action, result) VALUES (now() - interval '1 day', 'auth.login', 'failure')"
            )
        )
    out = await asyncio.to_thread(guardline, settings, "audit", "verify")
    assert out.returncode == 0, out.stderr
    assert "4 rows checked (ids 1–4)" in out.stdout
    head = next(line for line in out.stdout.splitlines() if line.startswith("head: "))[6:]
    assert head.startswith("4:") and len(head) == 2 + 64

    out = await asyncio.to_thread(guardline, settings, "audit", "verify", "--expect-head", head)
    assert out.returncode == 0, out.stdout
    out = await asyncio.to_thread(guardline, settings, "audit", "verify", "--expect-head", "4:zz")
    assert out.returncode == 2 and "--expect-head" in out.stderr

    out = await asyncio.to_thread(guardline, settings, "audit", "purge", "--dry-run")
    assert out.returncode == 0 and "nothing to purge" in out.stdout
    out = await asyncio.to_thread(guardline, settings, "audit", "purge", GUARDLINE_AUDIT__RETENTION_DAYS="90")
    assert out.returncode == 2 and "at least 183" in out.stderr

    async with committed.begin() as conn:  # someone with the owner's rights edits row 2
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
        await conn.execute(text("UPDATE audit_log SET actor = 'user:999' WHERE id = 2"))
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"))
    out = await asyncio.to_thread(guardline, settings, "audit", "verify")
    assert out.returncode == 1
    assert "BROKEN at row 2" in out.stdout and "expected:" in out.stdout and "stored:" in out.stdout


async def test_concurrent_writers_build_one_unbroken_chain(committed):
    """Eight connections inserting at once, some in batches, some rolled back: ids stay
    contiguous in chain order and every link holds."""
    per_writer = 25

    async def writer(w: int) -> None:
        for i in range(per_writer):
            async with committed.connect() as conn, conn.begin() as tx:
                await record(conn, event(w * 1000 + i))
                if i % 5 == 4:
                    await record(conn, event(w * 1000 + i + 500))
                if i % 7 == 6:
                    await tx.rollback()

    await asyncio.gather(*(writer(w) for w in range(8)))
    report = await verify_database(committed)
    kept_per_writer = (
        per_writer
        + 5
        - sum(1 for i in range(per_writer) if i % 7 == 6)
        - sum(1 for i in range(per_writer) if i % 7 == 6 and i % 5 == 4)
    )
    assert report.ok, report.broken
    assert report.rows_checked == 8 * kept_per_writer and report.first_id == 1


async def test_record_now_commits_although_the_request_rolls_back(committed):
    database = Database(committed)
    async with database.session() as request_session:
        await request_session.execute(text("SELECT 1"))  # the request's own transaction is open
        ref = await record_now(
            database,
            AuditRecord(action="auth.login", result="failure", actor_name="nobody", ip="203.0.113.9", status=401),
        )
        await request_session.rollback()
    ref2 = await record_now(committed, AuditRecord(action="auth.login", result="denied"))
    async with committed.connect() as conn:
        stored = (
            await conn.execute(text("SELECT id, action, result, host(ip) AS ip FROM audit_log ORDER BY id"))
        ).all()
    assert [(r.id, r.result, r.ip) for r in stored] == [(ref.id, "failure", "203.0.113.9"), (ref2.id, "denied", None)]
