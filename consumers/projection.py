"""The read-model projection consumer: the event topic into PostgreSQL read models, offsets in the same transaction.

It assigns itself every partition of the topic (no consumer group: the offsets live in the read-model
database, not in Kafka), seeks to the stored offsets, and applies each polled batch in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from kafka import KafkaConsumer, TopicPartition

from ledger.contracts.codec import SchemaRegistry
from ledger.errors import ReadModelError
from ledger.ports import NoProgress, Progress
from ledger.projections.database import ReadModelDatabase
from ledger.projections.projector import OffsetsMoved, project
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import DATABASES, KAFKA
from ledger.runtime.supervisor import supervise
from ledger.streaming.kafka_consumers import RECONNECT_BACKOFF_MAX_MS, check_broker, partition_lag

log = structlog.get_logger("ledger.project")
PROJECTION_CONSUMER = "read-models"


class ProjectionConsumer:
    def __init__(self, bootstrap: str, topic: str, db: ReadModelDatabase, registry: SchemaRegistry,
                 name: str = PROJECTION_CONSUMER, max_records: int = 10_000) -> None:
        self.topic = topic
        self.db = db
        self.registry = registry
        self.name = name
        self.max_records = max_records
        self.bootstrap = bootstrap
        self.consumer = self._consumer()
        partitions = self.consumer.partitions_for_topic(topic)
        if not partitions:
            raise ReadModelError(f"topic {topic} does not exist (start the relay first, or create it)", topic=topic)
        self.partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(self.partitions)
        self.positions: dict[int, int | None] = {}
        self.seek_to_stored()

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=self.max_records, fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024, client_id=f"ledger-{self.name}",
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )

    def seek_to_stored(self) -> None:
        stored = self.db.offsets(self.name, self.topic)
        for tp in self.partitions:
            offset = stored.get(tp.partition)
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
            self.positions[tp.partition] = offset

    def lag(self) -> int:
        """Messages on the topic not yet projected."""
        ends = self.consumer.end_offsets(self.partitions)
        begins = self.consumer.beginning_offsets(self.partitions)
        return sum(ends[tp] - (self.positions.get(tp.partition) or begins[tp]) for tp in self.partitions)

    def step(self, poll_ms: int = 500) -> int:
        """Project one polled batch; returns how many messages it held."""
        if self._fresh_consumer:  # after a broker failure
            self.consumer = self._consumer()
            self.consumer.assign(self.partitions)
            self._fresh_consumer = False
        if self._rewind:
            self.seek_to_stored()  # after a failure: from the offsets stored with the rows
            self._rewind = False
        polled = self.consumer.poll(timeout_ms=poll_ms, max_records=self.max_records)
        if not polled:
            check_broker(self.consumer, "projection")
            self._ping_database()
            return 0
        records = []
        for batch in polled.values():
            for message in batch:
                _, record = self.registry.decode(message.value, uuid_as_text=True)  # the read models store ids as text
                records.append(record)
        expected = {tp.partition: self.positions.get(tp.partition) for tp in polled}
        next_offsets = {tp.partition: batch[-1].offset + 1 for tp, batch in polled.items()}
        try:
            project(self.db, records, consumer=self.name, topic=self.topic, expected=expected, next_offsets=next_offsets)
        except OffsetsMoved as moved:
            log.warning("stored offsets moved; seeking to them", stored=moved.stored)
            self.seek_to_stored()
            return 0
        self.positions.update(next_offsets)
        return sum(len(b) for b in polled.values())

    # ------------------------------------------------------------ as a supervised worker (ledger.runtime)

    idle_pause = 0.0  # the poll waits
    _rewind = False
    _fresh_consumer = False

    def reset(self, dependency: str) -> None:
        """After a failed batch (rolled back with its offsets): a new read-model connection if the database failed,
        a new Kafka consumer if the broker did; the next step seeks to the stored offsets first."""
        if dependency != KAFKA:
            self.db.reconnect()
        if dependency not in DATABASES:
            old, self._fresh_consumer = self.consumer, True
            try:
                old.close()
            except Exception as error:  # noqa: BLE001 - closing during an outage may fail; a new one is made anyway
                log.warning("consumer close failed", error=repr(error))
        self._rewind = True

    _pinged = 0.0

    def _ping_database(self) -> None:
        """While idle, ask the read-model database once a second whether it is there (an outage then shows, and the
        connection is replaced, before work comes)."""
        now = time.monotonic()
        if now - self._pinged >= 1.0:
            self._pinged = now
            self.db.conn.execute("SELECT 1")

    def report(self, metrics: ProcessMetrics) -> None:
        if self._fresh_consumer:
            return
        for tp, lag in partition_lag(self.consumer, self.partitions).items():
            metrics.lag(self.topic, tp.partition, lag)

    def run(self, stop: threading.Event, poll_ms: int = 500, on_step: Callable[[int], None] | None = None,
            **supervision: Any) -> None:
        """Project until `stop`, riding out database and broker outages (ledger.runtime.supervisor)."""
        log.info("projection started", topic=self.topic, positions=self.positions)
        supervise("project", lambda: self, supervision.pop("dependencies", {}), stop, on_step=on_step, **supervision)

    def catch_up(self, poll_ms: int = 500, progress: Progress | None = None) -> int:
        """Project until the end of the topic as it is now (tests, rebuilds); returns the count."""
        progress = progress or NoProgress()
        progress.start(self.lag(), f"projecting {self.topic}")
        total = 0
        while self.lag() > 0:
            count = self.step(poll_ms)
            total += count
            progress.advance(count)
        progress.finish()
        return total

    def close(self) -> None:
        self.consumer.close()


