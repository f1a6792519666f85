"""One unit of work per request, in one place.

``GuardlineRoute`` commits or rolls back the request's session after the endpoint, so
services only ``flush``. GET and HEAD (and lookups marked ``hot_read``) get an autocommit
session (no BEGIN or ROLLBACK round trips). The stored idempotent response is written inside the same
transaction, and database conflicts become problem responses here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import annotated_types
import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response

from services.api import auditing, conditional
from services.api.deps import oauth2, scoped_reader, scoped_session
from services.api.idempotency import Replay
from services.api.params import check_visible_regions
from services.core.errors import Conflict, GuardlineError, PreconditionFailed

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Unique constraints that clients can run into in a race, and what to tell them.
_UNIQUE_MESSAGES = {
    "uq_persons_id_hash": ("id_number_duplicate", "id_number"),
    "uq_households_household_no": ("household_no_taken", "household_no"),
    "uq_income_records_household_id_year_quarter": ("conflict", "quarter"),
}


def _lost_a_race(exc: DBAPIError) -> bool:
    import asyncpg

    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    return isinstance(cause, (asyncpg.DeadlockDetectedError, asyncpg.SerializationError))


def _conflict_from(exc: IntegrityError) -> Conflict | None:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    if constraint in _UNIQUE_MESSAGES:
        code, field = _UNIQUE_MESSAGES[constraint]
        return Conflict(code, field=field, household_no="", household_id="")
    return None


def hot_read(endpoint):
    """A read endpoint busy enough to be served without FastAPI's general request
    machinery, which costs about as much as the whole read. It runs without a session
    (a ``Reader``: ``Annotated[Reader, Reads(...)]``); a POST marked so (a lookup with its key in the body) changes
    nothing: no transaction, no idempotency record.

    Its signature still declares the route (OpenAPI, the body model, the security
    scheme), and it is checked when the route is built: only ``request: Request``, path
    parameters, at most one body model and a ``Reader`` may appear. The direct handler does what FastAPI would
    do for exactly those: the caller from the bearer token (401 as usual), path parameters
    and the JSON body validated by the same annotations with the same error locations
    (422 as usual). ``tests/api/test_hot_read.py`` holds it to that, input by input."""
    _not_routed(endpoint, "hot_read")
    endpoint.guardline_read_only = True
    endpoint.guardline_hot = True
    return endpoint


def _not_routed(endpoint, marker: str) -> None:
    """A route's handler is built when the route is declared: a marker put on its endpoint
    afterwards (written above ``@router.get``, not below it) would be ignored in silence."""
    if getattr(endpoint, "guardline_routed", False):
        raise TypeError(f"@{marker} on {endpoint.__qualname__} must come below the route's decorator")


def fast_path(direct: Callable[[Request], Coroutine[Any, Any, Response | None]]):
    """A busy route whose common requests ``direct(request)`` answers itself, without
    FastAPI's dependency solving and the ORM (a list that mobile apps page through).
    ``direct`` returns None — before it has done anything, not even authenticated — for
    any request it does not take on (an unusual or invalid query), which then goes to
    the route's FastAPI handling as usual: so it only ever answers requests FastAPI would
    validate the same way, and must answer them as the route would, byte for byte (each
    such route's test compares the two, input by input). The route's declaration
    (signature, OpenAPI) stays as it is."""

    def mark(endpoint):
        _not_routed(endpoint, "fast_path")
        endpoint.guardline_direct = direct
        return endpoint

    return mark


def no_idempotency(endpoint):
    """A POST that is never answered from a stored response: an ``Idempotency-Key`` is
    ignored (for a read that must be audited every time and whose answer must not be
    stored, such as a complete ID number)."""
    endpoint.guardline_no_idempotency = True
    return endpoint


def _id_bounds(field_info: Any) -> tuple[int, int] | None:
    """(ge, le) of an ``int`` path parameter bounded on both sides by ``ge`` and ``le`` only
    (an id: ``params.IdPath``), else None."""
    if field_info.annotation is not int:
        return None
    low = high = None
    for constraint in field_info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = constraint.ge
        elif isinstance(constraint, annotated_types.Le):
            high = constraint.le
        else:
            return None
    if not (isinstance(low, int) and isinstance(high, int)):
        return None
    return low, high


def plain_id(raw: Any, bounds: tuple[int, int]) -> int | None:
    """An id written plainly (ASCII digits, no leading zero) within ``bounds`` is that number,
    as the parameter's validation would say, without running it; anything else is None (and
    goes through the validation)."""
    if isinstance(raw, str) and 0 < len(raw) < 19 and raw.isascii() and raw.isdigit() and raw[0] != "0":
        value = int(raw)
        if bounds[0] <= value <= bounds[1]:
            return value
    return None


class _DirectRead:
    """The handler of a ``hot_read`` route (see there)."""

    def __init__(self, route: APIRoute):
        dependant = route.dependant
        name = route.endpoint.__qualname__
        if dependant.query_params or dependant.header_params or dependant.cookie_params:
            raise TypeError(f"hot_read {name}: query, header or cookie parameters are not supported")
        if len(dependant.body_params) > 1:
            raise TypeError(f"hot_read {name}: at most one body model")
        self.body: tuple[str, type[BaseModel]] | None = None  # the body's parameter name and model
        if dependant.body_params:
            body = dependant.body_params[0]
            model = body.field_info.annotation
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"hot_read {name}: the body must be a pydantic model")
            self.body = body.name, model
        # Path parameters validated by their own annotation and constraints, as FastAPI does.
        self.path: list[tuple[str, str, TypeAdapter[Any], tuple[int, int] | None]] = []
        for p in dependant.path_params:
            declared: Any = Annotated[p.field_info.annotation, p.field_info]  # a type made at run time
            self.path.append((p.name, p.alias, TypeAdapter(declared), _id_bounds(p.field_info)))
        readers = [d for d in dependant.dependencies if d.call is scoped_reader]
        if len(readers) != 1 or len(dependant.dependencies) != 1:
            raise TypeError(f"hot_read {name}: the only dependency may be a Reader (Reads(...))")
        if readers[0].name is None:  # listed in dependencies=[...]: the endpoint would not get it
            raise TypeError(f"hot_read {name}: the Reader must be a parameter")
        self.endpoint = route.endpoint
        self.reader_name: str = readers[0].name
        self.scopes = SecurityScopes(list(readers[0].own_oauth_scopes or ()))
        self.request_name = dependant.request_param_name

    async def __call__(self, request: Request) -> Response:
        reader = await scoped_reader(request, self.scopes, await oauth2(request))
        kwargs: dict[str, Any] = {self.reader_name: reader}
        errors: list[Any] = []
        for name, alias, adapter, bounds in self.path:
            raw = request.path_params[alias]
            if bounds is not None and (value := plain_id(raw, bounds)) is not None:
                kwargs[name] = value
                continue
            try:
                kwargs[name] = adapter.validate_python(raw)
            except ValidationError as exc:
                errors += _located(exc, "path", alias)
        if self.body is not None:
            body_name, model = self.body
            try:
                kwargs[body_name] = await self._body(request, model)
            except RequestValidationError as exc:
                errors += exc.errors()
        if errors:
            raise RequestValidationError(errors)
        if self.request_name:
            kwargs[self.request_name] = request
        return await self.endpoint(**kwargs)

    async def _body(self, request: Request, model: type[BaseModel]) -> BaseModel:
        raw = await request.body()
        if not raw:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        content_type = request.headers.get("content-type")
        data: Any = raw
        if content_type is None or _is_json(content_type):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RequestValidationError(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", exc.pos),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": exc.msg},
                        }
                    ]
                ) from None
        try:
            return model.model_validate(data, from_attributes=True)  # as FastAPI validates bodies
        except ValidationError as exc:
            raise RequestValidationError(_located(exc, "body")) from None


def _direct_first(direct, general):
    """The handler of a ``fast_path`` route: ``direct``, or ``general`` where it declines."""

    async def answer(request: Request) -> Response:
        response = await direct(request)
        return response if response is not None else await general(request)

    return answer


def _located(exc: ValidationError, *prefix: str) -> list[ErrorDetails]:
    errors = exc.errors(include_url=False)
    for err in errors:
        err["loc"] = (*prefix, *err["loc"])
    return errors


def _is_json(content_type: str) -> bool:
    subtype = content_type.partition(";")[0].strip().lower().partition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def _calls(dependant) -> set:
    """Every dependency a route runs, however deeply nested."""
    out = set()
    for dep in dependant.dependencies:
        out.add(dep.call)
        out |= _calls(dep)
    return out


class GuardlineRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        endpoint.guardline_routed = True  # type: ignore[attr-defined]  # see ``_not_routed``
        endpoint = check_visible_regions(endpoint)  # its region filters (``params.RegionQ``)
        super().__init__(path, endpoint, **kwargs)
        self._document_preconditions()
        self._document_validators()

    def _document_validators(self) -> None:
        """The ETag the route answers with, and on a GET If-None-Match and its 304
        (``services.api.conditional``)."""
        self.responses, self.openapi_extra = conditional.document(
            self.operation_id,
            next(iter(self.methods or ())),
            self.status_code or 200,
            self.responses,
            self.openapi_extra,
        )

    def _document_preconditions(self) -> None:
        """What the route's dependencies and checks impose, in its OpenAPI
        (``contract.document_route``): a rate limit, If-Match (required where a missing one
        is a 428, optional where only a stale one is refused), Idempotency-Key."""
        from services.api.contract import document_route
        from services.api.ratelimit import RATE_LIMITED

        calls = _calls(self.dependant)
        endpoint = self.endpoint
        methods = self.methods or set()  # an APIRoute always has its methods (Starlette's Route may not)
        checks_if_match = 412 in self.responses or 428 in self.responses
        document_route(
            self,
            rate_limited=bool(RATE_LIMITED & calls) or getattr(endpoint, "guardline_rate_limited", False),
            if_match=(428 in self.responses) if checks_if_match else None,
            idempotent="POST" in methods
            and scoped_session in calls
            and not getattr(endpoint, "guardline_read_only", False)
            and not getattr(endpoint, "guardline_no_idempotency", False),
            writes=not (methods <= SAFE_METHODS or getattr(endpoint, "guardline_read_only", False)),
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = _DirectRead(self) if getattr(self.endpoint, "guardline_hot", False) else super().get_route_handler()
        direct = getattr(self.endpoint, "guardline_direct", None)
        if direct is not None:
            endpoint = _direct_first(direct, endpoint)
        return self._handling(endpoint)  # type: ignore[return-value]  # never None: ``endpoint`` always answers

    def fast_handler(self, method: str = "GET") -> Callable[[Request], Coroutine[Any, Any, Response | None]] | None:
        """The handler of the fast lane (``services.api.edge``) for ``method`` on a GET
        ``hot_read`` or ``fast_path`` route, or a POST ``hot_read`` (a lookup, read-only): its
        direct handler with this route's unit of work, answering None where the direct
        handler declines. None for any other route or method."""
        if method not in (self.methods or ()):
            return None
        if getattr(self.endpoint, "guardline_hot", False) and method in ("GET", "POST"):
            return self._handling(_DirectRead(self))
        direct = getattr(self.endpoint, "guardline_direct", None)
        return None if direct is None or method != "GET" else self._handling(direct)

    def _handling(self, endpoint) -> Callable[[Request], Coroutine[Any, Any, Response | None]]:
        always_read_only = getattr(self.endpoint, "guardline_read_only", False)

        async def handler(request: Request) -> Response | None:
            # The session is opened by the ``Session`` dependency, only for endpoints that
            # ask for one; reads through a ``Reader`` need none.
            state = request.state
            state.readonly = always_read_only or request.method in SAFE_METHODS
            state.session = None
            state.idempotency = None
            state.read_events = []
            writes = not state.readonly
            try:
                response = await endpoint(request)
                if response is None:  # a direct handler declined, before it did anything
                    return None
                session = state.session
                if session is not None and writes:
                    claim = state.idempotency
                    if claim is not None:
                        await claim.remember(session, response)
                    # Last, so the audit chain's lock is held only while committing.
                    await auditing.record_write(request, session, response.status_code)
                    await session.commit()
            except Replay as replay:
                await _rollback(state.session)
                return replay.response
            except StaleDataError:
                await _rollback(state.session)
                if writes:
                    await auditing.record_failed_write(request, 412, "changed_concurrently")
                raise PreconditionFailed("changed_concurrently", field="If-Match") from None
            except IntegrityError as exc:
                await _rollback(state.session)
                conflict = _conflict_from(exc)
                if writes:
                    await auditing.record_failed_write(
                        request, 409 if conflict else 500, conflict.code if conflict else "internal_error"
                    )
                if conflict is None:
                    raise
                raise conflict from None
            except DBAPIError as exc:
                if not _lost_a_race(exc):
                    raise
                # Two writes locked the same rows in opposite orders (PostgreSQL broke the
                # deadlock) or a serialisable transaction lost: nothing was written; retry.
                await _rollback(state.session)
                if writes:
                    await auditing.record_failed_write(request, 409, "changed_concurrently")
                raise Conflict("changed_concurrently", headers={"Retry-After": "1"}) from None
            except GuardlineError as exc:
                await _rollback(state.session)
                if exc.status == 429 and 429 not in self.responses:
                    raise RuntimeError(f"{self.path} answers 429 but its OpenAPI does not declare it") from exc
                if writes:
                    await auditing.record_failed_write(request, exc.status, exc.code)
                raise
            except RequestValidationError:
                await _rollback(state.session)
                if writes:
                    await auditing.record_failed_write(request, 422, "validation_failed")
                raise
            except BaseException:
                await _rollback(state.session)
                raise
            finally:
                if state.session is not None:
                    await state.session.close()
            if state.read_events:  # sensitive reads of an answer that was given (a 304 too)
                await auditing.write_reads(request, state.read_events)
            return conditional.not_modified(request, response)

        return handler


async def _rollback(session) -> None:
    if session is not None:
        await session.rollback()
