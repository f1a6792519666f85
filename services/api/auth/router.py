from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.api.deps import CurrentCaller, open_session
from services.api.errors_doc import responses
from services.api.routing import GuardlineRoute
from services.core.accounts.models import User
from services.core.accounts.security import Caller, issue_token, verify_password
from services.core.errors import Unauthorized
from services.core.scope import UNRESTRICTED

router = APIRouter(prefix="/api/v1/auth", tags=["auth 登录"], route_class=GuardlineRoute)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds")
    role: str
    region_prefix: str


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    region_prefix: str


@router.post("/token", response_model=Token, operation_id="login", responses=responses(),
             summary="Log in (OAuth2 password flow) 登录")
async def login(request: Request, username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=200)]) -> Token:
    # Login looks users up before anyone is known: the users table is not region-scoped.
    session = open_session(request, UNRESTRICTED)
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise Unauthorized("login_failed", headers={"WWW-Authenticate": "Bearer"})
    caller = Caller(user.id, user.username, user.role, user.region_prefix)
    token, ttl = issue_token(request.app.state.settings, caller)
    return Token(access_token=token, expires_in=ttl, role=user.role.value, region_prefix=user.region_prefix)


@router.get("/me", response_model=Me, operation_id="whoAmI", responses=responses(), summary="Who am I 当前用户")
async def me(caller: CurrentCaller) -> Me:
    return Me(user_id=caller.user_id, username=caller.username, role=caller.role.value,
              region_prefix=caller.region_prefix)
