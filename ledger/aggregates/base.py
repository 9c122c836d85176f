"""Shared base for the ledger's aggregates: events carry the caller's clock as their timestamp."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

_BASE_FIELDS = ("originator_id", "originator_version", "timestamp")
_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def _event_fields(event_class: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """An event class's own fields in declaration order (after the id, version and timestamp every event has), and as a set."""
    found = _FIELDS.get(event_class)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(event_class) if f.name not in _BASE_FIELDS)
        found = _FIELDS[event_class] = (names, frozenset(names))
    return found


class LedgerAggregate(Aggregate):
    """An eventsourcing Aggregate whose events are stamped with an injected 'recorded at' time.

    Public methods check rules and then call `_record(EventClass, now, ...)`; the event's
    `apply` only changes state, so replay never re-runs a rule.
    """

    def _record(self, event_class: type[Any], now: datetime, **fields: Any) -> None:
        """Trigger the next event as the library's trigger_event does (the same event, attributes in the same order,
        applied, then version and modified_on set, then pending), without its frozen-dataclass __init__ and checks
        when exactly the event's own fields are given; anything else goes the library's way (which raises)."""
        names, name_set = _event_fields(event_class)
        if fields.keys() != name_set:
            self.trigger_event(event_class, timestamp=now, **fields)
            return
        version = self._version + 1
        state = {"originator_id": self._id, "originator_version": version, "timestamp": now}
        for name in names:
            state[name] = fields[name]
        event = object.__new__(event_class)
        object.__setattr__(event, "__dict__", state)
        event.apply(self)
        self._version = version
        self._modified_on = now
        self._pending_events.append(event)

    @property
    def recorded_at(self) -> datetime:
        return self.modified_on
