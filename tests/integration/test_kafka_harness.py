"""The test suite's Kafka broker is a real, working broker (round trip, partitions, restart)."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer

from tests.support.kafka_server import KafkaServer, create_topic, partition_count


def _topic() -> str:
    return f"harness-{uuid.uuid4().hex[:12]}"


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Send ``(key, value)`` pairs and wait until the broker acknowledged all of them."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                             client_id="harness-test")
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)


def _consume(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[tuple[bytes, bytes]]:
    """Read ``count`` records of ``topic`` from the start (new consumer group), as ``(key, value)``."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False, client_id="harness-test")
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got += [(record.key, record.value) for record in records]
    finally:
        consumer.close()
    return got


def test_a_produced_message_is_consumed(kafka_bootstrap: str) -> None:
    """A message sent by an idempotent acks=all producer is read back by a consumer."""
    topic = _topic()
    create_topic(kafka_bootstrap, topic, partitions=1)
    _produce(kafka_bootstrap, topic, [(b"account-1", b"charged 10 EUR")])
    assert _consume(kafka_bootstrap, topic, 1) == [(b"account-1", b"charged 10 EUR")]


def test_a_topic_has_the_partitions_it_was_created_with(kafka_bootstrap: str) -> None:
    """A topic created with 7 partitions has 7 partitions."""
    topic = _topic()
    create_topic(kafka_bootstrap, topic, partitions=7)
    assert partition_count(kafka_bootstrap, topic) == 7


def test_acknowledged_messages_survive_a_broker_restart(kafka_server: KafkaServer) -> None:
    """Messages acknowledged before the broker is stopped are read after it is started again."""
    topic = _topic()
    kafka_server.create_topic(topic, partitions=3)
    sent = [(f"account-{i}".encode(), f"event {i}".encode()) for i in range(20)]
    _produce(kafka_server.bootstrap, topic, sent)
    kafka_server.stop()
    kafka_server.start()
    assert sorted(_consume(kafka_server.bootstrap, topic, len(sent))) == sorted(sent)
