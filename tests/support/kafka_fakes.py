"""Stand-ins for the two kafka-python objects the ledger's Kafka code reads but that only a broker makes: the
cluster metadata a partitioner asks, and a consumed record. Tests that need a broker use the real one
(the `kafka_bootstrap` fixture); these are for tests of the logic around it."""

from __future__ import annotations

from dataclasses import dataclass


class FakeCluster:
    """The ClusterMetadata queries a partitioner makes (kafka.partitioner.DefaultPartitioner), for fixed topics."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    @classmethod
    def of(cls, topic: str, count: int) -> FakeCluster:
        """One topic with partitions 0 .. count - 1."""
        return cls({topic: set(range(count))})

    def topics(self, exclude_internal_topics: bool = True) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.partitions[topic]) if topic in self.partitions else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


@dataclass
class ConsumedRecord:
    """What the ingestion reads of a kafka-python ConsumerRecord (consumers.charge_ingestion.Message)."""

    value: bytes | None
    offset: int = 0
    key: bytes | None = None
    topic: str = "rating.charges"
    partition: int = 0
