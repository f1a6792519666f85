"""Schemathesis over the OpenAPI document of ``create_app``, for each role and without a token.

Every operation of the document gets ``GUARDLINE_FUZZ_EXAMPLES`` generated requests per role
and per generation mode (valid and invalid input; which roles send which is chosen by
``_fuzzed_roles``: a role lacking the permissions gets 403 whatever it sends, so one such role
stands for all). Each answer must:

* not be a server error (5xx);
* conform to the document: a documented status code, the documented content type and
  headers, a body that matches the response schema;
* if it is an error (4xx/5xx): be ``application/problem+json`` with ``type``, ``title`` and
  a ``status`` equal to the HTTP status, and contain no stack trace, no SQL or driver name
  and no unmasked ID number (an 18-character token ``\\d{17}[\\dXx]``).

The requests run in-process on the test's own database connection (the ``client`` and
``db`` fixtures), each in a savepoint that is rolled back, so nothing is left behind and
every example starts from the same registry: a few households inside the caller's regions
and one outside (``tests/api/world.py``). Generated ids are replaced, half of the time, by
ids of those households so that requests reach past the 404.

Hypothesis runs in a worker thread and hands each request to the test's event loop (the
database connection belongs to that loop); schemathesis's own ASGI transport would run the
app on another loop.

Environment: ``GUARDLINE_FUZZ_EXAMPLES`` (default 6) examples per operation, role and mode;
``GUARDLINE_FUZZ_RANDOM=1`` for a fresh random seed instead of the fixed one CI uses.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.app import create_app
from services.api.ratelimit import RateLimiter
from services.core.settings import Settings
from tests.api.asset_helpers import asset_objects
from tests.api.funds_helpers import funds_objects
from tests.api.ledger_helpers import ledger_objects, report_objects
from tests.api.sync_helpers import sync_objects
from tests.api.world import LAST_YEAR, MISSING, World, make_world
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, USERS, VILLAGE, VILLAGE_2, id_number

EXAMPLES = int(os.environ.get("GUARDLINE_FUZZ_EXAMPLES", "6"))
RANDOM = os.environ.get("GUARDLINE_FUZZ_RANDOM", "") not in ("", "0")

SYSTEM_CLIENT = "system client"  # a department system's client-credentials token (its own permissions)


async def _system_client(db, settings) -> dict:
    """A token of a real client (a token must agree with its account) holding every
    permission a client may be given."""
    from services.core.accounts.models import ApiClient
    from services.core.accounts.roles import CLIENT_GRANTABLE, Role
    from services.core.accounts.security import Caller, issue_token

    session = db.session()
    client = ApiClient(
        name="fuzz.department",
        permissions=sorted(p.value for p in CLIENT_GRANTABLE),
        region_prefix="529901",
        active=True,
    )
    session.add(client)
    await session.commit()
    await session.close()
    caller = Caller(
        None,
        "fuzz.department",
        Role.department_system,
        "529901",
        client_id=client.id,
        granted=frozenset(CLIENT_GRANTABLE),
    )
    return {"Authorization": f"Bearer {issue_token(settings, caller)[0]}"}


ROLES = (  # every role, at the level it usually works at, and a system client
    SYSTEM_CLIENT,
    "county_staff.county",
    "county_approver.county",
    "township_staff.township",
    "village_staff.village",
    "grid_worker.village",
    "assistance_cadre.village",
    "auditor.county",
    "department_system.county",
    "admin.county",
    None,  # no token
)

DOCUMENT = create_app(Settings(env="test")).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {
    op.definition.raw.get("operationId") or op.label: op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Failures found by this suite and not yet fixed: operationId -> reason. Each is an xfail,
# so the checks stay as strict as they are for every other operation.
KNOWN_FAILURES: dict[str, str] = {}

TRACE_MARKERS = ("Traceback", 'File "')
SQL_MARKERS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM")  # as SQL writes them, not as prose does
DRIVER_MARKERS = ("asyncpg", "sqlalchemy", "psycopg")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


# ---- where generated ids are replaced by ids of the seeded registry --------------------


def pools(w: World) -> dict[str, list]:
    """Values for parameters and body fields, by name: inside, outside and missing."""
    persons = [m["id"] for h in (w.home, w.neighbour, w.village2, w.foreign) for m in h["members"]]
    households = [w.home["id"], w.neighbour["id"], w.village2["id"], w.foreign["id"], MISSING]
    regions = [VILLAGE, VILLAGE_2, OTHER_COUNTY_VILLAGE, COUNTY + "000000", "529901001999"]
    return {
        "household_id": households,
        "person_id": [*persons, MISSING],
        "head_person_id": persons,
        "remaining_head_person_id": persons,
        "person_ids": [[p] for p in persons] + [persons[1:3], [persons[2], persons[-1]]],
        "record_id": [w.record["id"], w.foreign_record["id"], MISSING],
        "code": regions,
        "parent": regions,
        "region_code": regions,
        "region": [COUNTY, VILLAGE[:9], VILLAGE_2, "529902", "529903"],
        # Registered ones (a duplicate, a lookup) and fresh ones (a new member).
        "id_number": [w.home_id_number, w.foreign_id_number] + [id_number() for _ in range(4)],
        # Amounts and periods that pass validation, so income writes get past the 422.
        **{part: ["0", "1250.00"] for part in ("wages", "business", "property", "transfers")},
        "year": [LAST_YEAR],
        "quarter": [1, 2, 3, 4],
        # monitoring reports and policy settings
        "province_code": ["52", "11"],
        "province": ["52", "11"],
        "village": regions,
        "region_prefix": [COUNTY, VILLAGE, "529902", "52"],
        "policy_id": [w.policy["id"], MISSING],
        "amount": ["6000.00", "7300"],
        # department sync (tests/api/sync_helpers.sync_objects): the county's run, quarantined
        # record and finding; sources configured or not
        **(
            {
                "run_id": [w.sync["run_id"], MISSING],
                "quarantine_id": [w.sync["quarantine_id"], MISSING],
                "finding_id": [w.sync["finding_id"], MISSING],
            }
            if w.sync
            else {}
        ),
        "county": [COUNTY, "529902", "529903"],
        # project assets (tests/api/asset_helpers.asset_objects): the village's accepted project, its
        # asset and the finding about it
        **(
            {"asset_id": [w.assets["asset_id"], MISSING], "fund_finding_id": [w.assets["fund_finding_id"], MISSING]}
            if w.assets
            else {}
        ),
        "source": ["civil-affairs", "medical-insurance", "housing"],
        # the ledgers (tests/api/ledger_helpers.ledger_objects): an open clearing entry, a problem
        # being rectified and one awaiting approval
        **(
            {
                "clearing_entry_id": [w.ledgers["clearing_entry_id"], MISSING],
                "rectification_id": [
                    w.ledgers["rectification_id"],
                    w.ledgers["requested_rectification_id"],
                    MISSING,
                ],
                # a stored township report (ledger_helpers.report_objects)
                "report_id": [w.ledgers["report_id"], MISSING],
            }
            if w.ledgers
            else {}
        ),
        # funds and projects (tests/api/funds_helpers.funds_objects): a proposed and an approved project
        **(
            {
                "fund_id": [w.funds["fund_id"], MISSING],
                "project_id": [w.funds["project_id"], w.funds["approved_project_id"], MISSING]
                + ([w.assets["accepted_project_id"]] if w.assets else []),
                "fund_policy_id": [w.funds["fund_policy_id"], MISSING],
            }
            if w.funds
            else {}
        ),
        # the county's override of the cross-check thresholds
        **({"sync_policy_id": [w.sync_policy_id, MISSING]} if getattr(w, "sync_policy_id", None) else {}),
    }


# Parameters whose name is shared with another kind of value: a problem's source in the
# rectification ledger is no department source.
NOT_AIMED = {("listRectifications", "source")}


def _aim(case, data, values: dict[str, list]) -> None:
    """Half of the time, each known parameter or body field (also in nested objects, e.g.
    ``members[i].id_number``) takes a value of the seeded registry."""
    operation_id = case.operation.definition.raw.get("operationId")

    def visit(container):
        if isinstance(container, list):
            for item in container:
                visit(item)
        if not isinstance(container, dict):
            return
        for name in list(container):
            if (
                name in values
                and (operation_id, name) not in NOT_AIMED
                and data.draw(st.booleans(), label=f"aim {name}")
            ):
                container[name] = data.draw(st.sampled_from(values[name]), label=name)
            else:
                visit(container[name])

    for container in (case.path_parameters, case.query, case.body):
        visit(container)


@dataclass
class Finding:
    operation: str
    role: str | None
    request: str
    status: int
    problem: str
    body: str = field(repr=False, default="")

    def __str__(self) -> str:
        return (
            f"{self.operation} as {self.role or 'no token'}: {self.problem}\n"
            f"    request: {self.request}\n    response: {self.status} {self.body[:300]}"
        )


def _describe(kwargs: dict) -> str:
    payload = kwargs.get("json", kwargs.get("content", kwargs.get("data")))
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() in ("if-match", "idempotency-key")}
    text = f"{kwargs['method']} {kwargs['url']}"
    if kwargs.get("params"):
        text += f" params={kwargs['params']}"
    if headers:
        text += f" headers={headers}"
    if payload is not None:
        text += f" body={json.dumps(payload, ensure_ascii=False, default=str)[:400]}"
    return text


def _without_locations(body: dict) -> str:
    """The problem as text, without what only points back into the request: ``instance``
    (its path) and the ``field`` locations, which name the keys the client sent (a key
    of ``details`` may be any text, even SQL or an ID number)."""
    rest = {k: v for k, v in body.items() if k not in ("instance", "field", "errors")}
    rest["errors"] = [
        {k: v for k, v in e.items() if k != "field"} if isinstance(e, dict) else e for e in body.get("errors") or []
    ]
    return json.dumps(rest, ensure_ascii=False)


def _echoes(response: httpx.Response) -> set[str]:
    """ID-number-shaped tokens of the request's own URL: a numeric id the client put in the
    path may come back in the message ("no household 123… you can see")."""
    return set(ID_NUMBER.findall(unquote(str(response.request.url))))


def problem_failures(response: httpx.Response) -> list[str]:
    """What an error response must be: problem+json, and nothing that helps an attacker."""
    if response.status_code < 400:
        return []
    out = []
    body = None
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/problem+json"):
        out.append(f"error with content-type {content_type!r}, not application/problem+json")
    else:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            out.append("problem body is not a JSON object")
        else:
            missing = [k for k in ("type", "title", "status") if k not in body]
            if missing:
                out.append(f"problem without {missing}")
            elif body["status"] != response.status_code:
                out.append(f"problem status {body['status']} != HTTP {response.status_code}")
    text = _without_locations(body) if isinstance(body, dict) else response.text
    out += [f"stack trace in the body ({m!r})" for m in TRACE_MARKERS if m in text]
    out += [f"SQL in the body ({m!r})" for m in SQL_MARKERS if m in text]
    out += [f"driver detail in the body ({m!r})" for m in DRIVER_MARKERS if m in text.lower()]
    echoed = _echoes(response)
    out += [f"unmasked ID number {t!r} in the body" for t in ID_NUMBER.findall(text) if t not in echoed]
    return out


def _to_httpx(kwargs: dict) -> dict:
    out = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": dict(kwargs.get("headers") or {}),
        "params": kwargs.get("params") or None,
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), (bytes, str)):
        out["content"] = kwargs["data"]
    elif "data" in kwargs:
        out["data"] = kwargs["data"]
    return out


def _set_header(headers: dict, name: str, value: str | None) -> None:
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    if value is not None:
        headers[name] = value


def fuzz(operation, role: str | None, token_headers: dict, values: dict, send, mode: GenerationMode) -> list[Finding]:
    """Runs in a worker thread: generate, send through ``send`` (on the test's loop), check."""
    findings: list[Finding] = []
    method = operation.method.upper()

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        if mode == GenerationMode.POSITIVE:
            _aim(case, data, values)
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        headers = kwargs["headers"]
        if role is None:
            _set_header(headers, "Authorization", None)
        else:
            headers.update(token_headers)
        if method in ("PUT", "PATCH", "DELETE"):
            _set_header(headers, "If-Match", data.draw(st.sampled_from([None, "*", '"stale-v0"']), label="If-Match"))
        if method == "POST":
            _set_header(headers, "Idempotency-Key", data.draw(st.sampled_from([None, "fuzz-key-1"]), label="key"))
        request = _to_httpx(kwargs)
        response = send(request)
        problems = problem_failures(response)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            problems += [f"{f.title}: {' '.join(f.message.split())}" for f in group.exceptions]
        for p in problems:
            findings.append(Finding(operation.label, role, _describe(kwargs), response.status_code, p, response.text))

    try:
        run()
    except Unsatisfiable:
        # Nothing of this operation can be made invalid (no parameters, no body).
        if mode != GenerationMode.NEGATIVE:
            raise
    return findings


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.operation, f.role, f.problem.split("\n")[0][:120])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _fuzzed_roles(operation_id: str) -> tuple[list[str | None], list[str | None]]:
    """The roles whose valid input (``GenerationMode.POSITIVE``) and invalid input
    (``NEGATIVE``) are fuzzed.

    A role lacking the operation's permissions is answered 403 before anything else runs,
    whatever it sends; the access matrix (test_scope_matrix) checks that 403 for every such
    role and operation. Fuzzing them all sent the same answer over the same code many times,
    so one lacking role stands for them. Valid input: every role that holds the permissions
    (their answers differ: region scope, what each may see), no token, and the first lacking
    role. Invalid input is refused before any rule of a role applies: without a token 401,
    without the permissions 403, with them 422 from the same validation whoever sends it; so
    no token, the first and the last role (in ``ROLES``) holding the permissions (a county and
    a village or a system client), and the first lacking them. Deterministic."""
    from services.core.accounts.roles import CLIENT_GRANTABLE, PERMISSIONS, Role

    op = next(o for item in DOCUMENT["paths"].values() for o in item.values() if o.get("operationId") == operation_id)
    bearer = [req["OAuth2"] for req in op.get("security", []) if "OAuth2" in req]

    def holds(role: str) -> bool:
        granted = CLIENT_GRANTABLE if role == SYSTEM_CLIENT else PERMISSIONS[Role(USERS[role][0])]
        return not bearer or set(bearer[0]) <= {p.value for p in granted}

    holding = [r for r in ROLES if r is not None and holds(r)]
    lacking = [r for r in ROLES if r is not None and not holds(r)]
    valid = list(dict.fromkeys([None, *holding, *lacking[:1]]))
    invalid = list(dict.fromkeys([None, *holding[:1], *holding[-1:], *lacking[:1]]))
    return valid, invalid


