"""Which dependency a failure belongs to, and how long it has been down: logged when it starts, once a period
while it lasts (not once a retry), and when it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

UNEXPECTED = "unexpected"
"""The dependency of a failure no known dependency explains (a bug, or an error class nobody listed)."""

DATABASES = ("postgresql", "sqlite")
KAFKA = "kafka"

Dependencies = Mapping[str, tuple[type[BaseException], ...]]
"""Dependency name ("postgresql", "kafka", "webhook"...) -> the exception classes that mean it is unreachable."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def dependency_of(error: BaseException, dependencies: Dependencies) -> str | None:
    """The dependency whose exception classes match `error` or one of its causes; None when none does."""
    for link in _chain(error):
        for name, classes in dependencies.items():
            if isinstance(link, classes):
                return name
    return None


@dataclass
class Outage:
    dependency: str
    since: float
    last_logged: float
    attempts: int = 0
    last_error: str = ""


class OutageLog:
    """The outages in progress, by dependency; `log(level, event, **fields)` writes a line."""

    def __init__(self, log: Any, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.period = period
        self.clock = clock
        self.current: dict[str, Outage] = {}

    def failed(self, dependency: str, error: BaseException, retry_in: float) -> Outage:
        """Record one failed attempt; logs the first, then at most once a period."""
        now = self.clock()
        reason = _describe(error)
        outage = self.current.get(dependency)
        if outage is None:
            outage = self.current[dependency] = Outage(dependency, now, now, 1, reason)
            self.log.warning(f"{dependency} unavailable; retrying", dependency=dependency, error=reason,
                             retry_in=round(retry_in, 2), exc_info=dependency == UNEXPECTED)
            return outage
        outage.attempts += 1
        outage.last_error = reason
        if now - outage.last_logged >= self.period:
            outage.last_logged = now
            self.log.warning(f"{dependency} still unavailable", dependency=dependency, error=reason,
                             down_seconds=round(now - outage.since, 1), attempts=outage.attempts)
        return outage

    def recovered(self) -> list[tuple[str, float]]:
        """End every outage in progress (a unit of work just succeeded): (dependency, seconds down) each, logged."""
        now = self.clock()
        ended = [(o.dependency, now - o.since) for o in self.current.values()]
        for (name, down), outage in zip(ended, self.current.values()):
            self.log.info(f"{name} is back; resumed", dependency=name, down_seconds=round(down, 1),
                          attempts=outage.attempts)
        self.current.clear()
        return ended

    def longest(self) -> Outage | None:
        return min(self.current.values(), key=lambda o: o.since, default=None)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
