"""Project-level guarantees: the committed OpenAPI file and the migrations match the code."""

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from services.core.models import metadata
from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


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
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
        )
    assert diff == [], diff


async def test_included_index_columns_do_not_drift(engine):
    """Alembic's comparison does not look at an index's INCLUDE columns: every model index
    that declares some has exactly those in the database (and one without has none)."""
    declared = {
        index.name: list(index.dialect_options["postgresql"]["include"] or [])
        for table in metadata.tables.values()
        for index in table.indexes
    }
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(:names)"
                ),
                {"names": list(declared)},
            )
        ).all()
    found = {}
    for name, ddl in rows:
        included = re.search(r" INCLUDE \(([^)]*)\)", ddl)
        found[name] = [c.strip() for c in included.group(1).split(",")] if included else []
    assert found.keys() == declared.keys()
    assert {n: c for n, c in found.items() if c != declared[n]} == {}
    assert found["ix_monitoring_cases_deadline"] == ["region_code", "status"]


async def test_migrations_downgrade_and_upgrade_cleanly(engine, settings):
    """Every migration is reversible: down to base and up again on a scratch database."""
    from alembic import command

    from services.core.db import create_engine
    from services.core.migrate import alembic_config

    url = engine.url.render_as_string(hide_password=False)
    scratch = url.replace("/guardline_test?", "/guardline_migrations?", 1)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS guardline_migrations WITH (FORCE)"))
        await conn.execute(text("CREATE DATABASE guardline_migrations"))
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
    section = text[text.index("### What each role sees and may do") : text.index("| permission | allows |")]
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
    public = {
        op["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        if not op.get("security") or {} in op["security"]
    }  # none, or optional ({})
    assert public == {"login", "healthz", "readyz", "listPublicProjects", "getPublicProject", "getPublicFundSummary"}
    for path in ("/healthz", "/readyz"):
        r = await client.get(path)
        assert r.status_code == 200 and not re.search(r"\d{17}[\dXx]|\d{11}", r.text)


# A markdown link's target: [text](target) or [text](target "title").
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# Places outside a clone that earlier docs pointed at.
_OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w.])/work/|\bDOMAIN\.md\b")


def _project_docs() -> list[Path]:
    """The README, every page under docs/ and the README of every top-level folder."""
    found = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *ROOT.glob("*/README.md")]
    return sorted({p for p in found if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)})


def links_outside(path: Path, text: str) -> list[str]:
    """What in a project doc points outside the repository: a mention of the places earlier
    docs pointed at, an absolute path, or a relative link that leaves the repository or
    names a file it does not have."""
    bad = [m.group(0) for m in _OUTSIDE.finditer(text)]
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor on the same page
        file = target.split("#", 1)[0]
        resolved = (path.parent / file).resolve()
        if file.startswith("/") or not resolved.is_relative_to(ROOT) or not resolved.exists():
            bad.append(target)
    return bad


def test_project_docs_never_point_outside_the_repository():
    """A clone has only the repository: the README and docs/ link to what it holds."""
    docs = _project_docs()
    assert ROOT / "docs" / "domain.md" in docs and ROOT / "benchmarks" / "README.md" in docs
    found = {str(p.relative_to(ROOT)): links_outside(p, p.read_text(encoding="utf-8")) for p in docs}
    assert {name: bad for name, bad in found.items() if bad} == {}
    # The check sees what it is for.
    page = ROOT / "docs" / "page.md"
    assert links_outside(page, "[domain](../../shared/DOMAIN.md)") == [
        "../shared",
        "DOMAIN.md",
        "../../shared/DOMAIN.md",
    ]
    assert links_outside(page, "see `/work/shared/PERFORMANCE.md`") == ["/work/"]
    assert links_outside(page, "[x](/etc/passwd) [y](missing.md) [z](../README.md#set-up)") == [
        "/etc/passwd",
        "missing.md",
    ]
    assert links_outside(page, "[rules](monitoring-rules.md#1-income) [w](https://example.org/a)") == []


def test_domain_page_is_linked_and_names_its_sources():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    domain = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    assert "(docs/domain.md)" in readme and "(domain.md)" in index
    for seed in ("seed 000", "seed 001", "seed 002", "seed 003", "seed 004"):
        assert f"| {seed} |" in domain  # each source document is named once, in the table of sources
    for page in ("monitoring-rules.md", "department-rules.md", "registry-rules.md", "rosters.md"):
        assert f"]({page}" in domain


# A test file's path as the docs, docstrings and comments name it: tests/api/test_households.py.
_TEST_PATH = re.compile(r"\btests/[A-Za-z0-9_/]+\.py\b")


def test_named_test_files_exist():
    """Test files move (issue 18 grouped them by domain): every one the README, the docs,
    the code's docstrings and comments or the test harness names is where they say."""
    texts = [*_project_docs(), *(ROOT / "services").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), ROOT / "tasks.py"]
    named = {(str(p.relative_to(ROOT)), m) for p in texts for m in _TEST_PATH.findall(p.read_text(encoding="utf-8"))}
    assert len(named) > 20  # the check sees what it is for
    assert sorted((where, m) for where, m in named if not (ROOT / m).is_file()) == []


def test_xdist_groups_name_existing_tests():
    """The groups ``--dist loadgroup`` keeps on one worker are named by path (tests/conftest.py):
    a moved file would silently leave its group."""
    from tests.conftest import SERIAL_MODULES, SHARED_FIXTURE_DIRS, SHARED_FIXTURE_MODULES

    for path in (*SERIAL_MODULES, *SHARED_FIXTURE_DIRS, *SHARED_FIXTURE_MODULES):
        assert (ROOT / path).is_file() if path.endswith(".py") else (ROOT / path).is_dir(), path
