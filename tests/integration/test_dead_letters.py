"""The DeadLetterSink contract (ledger.ports), the same tests run on the in-memory sink and on the Kafka sink
against the suite's real broker: `send` returns once the letters are kept, each with its original bytes, where it
came from and why, in the order sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from consumers.dead_letters import ABSENT_VALUE, KafkaDeadLetters, MemoryDeadLetters
from ledger.ports import DeadLetter, DeadLetterSink
from ledger.streaming.kafka_topics import ensure_topics
from tests.support.pipeline import read_topic


@dataclass
class Adapter:
    sink: DeadLetterSink
    kept: Callable[[], list[DeadLetter]]  # the letters as a reader of the dead letters finds them now


def _from_topic(bootstrap: str, topic: str) -> list[DeadLetter]:
    """The dead-letter topic's messages read back into letters (the reason and source travel in headers)."""
    letters = []
    for record in read_topic(bootstrap, topic):
        headers = {name: value.decode() for name, value in record.headers}
        absent = (ABSENT_VALUE[0], ABSENT_VALUE[1].decode()) in headers.items()
        letters.append(DeadLetter(value=None if absent else record.value, key=record.key, source_topic=headers["dlq.source.topic"],
                                  source_partition=int(headers["dlq.source.partition"]),
                                  source_offset=int(headers["dlq.source.offset"]), error=headers["dlq.error"],
                                  reason=headers["dlq.reason"]))
    return letters


@pytest.fixture(params=["memory", "kafka"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Adapter]:
    if request.param == "memory":
        memory = MemoryDeadLetters()
        yield Adapter(memory, lambda: list(memory.letters))
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    topic = f"dead-letters-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: 1})  # as the ledger creates its dead-letter topic
    kafka = KafkaDeadLetters(bootstrap, topic)
    try:
        yield Adapter(kafka, lambda: _from_topic(bootstrap, topic))
    finally:
        kafka.close()


def letter(n: int, **changes: object) -> DeadLetter:
    fields: dict[str, object] = dict(value=f"bytes {n}".encode(), key=f"ACC-{n}".encode(), source_topic="rating.charges",
                                     source_partition=n % 3, source_offset=1000 + n, error="account_not_found",
                                     reason=f"billing account ACC-{n} not found")
    fields.update(changes)
    return DeadLetter(**fields)  # type: ignore[arg-type]


def test_sent_letters_are_kept_in_order_with_every_field(adapter: Adapter) -> None:
    """Once send returns, every letter is there, in the order sent, with its bytes, key, source and reason."""
    sent = [letter(n) for n in range(5)]
    adapter.sink.send(sent[:3])
    adapter.sink.send(sent[3:])
    assert adapter.kept() == sent


@pytest.mark.parametrize("value, key", [(None, None), (None, b"ACC-1"), (b"", None), (b"", b"")],
                         ids=["no-value-no-key", "no-value", "empty-value-no-key", "empty-value-empty-key"])
def test_a_message_without_value_or_key_is_kept_as_such(adapter: Adapter, value: bytes | None, key: bytes | None) -> None:
    """A message with no value or no key (or empty ones) is kept as it came, and a reason in any script survives."""
    sent = [letter(0, value=value, key=key, error="stream_error", reason="empty message (no value) — leer, 空")]
    adapter.sink.send(sent)
    assert adapter.kept() == sent


def test_sending_nothing_keeps_nothing(adapter: Adapter) -> None:
    """An empty batch returns at once and adds no letter."""
    adapter.sink.send([])
    assert adapter.kept() == []
