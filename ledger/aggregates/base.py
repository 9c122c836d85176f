"""Shared base for the ledger's aggregates: events carry the caller's clock as their timestamp."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

_BASE_FIELDS = ("originator_id", "originator_version", "timestamp")
_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def _event_fields(event_class: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """An event class's own fields in declaration order (after the id, version and timestamp every event has), and as a set."""
    found = _FIELDS.get(event_class)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(event_class) if f.name not in _BASE_FIELDS)
        found = _FIELDS[event_class] = (names, frozenset(names))
    return found


def _event(event_class: type, state: dict[str, Any]) -> Any:
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


def construct(created: Any) -> Any:
    """created.mutate(None) for a ledger aggregate's creation event: the library's steps (base attributes, then
    apply) without its keyword filtering for an __init__ the ledger's aggregates do not define."""
    cls = resolve_topic(created.originator_topic)
    if cls.__init__ is not object.__init__:
        return created.mutate(None)
    aggregate = object.__new__(cls)
    aggregate._id = created.originator_id
    aggregate._version = created.originator_version
    aggregate._created_on = aggregate._modified_on = created.timestamp
    aggregate._pending_events = []
    created.apply(aggregate)
    return aggregate


L = TypeVar("L", bound="LedgerAggregate")


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
        event = _event(event_class, state)
        event.apply(self)
        self._version = version
        self._modified_on = now
        self._pending_events.append(event)

    @classmethod
    def _create(cls: type[L], event_class: type[Any], *, id: UUID | None = None, **kwargs: Any) -> L:  # noqa: A002
        """The library's _create (creation event at the initial version, naming this class, applied to a new
        instance, pending) without its dataclass __init__ and keyword filtering, when given an id, a timestamp and
        exactly the event's own fields; anything else goes the library's way."""
        names, name_set = _event_fields(event_class)
        timestamp = kwargs.pop("timestamp", None)
        if id is None or timestamp is None or kwargs.keys() != name_set - {"originator_topic"}:
            return super()._create(event_class, id=id, timestamp=timestamp, **kwargs)  # type: ignore[misc]
        state = {"originator_id": id, "originator_version": cls.INITIAL_VERSION, "timestamp": timestamp}
        for name in names:
            state[name] = get_topic(cls) if name == "originator_topic" else kwargs[name]
        created = _event(event_class, state)
        aggregate = construct(created)
        aggregate._pending_events.append(created)
        return aggregate  # type: ignore[no-any-return]

    @property
    def recorded_at(self) -> datetime:
        return self.modified_on
