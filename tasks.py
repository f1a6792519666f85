#!/usr/bin/env python3
"""Guardline's two set-up commands (and a few more), for a fresh machine with only Python.

    python3 tasks.py demo     # the API with a demo county, docs at http://127.0.0.1:8000/docs
    python3 tasks.py test     # the whole test suite (what CI runs)

Also: ``lint`` (ruff and mypy; ``test`` without arguments runs it first), ``bench``
(benchmark suite), ``openapi`` (regenerate openapi/openapi.json).
The first run creates .venv/ and installs the project into it, its dependencies from the
lock (requirements/dev.txt); later runs reuse it and reinstall only when pyproject.toml
or the lock changes. Uses only the standard library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".guardline-installed"

# Tools the contract tests run that cannot share .venv (openapi-python-client wants an older
# httpx than the service's) or are not Python (@redocly/cli): each in its own directory of
# .tools/ (git-ignored), installed once per version. tests/clients/tools.py finds them here.
TOOLS = ROOT / ".tools"
OPENAPI_PYTHON_CLIENT = ("openapi-python-client==0.29.1", "ruff==0.17.6")  # ruff for its post hooks
REDOCLY_CLI = "@redocly/cli@2.77.0"


def _python(venv_dir: Path | None = None) -> Path:
    return (venv_dir or VENV) / BIN.name / ("python.exe" if os.name == "nt" else "python")


# The locked dependencies (uv pip compile, with hashes; requirements/README.md): dev.txt is
# the runtime's and the ``test`` and ``embedded`` extras' (this .venv, CI), runtime.txt the
# image's. The project itself is installed on top without dependencies.
LOCK_DEV = ROOT / "requirements" / "dev.txt"


def install_fingerprint() -> str:
    """What .venv was installed from: pyproject.toml and the lock. A change of either
    reinstalls."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK_DEV):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def bootstrap() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (tasks.py runs under any python3: it says when it is too old)
        sys.exit(f"Guardline needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = install_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and _python().exists():
        return
    if not _python().exists():
        print("creating .venv …", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # e.g. Debian without python3-venv
            sys.exit(f"could not create a virtual environment ({exc}); install the python3-venv package")
    print("installing Guardline and its locked dependencies into .venv …", flush=True)
    pip = [str(_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=False)
    # Exactly the locked versions, each checked against its hash; then the project alone.
    subprocess.run([*pip, "install", "--require-hashes", "--no-deps", "-r", str(LOCK_DEV)], check=True)
    subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


# The browser test of the docs pages (tests/api/test_docs_browser.py) drives Debian's chromium;
# a Chinese font makes its screenshots show the Chinese. Package: the file it installs.
BROWSER_PACKAGES = {
    "chromium": Path("/usr/bin/chromium"),
    "fonts-wqy-microhei": Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
}


def ensure_chromium() -> None:
    """Install the browser packages that are missing, with apt-get, when this is a root shell
    on a Debian-like machine; otherwise say so (the browser test then skips, or fails in CI)."""
    missing = [name for name, path in BROWSER_PACKAGES.items() if not path.exists()]
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(
            f"not installed: {' '.join(missing)} (installing needs root and apt-get); "
            "the browser test of the docs will not run",
            flush=True,
        )
        return
    install = [apt, "install", "-y", "--no-install-recommends", *missing]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"for the browser test of the docs: {' '.join(install)}", flush=True)
    if subprocess.call(install, env=env) != 0:
        print(f"that failed; {apt} update, then again", flush=True)
        subprocess.call([apt, "update"], env=env)
        subprocess.call(install, env=env)
    still = [name for name in missing if not BROWSER_PACKAGES[name].exists()]
    print(f"still missing: {' '.join(still)}" if still else f"installed: {' '.join(missing)}", flush=True)


def install_contract_tools() -> None:
    """The client generator and the OpenAPI linter, each in .tools/ (once per pinned version).
    Offline or without npm this only says so: the tests that need a tool then skip, or fail
    where CI=true."""
    _install_once(TOOLS / "openapi-python-client", " ".join(OPENAPI_PYTHON_CLIENT), _install_generator)
    _install_once(TOOLS / "redocly", REDOCLY_CLI, _install_linter)


def _install_generator(where: Path) -> None:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    subprocess.run(
        [str(_python(where)), "-m", "pip", "--disable-pip-version-check", "-q", "install", *OPENAPI_PYTHON_CLIENT],
        check=True,
    )


def _install_linter(where: Path) -> None:
    subprocess.run(
        [
            shutil.which("npm") or "npm",
            "install",
            "--prefix",
            str(where),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            REDOCLY_CLI,
        ],
        check=True,
    )


def _install_once(where: Path, version: str, install) -> None:
    stamp = where / ".guardline-installed"
    if stamp.exists() and stamp.read_text().strip() == version:
        return
    print(f"installing {version} into {where.relative_to(ROOT)} …", flush=True)
    try:
        where.mkdir(parents=True, exist_ok=True)
        install(where)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(
            f"could not install {version} ({exc}); the tests that need it skip (fail where CI=true)",
            file=sys.stderr,
            flush=True,
        )
        return
    stamp.write_text(version)


def run(argv: list[str]) -> int:
    """Run ``argv`` in the checkout and return its exit status (128 + N for a child ended by
    signal N, as a shell says it).

    The child stops itself, however long that takes (``guardline serve`` stops its
    simulators, its sync worker and the embedded PostgreSQL): Ctrl-C in a terminal reaches
    the child too (it is in the same process group), so this process ignores it and waits;
    a SIGTERM sent to this process alone is passed on. Where signals differ (Windows) the
    console sends Ctrl-C to both, and the same waiting applies."""
    proc: subprocess.Popen | None = None

    def ignore(signum, frame) -> None:  # a handler, not SIG_IGN: the child must not inherit it
        pass

    def forward(signum, frame) -> None:
        if proc is not None:
            proc.send_signal(signum)

    handlers = {signal.SIGINT: ignore, signal.SIGTERM: forward}
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        proc = subprocess.Popen(argv, cwd=ROOT)
        code = proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def lint() -> int:
    """ruff (lint and format) and mypy, as configured in pyproject.toml: zero findings."""
    checks = [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy", [str(BIN / "mypy")]),
    ]
    for name, argv in checks:
        print(f"lint: {name}", flush=True)
        if (code := run(argv)) != 0:
            print(f"lint: {name} has findings (exit {code}); see above", file=sys.stderr, flush=True)
            return code
    return 0


def parallel(args: list[str]) -> list[str]:
    """pytest-xdist's options for ``test``: a worker per core (at most 4; each has its own
    embedded PostgreSQL, see tests/conftest.py), tests of a group on one worker. Not when the
    arguments choose (``-n 0`` runs in this process), nor against one external test database
    (GUARDLINE_TEST_DATABASE_URL). GUARDLINE_TEST_WORKERS sets the number of workers."""
    chosen = "no:xdist" in args or any(
        a in ("-n", "--numprocesses", "--pdb", "--trace") or a.startswith(("-n", "--numprocesses=")) for a in args
    )
    if chosen or os.environ.get("GUARDLINE_TEST_DATABASE_URL"):
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = os.environ.get("GUARDLINE_TEST_WORKERS") or str(max(2, min(cores, 4)))
    return ["-n", workers, "--dist", "loadgroup"]


def main() -> int:
    args = sys.argv[1:]
    command = args[0] if args else "help"
    rest = args[1:]
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    bootstrap()
    if command == "demo":
        return run([str(BIN / "guardline"), "serve", "--demo", *rest])
    if command == "lint":
        return lint()
    if command == "test":
        if not rest and (code := lint()) != 0:  # the whole suite starts with the habits
            return code
        ensure_chromium()
        install_contract_tools()
        code = run([str(_python()), "-m", "pytest", *parallel(rest), *rest])
        return 0 if code == 5 and rest else code  # 5: a filter selected no test
    if command == "bench":
        return run([str(_python()), "-m", "benchmarks", *rest])
    if command == "openapi":
        return run([str(BIN / "guardline"), "openapi", *rest])
    if command == "guardline":
        return run([str(BIN / "guardline"), *rest])
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C outside ``run`` (while installing): no traceback
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
