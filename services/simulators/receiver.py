"""A subscriber's receiving endpoint, for the delivery tests and the benchmark (Starlette).

``POST /hook`` takes a delivery: it checks the Standard Webhooks signature with the secret
it was given (401 when it does not verify or the timestamp is more than five minutes off),
then meets the faults it is set to — the first N attempts of every message fail, a share of
attempts fail at random, every answer waits a while (slow, or longer than the sender's time
limit) — and records the delivery it accepted. ``GET /deliveries`` lists what it accepted
and how many attempts each message took; ``POST /config`` sets the secret and the faults;
``POST /reset`` forgets everything; ``GET /healthz`` answers 200. State is in memory: one receiver per test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOLERANCE_SECONDS = 300


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)  # any of them verifies (a rotation)
    fail_first: int = 0  # the first N attempts of each message answer ``fail_status``
    fail_rate: float = 0.0  # a share of the other attempts fail too
    fail_status: int = 500
    sleep_seconds: float = 0.0  # before answering (slow; above the sender's limit: a time-out)
    seed: int = 0
    accepted: list[dict] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    rejected: int = 0
    # Every verified attempt in the order it came: (object, event number, accepted).
    log: list[tuple[str, int, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def verifies(self, message_id: str, timestamp: str, body: bytes, signature: str) -> bool:
        try:
            if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
                return False
        except ValueError:
            return False
        signed = f"{message_id}.{timestamp}.".encode() + body
        given = {s.partition(",")[2] for s in signature.split() if s.startswith("v1,")}
        for secret in self.secrets:
            key = base64.b64decode(secret.removeprefix("whsec_"))
            expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            if any(hmac.compare_digest(expected, g) for g in given):
                return True
        return False


def create_receiver(receiver: Receiver | None = None) -> Starlette:
    state = receiver or Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        message_id = request.headers.get("webhook-id", "")
        if not state.verifies(
            message_id,
            request.headers.get("webhook-timestamp", ""),
            body,
            request.headers.get("webhook-signature", ""),
        ):
            state.rejected += 1
            return Response(status_code=401)
        state.attempts[message_id] += 1
        if state.sleep_seconds:
            await asyncio.sleep(state.sleep_seconds)
        event = orjson.loads(body)
        key = f"{event['object']['type']}:{event['object']['id']}"
        if state.attempts[message_id] <= state.fail_first or state.random.random() < state.fail_rate:
            state.log.append((key, event["id"], False))
            return Response(status_code=state.fail_status)
        state.log.append((key, event["id"], True))
        state.accepted.append(
            {
                "message_id": message_id,
                "event_id": event["id"],
                "type": event["type"],
                "object": key,
                "region_code": event["region_code"],
                "subscription_id": event["subscription_id"],
                "attempt": state.attempts[message_id],
            }
        )
        return Response(status_code=204)

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"accepted": state.accepted, "attempts": dict(state.attempts), "rejected": state.rejected})

    async def config(request: Request) -> Response:
        changes = orjson.loads(await request.body())
        for name in ("secrets", "fail_first", "fail_rate", "fail_status", "sleep_seconds"):
            if name in changes:
                setattr(state, name, changes[name])
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        state.accepted.clear()
        state.attempts.clear()
        state.rejected = 0
        state.log.clear()
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/deliveries", deliveries, methods=["GET"]),
            Route("/config", config, methods=["POST"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/healthz", lambda request: Response(status_code=200), methods=["GET"]),
        ]
    )
    app.state.receiver = state
    return app
