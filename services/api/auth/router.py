"""Login (OAuth2 password, refresh_token and client_credentials grants), logout, password
change and the second factor. Every failure answers the same 401, whatever went wrong."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from services.api import tags
from services.api.deps import CurrentCaller, Session, open_session
from services.api.auditing import base_event
from services.api.errors_doc import responses
from services.api.ratelimit import client_address, limit, rate_limited
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts import service
from services.core.accounts.models import User
from services.core.accounts.security import issue_token, verify_password
from services.core.audit import AuditRecord, AuditResult, record
from services.core.errors import Forbidden, Unauthorized, Unprocessable
from services.core.households.schemas import Input
from services.core.scope import UNRESTRICTED

router = APIRouter(prefix="/api/v1/auth", tags=[tags.AUTH], route_class=GuardlineRoute)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds")
    refresh_token: str | None = Field(None, description="Users only: exchange it for new tokens before it idles out")
    role: str
    region_prefix: str
    permissions: list[str]
    must_change_password: bool = Field(False, description="The password was given for one use: every call but "
                                                         "POST /auth/password answers 403 until it is changed")


class Me(BaseModel):
    kind: Literal["user", "client"]
    user_id: int | None
    client_id: int | None
    username: str
    role: str
    region_prefix: str
    permissions: list[str]
    totp_enabled: bool | None = None


class PasswordChange(Input):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class TotpSetup(BaseModel):
    secret: str = Field(description="Base32 secret for the authenticator app (shown once)")
    otpauth_uri: str


class TotpCode(Input):
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_out(request: Request, caller, refresh: str | None = None, must_change_password: bool = False) -> JSON:
    token, ttl = issue_token(request.app.state.settings, caller)
    body = Token(access_token=token, expires_in=ttl, refresh_token=refresh, role=caller.role.value,
                 region_prefix=caller.region_prefix, permissions=sorted(p.value for p in caller.permissions),
                 must_change_password=must_change_password)
    return JSON(body.model_dump(), headers=NO_STORE)


def _failed() -> Unauthorized:
    return Unauthorized("login_failed", headers=_CHALLENGE)


def _required(**fields: str | None) -> None:
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise Unprocessable("field_required", field=missing[0])


@router.post("/token", response_model=Token, operation_id="login", responses=responses(429),
             summary="Log in or refresh (OAuth2) 登录 / 刷新令牌",
             description="`grant_type=password` with username, password (and `otp` when the account has a "
                         "second factor); `refresh_token` with the refresh token; `client_credentials` with "
                         "client_id and client_secret for system clients. Wrong input of any kind answers the "
                         "same 401; repeated failures lock the account for a while.")
@rate_limited
async def login(
    request: Request,
    grant_type: Annotated[Literal["password", "refresh_token", "client_credentials"], Form()] = "password",
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    otp: Annotated[str | None, Form(max_length=10, description="One-time code (second factor)")] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
) -> JSON:
    settings = request.app.state.settings
    per_minute = settings.rate_limits.login_per_minute
    await limit(request, "login-ip", client_address(request), per_minute)
    # Login looks accounts up before anyone is known: accounts are not region-scoped rows.
    session = open_session(request, UNRESTRICTED)
    revocations = request.app.state.revocations
    if grant_type == "password":
        _required(username=username, password=password)
        await limit(request, "login-user", username, per_minute)
        try:
            user = await service.authenticate(session, settings, username, password, otp)
        except service.LoginFailed as failed:
            await _login_event(request, session, "auth.login", failed.user, username, failed.reason)
            await session.commit()  # the count of failures (and a lockout) must stay
            raise _failed() from None
        login_session, refresh = await service.start_session(
            session, settings, user, client_address(request), request.headers.get("user-agent"))
        caller = service.caller_for_user(user, login_session.id)
        await _login_event(request, session, "auth.login", user, username, None, caller)
        return _token_out(request, caller, refresh, user.must_change_password)
    if grant_type == "refresh_token":
        _required(refresh_token=refresh_token)
        try:
            user, login_session, refresh = await service.refresh(session, settings, refresh_token, revocations)
        except service.RefreshFailed as failed:
            owner = await session.get(User, failed.login.user_id) if failed.login is not None else None
            await _login_event(request, session, "auth.refresh", owner, None, failed.reason)
            await session.commit()  # a reused refresh token ends its session for good
            raise Unauthorized("refresh_invalid", headers=_CHALLENGE) from None
        caller = service.caller_for_user(user, login_session.id)
        await _login_event(request, session, "auth.refresh", user, None, None, caller)
        return _token_out(request, caller, refresh, user.must_change_password)
    _required(client_id=client_id, client_secret=client_secret)
    await limit(request, "login-client", client_id, per_minute)
    try:
        client = await service.authenticate_client(session, client_id, client_secret)
    except service.LoginFailed as failed:
        await record(session, AuditRecord(**base_event(
            request, None, action="auth.client_token", result=AuditResult.failure, status=401,
            actor_name=attempted_name(client_id), detail={"reason": failed.reason})))
        await session.commit()
        raise _failed() from None
    caller = service.caller_for_client(client)
    await record(session, AuditRecord(**base_event(request, caller, action="auth.client_token", status=200,
                                                   object_type="client", object_id=str(client.id))))
    request.state.audited = True
    return _token_out(request, caller)


def attempted_name(name: str | None) -> str | None:
    """A name somebody typed, fit for the audit trail: printable characters only, at most
    64 (never the password)."""
    if name is None:
        return None
    return "".join(c for c in name if c.isprintable())[:64] or None


async def _login_event(request: Request, session, action: str, user: User | None, username: str | None,
                       reason: str | None, caller=None, status: int = 401) -> None:
    """One event per login or refresh, success or failure, with the reason of a failure
    (which the answer to the client never tells). A failure under an unknown name has no
    region: every auditor sees those (``services.core.audit.service``)."""
    fields = base_event(request, caller, action=action, status=status if reason else 200,
                        result=AuditResult.failure if reason else AuditResult.success,
                        detail={"reason": reason} if reason else None)
    if caller is None:
        fields.update(actor=f"user:{user.id}" if user else None,
                      actor_name=user.username if user else attempted_name(username),
                      role=user.role.value if user else None, region_code=user.region_prefix if user else None)
    if user is not None:
        fields.update(object_type="user", object_id=str(user.id))
    await record(session, AuditRecord(**fields))
    request.state.audited = True


@router.post("/logout", status_code=204, operation_id="logout", responses=responses(),
             summary="End this login session 退出登录",
             description="The refresh token and every access token of this session stop working at once.")
async def logout(request: Request, caller: CurrentCaller, session: Session) -> Response:
    if caller.session_id is not None:
        from services.core.accounts.models import LoginSession

        login_session = await session.get(LoginSession, caller.session_id, with_for_update=True)
        if login_session is not None:
            await service.end_session(session, login_session, "logout", request.app.state.revocations)
    return Response(status_code=204)


@router.get("/me", response_model=Me, operation_id="whoAmI", responses=responses(), summary="Who am I 当前用户")
async def me(caller: CurrentCaller, session: Session) -> Me:
    totp_enabled = None
    if caller.user_id is not None:
        user = await session.get(User, caller.user_id)
        totp_enabled = bool(user and user.totp_enabled)
    return Me(kind="client" if caller.client_id is not None else "user", user_id=caller.user_id,
              client_id=caller.client_id, username=caller.username, role=caller.role.value,
              region_prefix=caller.region_prefix, permissions=sorted(p.value for p in caller.permissions),
              totp_enabled=totp_enabled)


async def _own_account(session, caller) -> User:
    if caller.user_id is None:
        raise Forbidden("users_only")
    user = await session.get(User, caller.user_id, with_for_update=True)
    if user is None or not user.active:
        raise Unauthorized("token_invalid", headers=_CHALLENGE)
    return user


@router.post("/password", status_code=204, operation_id="changePassword", responses=responses(),
             summary="Change your password 修改密码",
             description="Every login session of the account ends; log in again with the new password.")
async def change_password(request: Request, body: PasswordChange, caller: CurrentCaller, session: Session
                          ) -> Response:
    user = await _own_account(session, caller)
    settings = request.app.state.settings
    # A wrong current password counts towards the lockout like a failed login (a stolen
    # token must not serve to guess the password); a locked account changes nothing.
    password_ok = verify_password(user.password_hash, body.current_password)
    if service.is_locked(user) or not password_ok:
        reason = "locked" if service.is_locked(user) else "bad_password"
        if reason == "bad_password" and await service.count_failure(session, settings, user):
            reason += ",locked_now"
        await _login_event(request, session, "auth.password_change", user, user.username, reason, status=422)
        await session.commit()  # the count of failures (and a lockout) must stay
        raise Unprocessable("password_wrong", field="current_password")
    await service.set_password(session, settings, user, body.new_password,
                               request.app.state.revocations)
    return Response(status_code=204)


@router.post("/totp", response_model=TotpSetup, operation_id="beginTotp", responses=responses(409),
             summary="Set up a second factor (TOTP) 设置双因素认证",
             description="Returns the secret once; confirm with a code from the authenticator app.")
async def begin_totp(request: Request, caller: CurrentCaller, session: Session) -> JSON:
    user = await _own_account(session, caller)
    secret, uri = await service.begin_totp(session, request.app.state.settings, user)
    return JSON(TotpSetup(secret=secret, otpauth_uri=uri).model_dump(), headers=NO_STORE)


@router.post("/totp/confirm", status_code=204, operation_id="confirmTotp", responses=responses(409),
             summary="Confirm the second factor 确认双因素认证")
async def confirm_totp(request: Request, body: TotpCode, caller: CurrentCaller, session: Session) -> Response:
    user = await _own_account(session, caller)
    await service.confirm_totp(session, request.app.state.settings, user, body.code)
    return Response(status_code=204)
