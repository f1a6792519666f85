"""Dependencies that endpoints name in their signatures: ``Session``, the caller with the
permissions a route needs (``Needs(...)``) and the ``Reader`` of hot reads (``Reads(...)``).

Permissions are declared per route as OAuth2 scopes: a caller the endpoint uses is annotated
``Annotated[Caller, Needs(Permission.x)]`` (routers name these once, e.g.
``FundsWriter = Annotated[Caller, Needs(Permission.funds_write)]``), a route that does not use
it lists ``dependencies=[Needs(Permission.x)]``. FastAPI states them in the OpenAPI document and
the access-matrix test reads them from there. A caller without them gets 403 — unless an
object named in the path lies outside the caller's regions (or does not exist), which
answers 404 as it would for anyone: the 403 must not tell what exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from services.api import idempotency
from services.api.auditing import collect_changes
from services.core.accounts.roles import DESCRIPTIONS, PERMISSIONS, Permission
from services.core.accounts.security import Caller, TokenInvalid, read_token
from services.core.accounts.service import confirm_account
from services.core.crypto import Keyring, keyring
from services.core.errors import Forbidden, NotFound, Unauthorized
from services.core.scope import UNRESTRICTED, Reader, bind_scope


def _roles_table() -> str:
    rows = "\n".join(
        f"| `{role.value}` | {' '.join(f'`{p.value}`' for p in sorted(perms))} |" for role, perms in PERMISSIONS.items()
    )
    return (
        "Users: password grant (refresh tokens; `otp` when a second factor is set). System clients: "
        "client_credentials grant, authenticated with HTTP Basic (`Authorization: Basic`, RFC 6749 "
        "section 2.3.1) or with client_id and client_secret in the body (not both), with the permissions "
        "given to the client. Each operation lists the "
        "permissions it needs as scopes; the roles hold these:\n\n| role | permissions |\n| --- | --- |\n" + rows
    )


TOKEN_URL = "/api/v1/auth/token"
_SCOPES = {p.value: DESCRIPTIONS[p] for p in Permission}


class BearerToken(OAuth2):
    """The security scheme of every operation: OAuth2 with both flows of the token endpoint
    (users: password; system clients: client_credentials), the same scopes in each, so that
    each operation lists the permissions it needs. Its value is the bearer token (or None)."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        authorization = request.headers.get("Authorization")
        scheme, token = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "bearer":
            return None
        return token


oauth2 = BearerToken(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes=_SCOPES),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=_SCOPES),
    ),
    scheme_name="OAuth2",
    description=_roles_table(),
    auto_error=False,
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


Token = Annotated[str | None, Depends(oauth2)]


# What an account with a one-time password may do before it has set its own.
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/auth/password", "/api/v1/auth/me", "/api/v1/auth/logout"})


async def caller_of(request: Request, token: str | None) -> Caller:
    """The verified caller: a token signed by us, not revoked, and agreeing with its account
    (which must exist and be active, with the token's role and region prefix)."""
    if not token:
        raise Unauthorized("not_authenticated", headers=_CHALLENGE)
    # ``request.state``'s own dictionary: a miss there (every request's first call) raised
    # and caught two exceptions.
    verified = request.scope.setdefault("state", {}).get("verified")
    if verified is not None and verified[0] == token:
        return verified[1]  # checked already in this request (a route's dependencies ask several times)
    state = request.app.state
    try:
        caller = read_token(state.settings, token, state.revocations)
        account = await confirm_account(state.db, state.revocations, caller)
    except TokenInvalid:
        raise Unauthorized("token_invalid", headers=_CHALLENGE) from None
    if account.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise Forbidden("password_change_required")
    request.state.caller = caller
    request.state.verified = (token, caller)
    return caller


async def current_caller(request: Request, token: Token) -> Caller:
    return await caller_of(request, token)


# Any signed-in caller, whatever the role (e.g. "who am I", regions).
CurrentCaller = Annotated[Caller, Depends(current_caller)]


# Objects named in paths, checked in the caller's scope before a 403 is given.
PATH_OBJECTS: dict[str, tuple[Any, str, Callable[[str], Any] | None]] = {}


def path_object(name: str, model: Any, key: str = "id", visible: Callable[[str], Any] | None = None) -> None:
    """Declare that path parameter ``name`` names a ``model`` row (by its ``key``). A model
    that is not region-scoped but not visible to everyone either says which of its rows a
    caller with region prefix ``p`` sees: ``visible(p)``, a SQL condition."""
    PATH_OBJECTS[name] = (model, key, visible)


async def _deny(request: Request, caller: Caller) -> None:
    session = request.state.session or open_session(request, caller.region_prefix)
    for name, raw in request.path_params.items():
        if name not in PATH_OBJECTS:
            continue
        model, key, visible = PATH_OBJECTS[name]
        column = getattr(model, key)
        try:
            value = column.type.python_type(raw)
        except (TypeError, ValueError):
            continue
        lookup = select(column).where(column == value)
        if visible is not None:
            lookup = lookup.where(visible(caller.region_prefix))
        if (await session.execute(lookup)).first() is None:
            raise NotFound("not_found", field=name)
    raise Forbidden("forbidden")


