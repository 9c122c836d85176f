"""The one composition root: the only module that picks concrete adapters (store, clock, progress, Kafka,
read-model databases) from `Settings` and wires them into the Ledger and the stream processes."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.contracts.codec import SchemaRegistry
from ledger.errors import StreamError
from ledger.eventstore.api_tables import ApiTables
from ledger.eventstore.setup_lock import setting_up
from ledger.eventstore.store import LedgerStore
from ledger.ports import ApiRecords, Clock, Progress, fixed_clock, system_clock
from ledger.projections.database import ReadModelDatabase
from ledger.runtime.outages import Dependencies
from ledger.runtime.supervisor import RunPolicy, Worker, supervise
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.positions import PostgresPositions, SqlitePositions

if TYPE_CHECKING:
    from consumers.charge_ingestion import IngestWorker
    from consumers.projection import ProjectionConsumer
    from ledger.eventstore.personal_data import PersonalDataVault
    from ledger.streaming.book_follower import BookFollower
    from ledger.streaming.notifier import Notifier
    from ledger.streaming.relay import OutboxRelay



def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None, progress: Progress | None = None) -> Ledger:
    """The Ledger on the settings' store; its clock is `clock`, else LEDGER_FIXED_NOW when set, else the system's."""
    settings = settings or Settings()
    clock = clock or settings_clock(settings)
    on_postgres = settings.store == "postgres" and settings.postgres_url
    # processes starting together would race creating the tables
    with setting_up(settings.postgres_url) if on_postgres else contextlib.nullcontext():  # type: ignore[arg-type]
        store = LedgerStore(env=settings.eventsourcing_env(), snapshot_interval=settings.snapshot_interval)
        vault = personal_data(settings)
    from ledger.cycle_processes import bill_in_workers  # its workers call bootstrap

    return Ledger(store, settings, clock, progress, personal=vault, cycle_processes=bill_in_workers)


def personal_data(settings: Settings) -> PersonalDataVault:
    """The personal-data vault beside the event store: its keys and directory tables in the same database."""
    from ledger.eventstore.personal_data import MemoryVault, PostgresVault, SqliteVault, master_key_bytes

    key = master_key_bytes(settings.master_key.get_secret_value()) if settings.master_key else None
    if settings.store == "memory":
        return MemoryVault(key)
    if settings.store == "sqlite":
        return SqliteVault(key, settings.sqlite_path)
    return PostgresVault(key, settings.postgres_url or "", settings.postgres_schema)


def read_store(settings: Settings) -> LedgerStore:
    """A second store on the same database for reads: no cache (so no aggregate shared with a command in progress,
    and every load is what the database holds now: a read after a write sees it), the same snapshots."""
    plain = settings.model_copy(update={"cache_size": 0})
    on_postgres = plain.store == "postgres" and plain.postgres_url
    with setting_up(plain.postgres_url) if on_postgres else contextlib.nullcontext():  # type: ignore[arg-type]
        return LedgerStore(env=plain.eventsourcing_env(), snapshot_interval=plain.snapshot_interval)


def api_tables(settings: Settings) -> ApiTables:
    """The HTTP API's tables (keys, idempotency keys, hub listeners) in the event store's own database."""
    if settings.store == "postgres":
        return ApiTables.postgres(settings.postgres_url or "", settings.postgres_schema)
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return ApiTables.sqlite(settings.sqlite_path)


@dataclass
class ApiParts:
    """What the HTTP API is built from (ledger/http/app.py `create_app`): the write side (one Ledger: commands
    under its lock, with its cache), a second Ledger for long runs (cycle runs) so they do not hold the first one's
    lock, a read store (no cache, its own connections), the API's tables, and the read models for lists."""

    ledger: Ledger
    batch_ledger: Ledger
    reads: LedgerStore
    records: ApiRecords
    read_models: ReadModelDatabase
    settings: Settings
    clock: Clock

    def __post_init__(self) -> None:
        self._catching_up = threading.Lock()
        self._feed: Any = None

    @contextlib.contextmanager
    def listing(self) -> Iterator[ReadModelDatabase]:
        """The read models for one list query (one connection: one query at a time). Without Kafka nobody else
        feeds them, so they are first brought up to date from the local event store (through the read store);
        another worker doing the same at that moment is fine."""
        with self._catching_up:
            if not self.settings.kafka_bootstrap:
                self._catch_up()
            yield self.read_models

    def _catch_up(self) -> None:
        from ledger.projections.local_feed import LocalProjection
        from ledger.projections.projector import OffsetsMoved
        from ledger.streaming.event_feed import EventFeed

        if self._feed is None:
            self._feed = LocalProjection(EventFeed(self.reads, self.settings.cache_size), self.read_models)
        try:
            self._feed.catch_up()
        except OffsetsMoved:
            pass  # another worker projected the same events first

    def close(self) -> None:
        for part in (self.ledger, self.batch_ledger, self.reads, self.records, self.read_models):
            part.close()


