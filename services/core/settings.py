"""One settings class for API, worker and CLI (environment prefix ``GUARDLINE_``).

Policy figures (income lines, deadlines, ratios) are *not* here: they vary by year and
region and live in database tables that administrators edit. What is here is how the
service runs.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.core.keyformat import decode_key

# Published in the README so that a demo can be tried; refused outside demo/dev/test.
DEMO_SECRET_KEY = "guardline-demo-secret-do-not-use-in-production-0000"
DEMO_ID_HASH_KEY = "guardline-demo-id-hash-key-do-not-use-in-production"
DEMO_PASSWORD = "Demo-2026!"
# base64 of the 32 bytes b"guardline-demo-encryption-key-00": AES-256-GCM key of the demo data.
DEMO_ENCRYPTION_KEY_ID = "demo-1"
DEMO_ENCRYPTION_KEY = "Z3VhcmRsaW5lLWRlbW8tZW5jcnlwdGlvbi1rZXktMDA="


class Environment(StrEnum):
    production = "production"
    demo = "demo"
    development = "development"
    test = "test"


class AuthSettings(BaseModel):
    secret_key: SecretStr = SecretStr(DEMO_SECRET_KEY)
    algorithm: str = "HS256"
    issuer: str = "guardline"
    # Access tokens are short-lived; a client keeps working with the refresh token.
    access_token_minutes: int = Field(15, ge=1, le=60)
    client_token_minutes: int = Field(15, ge=1, le=60)
    # A login session ends when its refresh token is not used for this long (idle expiry) …
    idle_minutes: int = Field(30, ge=5, le=24 * 60)
    # … and in any case this long after the password was entered.
    session_max_hours: int = Field(12, ge=1, le=7 * 24)
    # Lockout (等保 2.0 login-failure handling): this many failures in a row lock the account.
    max_failed_logins: int = Field(5, ge=3, le=20)
    lockout_minutes: int = Field(15, ge=1)
    # How often a process learns of revocations made by other processes.
    revocation_poll_seconds: float = Field(5.0, gt=0, le=60)
    totp_issuer: str = "Guardline"


class PasswordSettings(BaseModel):
    min_length: int = Field(10, ge=8, le=128)
    # Of four classes: lower case, upper case, digits, other characters.
    min_classes: int = Field(3, ge=1, le=4)


class RateLimitSettings(BaseModel):
    # Login attempts per minute, counted per client address and per username.
    login_per_minute: int = Field(10, ge=1)
    # List and search requests per minute per caller (user or system client).
    bulk_reads_per_minute: int = Field(120, ge=1)
    # Public disclosure reads (no login: notice boards, the county website) per minute per
    # client address.
    public_reads_per_minute: int = Field(120, ge=1)
    # Complete ID numbers revealed (unmaskIdNumber) per user, in the last hour and the last
    # 24 hours. Counted from the audit trail (shared by every API process); a refused
    # reveal is itself in the trail, and GET /api/v1/audit/reveals shows who revealed how many.
    reveals_per_hour: int = Field(30, ge=1)
    reveals_per_day: int = Field(100, ge=1)


class DataProtectionSettings(BaseModel):
    # A refused setting must not print the keys it was given.
    model_config = ConfigDict(hide_input_in_errors=True)

    # Key of the HMAC that indexes ID numbers for lookup. Changing it needs a re-index.
    id_hash_key: SecretStr = SecretStr(DEMO_ID_HASH_KEY)
    # AES-256-GCM keys of the encrypted columns (ID numbers, health details): key id ->
    # base64 of 32 random bytes (`guardline keys new`). New values use ``active_key``;
    # older keys stay listed until `guardline keys rotate` has moved their rows.
    encryption_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {DEMO_ENCRYPTION_KEY_ID: SecretStr(DEMO_ENCRYPTION_KEY)}
    )
    active_key: str = DEMO_ENCRYPTION_KEY_ID

    @model_validator(mode="after")
    def _keys_usable(self) -> DataProtectionSettings:
        for key_id, secret in self.encryption_keys.items():
            decode_key(key_id, secret.get_secret_value())  # ValueError names the key id only
        if self.active_key not in self.encryption_keys:
            raise ValueError(f"active_key {self.active_key!r} is not one of encryption_keys")
        return self


class PagingSettings(BaseModel):
    default_limit: int = Field(50, ge=1)
    # The contract states 200 as the maximum of ``limit`` (services.api.params.Limit): lower only.
    max_limit: int = Field(200, ge=1, le=200)


class IdempotencySettings(BaseModel):
    # How long a stored response is replayed for the same Idempotency-Key.
    retention_hours: int = Field(24, ge=1)
    max_key_length: int = 200


class IncomeSettings(BaseModel):
    # docs/domain.md "Income": net income = the four parts less production costs. Whether eligible
    # out-of-pocket spending (合规自付支出) is also deducted differs between provinces.
    deduct_eligible_spending: bool = False


# 等保 2.0 level 3: audit records are kept at least six months. The database enforces the
# same floor in the audit table's delete trigger (migration ``audit_log``), so lowering this
# constant alone lets nothing be deleted earlier.
AUDIT_RETENTION_FLOOR_DAYS = 183


class AuditSettings(BaseModel):
    # Rows older than this are removed by ``guardline audit purge``.
    retention_days: int = 365
    # Sensitive reads (health details seen) are written in batches at most this often, so
    # that busy reads do not queue on the audit chain one by one; a crash of the process can
    # lose at most this window of read events. 0 writes each read event before answering.
    read_flush_ms: int = Field(200, ge=0, le=5000)

    @field_validator("retention_days")
    @classmethod
    def _at_least_six_months(cls, days: int) -> int:
        if days < AUDIT_RETENTION_FLOOR_DAYS:
            raise ValueError(
                f"GUARDLINE_AUDIT__RETENTION_DAYS must be at least {AUDIT_RETENTION_FLOOR_DAYS} "
                "(audit records are kept for six months or more)"
            )
        return days


class SyncSettings(BaseModel):
    # The department sources (TOML). None: the built-in file, which points at the demo
    # simulators on this machine.
    sources_file: Path | None = None
    page_size: int = Field(1000, ge=1, le=5000)
    # Processes that normalise, hash and encrypt pages beside the one that fetches and
    # writes them (0: all in one process, as tests and small imports may prefer). None: as
    # many as the machine has idle cores when a run starts (``staging.idle_cores``: both of
    # two on an otherwise idle machine), 1 to 4.
    prepare_processes: int | None = Field(None, ge=0, le=8)
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(30.0, gt=0)
    # Attempts of one page (5xx, 429, time-outs, truncated or malformed pages) before the
    # run fails; waits grow exponentially with full jitter, or follow Retry-After.
    page_attempts: int = Field(6, ge=1, le=20)
    backoff_base_seconds: float = Field(0.5, gt=0)
    backoff_max_seconds: float = Field(30.0, gt=0)
    retry_after_max_seconds: float = Field(300.0, gt=0)
    # Circuit breaker per source: after this many failed runs in a row, no run of the
    # source starts until the cool-down has passed.
    breaker_threshold: int = Field(3, ge=1)
    breaker_cooldown_seconds: float = Field(300.0, ge=0)
    # A failed run is queued again this much later, up to ``run_attempts`` times.
    run_retry_seconds: float = Field(600.0, ge=0)
    run_attempts: int = Field(5, ge=1)
    # How often an idle worker looks for runs and schedules.
    poll_seconds: float = Field(2.0, gt=0)
    # Risk findings also become risk clues (channel: department screening).
    raise_clues: bool = True
    # Once a day a worker checks the project assets of every region (idle operating assets,
    # public-welfare assets without a custodian, household assets of households gone).
    asset_checks: bool = True
    # Once a day a worker records the months of assistance that ended without their visits
    # (once per case and month: ``monitoring.cases.record_missed_visits_under``).
    visit_breaches: bool = True
    # Once a day a worker runs the registry checks of every county with households (rules on
    # the registry alone: services.core.sync.registry_check).
    registry_checks: bool = True
    # Once a day a worker stores each township's monthly and quarterly report that fell due
    # (services.core.reports.service.generate_due; once per township and period).
    reports: bool = True
    # PostgreSQL's work_mem during a reconciliation (its joins and aggregates of a million
    # records stay in memory instead of spilling to disk in batches).
    reconcile_work_mem: str = Field("256MB", pattern=r"^[0-9]+(kB|MB|GB)$")
    # Spreadsheet imports (docs/sync-input-limits.md). An XLSX file is a zip: before it is
    # opened, its entries' declared sizes are added up (zipfile never reads an entry past
    # its declared size), so a zip bomb is refused (``too_large``) instead of filling memory;
    # the shared strings are held in memory whole while the sheet is read, hence their own
    # bound. A CSV line longer than ``max_csv_line_chars`` is quarantined, not read.
    max_xlsx_uncompressed_bytes: int = Field(200_000_000, ge=1_000_000)
    max_xlsx_shared_strings_bytes: int = Field(64_000_000, ge=100_000)
    max_xlsx_entries: int = Field(1000, ge=10)
    max_csv_line_chars: int = Field(1_000_000, ge=10_000)
    # A spreadsheet uploaded over the API (``POST /api/v1/sync/sources/{name}/imports``): the
    # whole request body, refused with 413 beyond it (other requests keep ``max_body_bytes``).
    max_upload_bytes: int = Field(20_000_000, ge=100_000)


class CompressionSettings(BaseModel):
    # Responses of at least this many bytes are sent gzipped to clients that accept it
    # (services/api/compression.py); smaller ones as they are.
    min_bytes: int = Field(1024, ge=0)
    # zlib level: 1 is fastest; 6 compresses a page of households to about the same size at
    # a fraction of 9's time (docs/http.md has the figures).
    level: int = Field(6, ge=1, le=9)


class EventsSettings(BaseModel):
    """Subscriptions and the delivery worker (docs/events.md)."""

    # A subscription lasts this long unless it asks for less (DCI-style expiry); at most
    # ``subscription_max_days``. The client renews by PATCHing ``expires_at``.
    subscription_days: int = Field(365, ge=1)
    subscription_max_days: int = Field(730, ge=1)
    # http callbacks and callbacks to loopback or private addresses. Unset: allowed outside
    # production only (development, demo and tests run their receivers on this machine).
    allow_insecure_callbacks: bool | None = None
    # Seconds to wait after each failed attempt; after the last the delivery is ``dead``.
    # The default adds up to about 28.7 hours (the issue asks for at least 24).
    retry_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0, 21600.0, 21600.0, 21600.0],
        min_length=1,
    )
    # Each wait is stretched by a random share up to this (subscribers that failed together
    # do not all come back at the same moment).
    retry_jitter: float = Field(0.2, ge=0, le=1)
    # One attempt's time limit (connect, send, answer).
    timeout_seconds: float = Field(10.0, gt=0)
    # A claimed delivery is due again after this long if its worker never reports back (it
    # was killed): longer than an attempt may take.
    lease_seconds: float = Field(60.0, gt=0)
    # Attempts in flight at once: per subscription (a slow subscriber holds only its own)
    # and per worker.
    per_subscription: int = Field(4, ge=1)
    concurrency: int = Field(64, ge=1)
    # Events fanned out per subscription and step; how often an idle worker looks again.
    # After a call ends, the worker waits this long for others to end too before it records
    # the outcomes and claims more (fewer, larger transactions).
    batch_seconds: float = Field(0.005, ge=0)
    fan_out_batch: int = Field(1000, ge=1)
    poll_seconds: float = Field(1.0, gt=0)
    # ``guardline sync worker`` delivers events beside its runs; off when separate
    # ``guardline events deliver`` processes do it.
    deliver_in_sync_worker: bool = True


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class ObservabilitySettings(BaseModel):
    """Logs and metrics (docs/observability.md)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    # One JSON object per line (for a log collector), or lines for a person to read. Unset:
    # JSON in production, text elsewhere (demo, development, tests: read on a terminal).
    log_format: LogFormat | None = None
    # GET /metrics (Prometheus text format). Off: the path answers 404.
    metrics: bool = True
    # When set, /metrics answers only ``Authorization: Bearer <token>`` (401 otherwise).
    # Recommended in production, together with not forwarding /metrics at the public proxy.
    metrics_token: SecretStr | None = None
    # The sync figures of /metrics are counted in the database (the workers are other
    # processes); a scrape within this many seconds of the last count reuses it.
    metrics_db_cache_seconds: float = Field(15.0, ge=0, le=600)

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, token: object) -> object:
        return None if token == "" else token

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("GUARDLINE_OBSERVABILITY__METRICS_TOKEN must have at least 16 characters")
        return token

    def format_for(self, env: Environment) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.json if env == Environment.production else LogFormat.text


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GUARDLINE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,
    )

    env: Environment = Environment.development
    # Empty: start (or join) an embedded PostgreSQL in ``data_dir``.
    database_url: str | None = None
    data_dir: Path = Path(".guardline")
    # Database on the embedded server (ignored when database_url is set).
    database_name: str = Field("guardline", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Folder of the pg_dump and pg_restore that `guardline backup` / `restore` run. Empty: the
    # embedded server's own, then PATH, then /usr/lib/postgresql/*/bin (docs/backup.md).
    pg_bin_dir: Path | None = None
    # Connections per process. Requests beyond the pool wait for a free connection; extra
    # "overflow" connections would be opened and closed under load, and a new connection
    # costs the server more than many queries.
    db_pool_size: int = Field(20, ge=1)
    db_max_overflow: int = Field(0, ge=0)
    # Plain driver connections for the hottest reads (one household, a person by ID number).
    db_read_pool_size: int = Field(10, ge=1)
    # How long a request waits for a free connection before it is answered 503 (Retry-After):
    # requests never pile up without bound behind an exhausted pool.
    db_pool_timeout_seconds: float = Field(5.0, gt=0, le=300)
    # Longest statement the API lets run, waits for locks included (503 when it is passed);
    # the sync worker and the command line have none. 0: no limit.
    api_statement_timeout_seconds: float = Field(30.0, ge=0, le=3600)
    # FastAPI's native OpenTelemetry (traces, metrics, logs to the process's global
    # providers). Off by default: a closed network usually has no collector, and the
    # checks cost time on every request.
    telemetry: bool = False
    # Upper bound on a request body (bytes); larger bodies get 413.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # Addresses or networks (CIDR) of the reverse proxies in front of the API. Only a peer
    # among them may name the client in X-Forwarded-For (the right-most address there that
    # is not a trusted proxy); from any other peer the header is ignored. Empty: nobody.
    trusted_proxies: list[str] = Field(default_factory=list)
    auth: AuthSettings = AuthSettings()
    passwords: PasswordSettings = PasswordSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    data_protection: DataProtectionSettings = DataProtectionSettings()
    paging: PagingSettings = PagingSettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    income: IncomeSettings = IncomeSettings()
    audit: AuditSettings = AuditSettings()
    sync: SyncSettings = SyncSettings()
    compression: CompressionSettings = CompressionSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    events: EventsSettings = EventsSettings()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        import ipaddress

        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"GUARDLINE_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
        return entries

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.env == Environment.production:
            key = self.auth.secret_key.get_secret_value()
            if key == DEMO_SECRET_KEY or len(key) < 32:
                raise ValueError(
                    "GUARDLINE_AUTH__SECRET_KEY must be set to a private value of at least "
                    "32 characters in production (the demo key is refused)"
                )
            hash_key = self.data_protection.id_hash_key.get_secret_value()
            if hash_key == DEMO_ID_HASH_KEY or len(hash_key) < 32:
                raise ValueError(
                    "GUARDLINE_DATA_PROTECTION__ID_HASH_KEY must be set to a private value of at "
                    "least 32 characters in production (the demo key is refused)"
                )
            if any(
                secret.get_secret_value() == DEMO_ENCRYPTION_KEY
                for secret in self.data_protection.encryption_keys.values()
            ):
                raise ValueError(
                    "GUARDLINE_DATA_PROTECTION__ENCRYPTION_KEYS must hold private keys in production "
                    "(the demo encryption key is refused); create one with `guardline keys new`"
                )
        return self

    @property
    def id_hash_key(self) -> bytes:
        return self.data_protection.id_hash_key.get_secret_value().encode()

    @property
    def insecure_callbacks(self) -> bool:
        """Whether subscriptions may call back over http or to this machine's networks."""
        allowed = self.events.allow_insecure_callbacks
        return self.env != Environment.production if allowed is None else allowed

    @property
    def demo_allowed(self) -> bool:
        return self.env != Environment.production


@lru_cache
def get_settings() -> Settings:
    return Settings()
