"""Error responses declared on endpoints, so the OpenAPI docs list them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    """One field at fault 字段错误."""

    field: str = Field(
        description="The field: `members[0].id_number`, a query parameter or a header 字段",
        examples=["members[0].id_number"],
    )
    code: str = Field(
        description="Stable machine-readable code of this field's fault 错误代码", examples=["id_number_checksum"]
    )
    message: str = Field(description="Human-readable, in Chinese for Accept-Language: zh 说明")


class Problem(BaseModel):
    """RFC 9457 problem details (application/problem+json): the body of every error 错误详情."""

    type: str = Field(
        description="`urn:guardline:problem:` and the code 错误类型",
        examples=["urn:guardline:problem:household_not_found"],
    )
    title: str = Field(description="The HTTP status phrase 状态说明", examples=["Not Found"])
    status: int = Field(description="The HTTP status code, as answered 状态码", examples=[404])
    detail: str = Field(description="Human-readable, in Chinese for Accept-Language: zh 详细说明")
    code: str = Field(description="Stable machine-readable code 错误代码", examples=["household_not_found"])
    instance: str = Field(description="The request's path 请求路径", examples=["/api/v1/households/12"])
    field: str | None = Field(None, description="The first field at fault 出错字段")
    errors: list[FieldProblem] | None = Field(None, description="Every field at fault (422) 全部字段错误")
    request_id: str | None = Field(None, description="The request's id, as in X-Request-ID 请求编号")


PROBLEM_JSON = "application/problem+json"

_DESCRIPTIONS = {
    400: "The request is malformed (a header or a form field); `field` names it",
    401: "Not logged in or token invalid",
    403: "The caller's role may not do this",
    404: "Not found, or outside the caller's regions (the two are indistinguishable)",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    415: "The file is not of a kind this operation reads",
    422: "Invalid input; `errors` lists each field",
    428: "If-Match header required",
    429: "Too many requests; wait for Retry-After seconds",
    503: "The database cannot be reached for the moment; try again after Retry-After seconds",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Problem responses for ``codes`` (and 401, 403, 422, which every authenticated route may
    answer). Their schema and headers are completed for the whole document by ``contract.finish``."""
    return {
        code: {
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in sorted({401, 403, 422, *codes})
    }
