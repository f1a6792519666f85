"""``POST /api/v1/batch``: what a phone recorded offline — visits, measures, risk clues,
income — uploaded in one request, answered item by item (issue 20).

Each item is run as the request it stands for (``KINDS``: the operation, its path and its
method), through the whole application with the caller's own token: the same validation,
region scope, permissions, audit and transaction as when sent alone, each item in a
transaction of its own, one after the other in the order given. So one bad item never
refuses the rest, and an item's answer is exactly what the operation answers.

**The whole batch is idempotent.** Every item carries the phone's own ``client_id``; it is
the item's ``Idempotency-Key`` (``batch:<client_id>``, per caller), for updates too. An
upload sent again after a lost answer replays each item's first answer (``replayed``)
instead of applying it twice; a changed item under a used ``client_id`` is refused (422).

An update (``measure_update``, ``income_update``) carries the ``If-Match`` the phone had:
when the office changed the record meanwhile, the item is a ``conflict`` (412) and its
answer holds the record as it is now (``current``: its ETag and body), for the phone to
show and resolve.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from services.api import tags
from services.api.deps import CurrentCaller
from services.api.errors_doc import responses
from services.api.idempotency import REPLAYED_HEADER
from services.api.problems import problem
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.errors import FieldError, Unprocessable

router = APIRouter(prefix="/api/v1", route_class=GuardlineRoute)

BATCH_SCOPE_KEY = "guardline.batch"  # a request run for an item of a batch (``deps.scoped_session``)
MAX_ITEMS = 100
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class Kind:
    method: str
    path: str  # with its one parameter in braces, or none
    param: str | None  # the item's field that fills it
    update: bool = False


KINDS: dict[str, Kind] = {
    "visit": Kind("POST", "/api/v1/monitoring-cases/{}/visits", "case_id"),
    "measure": Kind("POST", "/api/v1/monitoring-cases/{}/measures", "case_id"),
    "measure_update": Kind("PUT", "/api/v1/measures/{}", "measure_id", update=True),
    "clue": Kind("POST", "/api/v1/risk-clues", None),
    "income": Kind("POST", "/api/v1/households/{}/income-records", "household_id"),
    "income_update": Kind("PUT", "/api/v1/income-records/{}", "record_id", update=True),
}


class BatchItemOut(BaseModel):
    client_id: str = Field(description="The item's own id, as sent 客户端标识")
    status: int = Field(description="What the operation answered (HTTP status) 状态码")
    result: str = Field(
        description="created, updated, replayed (sent before: its first answer), conflict (412/409: see `current`), "
        "refused (its problem), failed (5xx: send it again later) 处理结果"
    )
    etag: str | None = Field(None, description="The ETag of what was written 版本标识")
    data: Any = Field(None, description="The operation's answer 返回内容")
    problem: dict[str, Any] | None = Field(None, description="The problem (RFC 9457) of a refused item 问题详情")
    current: dict[str, Any] | None = Field(
        None, description="On a conflict of an update: the record as it is now, {etag, data} 当前版本"
    )


class BatchOut(BaseModel):
    items: list[BatchItemOut] = Field(description="One answer per item, in the order sent 逐项结果")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description=f"Up to {MAX_ITEMS} items, each {{client_id, kind, case_id | household_id | measure_id | "
        "record_id, if_match (updates), body}}: `kind` one of " + ", ".join(f"`{k}`" for k in KINDS) + " 离线记录",
    )


def _item_problem(request: Request, code: str, field: str, **params: Any) -> dict[str, Any]:
    """The problem document (as the API writes them) of an item refused before it was run."""
    answer = problem(request, 422, code, params, errors=[FieldError(field, code, params)])
    return orjson.loads(answer.body)


def _prepared(item: dict[str, Any]) -> tuple[Kind, str, str | None, bytes] | tuple[str, str, dict]:
    """(kind, path, If-Match, body) of an item, or (code, field, params) of why it cannot run."""
    kind = KINDS.get(item.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        return "batch_item_kind", "kind", {"kinds": ", ".join(KINDS)}
    unknown = set(item) - {"client_id", "kind", "body", "if_match", *(k.param for k in KINDS.values() if k.param)}
    if unknown:
        return "batch_item_field", sorted(unknown)[0], {}
    path = kind.path
    if kind.param is not None:
        value = item.get(kind.param)
        if kind.param == "measure_id":
            try:
                value = str(uuid.UUID(str(value)))
            except ValueError:
                return "batch_item_param", kind.param, {"param": kind.param}
        elif not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**62):
            return "batch_item_param", kind.param, {"param": kind.param}
        path = path.format(value)
    if_match = item.get("if_match")
    if kind.update and not (isinstance(if_match, str) and 0 < len(if_match) <= 200):
        return "batch_item_if_match", "if_match", {}
    body = item.get("body")
    if not isinstance(body, dict):
        return "batch_item_body", "body", {}
    return kind, path, if_match if kind.update else None, orjson.dumps(body)


async def _call(request: Request, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple:
    """Run one request through the whole application; (status, headers, body)."""
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": request.url.scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
        "state": {},
        BATCH_SCOPE_KEY: True,
    }
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, answer_headers, chunks = 500, {}, []

    async def send(message: dict) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    return status, answer_headers, b"".join(chunks)


def _decoded(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


@router.post(
    "/batch",
    response_model=BatchOut,
    operation_id="uploadBatch",
    tags=[tags.OFFLINE],
    responses=responses(422),
    summary="Upload what was recorded offline 离线数据批量上传",
    description="Visits, measures, risk clues and income recorded offline, up to "
    f"{MAX_ITEMS} items, each run as its own operation (same checks, permissions and audit, a transaction of "
    "its own) and answered on its own: one bad item never refuses the rest. Each item's `client_id` is its "
    "idempotency key, so sending the same batch again replays the first answers (`replayed`). Updates carry "
    "the `if_match` the phone had; a record changed at the office meanwhile is a `conflict` with the record as "
    "it is now (`current`). 离线记录批量上传，逐项处理、逐项返回，重复上传不会重复写入。",
)
async def upload_batch(request: Request, caller: CurrentCaller, batch: Annotated[BatchIn, Body()]):
    client_ids = [item.get("client_id") for item in batch.items]
    for n, client_id in enumerate(client_ids):
        if not (isinstance(client_id, str) and _CLIENT_ID.match(client_id)):
            raise Unprocessable("batch_client_id", field=f"items[{n}].client_id")
        if client_ids.index(client_id) != n:
            raise Unprocessable("batch_client_id_repeated", field=f"items[{n}].client_id", client_id=client_id)
    forwarded = {
        name: value
        for name in ("authorization", "accept-language", "x-forwarded-for")
        if (value := request.headers.get(name)) is not None
    }
    out = []
    for item in batch.items:
        client_id = item["client_id"]
        prepared = _prepared(item)
        if isinstance(prepared[0], str):
            code, field, params = prepared
            out.append(
                {
                    "client_id": client_id,
                    "status": 422,
                    "result": "refused",
                    "problem": _item_problem(request, code, field, **params),
                }
            )
            continue
        kind, path, if_match, body = prepared
        headers = {
            **forwarded,
            "content-type": "application/json",
            "accept": "application/json",
            "idempotency-key": f"batch:{client_id}",
        }
        if if_match is not None:
            headers["if-match"] = if_match
        status, answer_headers, answer = await _call(request, kind.method, path, headers, body)
        data = _decoded(answer)
        result: dict[str, Any] = {"client_id": client_id, "status": status}
        if 200 <= status < 300:
            replayed = answer_headers.get(REPLAYED_HEADER.lower()) == "true" or (status == 200 and not kind.update)
            result["result"] = "replayed" if replayed else ("updated" if kind.update else "created")
            result["etag"] = answer_headers.get("etag")
            result["data"] = data
        elif status in (409, 412):
            result["result"] = "conflict"
            result["problem"] = data
            if kind.update:
                now_status, now_headers, now = await _call(request, "GET", path, forwarded)
                if now_status == 200:
                    result["current"] = {"etag": now_headers.get("etag"), "data": _decoded(now)}
        else:
            result["result"] = "refused" if status < 500 else "failed"
            result["problem"] = data
        out.append(result)
    return JSON({"items": out})
