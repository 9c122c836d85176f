"""In-memory EventPublisher: the fake beside the Kafka publisher; keeps what it was given, in order.

It keeps the Kafka publisher's contract (tests/integration/test_publishers.py runs the same tests on both): a
publish while the broker is down (`down`) or after close raises PublishFailed. Being its own broker too, it
stays one object: `reopen()` is the next publisher on the same broker, what the relay's factory makes after
a failure."""

from __future__ import annotations

from ledger.errors import PublishFailed
from ledger.ports import OutboundMessage


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[OutboundMessage] = []
        self.down = False  # a test sets this to play a broker that is unreachable
        self.closed = False

    def publish(self, messages: list[OutboundMessage]) -> None:
        if self.closed:
            raise PublishFailed("the in-memory publisher is closed", messages=len(messages))
        if self.down:
            raise PublishFailed("in-memory broker is down", messages=len(messages))
        self.published.extend(messages)

    def close(self) -> None:
        self.closed = True

    def reopen(self) -> InMemoryPublisher:
        self.closed = False
        return self
