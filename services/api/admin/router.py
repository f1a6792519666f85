"""Administration: user accounts, roles and system clients. Administrators only (403 for
every other role), and only for accounts under the administrator's own region prefix
(others answer 404). Every change of a role, a scope or a permission ends the tokens that
carried the old ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator
from starlette.responses import Response

from services.api import tags
from services.api.deps import Needs, Session, check_if_match
from services.api.errors_doc import responses
from services.api.pagination import Page, page_limit
from services.api.params import Cursor, Id, Limit
from services.api.ratelimit import bulk_read
from services.api.responses import JSON, etag, resource_response
from services.api.routing import GuardlineRoute
from services.core.accounts import service
from services.core.accounts.models import ApiClient, User
from services.core.accounts.roles import CLIENT_GRANTABLE, Permission, Role
from services.core.accounts.security import Caller, hash_password
from services.core.base import VERSION_DESCRIPTION
from services.core.errors import Conflict
from services.core.households.schemas import Input
from services.core.regions.service import check_prefix_visible
from services.core.timeutil import now

router = APIRouter(prefix="/api/v1/admin", tags=[tags.ADMIN], route_class=GuardlineRoute)

# The caller of a route, with the permission it needs (``deps.Needs``).
ClientAdmin = Annotated[Caller, Needs(Permission.clients_admin)]
UserAdmin = Annotated[Caller, Needs(Permission.users_admin)]
UserId = Id
ClientId = Id
USERNAME = r"^[A-Za-z0-9_.\-]{3,64}$"
PREFIX = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$"


class UserOut(BaseModel):
    id: int = Field(description="User id 用户标识")
    username: str = Field(description="Login name 登录名")
    display_name: str = Field(description="Name shown to people 姓名")
    role: Role = Field(description="Role 角色")
    region_prefix: str = Field(
        description="Region code prefix the user may see and act in (2/4/6/9/12 digits) 管辖区划"
    )
    active: bool = Field(description="False when the account is deactivated 是否启用")
    locked: bool = Field(description="True while the account is locked after repeated failed logins 是否锁定")
    totp_enabled: bool = Field(
        description="True when the account has a second factor (authenticator app) 是否启用双因素认证"
    )
    last_login_at: datetime | None = Field(description="When the user last logged in 最近登录时间")
    password_changed_at: datetime | None = Field(description="When the password was last changed 密码修改时间")
    version: int = Field(description=VERSION_DESCRIPTION)


class UserCreate(Input):
    username: str = Field(pattern=USERNAME, description="Login name: 3–64 letters, digits, `_`, `.` or `-` 登录名")
    display_name: str = Field(min_length=1, max_length=100, description="Name shown to people 姓名")
    role: Role = Field(description="Role 角色")
    region_prefix: str = Field(pattern=PREFIX, description="Region code prefix: 2/4/6/9/12 digits 管辖区划")
    password: str = Field(max_length=200, description="Initial password; the password rules apply")


class UserUpdate(Input):
    display_name: str | None = Field(None, min_length=1, max_length=100, description="Name shown to people 姓名")
    role: Role | None = Field(None, description="Role 角色")
    region_prefix: str | None = Field(
        None, pattern=PREFIX, description="Region code prefix: 2/4/6/9/12 digits 管辖区划"
    )
    active: bool | None = Field(None, description="false deactivates the account 是否启用")


class PasswordReset(Input):
    new_password: str = Field(max_length=200, description="The new password; the password rules apply 新密码")


class ClientOut(BaseModel):
    id: int = Field(description="Client id 接入方标识")
    name: str = Field(description="The client_id of the token request 接入方名称")
    description: str | None = Field(description="What the client is, e.g. the department system 说明")
    permissions: list[str] = Field(description="Permissions granted to the client 权限")
    region_prefix: str = Field(description="Region code prefix the client may see and act in 管辖区划")
    active: bool = Field(description="False once the client is revoked 是否启用")
    secret_hint: str | None = Field(description="First characters of the current secret, to tell secrets apart")
    rotated_at: datetime | None = Field(description="When the secret was last rotated 密钥轮换时间")
    revoked_at: datetime | None = Field(description="When the client was revoked 吊销时间")
    version: int = Field(description=VERSION_DESCRIPTION)


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown once. Store it in the department system's secret store.")


def _grantable(value: list[Permission] | None) -> list[Permission] | None:
    if value is not None:
        for p in value:
            if p not in CLIENT_GRANTABLE:
                raise ValueError("permission_not_grantable")
        value = sorted(set(value))
    return value


class ClientCreate(Input):
    name: str = Field(pattern=USERNAME, description="client_id for the token request")
    description: str | None = Field(
        None, max_length=200, description="What the client is, e.g. the department system 说明"
    )
    permissions: list[Permission] = Field(min_length=1, description="Of: " + ", ".join(sorted(CLIENT_GRANTABLE)))
    region_prefix: str = Field(pattern=PREFIX, description="Region code prefix: 2/4/6/9/12 digits 管辖区划")

    _p = field_validator("permissions")(_grantable)


class ClientUpdate(Input):
    description: str | None = Field(None, max_length=200, description="What the client is 说明")
    permissions: list[Permission] | None = Field(
        None, min_length=1, description="Permissions granted to the client, replacing the current list 权限"
    )
    region_prefix: str | None = Field(
        None, pattern=PREFIX, description="Region code prefix: 2/4/6/9/12 digits 管辖区划"
    )

    _p = field_validator("permissions")(_grantable)


def user_out(user: User) -> dict:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_prefix=user.region_prefix,
        active=user.active,
        locked=user.locked_until is not None and user.locked_until > now(),
        totp_enabled=user.totp_enabled,
        last_login_at=user.last_login_at,
        password_changed_at=user.password_changed_at,
        version=user.version,
    ).model_dump()


def _user_response(user: User, status: int = 200) -> JSON:
    headers = {"ETag": etag("user", user.id, user.version)}
    if status == 201:
        headers["Location"] = f"/api/v1/admin/users/{user.id}"
    return JSON(user_out(user), status_code=status, headers=headers)


def client_out(client: ApiClient) -> dict:
    return ClientOut.model_validate(client, from_attributes=True).model_dump()


def _client_response(client: ApiClient, status: int = 200, secret: str | None = None) -> JSON:
    return resource_response(
        client_out(client),
        etag("client", client.id, client.version),
        status=status,
        location=f"/api/v1/admin/clients/{client.id}",
        secret=("client_secret", secret) if secret is not None else None,
    )


# ---- users ------------------------------------------------------------------------------


@router.get(
    "/users",
    response_model=Page[UserOut],
    operation_id="listUsers",
    responses=responses(429),
    dependencies=[Depends(bulk_read)],
    summary="User accounts in your regions 用户列表",
)
async def list_users(
    request: Request,
    session: Session,
    caller: UserAdmin,
    role: Role | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """User accounts whose region lies within yours, by id, optionally of one role; one page at a time. Needs
    users:admin. 用户列表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_users(session, caller.region_prefix, cursor, limit, role)
    return JSON({"items": [user_out(u) for u in rows], "next_cursor": next_cursor})


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    operation_id="createUser",
    responses=responses(404, 409),
    summary="Create a user account 新增用户",
    description="The password is for one use: after logging in with it the user must set their own "
    "(403 `password_change_required` until then).",
)
async def create_user(request: Request, body: UserCreate, session: Session, caller: UserAdmin):
    await check_prefix_visible(session, body.region_prefix, field="region_prefix")
    await service.username_free(session, body.username)
    from services.core.accounts import passwords

    passwords.check(body.password, body.username, request.app.state.settings.passwords)
    user = User(
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        region_prefix=body.region_prefix,
        password_hash=hash_password(body.password),
        password_changed_at=now(),
        active=True,
        failed_logins=0,
        totp_enabled=False,
        must_change_password=True,
    )  # the administrator knows it: the user sets their own
    session.add(user)
    await session.flush()
    return _user_response(user, 201)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    operation_id="getUser",
    responses=responses(404),
    summary="One user account 用户详情",
)
async def get_user(user_id: UserId, session: Session, caller: UserAdmin):
    """One user account: role, region scope, whether it is active, locked or has a second factor, and its ETag for
    a later change. Needs users:admin; an account outside your regions answers 404. 用户详情。"""
    return _user_response(await service.get_user(session, user_id, caller.region_prefix))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    operation_id="updateUser",
    responses=responses(404, 409, 412, 428),
    summary="Change role, scope or status (needs If-Match) 修改角色、管辖范围或状态",
    description="A change of role, scope or status ends the account's sessions and tokens.",
)
async def update_user(request: Request, user_id: UserId, body: UserUpdate, session: Session, caller: UserAdmin):
    user = await service.get_user(session, user_id, caller.region_prefix, for_update=True)
    check_if_match(request, etag("user", user.id, user.version))
    changes = body.model_dump(exclude_unset=True)
    if user.id == caller.user_id and any(k in changes for k in ("role", "region_prefix", "active")):
        raise Conflict("own_account", field=next(k for k in ("role", "region_prefix", "active") if k in changes))
    if changes.get("region_prefix") is not None:
        await check_prefix_visible(session, changes["region_prefix"], field="region_prefix")
    access_changed = False
    for name, value in changes.items():
        if value is None:
            continue
        if getattr(user, name) != value and name in ("role", "region_prefix", "active"):
            access_changed = True
        setattr(user, name, value)
    await session.flush()
    if access_changed:
        await service.revoke_principal(
            session, f"user:{user.id}", request.app.state.revocations, end_sessions_of_user=user.id
        )
    return _user_response(user)


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    operation_id="resetPassword",
    responses=responses(404),
    summary="Set a new password 重置密码",
    description="The account's sessions end; tell the user the new password by a separate channel. "
    "It is for one use: after logging in with it the user must set their own "
    "(403 `password_change_required` until then).",
)
async def reset_password(
    request: Request, user_id: UserId, body: PasswordReset, session: Session, caller: UserAdmin
) -> Response:
    user = await service.get_user(session, user_id, caller.region_prefix, for_update=True)
    await service.set_password(
        session, request.app.state.settings, user, body.new_password, request.app.state.revocations
    )
    user.must_change_password = True  # the administrator knows it: the user sets their own at next login
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/unlock",
    response_model=UserOut,
    operation_id="unlockUser",
    responses=responses(404),
    summary="Lift a lockout 解除锁定",
)
async def unlock_user(user_id: UserId, session: Session, caller: UserAdmin):
    """Lifts the lockout that repeated failed logins put on the account (the failure count starts again) and
    returns the account. Needs users:admin. 解除登录锁定。"""
    user = await service.get_user(session, user_id, caller.region_prefix, for_update=True)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()
    return _user_response(user)


