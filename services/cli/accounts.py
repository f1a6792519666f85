"""``guardline admin`` (the first administrator, the demo's accounts) and ``guardline
grant-app`` (the application role's privileges)."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from services.cli.common import load_settings, migrated_database, system_engine, system_session


def cmd_grant_app(args) -> int:
    from services.core.grants import grant_application_role

    settings = load_settings()

    async def run() -> None:
        async with system_engine(settings) as engine:
            await grant_application_role(engine, args.role)

    try:
        asyncio.run(run())
    except ValueError as exc:
        print(f"guardline: {exc}", file=sys.stderr)
        return 2
    print(f"{args.role} may now read and write the data, append to audit_log and nothing more")
    return 0


def cmd_admin(args) -> int:
    """``admin create``: the first administrator, with a one-time password printed once;
    ``admin disable-demo``: deactivate the demo's accounts (production refuses to start
    while they still open with the published password)."""
    from services.core.regions.rules import is_valid_prefix

    if args.admin_command == "create":
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{3,64}", args.username):
            print(f"guardline: --username {args.username!r}: 3 to 64 letters, digits, '_', '.', '-'", file=sys.stderr)
            return 2
        if not is_valid_prefix(args.region):
            print(
                f"guardline: --region {args.region!r} is not a region prefix (2, 4, 6, 9 or 12 digits)", file=sys.stderr
            )
            return 2
    settings, url = migrated_database()

    async def run():
        from services.core.accounts import service
        from services.core.audit import AuditRecord, record
        from services.core.errors import Conflict

        async with system_session(settings, url) as session:

            async def audit_user(action: str, user: Any, **fields: Any) -> None:
                """The audit record of what this command did to ``user`` (actor: the command)."""
                await record(
                    session,
                    AuditRecord(
                        action=action,
                        actor_name=f"guardline admin {args.admin_command}",
                        role="cli",
                        object_type="user",
                        object_id=str(user.id),
                        **fields,
                    ),
                )

            if args.admin_command == "create":
                try:
                    user, password = await service.create_first_admin(
                        session, settings, args.username, args.region, args.display_name
                    )
                except Conflict:
                    print(f"guardline: the username {args.username!r} is taken", file=sys.stderr)
                    return 1
                await audit_user(
                    "user.create",
                    user,
                    region_code=user.region_prefix,
                    after={
                        "username": user.username,
                        "role": user.role.value,
                        "region_prefix": user.region_prefix,
                        "must_change_password": True,
                    },
                )
                print(
                    f"administrator {user.username} (id {user.id}, region {user.region_prefix}) created.\n"
                    f"one-time password: {password}\n"
                    f"It is shown only now. Log in with it and set your own password "
                    f"(POST /api/v1/auth/password); until then every other call answers 403."
                )
                return 0
            users = await service.disable_demo_accounts(session)
            for user in users:
                await audit_user(
                    "user.deactivate", user, region_code=user.region_prefix or None, detail={"reason": "demo_account"}
                )
            print(f"{len(users)} demo account(s) deactivated")
            return 0

    return asyncio.run(run())
