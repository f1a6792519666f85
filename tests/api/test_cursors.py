"""Crafted ``cursor`` values: every list that takes one answers 422 problem+json naming the
field ``cursor``, never 500. The lists are read from the OpenAPI document (each GET with a
``cursor`` parameter), so a new list is covered without being named here."""

from __future__ import annotations

import base64

import orjson
import pytest

from services.api.app import create_app
from services.core.accounts.roles import PERMISSIONS
from services.core.errors import Unprocessable
from services.core.paging import decode_cursor, encode_cursor
from services.core.settings import RateLimitSettings, Settings
from tests.api.sync_helpers import settings_with_sources
from tests.api.test_scope_matrix import PUBLIC, _make_target, _scopes, cases
from tests.conftest import _client
from tests.factories import USERS, VILLAGE


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json(value) -> str:
    return _b64(orjson.dumps(value))


CRAFTED = [
    _json(["x"]),
    _json([None]),
    _json([True]),
    _json([False]),
    _json([1.5]),
    _json([-1]),
    _json(["1"]),
    _b64(b"[18446744073709551616]"),
    _b64(b"[9223372036854775808]"),
    _b64(b"[1e400]"),
    _json([[1]]),
    _json([{"id": 1}]),
    _json("abc"),
    _json({"id": 1}),
    _json(1),
    _json(None),
    _json([]),
    _json([1, 2]),
    _json([1, 2, 3, 4]),
    _json(["\u0000"]),
    _json(["2026-01-01", "case", "x"]),
    _json(["2026-13-45", "case", 1]),
    _json([20260101, "case", 1]),
    _json(["2026-01-01", None, 1]),
    _json(["2026-01-01", "case\u0000", 1]),
    _json(["2026-01-01", "x" * 5000, 1]),
    "!!!",
    "====",
    "a",
    "张三",
    "%00",
    "\u0000",
    _b64(b"\xff\xfe\xfd"),
    _b64(b"[" * 5000 + b"]" * 5000),
    "A" * 20_000,
    _b64(b"[1]") + "$",
]


@pytest.fixture
async def client(settings, db, tmp_path):
    """The access matrix's app (department sources in both counties), without rate limits in the way."""
    lenient = RateLimitSettings(bulk_reads_per_minute=1_000_000, public_reads_per_minute=1_000_000)
    app = create_app(settings_with_sources(settings, tmp_path).model_copy(update={"rate_limits": lenient}), database=db)
    async with _client(app) as c:
        yield c


def _get_ops_with_cursor() -> list[str]:
    spec = create_app(Settings(env="test")).openapi()
    return sorted(
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method == "get" and any(p.get("name") == "cursor" for p in op.get("parameters", []))
    )


def test_the_codec_refuses_what_it_did_not_make():
    assert decode_cursor(encode_cursor([7]), (int,)) == (7,)
    assert decode_cursor(None, (int,)) is None
    from datetime import date

    assert decode_cursor(encode_cursor(["2026-01-02", "case", 3]), (date, str, int)) == (date(2026, 1, 2), "case", 3)
    for raw in CRAFTED:
        for types in ((int,), (str,), (date, str, int)):
            try:
                decode_cursor(raw, types)
            except Unprocessable as exc:
                assert exc.errors[0].field == "cursor"
            else:  # only a well-formed cursor of these types gets through
                assert (raw, types) in {(_json(["x"]), (str,)), (_json(["1"]), (str,))}, (raw, types)


def _user_for(scopes: set[str]) -> str:
    for username, (role, prefix) in USERS.items():
        if prefix == VILLAGE[:6] and scopes <= {p.value for p in PERMISSIONS[role]}:
            return username
    raise AssertionError(f"no county user holds {scopes}")


async def test_every_list_refuses_crafted_cursors(client, auth, db, settings):
    ops = _get_ops_with_cursor()
    assert len(ops) >= 20, ops
    t = await _make_target(client, auth, db, settings, "county_staff.county", VILLAGE)
    scopes = _scopes()
    failures = []
    for op in ops:
        if op in PUBLIC:
            path, params, headers = PUBLIC[op][0], dict(PUBLIC[op][1] or {}), {}
        else:
            case = cases(t)[op]
            needs = scopes[op] | ({case.user_needs.value} if case.user_needs else set())  # checked by the handler
            path, params, headers = case.path.format(**t), dict(case.params or {}), auth(_user_for(needs))
        ok = await client.get(path, params=params, headers=headers)
        assert ok.status_code == 200, (op, ok.text)
        for raw in CRAFTED:
            r = await client.get(path, params={**params, "cursor": raw}, headers=headers)
            if op in ("listRegions", "listSyncSources") and raw in (_json(["x"]), _json(["1"])):
                assert r.status_code == 200, (op, raw, r.text)  # a region code, a source name: a string
                continue
            body = r.json() if r.headers.get("content-type", "").startswith("application/") else {}
            if (r.status_code, r.headers.get("content-type"), body.get("field")) != (
                422,
                "application/problem+json",
                "cursor",
            ):
                failures.append(f"{op} {raw[:40]!r}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures[:60]) + f"\n({len(failures)} failures)"


@pytest.mark.parametrize("op", ["listHouseholds", "listRiskClues", "listSyncSources"])
async def test_a_cursor_given_out_pages_on(client, auth, db, settings, op):
    t = await _make_target(client, auth, db, settings, "county_staff.county", VILLAGE)
    case = cases(t)[op]
    path, headers = case.path.format(**t), auth(_user_for(_scopes()[op]))
    first = (await client.get(path, params={**(case.params or {}), "limit": 1}, headers=headers)).json()
    assert first["next_cursor"], first
    r = await client.get(
        path, params={**(case.params or {}), "limit": 1, "cursor": first["next_cursor"]}, headers=headers
    )
    assert r.status_code == 200 and r.json()["items"] and r.json()["items"] != first["items"]
