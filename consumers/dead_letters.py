"""Dead-letter sinks: the Kafka topic (original bytes, reason in headers) and an in-memory fake for tests."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ledger.streaming.kafka_publisher import producer_config
from ledger.errors import PublishFailed
from ledger.ports import DeadLetter


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("dlq.error", letter.error.encode()),
        ("dlq.reason", letter.reason.encode()[:4000]),
        ("dlq.source.topic", letter.source_topic.encode()),
        ("dlq.source.partition", str(letter.source_partition).encode()),
        ("dlq.source.offset", str(letter.source_offset).encode()),
    ]


class KafkaDeadLetters:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = KafkaProducer(**producer_config(bootstrap, client_id="ledger-dead-letters"))

    def send(self, letters: list[DeadLetter]) -> None:
        try:
            futures = [self.producer.send(self.topic, key=letter.key, value=letter.value,
                                          headers=dead_letter_headers(letter)) for letter in letters]
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
