"""Follows the event store's notification log in order and hands each event to a publisher or projection.

SQLite has no live subscription, so this polls `select_notifications`; the caller keeps the
position (the last notification id handled) and passes it back to resume without gaps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.ports import EventPublisher, Projection

if TYPE_CHECKING:
    from ledger.store import LedgerStore


def pull(store: LedgerStore, after: int, limit: int = 1_000) -> list[tuple[int, object]]:
    """The next events after notification id `after`, decoded, in order."""
    page = store.notifications(start=after + 1, limit=limit)
    return [(n.id, store.mapper.to_domain_event(n)) for n in page]


def publish_from(store: LedgerStore, publisher: EventPublisher, after: int, limit: int = 1_000) -> int:
    """Publish one page; returns the new position (unchanged when nothing was new)."""
    events = pull(store, after, limit)
    if events:
        publisher.publish(events)
        return events[-1][0]
    return after


def project_from(store: LedgerStore, projection: Projection, after: int, limit: int = 1_000) -> int:
    """Feed one page to a projection; returns the new position."""
    position = after
    for position, event in pull(store, after, limit):
        projection.handle(position, event)
    return position
