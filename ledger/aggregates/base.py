"""Shared base for the ledger's aggregates: events carry the caller's clock as their timestamp."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.aggregates import library_bypasses

L = TypeVar("L", bound="LedgerAggregate")


class LedgerAggregate(Aggregate):
    """An eventsourcing Aggregate whose events are stamped with an injected 'recorded at' time.

    Public methods check rules and then call `_record(EventClass, now, ...)`; the event's
    `apply` only changes state, so replay never re-runs a rule. Events are made and applied by the
    library's steps without its per-event overhead (`library_bypasses`).
    """

    def _record(self, event_class: type[Any], now: datetime, **fields: Any) -> None:
        """Trigger the next event, stamped `now`, with exactly the event's own fields."""
        if not library_bypasses.record(self, event_class, now, fields):
            self.trigger_event(event_class, timestamp=now, **fields)  # the library's way (raises)

    @classmethod
    def _create(cls: type[L], event_class: type[Any], *, id: UUID | None = None, **kwargs: Any) -> L:  # noqa: A002
        """The library's _create: the creation event at the initial version, applied to a new instance, pending."""
        timestamp = kwargs.pop("timestamp", None)
        created = library_bypasses.create(cls, event_class, id, timestamp, kwargs)
        if created is None:
            return super()._create(event_class, id=id, timestamp=timestamp, **kwargs)
        return created

    @property
    def recorded_at(self) -> datetime:
        return self.modified_on
