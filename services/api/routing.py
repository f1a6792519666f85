"""One unit of work per request, in one place.

``GuardlineRoute`` opens the session before the endpoint runs and commits or rolls back
after it, so services only ``flush``. GET and HEAD get an autocommit session (no BEGIN or
ROLLBACK round trips). The stored idempotent response is written inside the same
transaction, and database conflicts become problem responses here.
"""
from __future__ import annotations

from typing import Any, Callable, Coroutine

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response

from services.api.idempotency import Replay
from services.core.errors import Conflict, PreconditionFailed

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Unique constraints that clients can run into in a race, and what to tell them.
_UNIQUE_MESSAGES = {
    "uq_persons_id_hash": ("id_number_duplicate", "id_number"),
    "uq_households_household_no": ("household_no_taken", "household_no"),
    "uq_income_records_household_id_year_quarter": ("conflict", "quarter"),
}


def _conflict_from(exc: IntegrityError) -> Conflict | None:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    if constraint in _UNIQUE_MESSAGES:
        code, field = _UNIQUE_MESSAGES[constraint]
        return Conflict(code, field=field, household_no="", household_id="")
    return None


class GuardlineRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            readonly = request.method in SAFE_METHODS
            async with request.app.state.db.session(readonly=readonly) as session:
                request.state.session = session
                request.state.idempotency = None
                try:
                    response = await endpoint(request)
                    if not readonly:
                        claim = request.state.idempotency
                        if claim is not None:
                            await claim.remember(session, response)
                        await session.commit()
                except Replay as replay:
                    await session.rollback()
                    return replay.response
                except StaleDataError:
                    await session.rollback()
                    raise PreconditionFailed("changed_concurrently", field="If-Match") from None
                except IntegrityError as exc:
                    await session.rollback()
                    conflict = _conflict_from(exc)
                    if conflict is None:
                        raise
                    raise conflict from None
                except BaseException:
                    await session.rollback()
                    raise
                return response

        return handler
