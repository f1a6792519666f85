"""Logs: one JSON object per line with the request's id (or the run's), the text format for
a terminal, and no personal data in any line — neither what a request carries in its path,
query or body (valid or refused, found or not, failing or not) nor what an exception's
message quotes. In the test process (the app through ASGI) and from ``guardline serve``'s
stderr."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import orjson
import pytest

from services.api.app import create_app
from services.core.logs import (
    ACCESS_LOGGER,
    JsonFormatter,
    TextFormatter,
    configure,
    log_context,
    scrub,
)
from tests.api.live import free_port
from tests.factories import household, id_number, person

NAME = "欧阳娜娜"
ADDRESS = "幸福路1234号观景小区"
PHONE = "13912345678"
ID_NUMBER = id_number()  # valid: the household with it is registered
BAD_ID_NUMBER = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")  # its check digit wrong: refused
SECRETS = (NAME, ADDRESS, PHONE, ID_NUMBER, BAD_ID_NUMBER)
# As a URL carries them (a server's access log writes the path so).
ENCODED = (quote(NAME), quote(ADDRESS))


def _record(message: str, *args, exc: BaseException | None = None, **extra) -> logging.LogRecord:
    record = logging.LogRecord(
        "guardline.test",
        logging.WARNING,
        __file__,
        1,
        message,
        args,
        (type(exc), exc, exc.__traceback__) if exc else None,
    )
    record.__dict__.update(extra)
    return record


# ---- the formatters and the safety net ------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        (f"id {ID_NUMBER} end", f"id {ID_NUMBER[:6]}{'*' * 12} end"),
        ("id 52990119800517001x.", "id 529901************."),
        ("call 13912345678, or +86 139-1234-5678", "call 139********, or 139********"),
        ("phone=15800001111&x=1", "phone=158********&x=1"),
    ],
)
def test_the_safety_net_masks_id_and_phone_numbers(raw, shown):
    assert scrub(raw) == shown


@pytest.mark.parametrize(
    "kept",
    [
        "request_id=5e0a8e2cea1c17ffe023a62ef7f72f7b",  # hex ids
        "region 529901001001 and 12345678901234",  # region codes, longer numbers
        "at 1733312345678 ms, 0.13912345678 s, run 13912",  # timestamps, fractions, short numbers
        "12345678901",  # 11 digits that are not a mobile number (12…)
    ],
)
def test_the_safety_net_leaves_other_numbers_alone(kept):
    assert scrub(kept) == kept


def test_a_json_line_has_the_fields_and_the_request_and_run():
    with log_context(request_id="req-1", run_id=42):
        line = JsonFormatter().format(_record("run %s: %s staged", 42, 7))
    parsed = orjson.loads(line)
    assert set(parsed) == {"time", "level", "logger", "message", "request_id", "run_id"}
    assert (parsed["level"], parsed["logger"], parsed["message"]) == ("WARNING", "guardline.test", "run 42: 7 staged")
    assert (parsed["request_id"], parsed["run_id"]) == ("req-1", 42)
    assert parsed["time"].endswith("+08:00")  # China time, with its offset
    outside = orjson.loads(JsonFormatter().format(_record("idle")))
    assert "request_id" not in outside and "run_id" not in outside  # the context ended with the block


def test_an_exception_is_logged_by_class_and_frames_without_its_message():
    def fail():
        try:
            raise LookupError(f"row ({NAME}, {ID_NUMBER}, {PHONE}) refused")
        except LookupError as cause:
            raise RuntimeError(f"statement failed for {ADDRESS}") from cause

    try:
        fail()
    except RuntimeError as exc:
        for formatter in (JsonFormatter(), TextFormatter()):
            out = formatter.format(_record("could not write", exc=exc))
            assert "builtins.RuntimeError <- builtins.LookupError" in out
            assert "in fail" in out  # where it was raised
            assert not [s for s in SECRETS if s in out], out


def test_the_text_format_shows_the_request_and_run():
    with log_context(request_id="req-2"):
        line = TextFormatter().format(_record("hello %s", PHONE))
    assert "WARNING guardline.test [request_id=req-2]: hello 139********" in line


def test_configure_replaces_its_own_handler_and_leaves_a_foreign_setup_alone():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger(ACCESS_LOGGER).level)
    first, second = io.StringIO(), io.StringIO()
    try:
        root.handlers[:] = []  # as in a fresh process (pytest's own handlers are put back below)
        configure("json", "info", stream=first)
        configure("text", "info", stream=second, access_log=False)  # only ours on the root now: replaced
        logging.getLogger("guardline.test").info("one line")
        logging.getLogger(ACCESS_LOGGER).info("GET / 200")  # the access log is off
        assert first.getvalue() == ""
        assert second.getvalue().count("\n") == 1 and "INFO guardline.test: one line" in second.getvalue()
        root.handlers.append(logging.NullHandler())  # someone else's handler (a test runner's)
        configure("json", stream=first)
        assert not any(getattr(h, "stream", None) is first for h in root.handlers)
        assert logging.getLogger("httpx").level == logging.WARNING  # URLs with their queries stay out
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger(ACCESS_LOGGER).setLevel(saved[2])
        logging.captureWarnings(False)


# ---- the API in the test process --------------------------------------------------------------


@contextmanager
def json_lines() -> Iterator[tuple[io.StringIO, list[logging.LogRecord]]]:
    """Every record of the block formatted as ``guardline serve`` writes it, and the records."""
    stream = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    keep = Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        yield stream, records
    finally:
        root.removeHandler(handler)
        root.removeHandler(keep)
        root.setLevel(level)


async def _requests(c: httpx.AsyncClient, auth) -> list[httpx.Response]:
    h = auth("village_staff.village")
    member = person("head", name=NAME, id_number=ID_NUMBER, phone=PHONE)
    out = [
        await c.post(
            "/api/v1/households", json=household(members=[member], address=ADDRESS, phone=PHONE), headers=h
        ),  # valid: 201
        await c.post(
            "/api/v1/households",
            json=household(members=[person("head", name=NAME, id_number=BAD_ID_NUMBER, phone=PHONE)], address=ADDRESS),
            headers=h,
        ),  # refused: 422
        await c.post("/api/v1/persons/lookup", json={"id_number": ID_NUMBER}, headers=h),  # found: 200
        await c.post("/api/v1/persons/lookup", json={"id_number": BAD_ID_NUMBER}, headers=h),  # 422
        await c.get(f"/api/v1/households?name={quote(NAME)}&phone={PHONE}&id_number={ID_NUMBER}", headers=h),
        await c.get(f"/api/v1/households?name={quote(NAME)}&income_below={PHONE}", headers=h),  # 422
        # not an id: 422 (the suffix makes sure: an ID number of digits only is an integer in range)
        await c.get(f"/api/v1/persons/{ID_NUMBER}-1", headers=h),
        await c.get(f"/{quote(NAME)}/{ID_NUMBER}/{PHONE}?address={quote(ADDRESS)}"),  # no such path: 404
        # A value the database refuses: its error quotes the statement's values.
        await c.post("/api/v1/auth/token", data={"username": NAME + "\x00" + ADDRESS, "password": PHONE}),
    ]
    return out


def _assert_clean(lines: list[str], records: list[logging.LogRecord] | None = None) -> list[dict]:
    assert lines, "nothing was logged"
    parsed = []
    for line in lines:
        leaked = [s for s in SECRETS + ENCODED if s in line]
        assert not leaked, f"{leaked} in {line}"
        parsed.append(orjson.loads(line))  # every line one JSON object
    for entry in parsed:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    # Names and addresses cannot be masked after the fact: no log call may be given them.
    for record in records or []:
        text = record.getMessage() + str(getattr(record, "fields", ""))
        assert NAME not in text and ADDRESS not in text, f"{record.name}: {text[:300]}"
    return parsed


async def test_no_personal_data_reaches_a_log_line_and_every_line_has_the_request_id(settings, db, auth, monkeypatch):
    from services.api.households import listing
    from services.core.households import service

    async def broken(*args, **kwargs):
        raise ValueError(f"invalid input for query argument $1: '{NAME}' ({ID_NUMBER}, {PHONE}, {ADDRESS})")

    def broken_read(*args, **kwargs):  # the list's direct handler (routing.fast_path) fails the same way
        raise ValueError(f"invalid input for query argument $1: '{NAME}' ({ID_NUMBER}, {PHONE}, {ADDRESS})")

    app = create_app(settings, database=db)
    with json_lines() as (stream, records):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
        ) as c:
            answers = await _requests(c, auth)
            monkeypatch.setattr(service, "list_households", broken)
            monkeypatch.setattr(listing, "household_list_read", broken_read)
            answers.append(
                await c.get(f"/api/v1/households?name={quote(NAME)}", headers=auth("village_staff.village"))
            )  # a 500
    statuses = [r.status_code for r in answers]
    assert statuses == [201, 422, 200, 422, 200, 422, 422, 404, 422, 500], statuses
    # Nor in an error's answer: full ID numbers never; the 500 says nothing of what failed.
    for r in answers:
        if r.status_code >= 400:
            assert ID_NUMBER not in r.text and BAD_ID_NUMBER not in r.text, r.text
    assert not [s for s in SECRETS if s in answers[-1].text], answers[-1].text
    parsed = _assert_clean(stream.getvalue().splitlines(), records)
    assert all(entry.get("request_id") for entry in parsed), [e for e in parsed if not e.get("request_id")]
    access = [e for e in parsed if e["logger"] == ACCESS_LOGGER]
    assert [e["request_id"] for e in access] == [r.headers["x-request-id"] for r in answers]
    assert [e["status"] for e in access] == statuses
    assert access[4]["route"] == "/api/v1/households" and access[7]["route"] == "<unmatched>"
    errors = [e for e in parsed if e["level"] == "ERROR"]
    assert len(errors) == 1 and "builtins.ValueError" in errors[0]["message"]
    assert errors[0]["request_id"] == answers[-1].headers["x-request-id"]


# ---- guardline serve ------------------------------------------------------------------------


@pytest.fixture
async def scratch_url(engine, settings):
    """A database of the test's own, with the base data: serve's requests commit."""
    from services.core.db import create_engine
    from tests.conftest import _load_base_data, scratch_database

    async with scratch_database(engine, "guardline_test_logs") as url:
        scratch = create_engine(url, settings, "tests-logs")
        try:
            await _load_base_data(scratch)
        finally:
            await scratch.dispose()
        yield url


def _serve(url: str, port: int, stderr) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {
            "GUARDLINE_DATABASE_URL": url,
            "GUARDLINE_ENV": "test",
            "GUARDLINE_OBSERVABILITY__LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_serve_writes_one_clean_json_object_per_line_on_stderr(scratch_url, tmp_path, auth):
    import asyncio

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "stderr.log"

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=20) as c:
            return await _requests(c, auth)

    with open(log_file, "wb") as err:
        proc = _serve(scratch_url, port, err)
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log_file.read_text(errors="replace")
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.2)
            answers = asyncio.run(run())
        finally:
            _stop(proc)
    assert [r.status_code for r in answers] == [201, 422, 200, 422, 200, 422, 422, 404, 422]
    parsed = _assert_clean(log_file.read_text().splitlines())
    loggers = {e["logger"] for e in parsed}
    assert {"uvicorn.error", ACCESS_LOGGER} <= loggers, loggers  # the server's own lines too
    access = {e["request_id"]: e for e in parsed if e["logger"] == ACCESS_LOGGER}
    for r in answers:
        entry = access[r.headers["x-request-id"]]
        assert entry["status"] == r.status_code and "?" not in entry["message"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_sync_worker_logs_in_the_format_asked_for(scratch_url, log_format):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {
            "GUARDLINE_DATABASE_URL": scratch_url,
            "GUARDLINE_ENV": "development",
            "GUARDLINE_OBSERVABILITY__LOG_FORMAT": log_format,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "sync", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    if log_format == "json":
        parsed = [orjson.loads(line) for line in lines]  # every line one JSON object
        assert [e["message"] for e in parsed if e["logger"] == "guardline.sync"] == ["0 runs carried out"], parsed
    else:
        assert [line for line in lines if line.endswith("INFO guardline.sync: 0 runs carried out")], lines