@router.post(
    "/users/{user_id}/totp/reset",
    response_model=UserOut,
    operation_id="resetTotp",
    responses=responses(404),
    summary="Remove a lost second factor 重置双因素认证",
)
async def reset_totp(request: Request, user_id: UserId, session: Session, caller: UserAdmin):
    """Removes the account's second factor when the user has lost the authenticator app, and ends the account's
    sessions and tokens; the user logs in with the password alone and may set up a new second factor. Returns
    the account. Needs users:admin. 重置双因素认证。"""
    user = await service.get_user(session, user_id, caller.region_prefix, for_update=True)
    await service.disable_totp(session, user)
    await service.revoke_principal(
        session, f"user:{user.id}", request.app.state.revocations, end_sessions_of_user=user.id
    )
    return _user_response(user)


# ---- system clients ---------------------------------------------------------------------


@router.get(
    "/clients",
    response_model=Page[ClientOut],
    operation_id="listClients",
    responses=responses(429),
    dependencies=[Depends(bulk_read)],
    summary="System clients in your regions 接入系统列表",
)
async def list_clients(
    request: Request, session: Session, caller: ClientAdmin, limit: Limit = None, cursor: Cursor = None
):
    """System clients (department systems) whose region lies within yours, by id; one page at a time. Secrets are
    never shown, only a hint. Needs clients:admin. 接入系统列表。"""
    limit = page_limit(request, limit)
    rows, next_cursor = await service.list_clients(session, caller.region_prefix, cursor, limit)
    return JSON({"items": [client_out(c) for c in rows], "next_cursor": next_cursor})


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientWithSecret,
    operation_id="createClient",
    responses=responses(404, 409),
    summary="Register a system client 新增接入系统",
    description="The answer holds the client secret, once; only its digest is stored.",
)
async def create_client(body: ClientCreate, session: Session, caller: ClientAdmin):
    await check_prefix_visible(session, body.region_prefix, field="region_prefix")
    await service.client_name_free(session, body.name)
    client = ApiClient(
        name=body.name,
        description=body.description,
        permissions=[p.value for p in body.permissions],
        region_prefix=body.region_prefix,
        active=True,
        created_by=caller.user_id,
    )
    secret = service.give_client_secret(client)
    session.add(client)
    await session.flush()
    return _client_response(client, 201, secret)


