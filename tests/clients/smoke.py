"""A tour of the API with nothing but a client generated from ``openapi/openapi.json`` by
openapi-python-client, as a mobile team or another government system would use it:

1. log in with the password grant (a user) and the client_credentials grant (a system client
   that an administrator creates for the tour and revokes at the end);
2. page households by cursor (two pages at least), read one, update it with ``if_match`` (the
   ETag read), and put the old value back;
3. the stale ETag again: 412, read as the generated ``Problem``; an unknown household: 404,
   in Chinese with ``Accept-Language: zh``;
4. the system client reports a risk clue twice with one ``idempotency_key``: the second answer
   is the first one replayed (same status, same body, ``Idempotent-Replayed: true``).

Operations are found by operationId (the module named after it in snake case, in whichever
tag's package), so tag names do not matter; request bodies are built with the generated
models' ``from_dict``. It writes (a phone number set and put back, a risk clue, a revoked
system client): run it against a test or demo server, e.g. after ``python3 tasks.py demo``::

    python -m tests.clients.smoke --base http://127.0.0.1:8000 --user county_staff.county \\
        --password ... --admin admin.county --admin-password ...

It generates the client itself (``.tools/``, see tasks.py) unless ``--client-dir`` names a
directory holding one (package ``guardline_client``). tests/api/test_generated_client.py runs
it against a live test server.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import secrets
import sys
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx  # only for the generated client's timeout option

PACKAGE = "guardline_client"
MISSING_ID = 987654321  # no household has it
CJK = re.compile(r"[\u4e00-\u9fff]")


class SmokeFailed(AssertionError):
    pass


def check(condition: Any, message: str) -> None:
    if not condition:
        raise SmokeFailed(message)


def snake_case(operation_id: str) -> str:
    """openapi-python-client's module name for an operationId: listHouseholds → list_households."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation_id).lower()


class Api:
    """The generated package: its clients, models and operations by operationId."""

    def __init__(self, package: str = PACKAGE):
        self.package = importlib.import_module(package)
        self.models = importlib.import_module(f"{package}.models")
        api = importlib.import_module(f"{package}.api")
        self._modules = {
            info.name.rsplit(".", 1)[1]: info.name
            for info in pkgutil.walk_packages(api.__path__, f"{api.__name__}.")
            if not info.ispkg
        }
        self._clients: list[Any] = []

    def operation(self, operation_id: str) -> ModuleType:
        name = snake_case(operation_id)
        check(name in self._modules, f"the generated client has no operation {operation_id} (module {name})")
        return importlib.import_module(self._modules[name])

    def call(self, operation_id: str, client, **kwargs):
        """``sync_detailed`` of the operation: the Response (status, headers, parsed model)."""
        function = self.operation(operation_id).sync_detailed
        accepted = inspect.signature(function).parameters
        unknown = sorted(set(kwargs) - set(accepted))
        check(
            not unknown,
            f"{operation_id} takes no {', '.join(unknown)} in the generated client "
            f"(it takes {', '.join(accepted)}): the document does not declare them",
        )
        return function(client=client, **kwargs)

    def body(self, operation_id: str, data: dict):
        """The operation's request body model, made from ``data`` (JSON as the API documents it)."""
        hints = typing.get_type_hints(self.operation(operation_id).sync_detailed)
        check("body" in hints, f"{operation_id} takes no body in the generated client")
        models = [t for t in (typing.get_args(hints["body"]) or (hints["body"],)) if hasattr(t, "from_dict")]
        check(len(models) == 1, f"{operation_id}: one model for its body, not {hints['body']}")
        return models[0].from_dict(data)

    def client(self, base: str, token: str | None = None, headers: dict[str, str] | None = None):
        """A new client (``with_headers`` would change the headers of the client it copies too)."""
        kind = self.package.Client if token is None else self.package.AuthenticatedClient
        options = {} if token is None else {"token": token}
        made = kind(
            base_url=base, raise_on_unexpected_status=True, timeout=httpx.Timeout(30), headers=headers or {}, **options
        )
        self._clients.append(made)
        return made

    def close(self) -> None:
        """Closes the connections of every client made."""
        while self._clients:
            self._clients.pop().__exit__(None, None, None)


def expect(response, status: int, what: str):
    check(
        response.status_code == status,
        f"{what}: {response.status_code} instead of {status}: {response.content[:500]!r}",
    )
    check(response.parsed is not None, f"{what}: the generated client parsed nothing")
    return response.parsed


