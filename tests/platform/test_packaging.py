"""The deployment files stay consistent with the code and with each other (no Docker engine
is needed): compose.yaml, deploy/, the Dockerfile and the dependency locks."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from services.core.sync.config import parse_sources

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "guardline:latest"
SOURCES_IN_CONTAINER = "/etc/guardline/sources.toml"


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_postgres16_api_and_sync():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "migrate", "api", "sync"}
    assert services["db"]["image"] == "postgres:16"
    assert "healthcheck" in services["db"]
    for name in ("api", "sync"):
        env = services[name]["environment"]
        assert env["GUARDLINE_DATABASE_URL"].startswith("postgresql://")
        assert "@db:5432/" in env["GUARDLINE_DATABASE_URL"]
        # production needs real secrets: compose refuses to start without them
        for secret in (
            "GUARDLINE_AUTH__SECRET_KEY",
            "GUARDLINE_DATA_PROTECTION__ID_HASH_KEY",
            "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS",
            "GUARDLINE_DATA_PROTECTION__ACTIVE_KEY",
        ):
            assert ":?" in env[secret], secret
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    # The tables' owner migrates; the API and the worker connect as the application role.
    assert "guardline_owner:" in services["migrate"]["environment"]["GUARDLINE_DATABASE_URL"]
    assert "guardline grant-app guardline_app" in services["migrate"]["command"][-1]
    for name in ("api", "sync"):
        assert "guardline_app:" in services[name]["environment"]["GUARDLINE_DATABASE_URL"]
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (ROOT / "deploy/postgres/10-application-role.sh").exists()
    assert services["api"]["command"][:2] == ["guardline", "serve"]
    assert services["sync"]["command"][:2] == ["guardline", "sync"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 tasks.py test" in ci
    assert "python3 tasks.py test" in readme and "python3 tasks.py demo" in readme


# ---- compose.yaml: secrets, health checks, the department sources --------------------------


def header_secrets(text: str) -> list[str]:
    """The variables that compose.yaml's opening comment lists as its secrets (one a line:
    '#   NAME   what it is')."""
    header = text[: text.index("\nname:")]
    return re.findall(r"^#   ([A-Z][A-Z0-9_]+)\s", header, flags=re.MULTILINE)


def required_variables(text: str) -> set[str]:
    """The variables compose refuses to start without (``${NAME:?message}``)."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", text))


