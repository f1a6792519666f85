"""The README's first command, end to end: ``guardline serve --demo`` on a machine with
nothing set up (a fresh data folder, no database URL) starts its own PostgreSQL, loads
the demo county, serves the API and the offline docs, and lets a demo user log in."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.core.settings import DEMO_PASSWORD
from services.simulators import demo
from tests.impostor import impostor
from tests.serving import clean_env, free_port, serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path):
    # The demo's department simulators listen on --port + 101..103; another demo's simulator
    # (a stranger showing another token) already holds the first of them.
    port = free_port()
    while not all(demo.port_free(demo.derived_port(port, kind)) for kind in demo.KINDS):
        port = free_port()
    env = clean_env(tmp_path / "data")
    with (
        impostor(port + 101, instance="another-demo") as other_demo,
        serving(tmp_path, env, port, "--demo", "--persons", "2000") as (base, proc, log),
    ):
        yield base, proc, log, other_demo


def test_serve_demo_on_a_fresh_machine(served, tmp_path):
    base, proc, log, other_demo = served
    log.seek(0)
    printed = log.read().decode(errors="replace")
    assert f"{base}/docs" in printed and DEMO_PASSWORD in printed  # says where the docs are, how to log in
    # The simulators follow --port, and the one whose port another demo holds moved elsewhere.
    port = int(base.rsplit(":", 1)[1])
    shown = dict(re.findall(r"(civil-affairs|medical-insurance|education|housing) :(\d+)", printed))
    assert shown["medical-insurance"] == str(port + 102) and shown["education"] == str(port + 103), printed
    assert shown["housing"] == str(port + 104), printed
    assert shown["civil-affairs"] != str(port + 101), printed

    with httpx.Client(base_url=base, timeout=10) as http:
        # The docs work on a closed network: every script and style comes from the service.
        page = http.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert http.get(asset).status_code == 200, asset
        assert http.get("/openapi.json").json()["info"]["title"] == "Guardline API"

        token = http.post("/api/v1/auth/token", data={"username": "county_staff.county", "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        page = http.get("/api/v1/households", params={"limit": 5}, headers=headers).json()
        assert len(page["items"]) == 5
        household = http.get(f"/api/v1/households/{page['items'][0]['id']}", headers=headers)
        assert household.status_code == 200 and household.json()["members"]

        wrong = http.post("/api/v1/auth/token", data={"username": "county_staff.county", "password": "wrong"})
        assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"

        # The running server writes health-detail reads in batches: the auditor finds them.
        auditor = http.post("/api/v1/auth/token", data={"username": "auditor.county", "password": DEMO_PASSWORD})
        audit_headers = {"Authorization": f"Bearer {auditor.json()['access_token']}"}
        wanted = {
            "action": "household.read_health",
            "object_id": str(page["items"][0]["id"]),
            "object_type": "household",
        }
        found = []
        deadline = time.monotonic() + 60  # the writer's next batch: later on a loaded machine
        while not found and time.monotonic() < deadline:
            found = http.get("/api/v1/audit/events", params=wanted, headers=audit_headers).json()["items"]
            if not found:
                time.sleep(0.1)
        assert found and found[0]["actor_name"] == "county_staff.county"
        logins = http.get(
            "/api/v1/audit/events", params={"action": "auth.login", "result": "failure"}, headers=audit_headers
        ).json()["items"]
        assert logins and logins[0]["detail"]["reason"] == "bad_password"

        # The demo's department simulators and sync worker run: findings from every source.
        demo_sources = {"civil-affairs", "medical-insurance", "education", "housing"}
        by_source: dict = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = http.get("/api/v1/sync/runs", headers=headers).json()["items"]
            done = {r["source"] for r in runs if r["status"] == "succeeded"} - {
                "registry"
            }  # the daily registry check is a run too
            if done == demo_sources:
                break
            time.sleep(1)
        assert done == demo_sources, runs
        for source in sorted(done):
            items = http.get("/api/v1/findings", params={"source": source}, headers=headers).json()["items"]
            by_source[source] = len(items)
        assert all(by_source.values()), by_source
        assert other_demo.requests == []  # the other demo's simulator was never read (nor asked)

        # Logging out ends the token at once.
        assert http.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert http.get("/api/v1/auth/me", headers=headers).status_code == 401

    # Stopping the service stops the embedded PostgreSQL it started.
    os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=120)
    log.seek(0)
    assert code == 0, log.read().decode(errors="replace")[-4000:]
    assert _stops(tmp_path / "data" / "pgdata")


def _stops(pgdata: Path, seconds: float = 60) -> bool:
    """Whether the server of ``pgdata`` has stopped (its postmaster.pid gone) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not (pgdata / "postmaster.pid").exists()