def _params():
    for op_id in OPERATIONS:
        marks = [pytest.mark.xfail(reason=KNOWN_FAILURES[op_id], strict=False)] if op_id in KNOWN_FAILURES else []
        yield pytest.param(op_id, id=op_id, marks=marks)


def test_fuzz_reaches_every_operation():
    """The suite is generated from the document: a new route is fuzzed without being listed."""
    documented = {op.get("operationId") for item in DOCUMENT["paths"].values() for op in item.values()}
    assert documented == set(OPERATIONS)
    assert set(KNOWN_FAILURES) <= set(OPERATIONS), "KNOWN_FAILURES names operations that no longer exist"


async def seeded_world(client, db, auth, settings) -> World:
    """The registry every example starts from (see the module's docstring)."""
    world = await make_world(client, auth)
    world.sync = await sync_objects(db, settings, VILLAGE, world.home)
    world.funds = await funds_objects(client, auth("county_staff.county"), VILLAGE, world.home["id"])
    world.assets = await asset_objects(db, VILLAGE)
    world.ledgers = {**await ledger_objects(db, VILLAGE, world.home["id"]), **await report_objects(db, VILLAGE)}
    thresholds = await client.post(
        "/api/v1/sync-policies",
        headers=auth("county_staff.county"),
        json={"region_prefix": VILLAGE[:6], "year": 2020, "values": {"new_grant_months": 9}},
    )
    assert thresholds.status_code == 201, thresholds.text
    world.sync_policy_id = thresholds.json()["id"]
    return world