async def _holding(request: Request, scopes: SecurityScopes, token: str | None) -> Caller:
    """The caller, who must hold every scope (403, or 404 for a path object out of scope)."""
    caller = await caller_of(request, token)
    permissions = caller.permissions
    for scope in scopes.scopes:
        if scope not in permissions:
            await _deny(request, caller)
    return caller


async def authorized(request: Request, security_scopes: SecurityScopes, token: Token) -> Caller:
    return await _holding(request, security_scopes, token)


def Needs(*permissions: Permission) -> Any:
    """The caller, who must hold every one of ``permissions``: the metadata of
    ``Annotated[Caller, Needs(...)]``, or alone in ``dependencies=[...]`` of a route that does
    not use the caller itself."""
    return Security(authorized, scopes=[p.value for p in permissions])


def open_session(request: Request, prefix: str) -> AsyncSession:
    """Open the request's session with a region scope; ``GuardlineRoute`` ends it."""
    session: AsyncSession = request.app.state.db.session(readonly=request.state.readonly)
    bind_scope(session, prefix)
    if not request.state.readonly:
        collect_changes(session)
    request.state.session = session
    return session


# The dependencies below name the token rather than ``CurrentCaller``: one level less of
# dependency solving on every request (the token check itself is cached).
async def scoped_session(request: Request, token: Token) -> AsyncSession:
    """The request's session, limited to the caller's regions (``GuardlineRoute`` commits
    and closes it). A POST with an ``Idempotency-Key`` is claimed here, inside the
    request's transaction."""
    caller = await caller_of(request, token)
    state = request.state
    session = state.session or open_session(request, caller.region_prefix)
    key = request.headers.get("idempotency-key")
    if not state.readonly and key is not None and _idempotent(request) and not _never_replayed(request):
        request.state.idempotency = await idempotency.claim(
            session, request, caller.principal, key, request.app.state.settings
        )
    return session


def _idempotent(request: Request) -> bool:
    """A POST honours Idempotency-Key; so does an update run for an item of a batch
    (``services.api.batch``: the item's client id makes a repeated upload replay it)."""
    return request.method == "POST" or (request.method == "PUT" and bool(request.scope.get("guardline.batch")))


def _never_replayed(request: Request) -> bool:
    """Endpoints marked ``no_idempotency`` (an audited read that must not be answered from
    a stored copy) ignore the Idempotency-Key."""
    return getattr(request.scope.get("endpoint"), "guardline_no_idempotency", False)


Session = Annotated[AsyncSession, Depends(scoped_session)]


async def public_session(request: Request) -> AsyncSession:
    """The request's session for the public disclosure: no caller and no token, so no
    caller's scope either. It sees every region (``UNRESTRICTED``); the public queries
    themselves choose what may be shown (``services.core.funds.public``)."""
    return request.state.session or open_session(request, UNRESTRICTED)


PublicSession = Annotated[AsyncSession, Depends(public_session)]


async def scoped_reader(request: Request, security_scopes: SecurityScopes, token: Token) -> Reader:
    """For the hottest reads: no session; the caller (with the permissions the route
    declares) and its region prefix."""
    caller = await _holding(request, security_scopes, token)
    return Reader(request.app.state.db, caller.region_prefix, caller, health_keyring(request, caller))


def Reads(*permissions: Permission) -> Any:
    """A ``Reader`` for a ``hot_read`` endpoint whose caller holds ``permissions``: the
    metadata of ``Annotated[Reader, Reads(...)]``."""
    return Security(scoped_reader, scopes=[p.value for p in permissions])


def health_keyring(request: Request, caller: Caller) -> Keyring | None:
    """The keyring that decrypts health and disability details, only for a role allowed
    to see them (``registry:health``); None leaves them out of the response."""
    if Permission.registry_health in caller.permissions:
        state = request.app.state
        ring = getattr(state, "health_keyring", None)
        if ring is None:  # the settings do not change while the application runs
            ring = state.health_keyring = keyring(state.settings)
        return ring
    return None


def check_if_match(request: Request, current_etag: str) -> None:
    """Updates need ``If-Match`` with the current ETag: 428 without it, 412 when stale.
    ``If-Match: *`` is refused too (412): in HTTP it matches any current version, which
    would let a client overwrite a change it never saw; here an update must name the
    version it was based on."""
    from services.api.contract import declared
    from services.core.errors import FieldError, PreconditionFailed, PreconditionRequired

    declared(request, "if_match")  # the route's OpenAPI lists If-Match (its 412 / 428)
    header = request.headers.get("if-match")
    if header is None or not header.strip():  # an empty If-Match names no version
        raise PreconditionRequired("precondition_required", field="If-Match")
    tags = {t.strip() for t in header.split(",")}
    if current_etag in tags:
        return
    if "*" in tags:
        raise PreconditionFailed(
            "precondition_failed",
            current=current_etag,
            errors=[FieldError("If-Match", "if_match_wildcard", {"current": current_etag})],
        )
    raise PreconditionFailed("precondition_failed", field="If-Match", current=current_etag)


def check_optional_if_match(request: Request, current_etag: str) -> None:
    """Actions sent with POST may carry If-Match; when they do, it must be current."""
    if request.headers.get("if-match") is not None:
        check_if_match(request, current_etag)
