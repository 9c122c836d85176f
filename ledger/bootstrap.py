"""The one composition root: the only module that picks concrete adapters (store, clock, progress, Kafka,
read-model databases) from `Settings` and wires them into the Ledger and the stream processes."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.contracts.codec import SchemaRegistry
from ledger.errors import StreamError
from ledger.eventstore.setup_lock import setting_up
from ledger.eventstore.store import LedgerStore
from ledger.ports import Clock, Progress, fixed_clock, system_clock
from ledger.projections.database import ReadModelDatabase
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.positions import PostgresPositions, SqlitePositions

if TYPE_CHECKING:
    from consumers.charge_ingestion import ChargeIngestion
    from consumers.projection import ProjectionConsumer
    from ledger.streaming.relay import OutboxRelay



def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None, progress: Progress | None = None) -> Ledger:
    """The Ledger on the settings' store; its clock is `clock`, else LEDGER_FIXED_NOW when set, else the system's."""
    settings = settings or Settings()
    clock = clock or (fixed_clock(settings.fixed_now) if settings.fixed_now else system_clock)
    on_postgres = settings.store == "postgres" and settings.postgres_url
    # processes starting together would race creating the tables
    with setting_up(settings.postgres_url) if on_postgres else contextlib.nullcontext():  # type: ignore[arg-type]
        store = LedgerStore(env=settings.eventsourcing_env(), snapshot_interval=settings.snapshot_interval)
    return Ledger(store, settings, clock, progress)


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700: a command batch allocates many
    short-lived objects and the cached aggregates make every collection slow. For process entry points only
    (the CLI, the bench), never at import time."""
    gc.set_threshold(*GC_THRESHOLDS)


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
    from ledger.streaming.kafka_publisher import KafkaPublisher
    from ledger.streaming.event_feed import EventFeed
    from ledger.streaming.relay import OutboxRelay

    settings = ledger.settings
    require_lasting_store(settings)
    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    return OutboxRelay(EventFeed(ledger.store, settings.cache_size), registry or SchemaRegistry.load(),
                       lambda: KafkaPublisher(bootstrap, settings.events_topic), positions(settings),
                       batch_size=settings.relay_batch_size)


def ingestion(ledger: Ledger, registry: SchemaRegistry | None = None) -> tuple[ChargeIngestion, object]:
    """The ingestion logic and its Kafka consumer (subscribed to the rating topic)."""
    from kafka import KafkaConsumer

    from consumers.charge_ingestion import ChargeIngestion, consumer_config
    from consumers.dead_letters import KafkaDeadLetters

    settings = ledger.settings
    require_lasting_store(settings)
    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    consumer = KafkaConsumer(settings.rating_topic, **consumer_config(bootstrap, settings.ingest_group))
    work = ChargeIngestion(ledger.execute, registry or SchemaRegistry.load(),
                           KafkaDeadLetters(bootstrap, settings.dead_letter_topic))
    return work, consumer


def projection(settings: Settings, db: ReadModelDatabase | None = None, registry: SchemaRegistry | None = None,
               name: str | None = None) -> ProjectionConsumer:
    from consumers.projection import PROJECTION_CONSUMER, ProjectionConsumer

    bootstrap = require_kafka(settings)
    ensure_ledger_topics(settings)
    return ProjectionConsumer(bootstrap, settings.events_topic, db or read_model_db(settings),
                              registry or SchemaRegistry.load(), name=name or PROJECTION_CONSUMER)
