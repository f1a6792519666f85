"""A real delivery worker process (``guardline events deliver``) killed with SIGKILL in the
middle of its calls loses nothing: the next worker delivers every event, with the message
ids the dead one used (issue 20)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from tests.api.test_households import create
from tests.conftest import ROOT
from tests.events.test_delivery import subscribe
from tests.factories import person


def _env(settings, engine) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    env.update(
        {
            "GUARDLINE_ENV": "test",
            "GUARDLINE_DATA_DIR": str(settings.data_dir),
            "GUARDLINE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "GUARDLINE_EVENTS__LEASE_SECONDS": "2",
            "GUARDLINE_EVENTS__POLL_SECONDS": "0.05",
            "GUARDLINE_EVENTS__TIMEOUT_SECONDS": "60",
        }
    )
    return env


async def test_a_sigkilled_worker_process_loses_nothing(committing_client, auth, systems, receiver, engine, settings):
    state, url = receiver
    _, headers = await systems("dept.deliver-kill")
    sub = await subscribe(committing_client, headers, url, types=["household.created"])
    state.secrets = [sub["secret"]]
    made = [await create(committing_client, auth, members=[person("head")]) for _ in range(3)]
    state.sleep_seconds = 5  # every call hangs: the worker is in the middle of its calls when it dies
    env = _env(settings, engine)
    # Popen starts the worker and returns at once (hence the noqa).
    worker = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "services.cli", "events", "deliver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(state.attempts.values()) < 3:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker made no calls"
            await asyncio.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    state.sleep_seconds = 0
    await asyncio.sleep(2.1)  # the dead worker's leases run out
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "events", "deliver", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT message_id::text, status, attempts FROM deliveries WHERE subscription_id = :id"),
                {"id": sub["id"]},
            )
        ).all()
    assert len(rows) == 3 and {r.status for r in rows} == {"delivered"}
    assert all(r.attempts == 2 for r in rows)  # the dead worker's call, then the next worker's
    # Every message reached the subscriber under the id the dead worker had used: at least
    # once (a subscriber may see an id twice, and drops the second by it).
    ours = {f"household:{h['id']}" for h in made}
    accepted = [a for a in state.accepted if a["object"] in ours]
    assert {a["message_id"] for a in accepted} == {r.message_id for r in rows}
