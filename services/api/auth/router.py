"""Login (OAuth2 password, refresh_token and client_credentials grants), logout, password
change and the second factor. Every failure answers the same 401, whatever went wrong."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import HTTPBasic
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, Field
from starlette.responses import Response

from services.api import tags
from services.api.auditing import base_event
from services.api.deps import CurrentCaller, Session, open_session
from services.api.errors_doc import responses
from services.api.ratelimit import client_address, limit, rate_limited
from services.api.responses import JSON
from services.api.routing import GuardlineRoute
from services.core.accounts import service
from services.core.accounts.models import User
from services.core.accounts.security import issue_token, verify_password
from services.core.audit import AuditRecord, AuditResult, record
from services.core.errors import BadRequest, Forbidden, Unauthorized, Unprocessable
from services.core.households.schemas import Input
from services.core.labels import LiteralLabels
from services.core.scope import UNRESTRICTED

router = APIRouter(prefix="/api/v1/auth", tags=[tags.AUTH], route_class=GuardlineRoute)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Guardline", charset="UTF-8"'}
_CLIENT_ID_MAX, _CLIENT_SECRET_MAX = 64, 200  # as the form fields


class _ClientBasic(HTTPBasic):
    """HTTP Basic client authentication on the token endpoint, declared in the contract
    (optional: users and form-body clients send none). Its value is the raw header, which
    ``basic_client`` reads."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.headers.get("Authorization")


client_basic = _ClientBasic(
    scheme_name="clientBasic",
    realm="Guardline",
    auto_error=False,
    description="System clients only, on the token endpoint with `grant_type=client_credentials`: "
    '`Authorization: Basic base64(client_id ":" client_secret)`, each form-urlencoded first '
    "(RFC 6749 section 2.3.1). Instead of client_id and client_secret in the body, never both.",
)