@router.get(
    "/clients/{client_id}",
    response_model=ClientOut,
    operation_id="getClient",
    responses=responses(404),
    summary="One system client 接入系统详情",
)
async def get_client(client_id: ClientId, session: Session, caller: ClientAdmin):
    """One system client: its permissions, region scope, secret hint and rotation or revocation times. Needs
    clients:admin; a client outside your regions answers 404. 接入系统详情。"""
    return _client_response(await service.get_client(session, client_id, caller.region_prefix))


@router.patch(
    "/clients/{client_id}",
    response_model=ClientOut,
    operation_id="updateClient",
    responses=responses(404, 412, 428),
    summary="Change permissions or scope (needs If-Match) 修改权限或范围",
    description="Tokens issued before the change stop working.",
)
async def update_client(
    request: Request, client_id: ClientId, body: ClientUpdate, session: Session, caller: ClientAdmin
):
    client = await service.get_client(session, client_id, caller.region_prefix, for_update=True)
    check_if_match(request, etag("client", client.id, client.version))
    changes = body.model_dump(exclude_unset=True)
    if changes.get("region_prefix") is not None:
        await check_prefix_visible(session, changes["region_prefix"], field="region_prefix")
    if body.permissions is not None:  # given (not null): stored as their values
        changes["permissions"] = [p.value for p in body.permissions]
    access_changed = False
    for name, value in changes.items():
        if value is None and name != "description":
            continue
        if name in ("permissions", "region_prefix") and getattr(client, name) != value:
            access_changed = True
        setattr(client, name, value)
    await session.flush()
    if access_changed:
        await service.revoke_principal(session, f"client:{client.id}", request.app.state.revocations)
    return _client_response(client)


