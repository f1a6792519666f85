"""Key rotation of the encrypted columns (``guardline keys status`` / ``keys rotate``).

Every encrypted column is listed in ``ENCRYPTED``. ``rotate`` re-encrypts each value that
is not under the active key, a batch at a time, each batch its own transaction with its
rows locked (a concurrent edit waits, or goes first and is then skipped as current).
Interrupted, it simply starts again: the rows already moved no longer match. Once
``status`` shows no rows under an old key, the key can be removed from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.accounts.sealing import TOTP_AAD
from services.core.crypto import Keyring
from services.core.households.sensitive import HEALTH_AAD, ID_NUMBER_AAD
from services.core.idempotency import BODY_AAD
from services.core.sync.sealing import QUARANTINE_AAD, RAW_AAD


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    aad: bytes
    key: tuple[tuple[str, str], ...]  # primary key: (column, SQL type) in order
    where: str = ""  # rows that hold no blob yet

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def holds_blob(self) -> str:
        extra = f" AND {self.where}" if self.where else ""
        return f"{self.column} IS NOT NULL AND length({self.column}) > 0{extra}"


ENCRYPTED = (
    EncryptedColumn("persons", "id_number_enc", ID_NUMBER_AAD, (("id", "bigint"),)),
    EncryptedColumn("persons", "health_enc", HEALTH_AAD, (("id", "bigint"),)),
    EncryptedColumn("users", "totp_secret", TOTP_AAD, (("id", "bigint"),)),
    # A key being answered has status 0 and an empty body until its request commits.
    EncryptedColumn(
        "idempotency_keys", "body", BODY_AAD, (("principal", "varchar"), ("key", "varchar")), where="status_code <> 0"
    ),
    EncryptedColumn("dept_records", "raw_enc", RAW_AAD, (("id", "bigint"),)),
    EncryptedColumn("sync_quarantine", "raw_enc", QUARANTINE_AAD, (("id", "bigint"),)),
)

# The key id inside a blob (see services.core.crypto): byte 1 is its length.
_KEY_ID_SQL = "convert_from(substring({c} from 3 for get_byte({c}, 1)), 'UTF8')"


async def key_counts(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    """Rows per key id, per encrypted column (``table.column``)."""
    out: dict[str, dict[str, int]] = {}
    async with engine.connect() as conn:
        for col in ENCRYPTED:
            rows = await conn.execute(
                text(
                    f"SELECT {_KEY_ID_SQL.format(c=col.column)} AS key_id, count(*) FROM {col.table} "
                    f"WHERE {col.holds_blob()} GROUP BY 1 ORDER BY 1"
                )
            )
            out[col.name] = dict(rows.all())
    return out


async def rotate(
    engine: AsyncEngine, keyring: Keyring, *, batch: int = 5000, progress: Callable[[str], object] | None = None
) -> dict[str, int]:
    """Re-encrypt every value not under the active key; returns the rows moved per column.

    Raises ``crypto.UnknownKey`` when a value's key is no longer in the settings (put the
    key back, rotate, then remove it)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    say = progress or (lambda _msg: None)
    moved: dict[str, int] = {}
    for col in ENCRYPTED:
        keys = ", ".join(name for name, _ in col.key)
        select_sql = (
            f"SELECT {keys}, {col.column} FROM {col.table} WHERE {col.holds_blob()} "
            f"AND substring({col.column} from 1 for :head_len) <> :head {{after}}"
            f"ORDER BY {keys} LIMIT :n FOR UPDATE"
        )
        after_sql = f"AND ({keys}) > ({', '.join(f':k{i}' for i in range(len(col.key)))}) "
        unnest = ", ".join(f"CAST(:k{i} AS {sql_type}[])" for i, (_, sql_type) in enumerate(col.key))
        names = ", ".join(f"k{i}" for i in range(len(col.key)))
        match = " AND ".join(f"t.{name} = v.k{i}" for i, (name, _) in enumerate(col.key))
        update_sql = (
            f"UPDATE {col.table} AS t SET {col.column} = v.blob "
            f"FROM unnest({unnest}, CAST(:blobs AS bytea[])) AS v({names}, blob) WHERE {match}"
        )
        head = keyring.active_header
        last: tuple | None = None
        done = 0
        while True:
            async with engine.begin() as conn:
                params = {"head": head, "head_len": len(head), "n": batch}
                if last is not None:
                    params.update({f"k{i}": value for i, value in enumerate(last)})
                rows = (
                    await conn.execute(text(select_sql.format(after=after_sql if last is not None else "")), params)
                ).all()
                if not rows:
                    break
                blobs = [keyring.encrypt(keyring.decrypt(row[-1], col.aad), col.aad) for row in rows]
                values = {f"k{i}": [row[i] for row in rows] for i in range(len(col.key))}
                await conn.execute(text(update_sql), {**values, "blobs": blobs})
            done += len(rows)
            last = tuple(rows[-1][:-1])
            say(f"{col.name}: {done} re-encrypted under key {keyring.active!r}")
        moved[col.name] = done
    return moved
