"""Shared base for the ledger's aggregates: events carry the caller's clock as their timestamp."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


class LedgerAggregate(Aggregate):
    """An eventsourcing Aggregate whose events are stamped with an injected 'recorded at' time.

    Public methods check rules and then call `_record(EventClass, now, ...)`; the event's
    `apply` only changes state, so replay never re-runs a rule.
    """

    def _record(self, event_class: type[Any], now: datetime, **fields: Any) -> None:
        self.trigger_event(event_class, timestamp=now, **fields)

    @property
    def recorded_at(self) -> datetime:
        return self.modified_on