def test_compose_header_lists_every_required_secret_and_how_to_make_it():
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    listed = header_secrets(text)
    assert len(listed) == len(set(listed)) == 6
    assert set(listed) == required_variables(text)
    assert "guardline keys new" in text and "secrets.token_urlsafe" in text
    # The template of .env names the same six (and nothing compose does not read).
    example = (ROOT / "deploy" / "env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert set(listed) <= names
    assert names <= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert all(line.endswith("=") for line in example.splitlines() if re.match(r"[A-Z]", line)), "no values"
    # The check sees what it is for: a variable required but not listed.
    assert required_variables("x: ${NEW_SECRET:?set it}") == {"NEW_SECRET"}
    assert header_secrets("#   ONE   a secret\n#   not-a-name\nname: x") == ["ONE"]


def test_compose_health_checks_only_where_something_answers():
    services = compose()["services"]
    uses_image = {name for name, s in services.items() if s.get("image") == IMAGE}
    assert uses_image == {"migrate", "api", "sync"}
    # The image's probe is of the API; the API states its own, the others turn it off.
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert not services["api"]["healthcheck"].get("disable")
    for name in ("migrate", "sync"):
        assert services[name]["healthcheck"] == {"disable": True}, name
    assert services["migrate"]["restart"] == "no"  # one shot: it exits, and is not "unhealthy"


def test_compose_gives_the_api_and_the_worker_the_countys_sources_file():
    services = compose()["services"]
    for name in ("api", "sync"):
        env = services[name]["environment"]
        assert env["GUARDLINE_SYNC__SOURCES_FILE"] == SOURCES_IN_CONTAINER, name
        assert f"./deploy/sources.toml:{SOURCES_IN_CONTAINER}:ro" in services[name]["volumes"], name
    # As shipped the file lists no source (the worker runs only the daily checks) ...
    assert len(parse_sources((ROOT / "deploy" / "sources.toml").read_text(encoding="utf-8"))) == 0
    # ... and its examples, once uncommented, are a valid file of the four departments whose
    # secrets come from the environment that compose passes to the worker.
    sources = list(parse_sources(uncommented(ROOT / "deploy" / "sources.toml")))
    assert [s.kind.value for s in sources] == ["civil-affairs", "medical-insurance", "education", "housing"]
    for source in sources:
        assert source.auth.client_secret is None and source.auth.client_secret_env, source.name
        assert source.auth.client_secret_env in services["sync"]["environment"], source.name
        assert "127.0.0.1" not in (source.base_url or "") and "localhost" not in (source.base_url or "")


def uncommented(path: Path) -> str:
    """A sources file with its example blocks switched on: '# ' removed from the lines that
    have it ('##' notes stay comments)."""
    return "\n".join(
        line[2:] if line.startswith("# ") else line for line in path.read_text(encoding="utf-8").splitlines()
    )


def test_compose_documents_the_first_administrator_and_backups():
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert "docker compose run --rm migrate guardline admin create" in text
    assert "guardline backup /backups/" in text and "guardline restore" in text
    assert "./backups:/backups" in compose()["services"]["migrate"]["volumes"]


# ---- the Dockerfile ------------------------------------------------------------------------


def stages(dockerfile: str) -> dict[str, str]:
    """The Dockerfile's stages by name: the text from each FROM to the next."""
    parts = re.split(r"^(?=FROM )", dockerfile, flags=re.MULTILINE)
    found = {}
    for part in parts:
        m = re.match(r"FROM \S+ AS (\w+)", part)
        if m:
            found[m.group(1)] = part
    return found


def instructions(stage: str) -> list[str]:
    """A stage's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", stage)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_builds_from_the_lock_in_two_stages_without_the_embedded_server():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    found = stages(text)
    assert list(found) == ["builder", "runtime"]
    assert text.count("\nFROM ") + text.startswith("FROM ") == 2
    builder, runtime = (instructions(found[name]) for name in ("builder", "runtime"))
    assert builder[0].startswith("FROM python:3.11") and runtime[0].startswith("FROM python:3.11")
    # Builder: the hashed runtime lock, then the project without dependencies.
    installs = [line for line in builder if line.startswith("RUN") and "pip install" in line]
    assert "--require-hashes" in installs[0] and "-r requirements/runtime.txt" in installs[0]
    assert "--no-deps ." in installs[1]
    assert any(line.startswith("COPY requirements/runtime.txt") for line in builder)
    # Runtime: the builder's environment, no installing, no lock of the development tools.
    assert any(line.startswith("COPY --from=builder /opt/guardline /opt/guardline") for line in runtime)
    assert not [line for line in runtime if "pip install" in line or "requirements/" in line]
    assert not [line for line in builder + runtime if "pgserver" in line or "embedded" in line]
    # Non-root, and the probe of the API only in the image that runs.
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert [line for line in builder if line.startswith("HEALTHCHECK")] == []
    probe = [line for line in runtime if line.startswith("HEALTHCHECK")]
    assert len(probe) == 1 and "/readyz" in probe[0]
    assert runtime[-1].startswith('CMD ["guardline", "serve"')
    for folder in ("services",):
        assert any(line.startswith(f"COPY {folder}") for line in builder)
    for folder in ("migrations", "alembic.ini"):
        assert any(line.startswith(f"COPY {folder}") for line in runtime)
    # pg_dump and pg_restore (guardline backup / restore) of the major version of compose's server.
    major = compose()["services"]["db"]["image"].removeprefix("postgres:")
    assert f"ARG POSTGRES_MAJOR={major}" in runtime
    assert any("postgresql-client-${POSTGRES_MAJOR}" in line for line in runtime if line.startswith("RUN"))
    assert "ENV GUARDLINE_PG_BIN_DIR=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin" in runtime
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "tests" in ignored  # the secrets never enter the build context


# ---- the dependency locks ------------------------------------------------------------------


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def lock_pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """A hashed lock (uv pip compile --generate-hashes): name -> (version, hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if m:
            current = canonicalize_name(m.group(1))
            assert current not in pins, f"{path.name}: {current} pinned twice"
            pins[current] = (m.group(2), [])
        elif (h := re.search(r"--hash=(sha256:[0-9a-f]{64})", line)) and current:
            pins[current][1].append(h.group(1))
    return pins


def unpinned(requirements: list[str], pins: dict[str, tuple[str, list[str]]]) -> list[str]:
    """The direct requirements the lock does not satisfy: missing, or at a version outside
    the requirement's range."""
    bad = []
    for line in requirements:
        req = Requirement(line)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or not req.specifier.contains(pinned[0], prereleases=True):
            bad.append(line)
    return bad


LOCKS = {"runtime.txt": [], "dev.txt": ["test", "embedded"]}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_pins_every_direct_dependency_within_its_range(lock):
    project = pyproject()["project"]
    pins = lock_pins(ROOT / "requirements" / lock)
    wanted = [*project["dependencies"], *(r for extra in LOCKS[lock] for r in project["optional-dependencies"][extra])]
    assert unpinned(wanted, pins) == [], f"requirements/{lock} is stale: regenerate it (requirements/README.md)"
    assert all(hashes for _, hashes in pins.values()), "every pin carries its hashes"
    header = (ROOT / "requirements" / lock).read_text(encoding="utf-8").split("\n", 3)[1]
    assert "uv pip compile pyproject.toml" in header and "--generate-hashes" in header
    assert all(f"--extra {extra}" in header for extra in LOCKS[lock])
    # The check sees what it is for.
    assert unpinned(["fastapi>=99"], pins) == ["fastapi>=99"]
    assert unpinned(["not-in-the-lock>=1"], pins) == ["not-in-the-lock>=1"]


def test_the_images_lock_has_no_embedded_server_and_no_test_tools():
    project = pyproject()["project"]
    assert not any(Requirement(r).name == "pgserver" for r in project["dependencies"])
    assert [Requirement(r).name for r in project["optional-dependencies"]["embedded"]] == ["pgserver"]
    runtime = lock_pins(ROOT / "requirements" / "runtime.txt")
    for name in ("pgserver", "pytest", "playwright", "mypy", "ruff"):
        assert name not in runtime, name
    dev = lock_pins(ROOT / "requirements" / "dev.txt")
    # The image runs what the tests ran: the runtime's pins are the development lock's.
    assert {name: pin[0] for name, pin in runtime.items()} == {name: dev[name][0] for name in runtime}
