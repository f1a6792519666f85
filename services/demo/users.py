"""The demo's accounts: the assistance cadres that the generated cases and visits name
(``cadre.<village code>.<n>``), and one user of every role at county, township and village
level (``<role>.<level>``), all with the published ``DEMO_PASSWORD``."""

from __future__ import annotations

import math
import random

import asyncpg

from services.core.settings import DEMO_PASSWORD, Settings
from services.demo.plan import Village

# ---- assistance cadres --------------------------------------------------------------------

CADRES_PER_VILLAGE_MIN = 2
HOUSEHOLDS_PER_CADRE = 8  # open cases per assistance cadre, roughly (a cadre helps a handful of households)


def cadres_per_village(persons: int, villages: int) -> int:
    """Assistance cadres each village needs for the open cases of ``persons`` people (about
    4.5 % of the households, 3.35 people each, are 监测户)."""
    open_cases = persons / 3.35 * 0.045
    return max(CADRES_PER_VILLAGE_MIN, math.ceil(open_cases / max(1, villages) / HOUSEHOLDS_PER_CADRE))


_CADRE_GIVEN = "国华建明军平志伟强勇福荣顺德永兴春光正红兰梅玲燕萍琴凤芳娟敏静艳"


async def ensure_demo_cadres(
    conn: asyncpg.Connection, villages: list[Village], per_village: int, seed: int
) -> dict[str, list[int]]:
    """Upsert ``per_village`` assistance cadres per village (``cadre.<village>.<nnn>``, all
    with the demo password; never removed, so reloading a smaller county keeps them) and
    return the user ids of the first ``per_village`` of each village."""

    from services.core.accounts.roles import Role
    from services.core.accounts.security import hash_password

    rng = random.Random(f"{seed}/cadres")
    surnames = "王李张刘陈杨黄赵吴周罗潘石龙田韦"
    rows = []
    for v in villages:
        for k in range(1, per_village + 1):
            name = rng.choice(surnames) + "".join(rng.choice(_CADRE_GIVEN) for _ in range(1 + (rng.random() < 0.7)))
            rows.append((f"cadre.{v.code}.{k:03d}", f"{name}（{v.name}帮扶责任人）", v.code))
    usernames = [r[0] for r in rows]
    have = {
        r["username"]: r["id"]
        for r in await conn.fetch("SELECT id, username FROM users WHERE username = ANY($1::text[])", usernames)
    }
    missing = [r for r in rows if r[0] not in have]
    if missing:
        password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
        await conn.executemany(
            "INSERT INTO users (username, display_name, password_hash, role, region_prefix, active, version) "
            "VALUES ($1, $2, $3, $4, $5, true, 1) ON CONFLICT (username) DO NOTHING",
            [(u, name, password_hash, Role.assistance_cadre.value, code) for u, name, code in missing],
        )
        have = {
            r["username"]: r["id"]
            for r in await conn.fetch("SELECT id, username FROM users WHERE username = ANY($1::text[])", usernames)
        }
    out: dict[str, list[int]] = {v.code: [] for v in villages}
    for username, _name, code in rows:
        out[code].append(have[username])
    return out


# ---- demo users ----------------------------------------------------------------------------

DEMO_LEVELS = (
    ("county", "529901", "清溪县"),
    ("township", "529901001", "石门镇"),
    ("village", "529901001001", "白岩村"),
)
ROLE_NAMES = {
    "grid_worker": "网格员",
    "assistance_cadre": "帮扶责任人",
    "village_staff": "村干部",
    "township_staff": "乡镇工作人员",
    "county_staff": "县乡村振兴局工作人员",
    "county_approver": "县级审批人",
    "department_system": "部门系统",
    "auditor": "审计人员",
    "admin": "系统管理员",
}


async def create_demo_users(session, settings: Settings) -> list[dict]:
    """One user per role at county, township and village level (``<role>.<level>``), all
    with the published demo password. Upserts by username; flushes, does not commit."""
    from sqlalchemy import func
    from sqlalchemy.dialects.postgresql import insert

    from services.core.accounts.models import User
    from services.core.accounts.roles import Role
    from services.core.accounts.security import hash_password
    from services.core.base import table_of

    if not settings.demo_allowed:
        raise RuntimeError("demo users are refused in production")
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
    users = []
    for role in Role:
        for level, prefix, place in DEMO_LEVELS:
            users.append(
                {
                    "username": f"{role.value}.{level}",
                    "display_name": f"演示{ROLE_NAMES.get(role.value, role.value)}（{place}）",
                    "role": role.value,
                    "region_prefix": prefix,
                }
            )
    table = table_of(User)
    stmt = insert(table).values([{**u, "password_hash": password_hash, "active": True, "version": 1} for u in users])
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.username],
        set_={
            "display_name": stmt.excluded.display_name,
            "password_hash": stmt.excluded.password_hash,
            "role": stmt.excluded.role,
            "region_prefix": stmt.excluded.region_prefix,
            "active": True,
            "version": table.c.version + 1,
            "updated_at": func.now(),
        },
    )
    await session.execute(stmt)
    return users
