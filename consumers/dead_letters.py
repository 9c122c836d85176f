"""Dead-letter sinks: the Kafka topic (original bytes, reason in headers) and an in-memory fake for tests."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ledger.streaming.kafka_publisher import producer_config
from ledger.errors import PublishFailed
from ledger.ports import DeadLetter


ABSENT_VALUE = ("dlq.value", b"absent")  # the original message had no value (sent with an empty one)


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("dlq.error", letter.error.encode()),
        ("dlq.reason", letter.reason.encode()[:4000]),
        ("dlq.source.topic", letter.source_topic.encode()),
        ("dlq.source.partition", str(letter.source_partition).encode()),
        ("dlq.source.offset", str(letter.source_offset).encode()),
    ]


def _record(letter: DeadLetter) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of the letter's message. Kafka refuses a message with neither key nor value, which a
    consumed message can be: such a letter goes with an empty value and the ABSENT_VALUE header."""
    headers = dead_letter_headers(letter)
    if letter.key is None and letter.value is None:
        return None, b"", [*headers, ABSENT_VALUE]
    return letter.key, letter.value, headers


class KafkaDeadLetters:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = KafkaProducer(**producer_config(bootstrap, client_id="ledger-dead-letters"))

    def send(self, letters: list[DeadLetter]) -> None:
        try:
            futures = [self.producer.send(self.topic, key=key, value=value, headers=headers)
                       for key, value, headers in map(_record, letters)]
            self.producer.flush(timeout=60)
            for future in futures:
                future.get(timeout=0)
        except KafkaError as error:
            raise PublishFailed(f"dead-letter topic {self.topic} did not acknowledge: {error!r}", topic=self.topic) from None

    def close(self) -> None:
        self.producer.close(timeout=5)


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def send(self, letters: list[DeadLetter]) -> None:
        self.letters.extend(letters)

    def close(self) -> None:
        pass
