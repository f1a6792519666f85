"""The deployment files stay consistent with the code (no Docker engine is needed)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
        for secret in ("GUARDLINE_AUTH__SECRET_KEY", "GUARDLINE_DATA_PROTECTION__ID_HASH_KEY",
                       "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS", "GUARDLINE_DATA_PROTECTION__ACTIVE_KEY"):
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


def test_dockerfile_installs_the_package_and_serves():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11" in text
    for folder in ("services", "migrations"):
        assert f"COPY {folder}" in text
    assert 'CMD ["guardline", "serve"' in text
    assert "USER guardline" in text


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 tasks.py test" in ci
    assert "python3 tasks.py test" in readme and "python3 tasks.py demo" in readme
