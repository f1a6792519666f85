"""Dependencies that endpoints name in their signatures: ``Session``, ``CurrentCaller``."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import idempotency
from services.core.accounts.roles import Permission, allows
from services.core.accounts.security import Caller, TokenInvalid, read_token
from services.core.crypto import Keyring, keyring
from services.core.errors import Forbidden, Unauthorized
from services.core.scope import Reader, bind_scope

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


Token = Annotated[str | None, Depends(oauth2)]


def caller_of(request: Request, token: str | None) -> Caller:
    if not token:
        raise Unauthorized("not_authenticated", headers=_CHALLENGE)
    try:
        caller = read_token(request.app.state.settings, token)
    except TokenInvalid:
        raise Unauthorized("token_invalid", headers=_CHALLENGE) from None
    request.state.caller = caller
    return caller


async def current_caller(request: Request, token: Token) -> Caller:
    return caller_of(request, token)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def open_session(request: Request, prefix: str) -> AsyncSession:
    """Open the request's session with a region scope; ``GuardlineRoute`` ends it."""
    session: AsyncSession = request.app.state.db.session(readonly=request.state.readonly)
    bind_scope(session, prefix)
    request.state.session = session
    return session


# The dependencies below name the token rather than ``CurrentCaller``: one level less of
# dependency solving on every request (the token check itself is cached).
async def scoped_session(request: Request, token: Token) -> AsyncSession:
    """The request's session, limited to the caller's regions (``GuardlineRoute`` commits
    and closes it). A POST with an ``Idempotency-Key`` is claimed here, inside the
    request's transaction."""
    caller = caller_of(request, token)
    state = request.state
    session = open_session(request, caller.region_prefix)
    key = request.headers.get("idempotency-key")
    if not state.readonly and request.method == "POST" and key is not None and not _never_replayed(request):
        request.state.idempotency = await idempotency.claim(
            session, request, caller.principal, key, request.app.state.settings
        )
    return session


def _never_replayed(request: Request) -> bool:
    """Endpoints marked ``no_idempotency`` (an audited read that must not be answered from
    a stored copy) ignore the Idempotency-Key."""
    return getattr(request.scope.get("endpoint"), "guardline_no_idempotency", False)


Session = Annotated[AsyncSession, Depends(scoped_session)]


async def scoped_reader(request: Request, token: Token) -> Reader:
    """For the hottest reads: no session, the region prefix of the caller."""
    caller = caller_of(request, token)
    return Reader(request.app.state.db, caller.region_prefix, caller, health_keyring(request, caller))


ReadAccess = Annotated[Reader, Depends(scoped_reader)]


def health_keyring(request: Request, caller: Caller) -> Keyring | None:
    """The keyring that decrypts health and disability details, only for a role allowed
    to see them (``registry:health``); None leaves them out of the response."""
    if allows(caller.role, Permission.registry_health):
        return keyring(request.app.state.settings)
    return None


def ensure(caller: Caller, permission: Permission) -> None:
    """403 for a role without the permission. Call it *after* the scoped lookup of the
    target, so that something outside the caller's regions answers 404 instead."""
    if not allows(caller.role, permission):
        raise Forbidden("forbidden")




def check_if_match(request: Request, current_etag: str) -> None:
    """Updates need ``If-Match`` with the current ETag: 428 without it, 412 when stale."""
    from services.core.errors import PreconditionFailed, PreconditionRequired

    header = request.headers.get("if-match")
    if header is None:
        raise PreconditionRequired("precondition_required", field="If-Match")
    tags = {t.strip() for t in header.split(",")}
    if "*" not in tags and current_etag not in tags:
        raise PreconditionFailed("precondition_failed", field="If-Match", current=current_etag)


def check_optional_if_match(request: Request, current_etag: str) -> None:
    """Actions sent with POST may carry If-Match; when they do, it must be current."""
    if request.headers.get("if-match") is not None:
        check_if_match(request, current_etag)
