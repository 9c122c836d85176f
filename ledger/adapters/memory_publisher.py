"""In-memory EventPublisher: the fake beside the (later) Kafka publisher; keeps what it was given, in order."""

from __future__ import annotations


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[int, object]] = []

    def publish(self, events: list[tuple[int, object]]) -> None:
        self.published.extend(events)
