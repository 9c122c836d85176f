"""Typed settings from LEDGER_* environment variables, built once at the edge and passed down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict
from pydantic import AwareDatetime, Field, model_validator
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
    retries: int = Field(default=10, ge=1, description="attempts when a concurrent writer changed an aggregate")
    fixed_now: AwareDatetime | None = Field(
        default=None, description="the ledger's clock reads this moment instead of the system's (scripted sessions, "
                                  "tests); unset in production")
    effective_horizon_hours: int = Field(
        default=24, ge=0, description="how far ahead of the ledger's clock a charge, adjustment, payment, refund or "
                                      "reversal may be effective")
    log_level: str = "INFO"

    # Kafka (issue 3): with no bootstrap servers the embedded default feeds the read models from the local store.
    kafka_bootstrap: str | None = Field(default=None, description="host:port[,host:port]; unset: no Kafka")
    events_topic: str = "ledger.events"
    rating_topic: str = "rating.charges"
    dead_letter_topic: str = "rating.charges.dead-letters"
    topic_partitions: int = Field(default=6, ge=1)
    ingest_group: str = "ledger-charge-ingestion"
    relay_batch_size: int = Field(default=5_000, ge=1)
    # Read models: a PostgreSQL schema (default: the event store's server), or an SQLite file on the embedded default.
    read_model_url: str | None = None
    read_model_schema: str = "ledger_read"
    read_model_sqlite_path: Path = Path(".ledger/read_models.sqlite")

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
