"""The relay's Kafka publisher on a real broker: messages land, in order, on the partitions kafka-python's default
partitioner chooses for their keys, with their headers as given."""

from __future__ import annotations

import uuid

from kafka.partitioner import DefaultPartitioner

from ledger.ports import OutboundMessage
from ledger.streaming.kafka_publisher import KafkaPublisher
from ledger.streaming.kafka_topics import ensure_topics
from tests.support.kafka_fakes import FakeCluster
from tests.support.pipeline import read_topic


def test_messages_land_on_the_default_partitioner_s_partitions_in_order(kafka_bootstrap: str) -> None:
    topic = f"publisher-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 5})
    keys = [str(uuid.uuid4()).encode() for _ in range(40)]
    messages = [OutboundMessage(keys[n % len(keys)], f"v{n}".encode(), [("n", str(n).encode())]) for n in range(400)]
    publisher = KafkaPublisher(kafka_bootstrap, topic)
    try:
        publisher.publish(messages[:150])
        publisher.publish(messages[150:])  # the keys' hashes now come from the kept ones
    finally:
        publisher.close()
    received = read_topic(kafka_bootstrap, topic)
    default, cluster = DefaultPartitioner(), FakeCluster.of("t", 5)
    assert len(received) == len(messages)
    for record in received:
        assert record.partition == default.partition("t", record.key, record.key, None, None, cluster)
        assert record.headers == [("n", record.value[1:])]
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(received, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(int(record.value[1:]))
    assert all(sent == sorted(sent) for sent in by_key.values())  # each key's messages in the order sent
