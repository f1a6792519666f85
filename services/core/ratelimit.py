"""Rate-limit counts shared by every API process: one row per key and fixed window, counted
up in PostgreSQL (``INSERT … ON CONFLICT … RETURNING``), so that the limit holds however
many processes serve the API. The table is UNLOGGED (no WAL: cheap to write, emptied
after a crash of the database, which only forgets some counts) and old windows are
pruned as processes move on to new ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.base import Base


class RateLimitCount(Base):
    __tablename__ = "rate_limit_counts"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012 (SQLAlchemy's declarative configuration)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, nullable=False)


COUNT_HITS = (
    "INSERT INTO rate_limit_counts (key, window_start, count) VALUES ($1, $2, $3) "
    "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counts.count + EXCLUDED.count "
    "RETURNING count"
)
PRUNE = "DELETE FROM rate_limit_counts WHERE window_start < $1"


async def count_hits(db: Any, key: str, window_start: int, hits: int = 1) -> int:
    """``hits`` more requests of ``key`` in the window starting at ``window_start``: the
    count so far, these included (``db``: a ``services.core.db.Database``)."""
    row = await db.fetch_row(COUNT_HITS, [storable(key), window_start, hits])
    return row[0]


def storable(key: str) -> str:
    """``key`` as text PostgreSQL stores: a key holds what a client sent (a user name), which
    may hold a NUL character or a lone surrogate; those are written as escapes."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


async def prune(db: Any, before: int) -> None:
    """Forget the windows that started before ``before``."""
    await db.fetch_rows(PRUNE, [before], wait_for_disk=False)