def settings_clock(settings: Settings) -> Clock:
    """LEDGER_FIXED_NOW's moment when it is set, else the system's clock."""
    return fixed_clock(settings.fixed_now) if settings.fixed_now else system_clock


def api_parts(settings: Settings, clock: Clock | None = None) -> ApiParts:
    clock = clock or settings_clock(settings)
    return ApiParts(bootstrap(settings, clock=clock), bootstrap(settings, clock=clock), read_store(settings),
                    api_tables(settings), read_model_db(settings), settings, clock)


def notifier(settings: Settings) -> Notifier:
    """`ledger notify`: the hub's notifier on a read store and the API's tables."""
    from ledger.streaming.notifier import Notifier

    return Notifier(read_store(settings), api_tables(settings), failing_after=settings.notify_failing_after_seconds,
                    timeout=settings.notify_timeout_seconds, max_backoff=settings.notify_max_backoff_seconds)


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700: a command batch allocates many
    short-lived objects and the cached aggregates make every collection slow. For process entry points only
    (the CLI, the bench), never at import time."""
    gc.set_threshold(*GC_THRESHOLDS)


# ---------------------------------------------------------------- the long-running processes


def run_policy(settings: Settings) -> RunPolicy:
    return RunPolicy(give_up_seconds=settings.give_up_seconds, backoff_cap_seconds=settings.reconnect_max_seconds,
                     outage_log_seconds=settings.outage_log_seconds, stop_timeout_seconds=settings.stop_timeout_seconds,
                     health_host=settings.health_host, health_port=settings.health_port)


def dependencies(settings: Settings) -> Dependencies:
    """What each dependency's unavailability looks like, by the exceptions its clients raise."""
    import sqlite3

    import psycopg
    from eventsourcing import persistence
    from kafka.errors import KafkaError

    from ledger.errors import BrokerUnavailable, PublishFailed

    database = (psycopg.OperationalError, psycopg.InterfaceError, persistence.OperationalError,
                persistence.InterfaceError, sqlite3.OperationalError)
    on_postgres = settings.store == "postgres" or settings.read_model_target()[0] == "postgres"
    return {"postgresql" if on_postgres else "sqlite": database, "kafka": (KafkaError, PublishFailed, BrokerUnavailable)}