def test_departed_users_of_the_embedded_server_are_forgotten(settings):
    """A process that died without its exit handlers stays on the embedded server's list of
    users; ``serve`` forgets such processes after stopping its children, so its own exit
    stops the server."""
    from pathlib import Path

    from pgserver.postgres_server import PostgresServer

    from services.core.db import _embedded_server, forget_departed_users

    if settings.database_url:
        pytest.skip("an external database: no embedded server")
    departed = subprocess.Popen([sys.executable, "-c", "pass"])
    departed.wait()
    server = _embedded_server(Path(settings.data_dir))
    with PostgresServer._lock:
        server.global_process_id_list.get_and_add(departed.pid)
    assert departed.pid in forget_departed_users(Path(settings.data_dir))  # with any other departed one
    users = server.global_process_id_list.get()
    assert departed.pid not in users and os.getpid() in users


def test_a_process_releases_the_embedded_server_before_its_exit(tmp_path):
    """``release_embedded_server`` (the test session's end) does what pgserver's exit
    handler would: this process leaves the list of users, and the server stops when it was
    the last of them, not while another process still uses it."""
    from pgserver.postgres_server import PostgresServer

    from services.core.db import _embedded_server, forget_departed_users, release_embedded_server

    data = tmp_path / "data"
    pgdata = data / "pgdata"
    assert not release_embedded_server(data)  # not used by this process
    server = _embedded_server(data)
    assert (pgdata / "postmaster.pid").exists() and os.getpid() in server.global_process_id_list.get()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with PostgresServer._lock:
            server.global_process_id_list.get_and_add(other.pid)
        assert release_embedded_server(data)
        users = server.global_process_id_list.get()
        assert os.getpid() not in users and other.pid in users
        assert (pgdata / "postmaster.pid").exists()  # the other user still has it
        assert not release_embedded_server(data)  # released once

        server = _embedded_server(data)  # joined again: listed again
        assert os.getpid() in server.global_process_id_list.get()
    finally:
        other.kill()
        other.wait()
    assert forget_departed_users(data) == [other.pid]
    assert release_embedded_server(data)  # the last user: the server stops
    assert _stops(pgdata)
    assert server.global_process_id_list.get() == []


def test_an_interrupted_rewrite_leaves_the_list_of_users_whole(tmp_path, monkeypatch, caplog):
    """pgserver rewrote its list of users in place: a KeyboardInterrupt between truncating the
    file and writing it left an empty list, and every later start failed on it."""
    import json

    from pgserver.utils import DiskList

    from services.core.db import _keep_user_list_whole

    _keep_user_list_whole()
    path = tmp_path / ".handle_pids.json"
    users = DiskList(path)
    users.put([11, 12])

    def interrupted(self, data, *args, **kwargs):
        self.open("w").close()  # truncated: where the interrupt found it
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        users.get_and_remove(12)
    monkeypatch.undo()
    assert json.loads(path.read_text()) == [11, 12] and users.get() == [11, 12]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left behind
    users.get_and_remove(12)
    assert users.get() == [11]

    path.write_text("")  # as an older version could leave it
    assert users.get() == [] and "unreadable" in caplog.text
    assert users.get_and_add(13) == [] and users.get() == [13]


def test_a_second_ctrl_c_does_not_break_the_list_of_users(settings):
    """Ctrl-C reaches ``serve`` and its children at once, and ``serve`` then stops each child
    with a second SIGINT, which used to find a child rewriting the list as it left. The
    children leave the list, and the list stays readable."""
    import json

    from services.core.db import _embedded_server

    if settings.database_url:
        pytest.skip("an external database: no embedded server")
    data_dir = Path(settings.data_dir)
    _embedded_server(data_dir)
    listed = data_dir.resolve() / "pgdata" / ".handle_pids.json"
    child = (
        "import sys, time; from pathlib import Path; from services.core.db import _embedded_server; "
        "_embedded_server(Path(sys.argv[1])); print('joined', flush=True); time.sleep(300)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_ in range(4):
        users = [
            subprocess.Popen(
                [sys.executable, "-c", child, str(data_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
                env=env,
            )
            for _ in range(3)
        ]
        for proc in users:
            assert proc.stdout.readline() == b"joined\n"
        for proc in users:
            proc.send_signal(signal.SIGINT)
        if round_:  # the second signal at once, then later and later into the exits
            time.sleep(0.01 * round_)
        for proc in users:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in users:
            proc.wait(timeout=60)
            proc.stdout.close()
        left = json.loads(listed.read_text())
        assert os.getpid() in left and not {proc.pid for proc in users} & set(left), left
