"""In-memory EventPublisher: the fake beside the Kafka publisher; keeps what it was given, in order."""

from __future__ import annotations

from ledger.errors import PublishFailed
from ledger.ports import OutboundMessage


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[OutboundMessage] = []
        self.down = False  # a test sets this to play a broker that is unreachable

    def publish(self, messages: list[OutboundMessage]) -> None:
        if self.down:
            raise PublishFailed("in-memory broker is down", messages=len(messages))
        self.published.extend(messages)

    def close(self) -> None:
        pass
