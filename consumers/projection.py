"""The read-model projection consumer: the event topic into PostgreSQL read models, offsets in the same transaction.

It assigns itself every partition of the topic (no consumer group: the offsets live in the read-model
database, not in Kafka), seeks to the stored offsets, and applies each polled batch in one transaction.
"""

from __future__ import annotations

import threading
from typing import Callable

import structlog
from kafka import KafkaConsumer, TopicPartition

from ledger.contracts.codec import SchemaRegistry
from ledger.errors import ReadModelError
from ledger.ports import NoProgress, Progress
from ledger.projections.database import ReadModelDatabase
from ledger.projections.projector import OffsetsMoved, project

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
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=max_records, fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024, client_id=f"ledger-{name}",
        )
        partitions = self.consumer.partitions_for_topic(topic)
        if not partitions:
            raise ReadModelError(f"topic {topic} does not exist (start the relay first, or create it)", topic=topic)
        self.partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(self.partitions)
        self.positions: dict[int, int | None] = {}
        self.seek_to_stored()

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
        polled = self.consumer.poll(timeout_ms=poll_ms, max_records=self.max_records)
        if not polled:
            return 0
        records = []
        for tp, batch in polled.items():
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

    def run(self, stop: threading.Event, poll_ms: int = 500, on_step: Callable[[int], None] | None = None) -> None:
        log.info("projection started", topic=self.topic, positions=self.positions)
        while not stop.is_set():
            try:
                count = self.step(poll_ms)
            except ReadModelError:
                raise
            except Exception as error:  # noqa: BLE001 - the database went away: nothing was stored, read again
                log.error("batch failed; will re-read it", error=repr(error))
                self.seek_to_stored_safely()
                stop.wait(2.0)
                continue
            if on_step:
                on_step(count)
        self.close()

    def seek_to_stored_safely(self) -> None:
        try:
            self.seek_to_stored()
        except Exception as error:  # noqa: BLE001
            log.error("cannot read stored offsets yet", error=repr(error))

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


