"""Error responses declared on endpoints, so the OpenAPI docs list them."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (application/problem+json)."""

    type: str = Field(examples=["urn:guardline:problem:household_not_found"])
    title: str
    status: int
    detail: str = Field(description="Human-readable, in Chinese for Accept-Language: zh")
    code: str = Field(description="Stable machine-readable code")
    instance: str
    field: str | None = Field(None, description="The first field at fault")
    errors: list[FieldProblem] | None = None
    request_id: str | None = None


PROBLEM_JSON = "application/problem+json"

_DESCRIPTIONS = {
    401: "Not logged in or token invalid",
    403: "The caller's role may not do this",
    404: "Not found, or outside the caller's regions (the two are indistinguishable)",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    422: "Invalid input; `errors` lists each field",
    428: "If-Match header required",
    429: "Too many requests; wait for Retry-After seconds",
    503: "The database cannot be reached for the moment; try again after Retry-After seconds",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Problem responses for ``codes`` (and 401, 403, 422, which every authenticated route may
    answer). Their schema and headers are completed for the whole document by ``contract.finish``."""
    return {
        code: {"description": _DESCRIPTIONS[code],
               "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for code in sorted({401, 403, 422, *codes})
    }
