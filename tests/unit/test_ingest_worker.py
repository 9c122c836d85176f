"""The ingest worker's unit of work and its rewind after a failure, on a scripted consumer: a failed batch is read
again from its first offsets; after a broker failure the worker rejoins with a new consumer; a batch is committed
only once it is done."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition

from consumers.charge_ingestion import ChargeIngestion, IngestResult, IngestWorker
from consumers.dead_letters import MemoryDeadLetters
from ledger.contracts.codec import SchemaRegistry
from tests.support.kafka_fakes import ConsumedRecord

TP = TopicPartition("rating.charges", 0)


class ScriptedConsumer:
    """Returns each scripted poll in turn (then nothing); records seeks, commits and closing."""

    def __init__(self, polls: list[dict[Any, list[ConsumedRecord]]]) -> None:
        self.polls = list(polls)
        self.seeks: list[tuple[Any, int]] = []
        self.commits: list[dict[Any, Any]] = []
        self.closed = False

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[ConsumedRecord]]:
        return self.polls.pop(0) if self.polls else {}

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[Any]:
        return {TP}

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def close(self, autocommit: bool = False, timeout_ms: int | None = None) -> None:
        self.closed = True


class Ingestion(ChargeIngestion):
    """The real decoding and dead-lettering, with processing that fails as scripted (a database outage)."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__(lambda command: None, SchemaRegistry.load(), MemoryDeadLetters())  # type: ignore[arg-type,return-value]
        self.failures = failures

    def process(self, messages: list[Any]) -> IngestResult:
        if self.failures:
            raise self.failures.pop(0)
        return IngestResult(received=len(messages))


def batch(*offsets: int) -> dict[Any, list[ConsumedRecord]]:
    return {TP: [ConsumedRecord(b"x", offset=o) for o in offsets]}


def test_a_done_batch_is_committed_after_its_last_offset():
    """Offsets 5..7 processed: the commit is offset 8 for the partition."""
    consumer = ScriptedConsumer([batch(5, 6, 7)])
    worker = IngestWorker(Ingestion([]), lambda: consumer)
    assert worker.step() == 3 and consumer.commits == [{TP: 8}]


def test_a_batch_failed_on_the_database_is_read_again_from_its_first_offset():
    """The database fails the batch: nothing is committed, the consumer seeks back to 5 and keeps its membership."""
    consumer = ScriptedConsumer([batch(5, 6, 7)])
    worker = IngestWorker(Ingestion([RuntimeError("database down")]), lambda: consumer)
    with pytest.raises(RuntimeError):
        worker.step()
    worker.reset("postgresql")
    assert consumer.commits == [] and consumer.seeks == [(TP, 5)] and not consumer.closed


def test_after_a_broker_failure_mid_batch_the_worker_rejoins_with_a_new_consumer():
    """The broker fails the batch: the consumer is closed and the next step makes a new one (from committed offsets)."""
    made = [ScriptedConsumer([batch(5)]), ScriptedConsumer([batch(5)])]
    opened = list(made)
    worker = IngestWorker(Ingestion([RuntimeError("broker down")]), lambda: opened.pop(0))
    with pytest.raises(RuntimeError):
        worker.step()
    worker.reset("kafka")
    assert made[0].closed and worker.step() == 1 and made[1].commits == [{TP: 6}]


def test_an_empty_poll_with_no_broker_keeps_the_consumer():
    """A broker outage seen on an idle poll: the consumer reconnects by itself, so it is kept."""
    consumer = ScriptedConsumer([])
    worker = IngestWorker(Ingestion([]), lambda: consumer)
    worker.step()
    worker.reset("kafka")
    assert worker.consumer is consumer and not consumer.closed