@pytest.mark.parametrize("operation_id", list(_params()))
async def test_schemathesis(operation_id, client, db, auth, settings):
    # The registry is seeded per test: a world seeded once in a transaction held open for the
    # module would hold the audit chain's lock, and a test on another connection would wait
    # for it forever.
    values = pools(await seeded_world(client, db, auth, settings))
    await _fuzz_operation(operation_id, client, db, auth, settings, values)


async def _fuzz_operation(operation_id, client, db, auth, settings, values) -> None:
    loop = asyncio.get_running_loop()

    async def _send(request: dict) -> httpx.Response:
        savepoint = await db.connection.begin_nested()
        try:
            return await client.request(**request)
        finally:
            await savepoint.rollback()

    def send(request: dict) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(_send(request), loop).result(timeout=60)

    findings: list[Finding] = []
    operation = OPERATIONS[operation_id]
    app = client._transport.app
    system_client = await _system_client(db, settings)
    valid_input_roles, invalid_input_roles = _fuzzed_roles(operation_id)
    for role in ROLES:
        # Every role here sends from the same address: a fresh limiter per role keeps the
        # public disclosure (limited per address) from answering only 429 after a while.
        app.state.rate_limiter = RateLimiter()
        token = system_client if role == SYSTEM_CLIENT else auth(role) if role else {}
        modes = [GenerationMode.POSITIVE] if role in valid_input_roles else []
        if role in invalid_input_roles:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            findings += await asyncio.to_thread(fuzz, operation, role, token, values, send, mode)
    findings = _dedupe(findings)
    assert not findings, f"{len(findings)} finding(s):\n" + "\n".join(str(f) for f in findings[:25])