@dataclass
class Smoke:
    api: Api
    base: str
    log: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.log.append(line)

    def login(self, **form: str):
        response = self.api.call("login", self.api.client(self.base), body=self.api.body("login", form))
        token = expect(response, 200, f"login ({form['grant_type']})")
        self.say(f"login {form['grant_type']}: 200, role {token.role}, permissions {' '.join(token.permissions)}")
        return token

    def system_client(self, admin, region_prefix: str) -> tuple[Any, str]:
        body = self.api.body(
            "createClient",
            {
                "name": f"smoke.{secrets.token_hex(4)}",
                "permissions": ["clues:report"],
                "region_prefix": region_prefix,
                "description": "generated-client smoke (revoked at its end)",
            },
        )
        created = expect(self.api.call("createClient", admin, body=body), 201, "createClient")
        self.say(f"createClient: 201, {created.name} for {created.region_prefix}")
        return created, created.client_secret

    def pages(self, user, page_size: int) -> list[Any]:
        first = expect(self.api.call("listHouseholds", user, limit=page_size), 200, "listHouseholds")
        check(
            first.items and isinstance(first.next_cursor, str),
            f"listHouseholds: the first page has {len(first.items)} households and no next cursor; "
            f"the tour needs more than {page_size} households in the user's regions",
        )
        second = expect(
            self.api.call("listHouseholds", user, limit=page_size, cursor=first.next_cursor),
            200,
            "listHouseholds (next page)",
        )
        ids = [h.id for h in first.items], [h.id for h in second.items]
        check(second.items and not set(ids[0]) & set(ids[1]), f"listHouseholds: pages {ids[0]} then {ids[1]}")
        self.say(f"listHouseholds limit={page_size}: {ids[0]}, then by cursor {ids[1]}")
        return first.items + second.items

    def update_with_if_match(self, user, household_id: int) -> None:
        read = self.api.call("getHousehold", user, household_id=household_id)
        household, etag = expect(read, 200, "getHousehold"), read.headers.get("ETag")
        check(household.id == household_id and etag, f"getHousehold: id {household.id}, ETag {etag!r}")
        self.say(f"getHousehold {household_id}: 200, ETag {etag}")

        original, phone = household.phone, f"139{secrets.randbelow(10**8):08d}"
        changed = self.api.call(
            "updateHousehold",
            user,
            household_id=household_id,
            if_match=etag,
            body=self.api.body("updateHousehold", {"phone": phone}),
        )
        new_etag = changed.headers.get("ETag")
        check(
            expect(changed, 200, "updateHousehold").phone == phone and new_etag and new_etag != etag,
            f"updateHousehold: phone {changed.parsed.phone!r}, ETag {etag} -> {new_etag}",
        )
        self.say(f"updateHousehold if_match={etag}: 200, ETag {new_etag}")

        stale = self.api.call(
            "updateHousehold",
            user,
            household_id=household_id,
            if_match=etag,
            body=self.api.body("updateHousehold", {"phone": original}),
        )
        self.problem(stale, 412, "updateHousehold with the stale ETag")

        restored = self.api.call(
            "updateHousehold",
            user,
            household_id=household_id,
            if_match=new_etag,
            body=self.api.body("updateHousehold", {"phone": original}),
        )
        check(expect(restored, 200, "updateHousehold (put back)").phone == original, "the phone was not put back")
        self.say(f"updateHousehold if_match={new_etag}: 200, phone put back")

    def problem(self, response, status: int, what: str):
        problem = expect(response, status, what)
        check(isinstance(problem, self.api.models.Problem), f"{what}: parsed as {type(problem).__name__}, not Problem")
        media_type = response.headers.get("content-type", "")
        check(media_type.startswith("application/problem+json"), f"{what}: Content-Type {media_type}")
        check(
            problem.status == status and problem.code and problem.title and problem.detail,
            f"{what}: {problem.to_dict()}",
        )
        self.say(f"{what}: {status} {media_type}, Problem code={problem.code} detail={problem.detail!r}")
        return problem

    def replayed_post(self, system, household_id: int) -> None:
        key = f"smoke-{secrets.token_hex(8)}"
        body = {
            "channel": "department_screening",
            "risk_types": ["illness"],
            "household_id": household_id,
            "source": "smoke",
            "evidence": "generated-client smoke: a hospital stay reported twice",
        }
        first, again = (
            self.api.call("reportRiskClue", system, idempotency_key=key, body=self.api.body("reportRiskClue", body))
            for _ in range(2)
        )
        # 201 a new clue, or 200 merged into an open clue of the household (a repeated tour);
        # without the key, a second report would answer 200 "merged".
        check(first.status_code in (200, 201), f"reportRiskClue: {first.status_code} {first.content[:500]!r}")
        clue = expect(first, first.status_code, "reportRiskClue")
        check(first.headers.get("Idempotent-Replayed") is None, "the first report says it was replayed")
        check(
            again.status_code == first.status_code
            and again.content == first.content
            and expect(again, first.status_code, "reportRiskClue again").id == clue.id,
            f"the second report is not the first one replayed: {first.status_code} {first.content[:300]!r}, "
            f"then {again.status_code} {again.content[:300]!r}",
        )
        check(
            again.headers.get("Idempotent-Replayed") == "true",
            f"the replay has Idempotent-Replayed: {again.headers.get('Idempotent-Replayed')!r}",
        )
        self.say(
            f"reportRiskClue idempotency_key={key}: {first.status_code} clue {clue.id}; again: "
            f"{again.status_code} clue {again.parsed.id}, Idempotent-Replayed: true"
        )


