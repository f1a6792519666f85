"""Typed errors. Services raise them; the API renders them as RFC 9457 problem+json.

Each error names a message ``code`` (see ``services.core.i18n``), optionally the ``field``
at fault and parameters for the message. Nothing here knows about HTTP beyond the status.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class FieldError:
    field: str
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # ``field`` is a member here
    message: str | None = None  # a ready message (e.g. from a validator) when no code fits


class GuardlineError(Exception):
    status: int = 400
    default_code: str = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        self.code = code or self.default_code
        self.field = field
        self.params = params
        self.errors = errors or ([FieldError(field, self.code, params)] if field else [])
        self.headers = headers or {}
        # Further members of the problem document (e.g. the transitions allowed from here).
        self.extra = extra or {}
        super().__init__(f"{self.code} {params}")


class BadRequest(GuardlineError):
    status = 400


class Unauthorized(GuardlineError):
    status = 401
    default_code = "not_authenticated"


class Forbidden(GuardlineError):
    status = 403
    default_code = "forbidden"


class NotFound(GuardlineError):
    status = 404
    default_code = "not_found"


class Conflict(GuardlineError):
    status = 409
    default_code = "conflict"


class PreconditionFailed(GuardlineError):
    status = 412
    default_code = "precondition_failed"


class Unprocessable(GuardlineError):
    status = 422
    default_code = "validation_failed"


class UnsupportedMediaType(GuardlineError):
    status = 415
    default_code = "unsupported_media_type"


class PreconditionRequired(GuardlineError):
    status = 428
    default_code = "precondition_required"


class TooManyRequests(GuardlineError):
    status = 429
    default_code = "rate_limited"


class ServiceUnavailable(GuardlineError):
    status = 503
    default_code = "service_unavailable"
