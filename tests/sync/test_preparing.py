"""A preparing process (``staging.Preparer`` with processes > 0) does the whole of a page's
preparation and imports only what that needs: no database layer, no web framework. Each
of those it imported cost every preparing process of every worker its memory and its
start-up (SQLAlchemy and the ORM models were about half of a process's 71 MB)."""

from __future__ import annotations

import asyncio

from services.core.crypto import keyring
from services.core.sync.normalise import Normaliser
from services.core.sync.sealing import QUARANTINE_AAD, RAW_AAD
from services.worker.preparing import Stager, payload_bytes
from services.worker.staging import PageIn, Preparer
from tests.sync.test_staging_queue import VALID, rec

HEAVY = ("sqlalchemy", "asyncpg", "fastapi", "starlette", "httpx", "uvicorn", "alembic")


def _loaded_in_child(preparer: Preparer) -> list[str]:
    # ``eval`` is pickled by name, so the process runs it without importing anything of ours.
    return preparer._pool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=120)  # type: ignore[union-attr]


def test_a_preparing_process_prepares_a_page_without_the_database_layer(settings):
    from services.core.sync.config import load_sources

    source = load_sources(settings).get("civil-affairs")
    ring = keyring(settings)
    stager = Stager(Normaliser(source), ring, settings.data_protection.id_hash_key.get_secret_value().encode())
    page = PageIn([rec("A1"), rec("A2", sfzh="110105194912310021"), "not an object", rec("A3")])
    preparer = Preparer(stager, source, settings, processes=1)
    try:
        prepared = asyncio.run(preparer.prepare(page))
        loaded = _loaded_in_child(preparer)
    finally:
        preparer.close()
    # The page was prepared in full there: the same as in this process, bar the nonces.
    here = stager.prepare(page.items)
    assert prepared.keys == here.keys == ["A1", "A3"]
    assert prepared.order == here.order == [0, 3] and prepared.digests == here.digests
    assert (
        [r[1] for r in prepared.rejected]
        == [r[1] for r in here.rejected]
        == ["id_number.check_digit", "invalid.record"]
    )
    assert ring.decrypt(prepared.rejected[1][5], QUARANTINE_AAD) == b'"not an object"'
    row = prepared.rows[0]
    assert len(row) == len(here.rows[0])  # one row's layout, whichever process made it
    assert VALID.encode() not in row  # the ID number hashed, masked and sealed, never plain
    # The row ends with the sealed payload, which this process's key ring opens.
    payload = payload_bytes(page.items[0])
    sealed = row[-len(ring.encrypt(payload, RAW_AAD)) :]
    assert ring.decrypt(sealed, RAW_AAD) == payload
    assert "services.worker.preparing" in loaded and "services.core.sync.normalise" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], [m for m in loaded if m.split(".")[0] in HEAVY]


def test_a_page_is_prepared_without_the_collector_and_leaves_no_cycles_for_it(settings, monkeypatch):
    """``child_prepare`` turns the cyclic collector off while it prepares a page, and back on
    after; that is safe because a page — staged records, quarantined ones of every kind —
    leaves no reference cycle behind (were there one, the collector would find it below)."""
    import gc

    from services.worker import preparing
    from tests.sync.test_staging_queue import stager

    here = stager(settings)
    page = [
        rec("A1"),
        rec("A2", sfzh="110105194912310021"),  # a bad check character
        "not an object",
        rec("A3", yje="五百"),  # not an amount
        rec("A4", xm="张\x00三"),  # a NUL
        rec("A5", xm="张" * 300_000),  # too large to keep whole
        rec("A6", ksrq="2023-13-01"),
        {"jzid": "A7"},  # required fields missing
        rec("A8", sfzh="110105491231002"),  # 15 digits, noted
    ]
    seen: list[bool] = []
    prepare = here.prepare

    def watched(items, locations=None):
        seen.append(gc.isenabled())
        return prepare(items, locations)

    monkeypatch.setattr(here, "prepare", watched)
    monkeypatch.setattr(preparing, "_CHILD_STAGER", here)
    preparing.child_prepare(preparing.for_child(page, None))  # the normaliser's caches, made once
    gc.collect()
    assert gc.isenabled()
    gc.disable()
    try:
        prepared = preparing.child_prepare(preparing.for_child(page, None))
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert seen == [False, False]
    assert prepared.keys == ["A1", "A8"]
    assert len(prepared.rejected) == 7
    assert gc.isenabled()


def test_a_pulled_page_travels_as_json_and_is_prepared_as_any_other(settings):
    """A pulled page's records (as ``orjson.loads`` makes them) go to a preparing process as
    JSON text and come out prepared exactly as here: same keys, digests (of the same values
    of the same types), reasons. Records of a spreadsheet keep ``marshal`` or pickling, and
    a value JSON cannot hold falls back to them."""
    from datetime import date

    import orjson

    from services.core.sync.config import load_sources
    from services.worker.preparing import JsonPage, for_child

    answer = [
        rec("A1"),
        rec("A2", yje=580.5, extra=[1, {"b": None, "c": True}], big=2**64 - 1, small=-(2**63)),
        "not an object",
        rec("A3", sfzh="110105194912310021"),
        rec("A4", xm="张\u3000三", note="—"),
    ]
    items = orjson.loads(orjson.dumps(answer))
    assert isinstance(for_child(items, None, parsed_json=True), JsonPage)
    assert isinstance(for_child(items, None), bytes)  # marshal
    assert isinstance(for_child(items, ["row 2"] * len(items), parsed_json=True), bytes)
    assert isinstance(for_child([rec("B1", ksrq=date(2023, 5, 1))], None, parsed_json=True), tuple)  # pickled

    source = load_sources(settings).get("civil-affairs")
    stager = Stager(
        Normaliser(source), keyring(settings), settings.data_protection.id_hash_key.get_secret_value().encode()
    )
    preparer = Preparer(stager, source, settings, processes=1)
    try:
        there = asyncio.run(preparer.prepare(PageIn(items, parsed_json=True)))
    finally:
        preparer.close()
    here = stager.prepare(items)
    assert there.keys == here.keys == ["A1", "A2", "A4"]
    assert there.order == here.order and there.digests == here.digests
    assert (
        [r[1] for r in there.rejected] == [r[1] for r in here.rejected] == ["invalid.record", "id_number.check_digit"]
    )
    assert [len(r) for r in there.rows] == [len(r) for r in here.rows]
