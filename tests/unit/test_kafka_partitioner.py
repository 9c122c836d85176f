"""The relay producer's partitioner chooses exactly the partition kafka-python's default one (murmur2, as the Java
client) chooses, for every key and partition count, while keeping recent keys' hashes."""

from __future__ import annotations

from random import Random
from uuid import UUID

import pytest
from kafka.partitioner import DefaultPartitioner

from ledger.adapters.kafka_publisher import KeyHashPartitioner, producer_config


class Cluster:
    """The two ClusterMetadata queries a partitioner makes."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def topics(self, exclude_internal_topics: bool = True) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.partitions[topic]) if topic in self.partitions else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


def test_same_partition_as_the_default_partitioner() -> None:
    rng = Random(8)
    keys = [str(UUID(int=rng.getrandbits(128))).encode() for _ in range(3_000)] + [b"", b"B-000001", "é".encode()]
    ours, default = KeyHashPartitioner(keep=500), DefaultPartitioner()
    for count in (1, 2, 3, 6, 7, 64):
        cluster = Cluster({"events": set(range(count))})
        for key in keys + keys[:100]:  # seen keys again: from the kept hashes
            assert ours.partition("events", key, key, b"v", b"v", cluster) == \
                default.partition("events", key, key, b"v", b"v", cluster)
    assert len(ours._hashes) <= 500


def test_records_without_key_and_unknown_topics_are_left_to_the_library() -> None:
    cluster = Cluster({"events": {0, 1, 2}})
    assert KeyHashPartitioner().partition("events", None, None, b"v", b"v", cluster) in {0, 1, 2}
    with pytest.raises(ValueError, match="other"):  # refused, as the default partitioner refuses it
        KeyHashPartitioner().partition("other", b"k", b"k", b"v", b"v", cluster)


def test_shared_producer_settings_keep_the_library_s_partitioner() -> None:
    """The ceiling the benchmark measures uses kafka-python's own partitioner: only the relay's publisher caches."""
    assert "partitioner" not in producer_config("localhost:9092")
