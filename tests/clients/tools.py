"""The contract's outside tools, as ``python3 tasks.py test`` installs them into ``.tools/``:
openapi-python-client (a client generated from ``openapi/openapi.json``) and ``@redocly/cli``
(its lint). Each runs here with its output checked; a missing tool skips the test, or fails
it where ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
TOOLS = ROOT / ".tools"
_BIN = "Scripts" if os.name == "nt" else "bin"
GENERATOR_BIN = TOOLS / "openapi-python-client" / _BIN
REDOCLY = TOOLS / "redocly" / "node_modules" / ".bin" / ("redocly.cmd" if os.name == "nt" else "redocly")
REDOCLY_CONFIG = ROOT / "redocly.yaml"

# A line of the generator's output with one of these is a finding: the client it wrote is not
# the one the document describes (a dropped operation, an untyped body, a post hook not run).
GENERATOR_FINDINGS = ("Warning", "Unable", "Error", "will not be generated", "omitted", "not in PATH")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(tool: Path, what: str, how: str = "`python3 tasks.py test` installs it") -> Path:
    """``tool``, or skip the test (fail it where CI=true) when the set-up could not install it."""
    if tool.exists():
        return tool
    where = tool.relative_to(ROOT) if tool.is_relative_to(ROOT) else tool
    message = f"{what} is not installed at {where}: {how}"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Generated:
    package: Path  # the generated package's directory (its name is the last part)
    returncode: int
    output: str  # stdout and stderr, as printed

    def findings(self) -> list[str]:
        """Why this client is not a clean one: a non-zero exit or lines naming a finding."""
        found = [line for line in self.output.splitlines() if any(word in line for word in GENERATOR_FINDINGS)]
        if self.returncode != 0:
            found.insert(0, f"openapi-python-client exited with {self.returncode}")
        return found


def generate_client(spec: Path, package: Path) -> Generated:
    """openapi-python-client's package for ``spec`` at ``package`` (no project metadata around
    it, so its parent directory goes on sys.path). Its ruff post hooks run with the ruff
    installed next to it."""
    generator = require(GENERATOR_BIN / "openapi-python-client", "openapi-python-client")
    env = {**os.environ, "PATH": os.pathsep.join([str(GENERATOR_BIN), os.environ.get("PATH", "")])}
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(package),
            "--overwrite",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=package.parent,
    )
    return Generated(package, done.returncode, (done.stdout + done.stderr).strip())


@dataclass
class Lint:
    returncode: int
    report: dict  # redocly's JSON report: totals and problems
    stderr: str

    def problems(self) -> list[str]:
        """One line per error or warning: rule, where (a JSON pointer) and message."""
        lines = [
            f"{p['severity']} {p['ruleId']} {p['location'][0]['pointer']}: {p['message']}"
            for p in self.report.get("problems", [])
            if p["severity"] in ("error", "warn", "warning")
        ]
        totals = self.report.get("totals", {})
        if not lines and (self.returncode != 0 or totals.get("errors") or totals.get("warnings")):
            lines.append(f"redocly lint exited with {self.returncode}, totals {totals}: {self.stderr[-2000:]}")
        return lines


def lint(spec: Path, config: Path = REDOCLY_CONFIG) -> Lint:
    """``redocly lint`` of ``spec`` with ``config`` (and the ignore file next to it)."""
    redocly = require(REDOCLY, "@redocly/cli")
    if shutil.which("node") is None:
        message = "node is not installed: @redocly/cli needs it"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(redocly), "lint", str(spec), "--config", str(config), "--format", "json", "--max-problems", "100000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    try:
        return Lint(done.returncode, json.loads(done.stdout), done.stderr)
    except ValueError:  # no report: what it printed instead
        return Lint(done.returncode, {"totals": {"errors": 1}}, done.stderr + done.stdout)
