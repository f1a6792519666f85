"""The department simulators of ``guardline serve --demo``: on ports derived from the API's
(``--port P``: civil affairs on P+101, medical insurance P+102, education P+103, so the
default 8000 gives 8101-8103), or on free ports when those are taken, each showing a token
this start drew (``--instance``), and a sources file for the demo's sync worker that points
at exactly those simulators and expects that token.

Two demos on one machine (two checkouts, two ports) so never read each other's
simulators: ``spawn`` does not take another program's answer for its simulator's, and the
worker refuses a source that does not show the token (``SourceConfig.instance``). The
configured sources file is read, never written: the demo's copy goes to the data folder.
"""

from __future__ import annotations

import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from services.core.settings import Settings
from services.core.sync.config import BUILTIN_SOURCES, load_sources, sources_on
from services.simulators import launch
from services.simulators.config import DEFAULT_PORTS, KINDS

DEFAULT_API_PORT = 8000
ATTEMPTS = 3  # ports tried per simulator: the derived one (if free), then free ones


def derived_port(api_port: int, kind: str) -> int:
    return api_port + DEFAULT_PORTS[kind] - DEFAULT_API_PORT


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port now (as uvicorn binds: SO_REUSEADDR)."""
    if not 0 < port < 65536:
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Departments:
    instance: str
    sources_file: Path
    ports: dict[str, int] = field(default_factory=dict)  # source name -> port it was started on
    children: list[Popen] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source name -> why it did not start


def start(settings: Settings, api_port: int, env: dict[str, str], *, host: str = "127.0.0.1") -> Departments:
    """A simulator for each configured source of a simulated kind that is pulled over HTTP,
    and the sources file the demo's worker reads (``Departments.sources_file``). A source
    whose simulator did not start is still pointed at its port and token: its runs fail
    rather than read whatever else may answer at its configured address."""
    started = Departments(
        secrets.token_urlsafe(18), Path(settings.data_dir).resolve() / f"demo-sources-{api_port}.toml"
    )
    for source in load_sources(settings):
        kind = source.kind.value
        if not source.base_url or kind not in KINDS:
            continue
        port = derived_port(api_port, kind)
        for attempt in range(ATTEMPTS):
            if attempt or not port_free(port, host) or port in started.ports.values():
                port = free_port(host)
            started.ports[source.name] = port
            try:
                started.children.append(launch.spawn(kind, port, env=env, host=host, instance=started.instance))
            except launch.SimulatorDidNotStart as exc:
                started.failed[source.name] = str(exc)
                continue
            started.failed.pop(source.name, None)
            break
    text = Path(settings.sync.sources_file or BUILTIN_SOURCES).read_text(encoding="utf-8")
    started.sources_file.parent.mkdir(parents=True, exist_ok=True)
    started.sources_file.write_text(sources_on(text, started.ports, started.instance), encoding="utf-8")
    for name, why in started.failed.items():
        print(
            f"guardline: the {name} simulator did not start ({why}); its runs will fail and be retried", file=sys.stderr
        )
    return started
