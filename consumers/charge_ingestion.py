"""Charge ingestion: rating-system charge messages in, applied to accounts in batches, offsets committed after.

A batch is decoded and validated message by message; the good charges go to the ledger as one PostCharges
(every touched account saved in one transaction); each bad message goes to the dead-letter topic with its
original bytes and the reason. Offsets are committed only once the events are stored and the dead letters
acknowledged, so a crash re-reads the batch, and the charge ids make re-applying it harmless.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import structlog

from ledger.commands.charges import PostCharge, PostCharges
from ledger.contracts.codec import SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA, charge_command_input
from ledger.errors import LedgerError, StreamError
from ledger.ports import DeadLetter, DeadLetterSink

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

    def __init__(self, execute: Callable[[Any], dict[str, Any]], registry: SchemaRegistry, dead_letters: DeadLetterSink) -> None:
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
        """Apply the good charges, dead-letter the rest; returns once both are durable."""
        result = IngestResult(received=len(messages))
        letters: list[DeadLetter] = []
        charges: list[PostCharge] = []
        sources: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            try:
                charge = self.decode(message)
            except LedgerError as error:
                letters.append(_letter(message, error.code, error.message))
                continue
            charges.append(charge)
            sources[charge.charge_id].append(message)
        if charges:
            # each charge is already a validated PostCharge: constructing skips re-running their validators
            outcome = self.execute(PostCharges.model_construct(charges=charges))
            result.applied, result.duplicates = outcome.applied, outcome.duplicates
            for rejected in outcome.rejected:
                letters.append(_letter(sources[rejected.charge_id].pop(), rejected.error, rejected.message))
        if letters:
            self.dead_letters.send(letters)
            for letter in letters:
                log.warning("charge dead-lettered", error=letter.error, reason=letter.reason,
                            partition=letter.source_partition, offset=letter.source_offset)
                result.reasons[letter.error] = result.reasons.get(letter.error, 0) + 1
        result.dead_lettered = len(letters)
        return result


def consumer_config(bootstrap: str, group: str, **overrides: Any) -> dict[str, Any]:
    """Manual commits after the work is stored; start from the earliest message a new group has not seen."""
    return {
        "bootstrap_servers": bootstrap.split(","),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 5_000,
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "client_id": group,
        **overrides,
    }


def run_ingestion(ingestion: ChargeIngestion, consumer: Any, stop: threading.Event, poll_ms: int = 500,
                  max_records: int = 5_000, on_batch: Callable[[IngestResult], None] | None = None,
                  on_idle: Callable[[], None] | None = None) -> IngestResult:
    """Poll, process, commit, until `stop`; a failed batch is re-read from its first offset after a pause."""
    from kafka import OffsetAndMetadata

    total = IngestResult()
    while not stop.is_set():
        polled = consumer.poll(timeout_ms=poll_ms, max_records=max_records)
        messages = [m for batch in polled.values() for m in batch]
        if not messages:
            if on_idle:
                on_idle()
            continue
        try:
            result = ingestion.process(messages)
        except Exception as error:  # noqa: BLE001 - store or broker trouble: nothing committed, read again
            log.error("batch failed; will re-read it", error=repr(error), messages=len(messages))
            for tp, batch in polled.items():
                consumer.seek(tp, batch[0].offset)
            stop.wait(2.0)
            continue
        consumer.commit({tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()})
        total.add(result)
        if on_batch:
            on_batch(result)
    return total
