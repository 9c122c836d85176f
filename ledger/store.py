"""The event store: an eventsourcing Application that loads and atomically saves the ledger's aggregates."""

from __future__ import annotations

from typing import Any, Callable, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Cache, LRUCache
from eventsourcing.persistence import IntegrityError

from ledger.aggregates.billing_account import BillingAccount
from ledger.errors import ConcurrencyConflict, NotFound

A = TypeVar("A")
R = TypeVar("R")


class LedgerStore(Application):
    """Persistence for every aggregate; one `save()` writes all events of a command in one transaction."""

    name = "Ledger"

    def __init__(self, env: dict[str, str], snapshot_interval: int) -> None:
        super().__init__(env=env)
        self.snapshotting_intervals = {BillingAccount: snapshot_interval} if snapshot_interval else {}

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot from the aggregates just saved, not by reloading them (the library's default re-reads every event)."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        if due:
            self.snapshots.put([type(agg).Snapshot.take(agg) for agg in due.values()])

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str, version: int | None = None) -> A:
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise missing(f"{what} not found", id=aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise missing(f"{what} not found (id {aggregate_id} holds a {type(aggregate).__name__})", id=aggregate_id)
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def forget(self) -> None:
        """Drop cached aggregates (after a version conflict some are stale)."""
        cache = self.repository.cache
        if cache is not None:
            # A fresh cache: the library's LRUCache.clear() only resets its recency list and keeps every entry.
            self.repository.cache = LRUCache(maxsize=cache.maxsize) if isinstance(cache, LRUCache) else Cache()

    def retrying(self, attempt: Callable[[], R], attempts: int) -> R:
        """Run a load-decide-save attempt; on a version conflict reload and try again (optimistic concurrency)."""
        for _ in range(attempts):
            try:
                return attempt()
            except IntegrityError:
                self.forget()
        raise ConcurrencyConflict(f"gave up after {attempts} attempts: other writers kept changing the same aggregates")

    def notifications(self, start: int, limit: int, topics: list[str] | None = None) -> Any:
        return self.recorder.select_notifications(start=start, limit=limit, topics=topics or ())