def run(
    api: Api, base: str, user: str, password: str, *, admin: str, admin_password: str, page_size: int = 2
) -> list[str]:
    """The tour; what it saw, one line per step. Raises SmokeFailed on the first surprise."""
    try:
        return _tour(Smoke(api, base), user, password, admin, admin_password, page_size)
    finally:
        api.close()


def _tour(smoke: Smoke, user: str, password: str, admin: str, admin_password: str, page_size: int) -> list[str]:
    api, base = smoke.api, smoke.base
    token = smoke.login(grant_type="password", username=user, password=password)
    caller = api.client(base, token.access_token)
    admin_token = smoke.login(grant_type="password", username=admin, password=admin_password)
    administrator = api.client(base, admin_token.access_token)
    created, secret = smoke.system_client(administrator, token.region_prefix)
    try:
        system_token = smoke.login(grant_type="client_credentials", client_id=created.name, client_secret=secret)
        check("clues:report" in system_token.permissions, f"the system client's token: {system_token.permissions}")
        system = api.client(base, system_token.access_token)

        households = smoke.pages(caller, page_size)
        smoke.update_with_if_match(caller, households[0].id)
        in_chinese = api.client(base, token.access_token, headers={"Accept-Language": "zh"})
        missing = api.call("getHousehold", in_chinese, household_id=MISSING_ID)
        problem = smoke.problem(missing, 404, "getHousehold of an unknown household (zh)")
        check(CJK.search(problem.detail), f"the 404 in Chinese: {problem.detail!r}")
        smoke.replayed_post(system, households[0].id)
    finally:
        revoked = api.call("revokeClient", administrator, client_id=created.id)
        smoke.say(f"revokeClient {created.name}: {revoked.status_code}")
    check(revoked.status_code == 200, f"revokeClient: {revoked.status_code} {revoked.content[:300]!r}")
    return smoke.log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.clients.smoke",
        description=(
            "A tour of the API with nothing but a client generated from openapi/openapi.json (the module's docstring "
            "says what it does and writes)."
        ),
    )
    parser.add_argument("--base", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--user", required=True, help="a user with households:write in a region of 3+ households")
    parser.add_argument("--password", required=True)
    parser.add_argument("--admin", required=True, help="an administrator (clients:admin) of that region")
    parser.add_argument("--admin-password", help="default: --password")
    parser.add_argument("--page-size", type=int, default=2)
    parser.add_argument("--spec", type=Path, help="the document to generate from (default openapi/openapi.json)")
    parser.add_argument("--client-dir", type=Path, help=f"a directory holding a generated {PACKAGE} package")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="guardline-client-") as scratch:
        directory = args.client_dir
        if directory is None:
            from tests.clients.tools import SPEC, generate_client

            generated = generate_client(args.spec or SPEC, Path(scratch) / PACKAGE)
            print(generated.output)
            if generated.findings():
                print("the generator's findings:", *generated.findings(), sep="\n  ", file=sys.stderr)
                return 1
            directory = Path(scratch)
        sys.path.insert(0, str(directory))
        try:
            log = run(
                Api(),
                args.base,
                args.user,
                args.password,
                admin=args.admin,
                admin_password=args.admin_password or args.password,
                page_size=args.page_size,
            )
        except (SmokeFailed, httpx.HTTPError) as failed:
            print(f"smoke failed: {failed}", file=sys.stderr)
            return 1
    print(*log, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
