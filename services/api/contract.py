"""What the OpenAPI document promises beyond what FastAPI derives by itself, in one place.

Per route (``routing.GuardlineRoute`` calls ``document_route``), from what the route runs:

* a rate limit (a dependency of ``ratelimit.RATE_LIMITED``, or an endpoint marked
  ``ratelimit.rate_limited`` that calls ``ratelimit.limit`` itself): 429 with ``Retry-After``
  and the ``RateLimit`` / ``RateLimit-Policy`` headers on its answers;
* ``If-Match``: required where a missing one is a 428, optional where only a stale one is refused;
* ``Idempotency-Key`` on every POST that honours it (one with a scoped session, neither a
  ``hot_read`` lookup nor ``no_idempotency``);
* 409 on every route that writes: a transaction that lost a race to another (a deadlock
  broken by PostgreSQL) is answered 409 ``changed_concurrently`` with ``Retry-After``;
* 503 on every route: any of them may find the database unreachable.

For every operation with a request body: 413 ``payload_too_large``, the answer of the body
limit (``middleware``, ``limits.max_body_bytes``) whatever the route.

For the whole document (``install`` wraps ``app.openapi``): every error response is
``application/problem+json`` with the ``Problem`` schema and nothing else, every response
carries ``X-Request-ID``, and 429, 503 (and the 409 of ``changed_concurrently``) carry
``Retry-After``.

The server holds itself to the same promises at run time (``declared``): a route that counts
a rate limit or checks ``If-Match`` without declaring it fails instead of answering outside
its contract, so the tests of that route catch the omission."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from services.api.errors_doc import PROBLEM_JSON, Problem, responses

REF = "#/components/schemas/"
PROBLEM_SCHEMA = {"$ref": REF + "Problem"}

# Response headers, defined once under components/headers and referenced by name.
_RETRY_AFTER_SCHEMA = {"type": "integer", "minimum": 1}
HEADERS: dict[str, dict[str, Any]] = {
    "XRequestId": {
        "description": "The request's id: the client's `X-Request-ID` when it is 1 to 64 of `A-Z a-z 0-9 . _ -`, "
        "else a new one. Quote it when reporting a problem. 请求编号",
        "required": True,
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before trying again 重试等待秒数",
        "required": True,
        "schema": _RETRY_AFTER_SCHEMA,
    },
    "RetryAfterConflict": {
        "description": "Sent with `changed_concurrently` (another write got there first; nothing was written): "
        "seconds to wait before retrying 重试等待秒数",
        "required": False,
        "schema": _RETRY_AFTER_SCHEMA,
    },
    "RateLimitPolicy": {
        "description": 'The limit that counted this request (IETF draft "RateLimit header fields for HTTP"): '
        '`"<policy>";q=<requests>;w=<window seconds>`, e.g. `"bulk";q=120;w=60` 限流策略',
        "required": True,
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"<policy>";r=<remaining>;t=<seconds until the window resets>`, '
        'e.g. `"bulk";r=37;t=21` 剩余配额',
        "required": True,
        "schema": {"type": "string"},
    },
    "IdempotentReplayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
        "Idempotency-Key 幂等重放",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _header(name: str) -> dict[str, str]:
    return {"$ref": "#/components/headers/" + name}


X_REQUEST_ID = {"X-Request-ID": _header("XRequestId")}
ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "409": {"Retry-After": _header("RetryAfterConflict")},
    "429": {"Retry-After": _header("RetryAfter")},
    "503": {"Retry-After": _header("RetryAfter")},
}
RATE_LIMIT_HEADERS = {"RateLimit-Policy": _header("RateLimitPolicy"), "RateLimit": _header("RateLimit")}
IDEMPOTENT_REPLAYED = {"Idempotent-Replayed": _header("IdempotentReplayed")}

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": {"type": "string", "minLength": 1},
    "description": 'The ETag you read (e.g. `"household-12-v3"`) 读取时的 ETag',
}


def idempotency_key_parameter() -> dict[str, Any]:
    from services.core.settings import IdempotencySettings

    longest = IdempotencySettings.model_fields["max_key_length"].default
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": longest, "pattern": "^[!-~]+$"},
        "description": "A key of your choosing (printable ASCII, no spaces), e.g. a UUID: a retry with the "
        "same key and body answers the first response again (`Idempotent-Replayed: true`) "
        "instead of applying twice; the same key with another body is 422. Kept 24 hours. "
        "幂等键",
    }


# ---- per route ----------------------------------------------------------------------


def document_route(route: Any, *, rate_limited: bool, if_match: bool | None, idempotent: bool, writes: bool) -> None:
    """Add to ``route`` (an APIRoute) what it imposes: see the module's description.
    ``if_match``: None when the route does not check it, else whether it is required;
    ``writes``: it runs a transaction, which may lose a race (409 ``changed_concurrently``)."""
    out = dict(route.responses)
    success = route.status_code or 200
    parameters: list[dict[str, Any]] = []
    route.declares = frozenset(
        {*(("rate_limit",) if rate_limited else ()), *(("if_match",) if if_match is not None else ())}
    )
    if rate_limited:
        out[429] = {**responses(429)[429], "headers": RATE_LIMIT_HEADERS}
        _add_headers(out, success, RATE_LIMIT_HEADERS)
    if if_match is not None:
        parameters.append({**IF_MATCH, "required": if_match})
        out.setdefault(428, responses(428)[428])  # an empty If-Match is a 428 everywhere (deps.check_if_match)
        out.setdefault(412, responses(412)[412])
    if idempotent:
        parameters.append(idempotency_key_parameter())
        _add_headers(out, success, IDEMPOTENT_REPLAYED)
    if writes:
        out.setdefault(409, responses(409)[409])
    out.setdefault(503, responses(503)[503])
    route.responses = out
    if parameters:
        extra = dict(route.openapi_extra or {})
        extra["parameters"] = [*extra.get("parameters", []), *parameters]
        route.openapi_extra = extra


def _add_headers(out: dict, status: int, headers: dict) -> None:
    response = dict(out.get(status, {}))
    response["headers"] = {**response.get("headers", {}), **headers}
    out[status] = response


def declared(request: Request, what: str) -> None:
    """Refuse to go on (500) where the route's contract does not declare ``what``
    (``rate_limit``, ``if_match``): the route must say it in its OpenAPI (see
    ``document_route``); its tests fail until it does."""
    route = request.scope.get("route")
    if route is not None and what not in getattr(route, "declares", frozenset()):
        raise RuntimeError(f"{getattr(route, 'path', route)} uses {what} but its OpenAPI does not declare it")


# ---- the whole document ---------------------------------------------------------------

# What a parameter means, for the parameters the code declares without a description of their
# own (most path ids and filters share a name and a meaning across operations). A description
# written at the parameter wins; ``(operationId, name)`` entries say what differs for one operation.
PARAMETER_DESCRIPTIONS: dict[str | tuple[str, str], str] = {
    "asset_id": "Project asset id 扶贫项目资产编号",
    "case_id": "Monitoring case id 监测对象（帮扶案件）编号",
    "campaign_id": "Screening campaign id 排查行动编号",
    "campaign_visit_id": "A campaign visit's record id 排查走访记录编号",
    "roster_member_id": "Roster member id (information officer, grid worker, village-based team member) 名册人员编号",
    "clearing_entry_id": "Clearing-ledger entry id 清零台账记录编号",
    "rectification_id": "Rectification-ledger problem id 整改问题编号",
    "report_id": "A stored township report's id 已生成乡镇报表编号",
    "attendance_id": "A village-based team member's record of a month's days in the village 驻村天数记录编号",
    "client_id": "System client id 系统接入方编号",
    "clue_id": "Risk clue id 风险线索编号",
    "code": "Region code (统计用区划代码, 2 to 12 digits) 区划代码",
    "finding_id": "Department cross-check finding id 部门比对发现编号",
    "fund_finding_id": "Fund or asset finding id 资金资产监管发现编号",
    "fund_id": "Fund id 衔接资金编号",
    "fund_policy_id": "Funds policy override id 资金项目政策参数编号",
    "household_id": "Household id 农户编号",
    "project_id": "Project id 项目编号",
    "quarantine_id": "Quarantined department record id 隔离记录编号",
    "record_id": "Quarterly income record id 季度收入记录编号",
    "run_id": "Sync run id 同步批次编号",
    "sync_policy_id": "Sync policy override id 部门比对规则参数编号",
    "user_id": "User account id 用户编号",
    "person_id": "Only those about this person (person id) 按人员筛选",
    "asset_class": "Only assets of this class 按资产类别筛选",
    "cadre_user_id": "Only cases whose assistance cadre is this user (user id) 按帮扶责任人筛选",
    "case_type": "Only cases of this type 按监测对象类型筛选",
    "category": "Only projects of this category 按项目类别筛选",
    "channel": "Only clues from this channel 按发现渠道筛选",
    "kind": "Only this kind 按类型筛选",
    "level": "Only funds of this level of government 按资金级次筛选",
    "limit": "Page size 每页条数",
    "risk_type": "Only this risk type 按风险类型筛选",
    "role": "Only accounts with this role 按角色筛选",
    "rule_id": "Only findings of this rule 按规则筛选",
    "seen_since": "Only findings seen (raised or confirmed again) at or after this time 此时间后发现",
    "severity": "Only findings of this severity 按严重程度筛选",
    "status": "Only items in this status 按状态筛选",
    "year": "Only this year 按年度筛选",
    ("getFundIndicators", "year"): "The year of the indicators (default: the year of `as_of`) 年度",
    ("getEffectiveFundPolicy", "year"): "The year the policy is wanted for 年度",
    ("getFundIndicators", "as_of"): "The day the indicators are computed as of (default today, China time) 截至日期",
    ("listOverdueFollowUps", "as_of"): "The day lateness is measured on (default today, China time) 基准日期",
    ("listOverdueFollowUps", "cadre_user_id"): "Only households this user is responsible for now (user id) "
    "按帮扶责任人筛选",
    ("listCadreHouseholds", "cadre_user_id"): "The cadre's user id 帮扶责任人用户编号",
    ("listMissingIncome", "year"): "The year of the quarter 年度",
    ("listMissingIncome", "quarter"): "The quarter (1–4) 季度",
    ("listMissingIncome", "as_of"): "The day the deadline is compared with (default today, China time) 基准日期",
    ("exportMissingIncome", "as_of"): "The day the deadline is compared with (default today, China time) 基准日期",
    ("exportOverdueFollowUps", "as_of"): "The day lateness is measured on (default today, China time) 基准日期",
    ("exportRectifications", "source"): "Only problems found this way (inspection, audit, assessment, the system, "
    "self-check) 按问题来源筛选",
    ("listIncomeFlags", "year"): "The year of the quarter the rolling year ends with 年度",
    ("listIncomeFlags", "quarter"): "The quarter (1–4) the rolling year ends with 季度",
    ("listIncomeFlags", "flag"): "Only households flagged for this reason 按关注原因筛选",
    ("listOverdue", "as_of"): "The day deadlines are measured from (default today, China time) 基准日期",
    ("listOverdue", "kind"): "Only deadlines of this kind 按时限类型筛选",
    ("listOverdue", "subject"): "Only cases (`case`) or only clues (`clue`) 案件或线索",
    ("listOverdue", "within_days"): "Also list what falls due within this many days of `as_of` (0: only what is "
    "late) 临期天数",
    ("checkElimination", "on"): "The day the conditions are checked for (default today, China time) 核查日期",
    ("listFundFindings", "project_id"): "Only findings about this project 按项目筛选",
    ("listFundFindings", "asset_id"): "Only findings about this asset 按资产筛选",
    ("listAssets", "project_id"): "Only assets of this project 按项目筛选",
    ("listFindings", "household_id"): "Only findings about this household 按农户筛选",
    ("listMonitoringCases", "household_id"): "Only cases of this household 按农户筛选",
    ("listRiskClues", "household_id"): "Only clues about this household 按农户筛选",
    ("listFunds", "kind"): "Only funds of this kind 按资金类型筛选",
    ("listRectifications", "source"): "Only problems found this way (inspection, audit, assessment, the system, "
    "self-check) 按问题来源筛选",
}


def _describe_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter or parameter.get("description"):
            continue
        name = parameter["name"]
        text = PARAMETER_DESCRIPTIONS.get((operation.get("operationId", ""), name)) or PARAMETER_DESCRIPTIONS.get(name)
        if text:
            parameter["description"] = text


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Make the rules of the module's description hold for every operation (idempotent)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=REF + "{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    document["components"]["headers"] = HEADERS
    for item in document.get("paths", {}).values():
        for operation in item.values():
            _describe_parameters(operation)
            # Public operations say so: no inherited requirement, no guessing (security-defined).
            operation.setdefault("security", [])
            if "requestBody" in operation:  # the body limit answers before the route runs
                operation["responses"].setdefault("413", responses(413)[413])
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers.update(X_REQUEST_ID)
                if status[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}
                    for name, header in ERROR_HEADERS.get(status, {}).items():
                        headers.setdefault(name, header)
    # FastAPI's own validation error shapes: the server never answers them.
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(document, REF + name, skip=name):
            schemas.pop(name, None)
    return document


def _referenced(node: Any, ref: str, skip: str) -> bool:
    if isinstance(node, dict):
        if node.get("$ref") == ref:
            return True
        return any(_referenced(v, ref, skip) for k, v in node.items() if k != skip)
    if isinstance(node, list):
        return any(_referenced(v, ref, skip) for v in node)
    return False


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        return finish(document) if fresh else document

    app.openapi = openapi  # type: ignore[method-assign]
