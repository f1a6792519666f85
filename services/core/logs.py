"""How every Guardline process logs (docs/observability.md).

* One line per record on stderr: a JSON object (``time``, ``level``, ``logger``,
  ``message``, and ``request_id`` / ``run_id`` when the record was made while a request or a
  sync run was being handled) or, for a person at a terminal, a line of text with the same
  facts.
* The request and the run come from context variables (``log_context``), so a log call
  anywhere below the request's middleware or the run's worker carries them without being
  told.
* No personal data: log calls pass identifiers and counts, never values of a request or a
  record; as a safety net every line is scrubbed of anything shaped like a full ID number
  or a mobile number before it is written, and an exception is logged by its classes and
  frames only (its message may quote a statement's values: names, addresses).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime
from typing import IO, Any

import orjson

from services.core.idnumber import redact as redact_id_numbers
from services.core.timeutil import CHINA

REQUEST_ID: ContextVar[str | None] = ContextVar("guardline_request_id", default=None)
RUN_ID: ContextVar[int | None] = ContextVar("guardline_run_id", default=None)

ACCESS_LOGGER = "guardline.access"
# Libraries that log URLs or payloads at INFO (httpx: every request of the sync worker with its
# query string): their warnings and errors only.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "multipart")

# A mainland mobile number (11 digits from 13x to 19x, optionally +86 and grouped 3-4-4),
# standing alone: not inside a longer number, a decimal fraction, a hex id or a word.
_PHONE = re.compile(r"(?<![\dA-Za-z+])(?<!\d\.)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![\dA-Za-z])")


# Eight digits, or two groups of four: in every ID number and mobile number. Most texts have
# none, and this one search costs far less than the two substitutions.
_CANDIDATE = re.compile(r"\d{4}[- ]?\d{4}")


def scrub(text: str) -> str:
    """``text`` with full ID numbers masked (the address code shown, as everywhere) and
    mobile numbers reduced to their first three digits."""
    if len(text) < 11 or not _CANDIDATE.search(text):
        return text
    return _PHONE.sub(lambda m: m.group(1) + "********", redact_id_numbers(text))


@contextmanager
def log_context(*, request_id: str | None = None, run_id: int | None = None) -> Iterator[None]:
    """Records made inside carry ``request_id`` / ``run_id`` (those not given keep their
    current value)."""
    tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
    if request_id is not None:
        tokens.append((REQUEST_ID, REQUEST_ID.set(request_id)))
    if run_id is not None:
        tokens.append((RUN_ID, RUN_ID.set(run_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def described(exc: BaseException) -> str:
    """An exception and its causes by class only (``sqlalchemy.exc.DBAPIError <-
    asyncpg.exceptions.DataError``): their messages may carry the values of the request
    (a database error quotes the statement's parameters), which must not reach the logs."""
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(names) < 8:
        seen.add(id(current))
        names.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


def _exception(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    exc = record.exc_info[1]
    if _passing(exc):
        return described(exc)
    return described(exc) + "\n" + "".join(traceback.format_tb(exc.__traceback__)).rstrip()


def _passing(exc: BaseException) -> bool:
    """A database that is away for a moment: every request and every background task meets
    it at once, and its frames say nothing new, so such a record keeps to one line (the
    error's classes, which name the cause)."""
    from services.core.db import unavailable

    return unavailable(exc)


def _context(record: logging.LogRecord) -> tuple[str | None, int | None]:
    """The record's request and run: given with ``extra=`` or taken from the context."""
    request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
    run_id = getattr(record, "run_id", None) or RUN_ID.get()
    return request_id, run_id


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, CHINA).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per record. ``extra={"fields": {...}}`` adds members (the access log's
    method, route, status, duration)."""

    def format(self, record: logging.LogRecord) -> str:
        # Every text that did not come from this process is scrubbed (not the whole line: the
        # time, level and logger cannot hold personal data, and a regex over them costs).
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id, run_id = _context(record)
        if request_id is not None:
            line["request_id"] = scrub(str(request_id))  # a client's X-Request-ID could be anything of 64
        if run_id is not None:
            line["run_id"] = run_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for name, value in fields.items():
                line.setdefault(name, value if value is None or isinstance(value, (int, float)) else scrub(str(value)))
        exception = _exception(record)
        if exception is not None:
            line["exception"] = scrub(exception)
        return orjson.dumps(line).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request_id=… run_id=…]: message`` (exception frames on the
    following lines)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id, run_id = _context(record)
        where = " ".join(
            f"{name}={value}" for name, value in (("request_id", request_id), ("run_id", run_id)) if value is not None
        )
        line = (
            f"{_time(record)} {record.levelname} {record.name}{f' [{where}]' if where else ''}: {record.getMessage()}"
        )
        exception = _exception(record)
        if exception is not None:
            line += ("\n" if "\n" in exception else " ") + exception
        return scrub(line)


class _GuardlineHandler(logging.StreamHandler):
    """The handler ``configure`` installs (recognised, so that a second call replaces it)."""


def configure(
    log_format: str,
    level: int | str = logging.INFO,
    *,
    access_log: bool = True,
    stream: IO[str] | None = None,
    force: bool = False,
) -> None:
    """Log every record of the process (the root logger: ours, uvicorn's, the libraries')
    to ``stream`` (stderr) in ``log_format`` (``json`` or ``text``). Without ``force``
    nothing changes where another handler is already on the root logger (a test runner's)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _GuardlineHandler)]
    if not force and len(ours) < len(root.handlers):
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = _GuardlineHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if str(log_format) == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # a library's warning is a line like any other (logger py.warnings)
    # The access log is the API's own (services.api.metrics): uvicorn's has the query string.
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if access_log else logging.WARNING)
