"""Ports the service layer depends on; adapters (real and fake) live at the edge and are wired in bootstrap."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Protocol

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


class EventPublisher(Protocol):
    """Sends stored events onward (Kafka in production, a list in tests). Called in notification order."""

    def publish(self, events: list[tuple[int, object]]) -> None: ...


class Projection(Protocol):
    """Builds a read model from stored events; `position` is the notification id, for exactly-once tracking."""

    def handle(self, position: int, event: object) -> None: ...