def basic_client(authorization: str | None) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header (None without one):
    base64 of the form-urlencoded id, ":", the form-urlencoded secret, in UTF-8 (RFC 6749
    section 2.3.1). Anything else in a Basic header is a 400 naming the header."""
    scheme, param = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param, validate=True).decode("utf-8")
        name, colon, secret = decoded.partition(":")
        if not colon:
            raise ValueError("no colon")
        name, secret = unquote_plus(name, errors="strict"), unquote_plus(secret, errors="strict")
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise BadRequest("basic_authorization_malformed", field="Authorization") from None
    if len(name) > _CLIENT_ID_MAX or len(secret) > _CLIENT_SECRET_MAX:
        raise BadRequest("basic_authorization_malformed", field="Authorization")
    return name, secret


def _check_client_authentication(
    grant_type: str, basic: tuple[str, str] | None, client_id: str | None, client_secret: str | None
) -> None:
    """The client's id and secret come from at most one of the two methods of RFC 6749
    section 2.3. A user grant names no client: an empty Basic header (what Swagger UI sends
    with the password flow by default) is ignored there, any client credentials are refused."""
    in_body = client_id is not None or client_secret is not None
    if grant_type != "client_credentials":
        if basic is not None and any(basic):
            raise BadRequest("client_authentication_not_for_users", field="Authorization")
        if in_body:
            raise BadRequest(
                "client_authentication_not_for_users", field="client_id" if client_id is not None else "client_secret"
            )
    elif basic is not None and in_body:
        raise BadRequest("client_authentication_twice", field="Authorization")


GrantType = Annotated[
    Literal["password", "refresh_token", "client_credentials"],
    LiteralLabels(
        {
            "password": "密码登录（用户）",
            "refresh_token": "刷新令牌（用户）",
            "client_credentials": "客户端凭证（系统接入方）",
        }
    ),
]
CallerKind = Annotated[Literal["user", "client"], LiteralLabels({"user": "用户", "client": "系统接入方"})]


class Token(BaseModel):
    access_token: str = Field(description="Bearer token to send as `Authorization: Bearer …` 访问令牌")
    token_type: str = Field("bearer", description="Always `bearer` 令牌类型")
    expires_in: int = Field(description="Seconds")
    refresh_token: str | None = Field(None, description="Users only: exchange it for new tokens before it idles out")
    role: str = Field(description="The caller's role 角色")
    region_prefix: str = Field(description="Region code prefix the caller may see and act in 管辖区划")
    permissions: list[str] = Field(description="The caller's permissions 权限")
    must_change_password: bool = Field(
        False,
        description="The password was given for one use: every call but "
        "POST /auth/password answers 403 until it is changed",
    )


class Me(BaseModel):
    kind: CallerKind = Field(description="Whether the caller is a user or a system client 调用方类型")
    user_id: int | None = Field(description="User id; null for a client 用户标识")
    client_id: int | None = Field(description="Client id; null for a user 接入方标识")
    username: str = Field(description="Login name of the user, or the client's name 登录名")
    role: str = Field(description="Role 角色")
    region_prefix: str = Field(description="Region code prefix the caller may see and act in 管辖区划")
    permissions: list[str] = Field(description="The caller's permissions 权限")
    totp_enabled: bool | None = Field(
        None, description="Users: whether the account has a second factor; null for a client 是否启用双因素认证"
    )


class PasswordChange(Input):
    current_password: str = Field(max_length=200, description="The current password 当前密码")
    new_password: str = Field(max_length=200, description="The new password; the password rules apply 新密码")


class TotpSetup(BaseModel):
    secret: str = Field(description="Base32 secret for the authenticator app (shown once)")
    otpauth_uri: str = Field(description="otpauth:// URI of the secret, to show as a QR code 二维码链接")


class TotpCode(Input):
    code: str = Field(
        min_length=6,
        max_length=6,
        pattern=r"^[0-9]{6}$",
        description="Six-digit code from the authenticator app 动态验证码",
    )


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_out(request: Request, caller, refresh: str | None = None, must_change_password: bool = False) -> JSON:
    token, ttl = issue_token(request.app.state.settings, caller)
    body = Token(
        access_token=token,
        expires_in=ttl,
        refresh_token=refresh,
        role=caller.role.value,
        region_prefix=caller.region_prefix,
        permissions=sorted(p.value for p in caller.permissions),
        must_change_password=must_change_password,
    )
    return JSON(body.model_dump(), headers=NO_STORE)


def _failed() -> Unauthorized:
    return Unauthorized("login_failed", headers=_CHALLENGE)


def _required(**fields: str | None) -> tuple[str, ...]:
    """The values of ``fields`` in order, each of which must be given (422 naming the first
    that is not)."""
    given = [value for value in fields.values() if value]
    if len(given) < len(fields):
        raise Unprocessable("field_required", field=next(name for name, value in fields.items() if not value))
    return tuple(given)


# 400: a malformed Basic header, or client authentication twice or on a user grant.
_TOKEN_RESPONSES = responses(400, 429)
_TOKEN_RESPONSES[400] = {
    **_TOKEN_RESPONSES[400],
    "description": "Client authentication sent twice, on a user grant, or in a malformed Basic header",
}
_TOKEN_RESPONSES[401] = {
    **_TOKEN_RESPONSES[401],
    "headers": {
        "WWW-Authenticate": {
            "description": "`Basic` when the client authenticated with HTTP Basic, else `Bearer`",
            "schema": {"type": "string"},
        }
    },
}


@router.post(
    "/token",
    response_model=Token,
    operation_id="login",
    responses=_TOKEN_RESPONSES,
    openapi_extra={"security": [{}]},  # after clientBasic: client authentication is optional
    summary="Log in or refresh (OAuth2) 登录 / 刷新令牌",
    description="`grant_type=password` with username, password (and `otp` when the account has a "
    "second factor); `refresh_token` with the refresh token; `client_credentials` for system "
    "clients, authenticated either with `Authorization: Basic` (base64 of the form-urlencoded "
    "client_id, `:`, the form-urlencoded client_secret; RFC 6749 section 2.3.1) or with "
    "client_id and client_secret in the body — both at once is a 400, and so is a malformed "
    "Basic header. Wrong credentials of any kind answer the same 401 (`WWW-Authenticate: "
    "Basic` when they came in the header); repeated failures lock the account for a while. "
    "The user grants name no client: client credentials sent with them are refused (400); "
    "an empty Basic header (`Basic Og==`, sent by Swagger UI) is ignored.",
)
@rate_limited
async def login(
    request: Request,
    grant_type: Annotated[GrantType, Form(description="How to log in 授权方式")] = "password",
    username: Annotated[str | None, Form(max_length=64, description="grant_type=password: login name 登录名")] = None,
    password: Annotated[str | None, Form(max_length=200, description="grant_type=password: password 密码")] = None,
    otp: Annotated[str | None, Form(max_length=10, description="One-time code (second factor)")] = None,
    refresh_token: Annotated[
        str | None, Form(max_length=200, description="grant_type=refresh_token: the refresh token 刷新令牌")
    ] = None,
    client_id: Annotated[
        str | None, Form(max_length=64, description="grant_type=client_credentials: the client's name 接入方名称")
    ] = None,
    client_secret: Annotated[
        str | None, Form(max_length=200, description="grant_type=client_credentials: the client's secret 接入方密钥")
    ] = None,
    authorization: Annotated[str | None, Depends(client_basic)] = None,
) -> JSON:
    settings = request.app.state.settings
    per_minute = settings.rate_limits.login_per_minute
    await limit(request, "login-ip", client_address(request), per_minute)
    # Login looks accounts up before anyone is known: accounts are not region-scoped rows.
    session = open_session(request, UNRESTRICTED)
    revocations = request.app.state.revocations
    basic = basic_client(authorization)
    _check_client_authentication(grant_type, basic, client_id, client_secret)
    if grant_type == "password":
        username, password = _required(username=username, password=password)
        await limit(request, "login-user", username, per_minute)
        try:
            user = await service.authenticate(session, settings, username, password, otp)
        except service.LoginFailed as failed:
            await _login_event(request, session, "auth.login", failed.user, username, failed.reason)
            await session.commit()  # the count of failures (and a lockout) must stay
            raise _failed() from None
        login_session, refresh = await service.start_session(
            session, settings, user, client_address(request), request.headers.get("user-agent")
        )
        caller = service.caller_for_user(user, login_session.id)
        await _login_event(request, session, "auth.login", user, username, None, caller)
        return _token_out(request, caller, refresh, user.must_change_password)
    if grant_type == "refresh_token":
        (refresh_token,) = _required(refresh_token=refresh_token)
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
    # The one method used: a Basic header with an empty id or secret is a failed authentication
    # (401), a missing one in the body a 422.
    name, secret = basic if basic is not None else _required(client_id=client_id, client_secret=client_secret)
    await limit(request, "login-client", name, per_minute)
    try:
        client = await service.authenticate_client(session, name, secret)
    except service.LoginFailed as failed:
        await record(
            session,
            AuditRecord(
                **base_event(
                    request,
                    None,
                    action="auth.client_token",
                    result=AuditResult.failure,
                    status=401,
                    actor_name=attempted_name(name),
                    detail={"reason": failed.reason},
                )
            ),
        )
        await session.commit()
        raise Unauthorized("login_failed", headers=_BASIC_CHALLENGE if basic else _CHALLENGE) from None
    caller = service.caller_for_client(client)
    await record(
        session,
        AuditRecord(
            **base_event(
                request, caller, action="auth.client_token", status=200, object_type="client", object_id=str(client.id)
            )
        ),
    )
    request.state.audited = True
    return _token_out(request, caller)


def attempted_name(name: str | None) -> str | None:
    """A name somebody typed, fit for the audit trail: printable characters only, at most
    64 (never the password)."""
    if name is None:
        return None
    return "".join(c for c in name if c.isprintable())[:64] or None


async def _login_event(
    request: Request,
    session,
    action: str,
    user: User | None,
    username: str | None,
    reason: str | None,
    caller=None,
    status: int = 401,
) -> None:
    """One event per login or refresh, success or failure, with the reason of a failure
    (which the answer to the client never tells). A failure under an unknown name has no
    region: every auditor sees those (``services.core.audit.service``)."""
    fields = base_event(
        request,
        caller,
        action=action,
        status=status if reason else 200,
        result=AuditResult.failure if reason else AuditResult.success,
        detail={"reason": reason} if reason else None,
    )
    if caller is None:
        fields.update(
            actor=f"user:{user.id}" if user else None,
            actor_name=user.username if user else attempted_name(username),
            role=user.role.value if user else None,
            region_code=user.region_prefix if user else None,
        )
    if user is not None:
        fields.update(object_type="user", object_id=str(user.id))
    await record(session, AuditRecord(**fields))
    request.state.audited = True


@router.post(
    "/logout",
    status_code=204,
    operation_id="logout",
    responses=responses(),
    summary="End this login session 退出登录",
    description="The refresh token and every access token of this session stop working at once.",
)
async def logout(request: Request, caller: CurrentCaller, session: Session) -> Response:
    if caller.session_id is not None:
        from services.core.accounts.models import LoginSession

        login_session = await session.get(LoginSession, caller.session_id, with_for_update=True)
        if login_session is not None:
            await service.end_session(session, login_session, "logout", request.app.state.revocations)
    return Response(status_code=204)


@router.get("/me", response_model=Me, operation_id="whoAmI", responses=responses(), summary="Who am I 当前用户")
async def me(caller: CurrentCaller, session: Session) -> Me:
    """The caller as the server sees it: a user or a system client, its role, region scope (a region code prefix)
    and permissions. Any valid token. 当前登录身份。"""
    totp_enabled = None
    if caller.user_id is not None:
        user = await session.get(User, caller.user_id)
        totp_enabled = bool(user and user.totp_enabled)
    return Me(
        kind="client" if caller.client_id is not None else "user",
        user_id=caller.user_id,
        client_id=caller.client_id,
        username=caller.username,
        role=caller.role.value,
        region_prefix=caller.region_prefix,
        permissions=sorted(p.value for p in caller.permissions),
        totp_enabled=totp_enabled,
    )


async def _own_account(session, caller) -> User:
    if caller.user_id is None:
        raise Forbidden("users_only")
    user = await session.get(User, caller.user_id, with_for_update=True)
    if user is None or not user.active:
        raise Unauthorized("token_invalid", headers=_CHALLENGE)
    return user


@router.post(
    "/password",
    status_code=204,
    operation_id="changePassword",
    responses=responses(),
    summary="Change your password 修改密码",
    description="Every login session of the account ends; log in again with the new password.",
)
async def change_password(request: Request, body: PasswordChange, caller: CurrentCaller, session: Session) -> Response:
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
    await service.set_password(session, settings, user, body.new_password, request.app.state.revocations)
    return Response(status_code=204)


@router.post(
    "/totp",
    response_model=TotpSetup,
    operation_id="beginTotp",
    responses=responses(409),
    summary="Set up a second factor (TOTP) 设置双因素认证",
    description="Returns the secret once; confirm with a code from the authenticator app.",
)
async def begin_totp(request: Request, caller: CurrentCaller, session: Session) -> JSON:
    user = await _own_account(session, caller)
    secret, uri = await service.begin_totp(session, request.app.state.settings, user)
    return JSON(TotpSetup(secret=secret, otpauth_uri=uri).model_dump(), headers=NO_STORE)


@router.post(
    "/totp/confirm",
    status_code=204,
    operation_id="confirmTotp",
    responses=responses(409),
    summary="Confirm the second factor 确认双因素认证",
)
async def confirm_totp(request: Request, body: TotpCode, caller: CurrentCaller, session: Session) -> Response:
    """Completes the second-factor setup: the six-digit code from the authenticator app proves it holds the secret,
    and from then on logging in needs a code. Users only, for their own account; a code that does not match is
    refused. 确认双因素认证。"""
    user = await _own_account(session, caller)
    await service.confirm_totp(session, request.app.state.settings, user, body.code)
    return Response(status_code=204)
