"""Ports the service layer depends on; adapters (real and fake) live at the edge and are wired in bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, NamedTuple, Protocol, Sequence

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class Progress(Protocol):
    """Reports long work (a cycle run, a verify) to whoever watches: a progress bar, a log, nothing."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, done: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


class OutboundMessage(NamedTuple):
    """One encoded event on its way to the event topic: key (billing account), value (Avro), headers."""

    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]  # the relay's are a list, as kafka-python wants them


class EventPublisher(Protocol):
    """Sends encoded events onward (Kafka in production, a list in tests), in the order given.

    `publish` returns only once every message is acknowledged, and raises PublishFailed otherwise.
    """

    def publish(self, messages: list[OutboundMessage]) -> None: ...

    def close(self) -> None: ...


class PositionStore(Protocol):
    """Where a follower of the notification log keeps how far it got (the event store's database)."""

    def get(self, name: str) -> int: ...

    def set(self, name: str, position: int) -> None: ...


@dataclass(frozen=True)
class DeadLetter:
    """A message the ledger could not accept: its original bytes and where they came from, and why."""

    value: bytes | None
    key: bytes | None
    source_topic: str
    source_partition: int
    source_offset: int
    error: str
    reason: str


class DeadLetterSink(Protocol):
    """Keeps refused messages (a dead-letter topic in production); `send` returns once they are stored."""

    def send(self, letters: list[DeadLetter]) -> None: ...

    def close(self) -> None: ...
