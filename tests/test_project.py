"""Project-level guarantees: the committed OpenAPI file and the migrations match the code."""
import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from services.core.models import metadata
from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_committed_openapi_is_current():
    from services.cli import OPENAPI_FILE, openapi_document

    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi_document(), "run `guardline openapi` and commit"


def test_openapi_cli_check_fails_on_drift(tmp_path):
    from services.cli import main

    stale = tmp_path / "openapi.json"
    stale.write_text("{}", encoding="utf-8")
    assert main(["openapi", "--check", "--output", str(stale)]) == 1
    assert main(["openapi", "--output", str(stale)]) == 0
    assert main(["openapi", "--check", "--output", str(stale)]) == 0


async def test_models_and_migrations_do_not_drift(engine):
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata))
    assert diff == [], diff


async def test_migrations_downgrade_and_upgrade_cleanly(engine, settings):
    """Every migration is reversible: down to base and up again on a scratch database."""
    from services.core.db import create_engine
    from services.core.migrate import alembic_config
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    scratch = url.replace("/guardline_test?", "/guardline_migrations?", 1)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text('DROP DATABASE IF EXISTS guardline_migrations WITH (FORCE)'))
        await conn.execute(text('CREATE DATABASE guardline_migrations'))
    eng = create_engine(scratch, settings, "tests")
    try:
        def roundtrip(sync_conn):
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")
            command.downgrade(cfg, "base")
            command.upgrade(cfg, "head")
        async with eng.begin() as conn:
            await conn.run_sync(roundtrip)
            tables = (await conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname='public'"))).scalar_one()
        assert tables == len(metadata.tables) + 1  # + alembic_version
    finally:
        await eng.dispose()


def test_readme_roles_table_matches_the_code():
    """The security reviewer reads the README; it must say what the code does."""
    import re

    from services.core.accounts.roles import PERMISSIONS, Role

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### What each role sees and may do"):text.index("| permission | allows |")]
    documented: dict[str, set[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        _, roles_cell, perms_cell, *_ = line.split("|")
        for role in re.findall(r"`(\w+)`", roles_cell):
            documented[role] = set(re.findall(r"`([a-z]+:[a-z-]+)`", perms_cell))
    assert documented == {role.value: {p.value for p in perms} for role, perms in PERMISSIONS.items()}
    assert set(documented) == {r.value for r in Role}


async def test_public_endpoints_carry_no_personal_data(client):
    """Only login, the probes and public disclosure answer without a token, and they hold nothing
    personal (public disclosure: tests/api/test_funds_public.py)."""
    from services.api.app import create_app

    document = create_app(Settings(env="test")).openapi()
    public = {op["operationId"] for item in document["paths"].values() for op in item.values()
              if not op.get("security") or {} in op["security"]}  # none, or optional ({})
    assert public == {"login", "healthz", "readyz", "listPublicProjects", "getPublicProject", "getPublicFundSummary"}
    for path in ("/healthz", "/readyz"):
        r = await client.get(path)
        assert r.status_code == 200 and not re.search(r"\d{17}[\dXx]|\d{11}", r.text)
