"""EventPublisher on Kafka: an idempotent producer (acks=all); `publish` returns only when the broker acked all."""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner import murmur2

from ledger.errors import PublishFailed
from ledger.ports import OutboundMessage
from ledger.recent import Recent
from ledger.streaming.kafka_consumers import RECONNECT_BACKOFF_MAX_MS


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Settings every ledger producer uses: no message is lost or reordered per partition."""
    return {
        "bootstrap_servers": bootstrap.split(","),
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 5,
        "batch_size": 512 * 1024,
        "max_block_ms": 10_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        "client_id": "ledger",
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        **overrides,
    }


class KeyHashes:
    """kafka-python's default choice of partition for a keyed record (murmur2 of the key, as the Java client: the
    same partition for the same key), with recent keys' hashes kept: the relay sends each account's events under
    its key again and again, and the pure-Python murmur2 cost more than the rest of a send."""

    def __init__(self, keep: int = 100_000) -> None:
        self.hashes = Recent(keep)

    def hash(self, key: bytes) -> int:
        return self.hashes.keep(key, murmur2(key) & 0x7FFFFFFF)

    def partition(self, key: bytes, ordered: list[int]) -> int:
        """The partition of `key` among the topic's partitions `ordered` (sorted)."""
        return ordered[(self.hashes.get(key) or self.hash(key)) % len(ordered)]


def _publisher_settings() -> dict[str, Any]:
    """What the page-by-page publisher sets beyond `producer_config`: a long linger. `publish` flushes each page, which
    sends its batches at once; with the shared 5 ms linger the producer's sender thread woke up every 5 ms while the
    page was being appended, taking the GIL from it (about 8% of the relay's CPU)."""
    return {"linger_ms": 1_000}


class KafkaPublisher:
    def __init__(self, bootstrap: str, topic: str, flush_timeout: float = 60.0, **config: Any) -> None:
        self.topic = topic
        self.flush_timeout = flush_timeout
        self.keys = KeyHashes()  # each message's partition, as the default partitioner would choose it
        try:
            self.producer = KafkaProducer(**producer_config(bootstrap, **{**_publisher_settings(), **config}))
        except KafkaError as error:
            raise PublishFailed(f"cannot reach Kafka at {bootstrap}: {error}", bootstrap=bootstrap) from None

    def publish(self, messages: list[OutboundMessage]) -> None:
        try:
            send, topic, hashes, hash_of = self.producer.send, self.topic, self.keys.hashes, self.keys.hash
            ordered = sorted(self.producer.partitions_for(topic))  # once a page, not once a message
            count = len(ordered)
            futures = [send(topic, key=m.key, value=m.value,
                            headers=m.headers if type(m.headers) is list else list(m.headers),
                            partition=None if m.key is None else ordered[(hashes.get(m.key) or hash_of(m.key)) % count])
                       for m in messages]
            self.producer.flush(timeout=self.flush_timeout)
            for future in futures:
                future.get(timeout=0)
        except KafkaError as error:
            raise PublishFailed(f"Kafka did not acknowledge {len(messages)} messages on {self.topic}: {error!r}",
                                topic=self.topic) from None

    def close(self) -> None:
        self.producer.close(timeout=5)
