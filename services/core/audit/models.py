"""The audit trail table. Append-only and hash-chained by the database itself (see the
migration ``audit_log``); nothing here may update or delete a row.

Not a ``RegionScoped`` model on purpose: the registry's scope filter would hide rows from
the chain check and the purge. The auditors' API applies its own region filter
(``services.core.audit.service.list_events``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, FetchedValue, Index, LargeBinary, SmallInteger, String, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base, RegionCode, str_enum
from services.core.labels import LabelledEnum

# Key of the transaction-level advisory lock that serialises chained inserts (the ASCII
# bytes of "gl-audit"). The trigger in the migration uses the same number.
CHAIN_LOCK_KEY = 0x676C2D6175646974
# prev_hash of the very first row.
GENESIS_HASH = bytes(32)
# Version tag at the start of ``audit_canonical()``'s text; a new column needs a new tag.
CANONICAL_VERSION = "guardline-audit-v1"


class AuditResult(LabelledEnum):
    """How an audited action ended 审计结果."""

    success = "success", "成功"
    failure = "failure", "失败"  # e.g. wrong password, a write refused by validation
    denied = "denied", "拒绝（无权限）"  # the caller's role or scope does not allow it


class AuditEvent(Base):
    """One audited action: who (actor, client, role), what (action, object), where (region),
    how it ended (result, HTTP status), from where (request id, IP) and, for writes, the
    object before and after.

    ``id`` is assigned by the chain trigger, not by a sequence: under the chain lock, so
    that id order is chain order, and without gaps, so that a removed row shows as a
    missing id as well as a broken link. ``prev_hash`` and ``hash`` are set by the trigger
    too; whatever a client sends for these three is overwritten."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, server_default=FetchedValue())
    at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(64))  # "user:12", "client:3"; null if unknown
    actor_name: Mapped[str | None] = mapped_column(String(100))
    client: Mapped[str | None] = mapped_column(String(100))  # name of a system client
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), nullable=False)  # "household.update"
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(100))
    # The object's region, or the actor's prefix; auditors see the rows under their prefix.
    region_code: Mapped[str | None] = mapped_column(RegionCode)
    result: Mapped[AuditResult] = mapped_column(str_enum(AuditResult, "audit_result"), nullable=False)
    status: Mapped[int | None] = mapped_column(SmallInteger)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(INET)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_object_type_object_id_id", "object_type", "object_id", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
        Index("ix_audit_log_at_id", "at", "id"),
        Index("ix_audit_log_region_code_id", "region_code", "id"),
        # The failures and denials an auditor looks for are a sliver of the trail: found
        # through this index rather than by reading every row back from the newest. A
        # success, nearly every row, is not entered in it (nothing to write on insert).
        Index("ix_audit_log_unsuccessful_id", "result", "id", postgresql_where=text("result <> 'success'")),
    )


class AuditBatch(Base):
    """A batch of sensitive-read events that reached ``audit_log``, by the token the API's
    read buffer gave it. Written in the batch's own statement, so that a batch sent again
    after its answer was lost (the connection cut during the commit) is recognised and not
    written twice. Tokens only matter while a batch may be retried: the buffer purges those
    older than a day."""

    __tablename__ = "audit_batches"

    token: Mapped[UUID] = mapped_column(primary_key=True)
    written_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False, index=True)
