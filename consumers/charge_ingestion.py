"""Charge ingestion: rating-system charge messages in, applied to accounts in batches, offsets committed after.

A batch is decoded and validated message by message; the good charges go to the ledger as one PostCharges
(every touched account saved in one transaction); each bad message goes to the dead-letter topic with its
original bytes and the reason. Offsets are committed only once the events are stored and the dead letters
acknowledged, so a crash re-reads the batch, and the charge ids make re-applying it harmless.

`IngestWorker` is the `ledger ingest` process's unit of work (poll, process, commit) for the supervisor
(ledger.runtime): after a failure it rewinds to the batch's first offsets, or rejoins the group from the
committed offsets with a new consumer when the broker failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from ledger.commands.charges import PostCharge, PostCharges
from ledger.contracts.codec import SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA, charge_command_input
from ledger.errors import LedgerError, StreamError
from ledger.ports import DeadLetter, DeadLetterSink
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import KAFKA
from ledger.runtime.supervisor import supervise
from ledger.streaming.kafka_consumers import RECONNECT_BACKOFF_MAX_MS, check_broker, partition_lag

log = structlog.get_logger("ledger.ingest")


class Message(Protocol):
    """What the ingestion needs of a consumed message (kafka-python's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class IngestResult:
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def _letter(message: Message, error: str, reason: str) -> DeadLetter:
    return DeadLetter(value=message.value, key=message.key, source_topic=message.topic,
                      source_partition=message.partition, source_offset=message.offset, error=error, reason=reason)


class ChargeIngestion:
    """Turns a batch of consumed messages into one ledger command plus dead letters."""

    def __init__(self, execute: Callable[[Any], Any], registry: SchemaRegistry, dead_letters: DeadLetterSink) -> None:
        self.execute = execute
        self.registry = registry
        self.dead_letters = dead_letters

    def decode(self, message: Message) -> PostCharge:
        if message.value is None:
            raise StreamError("empty message (no value)")
        name, record = self.registry.decode(message.value)
        if name != CHARGE_SCHEMA:
            raise StreamError(f"expected a {CHARGE_SCHEMA} message, got {name}", schema=name)
        return PostCharge.parse(charge_command_input(record))

    def process(self, messages: list[Message]) -> IngestResult:
        """Apply the good charges, dead-letter the rest; returns once both are durable. Each refusal is traced to
        its own message by its place in the batch (a conflicting re-send and a valid one share a charge id)."""
        result = IngestResult(received=len(messages))
        letters: list[DeadLetter] = []
        charges: list[PostCharge] = []
        sources: list[Message] = []  # the message of each charge, by the charge's place in the command
        for message in messages:
            try:
                charge = self.decode(message)
            except LedgerError as error:
                letters.append(_letter(message, error.code, error.message))
                continue
            charges.append(charge)
            sources.append(message)
        if charges:
            # each charge is already a validated PostCharge: constructing skips re-running their validators
            outcome = self.execute(PostCharges.model_construct(charges=charges))
            result.applied, result.duplicates = outcome.applied, outcome.duplicates
            for rejected in outcome.rejected:
                letters.append(_letter(sources[rejected.index or 0], rejected.error, rejected.message))
        if letters:
            letters.sort(key=lambda letter: (letter.source_partition, letter.source_offset))
            self.dead_letters.send(letters)
            for letter in letters:
                log.warning("charge dead-lettered", error=letter.error, reason=letter.reason,
                            partition=letter.source_partition, offset=letter.source_offset)
                result.reasons[letter.error] = result.reasons.get(letter.error, 0) + 1
        result.dead_lettered = len(letters)
        return result


def consumer_config(bootstrap: str, group: str, instance_id: str | None = None, session_timeout_ms: int = 10_000,
                    heartbeat_interval_ms: int = 3_000, **overrides: Any) -> dict[str, Any]:
    """Manual commits after the work is stored; start from the earliest message a new group has not seen.

    Rejoining fast after a crash: with `instance_id` (static membership, KIP-345) a restarted worker takes back its
    own partitions at once, without a rebalance; without it, a killed worker's partitions move to the others (or to
    its successor) once the broker has missed its heartbeats for `session_timeout_ms` (10 s, not kafka-python's
    45 s). Heartbeats come from a background thread, so a long batch does not count against the session."""
    return {
        "bootstrap_servers": bootstrap.split(","),
        "group_id": group,
        "group_instance_id": instance_id,
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": heartbeat_interval_ms,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 5_000,
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "client_id": group,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        **overrides,
    }


class IngestWorker:
    """Poll, process, commit: one batch a step (ledger.runtime.supervisor.Worker)."""

    idle_pause = 0.0  # the poll waits
    join_wait = 15.0  # seconds a step keeps polling while the group has not given this worker its partitions yet

    def __init__(self, ingestion: ChargeIngestion, open_consumer: Callable[[], Any], poll_ms: int = 500,
                 max_records: int = 5_000) -> None:
        self.ingestion = ingestion
        self.open_consumer = open_consumer
        self.poll_ms = poll_ms
        self.max_records = max_records
        self.consumer: Any = None
        self.total = IngestResult()
        self.last = IngestResult()
        self._polled: dict[Any, list[Any]] | None = None

    def step(self) -> int:
        from kafka import OffsetAndMetadata

        if self.consumer is None:
            self.consumer = self.open_consumer()
        self.last = IngestResult()
        polled = self._poll()
        messages = [m for batch in polled.values() for m in batch]
        if not messages:
            check_broker(self.consumer, "ingestion")
            return 0
        self._polled = polled
        result = self.ingestion.process(messages)
        self.consumer.commit({tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()})
        self._polled = None
        self.total.add(result)
        self.last = result
        return result.received

    def _poll(self) -> dict[Any, list[Any]]:
        """One poll; while the consumer has no partitions yet (joining its group), poll on for up to `join_wait`:
        a worker still joining is not idle (an --idle-exit would otherwise end it before its first fetch)."""
        deadline = time.monotonic() + self.join_wait
        while True:
            polled: dict[Any, list[Any]] = self.consumer.poll(timeout_ms=self.poll_ms, max_records=self.max_records)
            if polled or self.consumer.assignment() or time.monotonic() >= deadline:
                return polled

    def reset(self, dependency: str) -> None:
        """Nothing of the failed batch was committed: read it again from its first offsets (the charge ids make
        what was stored of it duplicates); after a broker failure, or when this worker no longer holds those
        partitions, rejoin the group with a new consumer, from the committed offsets."""
        polled, self._polled = self._polled, None
        if self.consumer is None:
            return
        if dependency != KAFKA:
            try:
                for tp, batch in (polled or {}).items():
                    self.consumer.seek(tp, batch[0].offset)
                return
            except Exception as error:  # noqa: BLE001 - the partitions moved meanwhile
                log.warning("cannot rewind the batch; rejoining the group", error=repr(error))
        elif not polled:
            return  # an empty poll with no broker: the consumer reconnects by itself
        self.close_consumer()

    def report(self, metrics: ProcessMetrics) -> None:
        last = self.last
        metrics.charges("applied", last.applied)
        metrics.charges("duplicate", last.duplicates)
        metrics.charges("dead_lettered", last.dead_lettered)
        for reason, count in last.reasons.items():
            metrics.dead_lettered(reason, count)
        if self.consumer is not None:
            for tp, lag in partition_lag(self.consumer, self.consumer.assignment()).items():
                metrics.lag(tp.topic, tp.partition, lag)

    def close_consumer(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                consumer.close(autocommit=False, timeout_ms=5_000)
            except Exception as error:  # noqa: BLE001 - closing during an outage may fail; a new one is made anyway
                log.warning("consumer close failed", error=repr(error))

    def close(self) -> None:
        self.close_consumer()
        self.ingestion.dead_letters.close()


def run_ingestion(worker: IngestWorker, stop: threading.Event, on_batch: Callable[[IngestResult], None] | None = None,
                  on_idle: Callable[[], None] | None = None, **supervision: Any) -> IngestResult:
    """Poll, process, commit, until `stop`, riding out broker and database outages (ledger.runtime.supervisor);
    a failed batch is read again from its first offset after a pause. Closes the worker at the end."""

    def on_step(count: int) -> None:
        if count and on_batch:
            on_batch(worker.last)
        elif not count and on_idle:
            on_idle()

    supervise("ingest", lambda: worker, supervision.pop("dependencies", {}), stop, on_step=on_step, **supervision)
    return worker.total