def run_supervised(settings: Settings, process: str, open_worker: Callable[[], Worker], stop: threading.Event,
                   on_step: Callable[[int], None] | None = None) -> Worker | None:
    """Run a long-running process's worker in the frame of ledger.runtime, with the settings' policy. The clients'
    own logs of each failed attempt are silenced: the frame logs an outage once a period instead."""
    import logging

    for noisy in ("psycopg.pool", "kafka"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    return supervise(process, open_worker, dependencies(settings), stop, run_policy(settings), on_step=on_step)


# ---------------------------------------------------------------- the stream processes


def require_kafka(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise StreamError("no Kafka configured: set LEDGER_KAFKA_BOOTSTRAP=host:port")
    return settings.kafka_bootstrap


def require_lasting_store(settings: Settings) -> None:
    """The relay and the ingestion record what they did (a position, committed offsets) against stored events:
    never on the memory store, whose events end with the process."""
    if settings.store == "memory":
        raise StreamError("LEDGER_STORE=memory keeps nothing after the process ends: the relay and the ingestion "
                          "need LEDGER_STORE=sqlite or postgres")


def ensure_ledger_topics(settings: Settings) -> None:
    from ledger.streaming.kafka_topics import ensure_topics

    ensure_topics(require_kafka(settings), {settings.events_topic: settings.topic_partitions,
                                            settings.rating_topic: settings.topic_partitions,
                                            settings.dead_letter_topic: 1})


def positions(settings: Settings) -> PostgresPositions | SqlitePositions:
    """The relay's position store, in the event store's own database."""
    require_lasting_store(settings)
    if settings.store == "postgres":
        return PostgresPositions(settings.postgres_url or "", settings.postgres_schema)
    return SqlitePositions(settings.sqlite_path)


def read_model_db(settings: Settings, schema_suffix: str = "") -> ReadModelDatabase:
    kind, where = settings.read_model_target()
    if kind == "postgres":
        with setting_up(str(where)):  # a projection and a rebuild (or verify) may start together
            return ReadModelDatabase.postgres(str(where), settings.read_model_schema + schema_suffix).create()
    path = where if not schema_suffix else where.with_name(where.name + schema_suffix)  # type: ignore[union-attr]
    return ReadModelDatabase.sqlite(path).create()  # type: ignore[arg-type]


def local_projection(ledger: Ledger, db: ReadModelDatabase) -> int:
    """The embedded default (no Kafka): feed the read models straight from the local event store; events done."""
    from ledger.projections.local_feed import LocalProjection
    from ledger.streaming.event_feed import EventFeed

    return LocalProjection(EventFeed(ledger.store, ledger.settings.cache_size), db).catch_up()  # type: ignore[arg-type]


def demo_read_models(store_path: Path) -> ReadModelDatabase:
    """The demo's read models: an SQLite file beside its store."""
    return ReadModelDatabase.sqlite(store_path.with_name(store_path.stem + ".read_models.sqlite")).create()


def relay(ledger: Ledger, registry: SchemaRegistry | None = None) -> OutboxRelay:
    from ledger.streaming.event_feed import EventFeed
    from ledger.streaming.kafka_publisher import KafkaPublisher
    from ledger.streaming.relay import OutboxRelay

    settings = ledger.settings
    require_lasting_store(settings)
    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    return OutboxRelay(EventFeed(ledger.store, settings.cache_size), registry or SchemaRegistry.load(),  # type: ignore[arg-type]  # the relay reads the concrete LedgerStore bootstrap built
                       lambda: KafkaPublisher(bootstrap, settings.events_topic), positions(settings),
                       batch_size=settings.relay_batch_size)


def book_follower(ledger: Ledger) -> BookFollower:
    """The follower that keeps long accounts' book checkpoints current (ledger/streaming/book_follower.py)."""
    from ledger.queries import book_checkpoint, book_codec, book_loading
    from ledger.streaming.book_follower import BookFollower

    store = ledger.store
    checkpoints = book_loading.checkpoints_of(store)
    if checkpoints is None:
        raise StreamError(f"the {ledger.settings.store} store keeps no book checkpoints: nothing to follow")
    return BookFollower(store, positions(ledger.settings), lambda account_id: book_checkpoint.refresh(store, account_id),
                        lambda account_id: checkpoints.version(account_id, book_codec.CODE),
                        every=book_loading.CHECKPOINT_AFTER)


def ingestion(ledger: Ledger, registry: SchemaRegistry | None = None) -> IngestWorker:
    """The ingestion logic with its Kafka consumer (subscribed to the rating topic, made on first use and again
    after a broker failure)."""
    from kafka import KafkaConsumer

    from consumers.charge_ingestion import ChargeIngestion, IngestWorker, consumer_config
    from consumers.dead_letters import KafkaDeadLetters

    settings = ledger.settings
    require_lasting_store(settings)
    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    config = consumer_config(bootstrap, settings.ingest_group, settings.ingest_instance_id,
                             settings.ingest_session_timeout_ms, settings.ingest_heartbeat_interval_ms)
    work = ChargeIngestion(ledger.execute, registry or SchemaRegistry.load(),
                           KafkaDeadLetters(bootstrap, settings.dead_letter_topic))
    return IngestWorker(work, lambda: KafkaConsumer(settings.rating_topic, **config))


def projection(settings: Settings, db: ReadModelDatabase | None = None, registry: SchemaRegistry | None = None,
               name: str | None = None) -> ProjectionConsumer:
    from consumers.projection import PROJECTION_CONSUMER, ProjectionConsumer

    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    return ProjectionConsumer(bootstrap, settings.events_topic, db or read_model_db(settings),
                              registry or SchemaRegistry.load(), name=name or PROJECTION_CONSUMER)