# ---- what the fuzzing found, pinned down --------------------------------------------------


async def _problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert problem_failures(response) == []
    if field is None:
        assert body["code"] == code, body
    else:
        assert {"field": field, "code": code} in [{k: e[k] for k in ("field", "code")} for e in body["errors"]], body
    return body


async def test_body_that_is_not_utf8_is_invalid_json(client, auth):
    """FastAPI said 400 (undocumented) for a JSON body that is not UTF-8; 422 like any invalid JSON."""
    h = {**auth("county_staff.county"), "Content-Type": "application/json"}
    for method, path in (
        ("POST", "/api/v1/households"),
        ("PATCH", "/api/v1/persons/1"),
        ("POST", "/api/v1/persons/lookup"),
    ):
        r = await client.request(method, path, content=b"\x8fAM\x93S\xd1P", headers=h)
        await _problem(r, 422, "json_invalid", field="body")


async def test_null_for_a_field_that_always_has_a_value_is_refused(client, auth, db):
    """``{"category": null}`` reached a NOT NULL column (500); it is a 422 naming the field and
    nothing changes. Leaving a field out still keeps it."""
    from tests.dbstate import fingerprint

    world = await make_world(client, auth)
    h = {**auth("county_staff.county"), "If-Match": '"stale"'}  # the body is refused before the version
    before = await fingerprint(db.connection)
    r = await client.patch(f"/api/v1/households/{world.home['id']}", json={"category": None}, headers=h)
    await _problem(r, 422, "enum", field="category")
    for name in ("name", "health", "labour_capacity", "schooling", "medical_insurance", "employment"):
        r = await client.patch(f"/api/v1/persons/{world.member('home', 2)}", json={name: None}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == name, r.text
    assert await fingerprint(db.connection) == before
    # Nullable fields can still be cleared.
    member = f"/api/v1/persons/{world.member('home', 2)}"
    r = await client.patch(
        member,
        json={"school": None, "phone": None},
        headers={**h, "If-Match": (await client.get(member, headers=h)).headers["etag"]},
    )
    assert r.status_code == 200, r.text


async def test_text_longer_than_its_column_is_refused(client, auth):
    """school and employment_place allowed 200 characters for a 100-character column (500)."""
    world = await make_world(client, auth)
    h = {**auth("county_staff.county"), "If-Match": '"stale"'}  # the body is refused before the version
    member = f"/api/v1/persons/{world.member('home', 2)}"
    for name in ("school", "employment_place"):
        r = await client.patch(member, json={name: "校" * 101}, headers=h)
        await _problem(r, 422, "too_long", field=name)
        current = (await client.get(member, headers=h)).headers["etag"]
        r = await client.patch(member, json={name: "校" * 100}, headers={**h, "If-Match": current})
        assert r.status_code == 200, r.text


async def test_values_the_database_cannot_hold_are_422(client, auth, db):
    """A NUL character in text and an id beyond 64 bits reached the driver (500)."""
    from tests.dbstate import fingerprint

    world = await make_world(client, auth)
    h = auth("county_staff.county")
    member = f"/api/v1/persons/{world.member('home', 2)}"
    current = (await client.get(member, headers=h)).headers["etag"]
    before = await fingerprint(db.connection)
    # A NUL in a body's text is refused by validation now, naming the field (the text rule).
    nul = await client.patch(member, json={"name": "张\x00三"}, headers={**h, "If-Match": current})
    assert nul.status_code == 422 and nul.json()["errors"][0]["code"] == "text_forbidden_characters"
    cases = [
        client.post(
            f"/api/v1/persons/{world.member('home', 2)}/move",
            json={"household_id": 10**22, "relation": "other"},
            headers=h,
        ),
        client.post(f"/api/v1/households/{world.home['id']}/merge", json={"household_id": -(2**70)}, headers=h),
        client.post("/api/v1/auth/token", data={"username": "admin\x00", "password": "x"}),
    ]
    for request in cases:
        await _problem(await request, 422, "value_not_storable")
    # A query filter states its rule (no control characters): refused naming the parameter.
    r = await client.get("/api/v1/households", params={"name": "张\x00"}, headers=h)
    await _problem(r, 422, "string_pattern_mismatch", field="name")
    assert await fingerprint(db.connection) == before


def test_input_is_fuzzed_for_each_kind_of_answer():
    """Invalid input: no token (401), a role lacking the permissions (403) and roles holding
    them (422). Valid input: every role holding the permissions, no token, one lacking them."""
    from services.core.accounts.roles import PERMISSIONS, Permission, Role

    def invalid(op_id: str) -> list[str | None]:
        return _fuzzed_roles(op_id)[1]

    assert invalid("listAuditEvents") == [None, "auditor.county", SYSTEM_CLIENT]  # the only reader
    assert invalid("createHousehold") == [None, "county_staff.county", "grid_worker.village", SYSTEM_CLIENT]
    writers = [
        r
        for r in ROLES
        if r and r != SYSTEM_CLIENT and Permission.households_write in PERMISSIONS[Role(r.split(".")[0])]
    ]
    valid = _fuzzed_roles("createHousehold")[0]
    # every holder, no token, and one lacking role (the system client lacks households:write)
    assert valid == [None, *writers, SYSTEM_CLIENT]
    for op_id in OPERATIONS:
        valid, invalid_roles = _fuzzed_roles(op_id)
        assert invalid_roles[0] is None and len(invalid_roles) >= 2 and set(invalid_roles) <= set(ROLES), op_id
        assert valid[0] is None and set(invalid_roles) <= set(valid) <= set(ROLES), op_id


def test_every_role_is_fuzzed():
    from services.core.accounts.roles import Role

    assert {r.split(".")[0] for r in ROLES if r and r != SYSTEM_CLIENT} == {r.value for r in Role}
    assert SYSTEM_CLIENT in ROLES
