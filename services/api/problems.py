"""RFC 9457 problem details for every error, in English or Chinese."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from services.api.middleware import BodyTooLarge
from services.api.responses import ProblemJSON
from services.core.errors import FieldError, GuardlineError
from services.core.i18n import MESSAGES, message, wants_chinese
from services.core.idnumber import redact
from services.core.logs import described

log = logging.getLogger("guardline.api")

TYPE_PREFIX = "urn:guardline:problem:"


def problem(
    request: Request,
    status: int,
    code: str,
    params: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemJSON:
    zh = wants_chinese(request.headers.get("accept-language"))
    # No full ID number ever leaves in an error, whatever the client sent (a number in the
    # path, a number as a dictionary key): such text is masked. Inputs are never echoed.
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": redact(message(code, zh, params)),
        "code": code,
        "instance": redact(request.url.path),
    }
    if errors:
        body["errors"] = rendered_errors(errors, zh)
        body["field"] = body["errors"][0]["field"]
    for name, value in (extra or {}).items():
        body.setdefault(name, value)
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    response = ProblemJSON(body, status_code=status, headers=headers)
    response.headers["Content-Language"] = "zh-CN" if zh else "en"
    return response


def rendered_errors(errors: list[FieldError], zh: bool) -> list[dict[str, str]]:
    """Field errors as the problem document's ``errors`` member, in the caller's language."""
    return [
        {
            "field": redact(e.field),
            "code": e.code,
            "message": redact(e.message if (e.message and e.code not in MESSAGES) else message(e.code, zh, e.params)),
        }
        for e in errors
    ]


def _field_path(loc: tuple[Any, ...]) -> str:
    """("body", "members", 0, "id_number") -> "members[0].id_number"; query and path keep their name."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    path = "".join(parts)
    for prefix in ("body.", "query.", "path.", "header."):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors():
        kind = err.get("type", "value_error")
        ctx = dict(err.get("ctx") or {})
        loc = tuple(err.get("loc", ()))
        # A model validator names the field at fault as ValueError(<code>@<field>).
        if kind == "value_error" and isinstance(ctx.get("error"), Exception):
            candidate, _, field = str(ctx["error"]).partition("@")
            if candidate in MESSAGES:
                kind, ctx = candidate, {}
                if field:
                    loc = tuple(loc) + tuple(field.split("."))
        if kind == "json_invalid":
            loc = ("body",)
        params = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in ctx.items()}
        out.append(FieldError(_field_path(loc) or "body", kind, params, message=err.get("msg")))
    return out


def _database_unavailable(exc: BaseException) -> bool:
    from services.core.db import unavailable

    return unavailable(exc)


def _value_not_storable(exc: BaseException) -> bool:
    """A value from the request that the database cannot hold: a NUL character in text, or
    an integer beyond 64 bits (asyncpg refuses to encode it). Fields should refuse these
    when they are validated; this is the net for one that does not (422, not 500)."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    cause: BaseException | None = exc
    if isinstance(exc, DBAPIError):
        cause = getattr(exc.orig, "__cause__", None) or exc.orig
    if isinstance(cause, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)):
        return True
    return type(cause) is asyncpg.DataError and isinstance(cause.__cause__, OverflowError)


def _paths_matching(request: Request) -> list[tuple[int, frozenset[str]]]:
    """(number of parameters, methods) of every route whose path matches the request's."""
    table = getattr(request.app.state, "method_table", None)
    if table is None:
        table = [
            (compile_path(route.path)[0], route.path.count("{"), frozenset(route.methods or ()))
            for route in iter_route_contexts(request.app.router.routes)
            if route.methods and route.path is not None
        ]
        request.app.state.method_table = table
    path = request.scope.get("path", "")
    return [(params, methods) for regex, params, methods in table if regex.match(path)]


def allowed_methods(request: Request) -> str:
    """The methods of the path the request names. Starlette's 405 names only the first
    route that matched, though GET and PATCH of one path are two routes. Where several
    paths match (``/persons/lookup`` and ``/persons/{person_id}``), the one with the fewest
    parameters is the path meant, as the document lists it."""
    matching = _paths_matching(request)
    fewest = min((params for params, _ in matching), default=0)
    return ", ".join(sorted({m for params, methods in matching if params == fewest for m in methods}))


def _meant_a_literal_path(request: Request) -> bool:
    """``DELETE /monitoring-policies/effective`` was routed to ``/monitoring-policies/{policy_id}``
    (whose DELETE took "effective" for an id) although the literal path has no DELETE: the
    request names that path, so the answer is its 405, not a 422 about an id."""
    route = request.scope.get("route")
    if route is None or not getattr(route, "path", None):
        return False
    fewest = min((params for params, _ in _paths_matching(request)), default=0)
    return route.path.count("{") > fewest


def install(app: FastAPI) -> None:
    @app.exception_handler(GuardlineError)
    async def _guardline(request: Request, exc: GuardlineError):
        return problem(request, exc.status, exc.code, exc.params, exc.errors, exc.headers, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _meant_a_literal_path(request):
            return problem(request, 405, "method_not_allowed", headers={"Allow": allowed_methods(request)})
        return problem(request, 422, "validation_failed", errors=_validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if isinstance(exc, BodyTooLarge):  # a chunked body read past the cap
            return problem(request, 413, "payload_too_large", {"limit": exc.limit})
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers 400 for a JSON body that is not UTF-8 but 422 for one that is not
            # JSON; to a client both are the same fault (and the direct read handlers say 422).
            return problem(request, 422, "validation_failed", errors=[FieldError("body", "json_invalid")])
        if exc.status_code == 400 and request.headers.get("content-type", "").startswith("multipart/"):
            # A multipart body the form parser cannot read: a fault of the body, as for JSON.
            return problem(request, 422, "validation_failed", errors=[FieldError("body", "multipart_invalid")])
        code = {404: "route_not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
            exc.status_code, "bad_request"
        )
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem(request, exc.status_code, code, headers=headers)

    # Reached only for an error raised outside ``RequestContext`` (which answers all others
    # itself, see ``unexpected``): Starlette raises it again after this answer.
    app.exception_handler(Exception)(unexpected)


async def unexpected(request: Request, exc: Exception) -> ProblemJSON:
    """The answer to an error no handler took: 503 while the database cannot be reached,
    422 for a value it cannot store, else 500. ``RequestContext`` calls this and does not
    raise the error again: the connection stays usable and nothing but this log line
    records it."""
    if _database_unavailable(exc):
        log.warning(
            "database unavailable (%s), request_id=%s", type(exc).__name__, getattr(request.state, "request_id", "-")
        )
        return problem(request, 503, "service_unavailable", headers={"Retry-After": "5"})
    if _value_not_storable(exc):
        return problem(request, 422, "value_not_storable")
    # The client sees no stack trace, SQL or data; the log has the request id and where
    # the error arose, not its message.
    log.error(
        "unhandled error %s, request_id=%s\n%s", described(exc), getattr(request.state, "request_id", "-"), frames(exc)
    )
    return problem(request, 500, "internal_error")


def frames(exc: BaseException) -> str:
    """Where ``exc`` was raised (file, line, function, source line): its traceback without
    its message."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()