@router.post(
    "/clients/{client_id}/rotate",
    response_model=ClientWithSecret,
    operation_id="rotateClientSecret",
    responses=responses(404, 409),
    summary="Issue a new secret 轮换密钥",
    description="The old secret and every token issued with it stop working at once.",
)
async def rotate_client(request: Request, client_id: ClientId, session: Session, caller: ClientAdmin):
    client = await service.get_client(session, client_id, caller.region_prefix, for_update=True)
    if not client.active:
        raise Conflict("client_revoked", field="client_id")
    secret = service.give_client_secret(client)
    client.rotated_at = now()
    await session.flush()
    await service.revoke_principal(session, f"client:{client.id}", request.app.state.revocations)
    return _client_response(client, secret=secret)


@router.post(
    "/clients/{client_id}/revoke",
    response_model=ClientOut,
    operation_id="revokeClient",
    responses=responses(404),
    summary="Revoke a system client 停用接入系统",
    description="Permanent: the client's secret and tokens stop working. Register a new client to "
    "connect the system again.",
)
async def revoke_client(request: Request, client_id: ClientId, session: Session, caller: ClientAdmin):
    client = await service.get_client(session, client_id, caller.region_prefix, for_update=True)
    if client.active:
        client.active = False
        client.revoked_at = now()
        client.secret_digest = None
        await session.flush()
        await service.revoke_principal(session, f"client:{client.id}", request.app.state.revocations)
    return _client_response(client)
