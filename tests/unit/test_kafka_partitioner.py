"""The relay publisher chooses exactly the partition kafka-python's default partitioner (murmur2, as the Java
client) chooses, for every key and partition count, while keeping recent keys' hashes."""

from __future__ import annotations

from random import Random
from uuid import UUID

from kafka.partitioner import DefaultPartitioner

from ledger.streaming.kafka_publisher import KeyHashes, producer_config
from tests.support.kafka_fakes import FakeCluster


def test_same_partition_as_the_default_partitioner() -> None:
    rng = Random(8)
    keys = [str(UUID(int=rng.getrandbits(128))).encode() for _ in range(3_000)] + [b"", b"B-000001", "é".encode()]
    ours, default = KeyHashes(keep=500), DefaultPartitioner()
    for count in (1, 2, 3, 6, 7, 64):
        cluster = FakeCluster.of("events", count)
        ordered = sorted(cluster.partitions_for_topic("events") or ())
        for key in keys + keys[:100]:  # seen keys again: from the kept hashes
            assert ours.partition(key, ordered) == default.partition("events", key, key, b"v", b"v", cluster)
    assert len(ours.hashes) <= 500


def test_shared_producer_settings_are_kafka_python_s_own() -> None:
    """The ceiling the benchmark measures uses the shared settings: the library's partitioner, a 5 ms linger."""
    config = producer_config("localhost:9092")
    assert "partitioner" not in config and config["linger_ms"] == 5
