"""Typed settings from LEDGER_* environment variables, built once at the edge and passed down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict
from pydantic import AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

POSTGRES_RECORDER_TOPIC = "ledger.eventstore.postgres_recorder:FastPostgresApplicationRecorder"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    # memory: the eventsourcing library's in-process (POPO) recorders, for tests and trying things; nothing persists
    store: Literal["sqlite", "postgres", "memory"] = "sqlite"
    sqlite_path: Path = Path(".ledger/ledger.sqlite")
    postgres_url: str | None = None
    postgres_schema: str | None = None
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_lock_timeout_seconds: int = Field(default=5, ge=1)
    snapshot_interval: int = Field(default=200, ge=0, description="snapshot an account every N events (0: never)")
    cache_size: int = Field(default=20_000, ge=0, description="accounts kept in memory between commands (0: none)")
    batch_size: int = Field(default=500, ge=1, description="accounts per transaction in a billing cycle run")
    cycle_workers: int = Field(default=1, ge=1, le=64, description="processes billing a cycle run's accounts (more "
                                                                  "than one: PostgreSQL only)")
    retries: int = Field(default=10, ge=1, description="attempts when a concurrent writer changed an aggregate")
    # how a command retries after a version conflict (ledger/eventstore/contention.py; README "Writers under
    # contention" measures the three): locks (PostgreSQL; backoff elsewhere), backoff, or plain (at once)
    retry_strategy: Literal["locks", "backoff", "plain"] = "locks"
    fixed_now: AwareDatetime | None = Field(
        default=None, description="the ledger's clock reads this moment instead of the system's (scripted sessions, "
                                  "tests); unset in production")
    effective_horizon_hours: int = Field(
        default=24, ge=0, description="how far ahead of the ledger's clock a charge, adjustment, payment, refund or "
                                      "reversal may be effective")
    log_level: str = "INFO"
    # Personal data (issue 13): the master key that wraps each customer's key (32 bytes, base64; never logged).
    master_key: SecretStr | None = None
    accounts_need_customer: bool = Field(default=False, description="refuse opening an account for an unknown customer")

    # Kafka (issue 3): with no bootstrap servers the embedded default feeds the read models from the local store.
    kafka_bootstrap: str | None = Field(default=None, description="host:port[,host:port]; unset: no Kafka")
    events_topic: str = "ledger.events"
    rating_topic: str = "rating.charges"
    dead_letter_topic: str = "rating.charges.dead-letters"
    topic_partitions: int = Field(default=6, ge=1)
    ingest_group: str = "ledger-charge-ingestion"
    relay_batch_size: int = Field(default=5_000, ge=1)
    # Consumer group membership (issue 10): a stable id per worker (a container's hostname) lets a restarted worker
    # take its partitions back at once (static membership); without one the session timeout decides how long a
    # killed worker's partitions wait.
    ingest_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    ingest_session_timeout_ms: int = Field(default=10_000, ge=6_000, le=300_000)
    ingest_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    # Long-running processes (issue 10, ledger/runtime/): outages ridden out, then given up; health endpoints.
    give_up_seconds: float = Field(default=300.0, gt=0, description="exit (code 3) after failing this long")
    reconnect_max_seconds: float = Field(default=5.0, gt=0, description="longest wait between two retries")
    outage_log_seconds: float = Field(default=30.0, gt=0, description="an outage in progress is logged once a period")
    stop_timeout_seconds: float = Field(default=30.0, gt=0, description="SIGTERM: the batch in flight gets this long")
    health_port: int | None = Field(default=None, ge=0, le=65_535, description="serve /livez /readyz /metrics here")
    health_host: str = "0.0.0.0"
    # Read models: a PostgreSQL schema (default: the event store's server), or an SQLite file on the embedded default.
    read_model_url: str | None = None
    read_model_schema: str = "ledger_read"
    read_model_sqlite_path: Path = Path(".ledger/read_models.sqlite")

    # HTTP API (issue 12): `ledger serve`, and its notifier `ledger notify`.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_workers: int = Field(default=1, ge=1, le=64)
    api_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    api_max_limit: int = Field(default=1000, ge=1, description="the largest `limit` a list accepts")
    api_default_limit: int = Field(default=100, ge=1)
    api_max_batch: int = Field(default=10_000, ge=1, description="charges in one batch POST")
    api_key_cache_seconds: float = Field(default=2, ge=0, description="an API key checked this recently is trusted")
    api_idempotency_hours: int = Field(default=24, ge=1, description="how long an Idempotency-Key is remembered")
    api_jwt_public_key_file: Path | None = Field(default=None, description="PEM public key(s) that sign bearer JWTs")
    api_jwt_jwks_file: Path | None = Field(default=None, description="a JWKS file of the keys that sign bearer JWTs")
    api_jwt_issuer: str | None = None
    api_jwt_audience: str | None = None
    api_jwt_role_claim: str = "roles"
    api_jwt_account_claim: str = "billing_accounts"
    notify_failing_after_seconds: float = Field(default=300, gt=0, description="a listener failing longer is marked failing")
    notify_timeout_seconds: float = Field(default=5, gt=0)
    notify_max_backoff_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> Settings:
        if self.store == "postgres" and not self.postgres_url:
            raise ValueError("LEDGER_STORE=postgres needs LEDGER_POSTGRES_URL (e.g. postgresql://user:pw@host:5432/db)")
        return self

    @property
    def effective_horizon(self) -> timedelta:
        return timedelta(hours=self.effective_horizon_hours)

    def read_model_target(self) -> tuple[str, str | Path]:
        """("postgres", url) or ("sqlite", path): where the read models live."""
        url = self.read_model_url or (self.postgres_url if self.store == "postgres" else None)
        return ("postgres", url) if url else ("sqlite", self.read_model_sqlite_path)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's configuration for the chosen store."""
        env = {
            "IS_SNAPSHOTTING_ENABLED": "y" if self.snapshot_interval else "n",
            "AGGREGATE_CACHE_MAXSIZE": str(self.cache_size) if self.cache_size else "",
            # The cache is refreshed by saving through it; a stale copy from another writer fails
            # its save with a version conflict, and the command reloads and retries.
            "AGGREGATE_CACHE_FASTFORWARD": "n",
            # Commands mutate the cached instance itself (no deep copy per load); any failed command
            # clears the cache, so a half-applied change is never seen by the next command.
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
            "LEDGER_RETRY_STRATEGY": self.retry_strategy,
        }
        if self.store == "memory":
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
            return env
        if self.store == "sqlite":
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(self.sqlite_path),
                    "SQLITE_LOCK_TIMEOUT": str(self.postgres_lock_timeout_seconds)}
            return env
        info = conninfo_to_dict(self.postgres_url or "")
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
            "POSTGRES_HOST": str(info.get("host", "localhost")),
            "POSTGRES_PORT": str(info.get("port", "5432")),
            "POSTGRES_USER": str(info.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(info.get("password", "")),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout_seconds),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            # our subclass of the library's recorder: one binary unnest INSERT per save, batch reads for bill runs
            "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
        }
        if self.postgres_schema:
            env["POSTGRES_SCHEMA"] = self.postgres_schema
        return env
