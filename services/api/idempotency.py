"""Idempotency-Key for POST: the same key and body replay the first response; the same key
with another body is refused (422). Responses marked ``Cache-Control: no-store`` (secrets
shown once) are not kept.

The key is claimed with an INSERT in the request's own transaction and the response is
stored before that transaction commits, so the write and its stored response land
together or not at all. A concurrent retry with the same key waits on the key's unique
index until the first request finishes, then replays its response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.core.crypto import Keyring, keyring
from services.core.errors import Unprocessable
from services.core.idempotency import BODY_AAD, IdempotencyRecord
from services.core.settings import Settings

# For the descriptions of POST operations that honour the header.
IDEMPOTENCY_DOC = "Send an `Idempotency-Key` header so a retried request is not applied twice."

REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("content-type", "etag", "location", "content-language")


class Replay(Exception):
    """Raised from the session dependency to answer with the stored response."""

    def __init__(self, response: Response):
        self.response = response


@dataclass
class Claim:
    principal: str
    key: str
    keyring: Keyring

    async def remember(self, session: AsyncSession, response: Response) -> None:
        if "no-store" in response.headers.get("cache-control", ""):
            # A response shown once (a new secret) is never kept; a retry acts anew.
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key
                )
            )
            return
        headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        # One UPDATE of the row the claim inserted (no read first: it is ours, locked by the claim).
        stored = await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key)
            .values(
                status_code=response.status_code,
                headers=headers,
                # Responses carry personal data (health details): stored encrypted like the registry.
                body=self.keyring.encrypt(bytes(response.body), BODY_AAD),
            )
            .execution_options(synchronize_session=False)
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError("the idempotency key's claim is gone before its response was stored")


async def request_hash(request: Request) -> bytes:
    body = await _content(request)
    h = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


async def _content(request: Request) -> bytes:
    """The request's body, or — for a form the endpoint has already parsed (a multipart
    upload; its stream is read) — a digest of its fields and files in their order."""
    form = getattr(request, "_form", None)
    if form is None or hasattr(request, "_body"):
        return await request.body()
    h = hashlib.sha256()
    for name, value in form.multi_items():
        h.update(f"{len(name)}:{name}".encode())
        if isinstance(value, str):
            h.update(b"s" + len(value.encode()).to_bytes(8, "big") + value.encode())
            continue
        h.update(b"f" + f"{len(value.filename or '')}:{value.filename or ''}".encode())
        position = value.file.tell()
        value.file.seek(0)
        while chunk := value.file.read(1 << 20):
            h.update(chunk)
        value.file.seek(position)
    return h.digest()


def _valid_key(key: str, settings: Settings) -> bool:
    return 0 < len(key) <= settings.idempotency.max_key_length and all(33 <= ord(c) <= 126 for c in key)


async def claim(session: AsyncSession, request: Request, principal: str, key: str, settings: Settings) -> Claim:
    if not _valid_key(key, settings):
        raise Unprocessable("idempotency_key_invalid", field="Idempotency-Key", max=settings.idempotency.max_key_length)
    digest = await request_hash(request)
    expiry = datetime.now(UTC) - timedelta(hours=settings.idempotency.retention_hours)
    # The key is claimed in one statement: a new row, or an expired record of the same key
    # taken over as if new (it no longer binds the client); a live record is left alone and
    # returns nothing, so the request is a retry.
    fresh = {"request_hash": digest, "status_code": 0, "headers": {}, "body": b""}
    statement = insert(IdempotencyRecord).values(principal=principal, key=key, **fresh)
    inserted = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[IdempotencyRecord.principal, IdempotencyRecord.key],
            set_={**fresh, "created_at": func.now()},
            where=IdempotencyRecord.created_at < expiry,
        ).returning(IdempotencyRecord.key)
    )
    ring = keyring(settings)
    if inserted.first() is not None:
        return Claim(principal, key, ring)
    stored = (
        await session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
        )
    ).scalar_one()
    if stored.request_hash != digest:
        raise Unprocessable("idempotency_key_reused", field="Idempotency-Key")
    headers = dict(stored.headers)
    headers[REPLAYED_HEADER] = "true"
    body = ring.decrypt(stored.body, BODY_AAD) if stored.body else b""
    raise Replay(Response(content=body, status_code=stored.status_code, headers=headers))
