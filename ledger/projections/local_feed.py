"""Feeds the read models straight from the local event store (the embedded default, where no Kafka runs)."""

from __future__ import annotations

from ledger.projections.database import ReadModelDatabase
from ledger.projections.projector import project
from ledger.streaming.event_feed import EventFeed

LOCAL_TOPIC = "local-notification-log"
LOCAL_CONSUMER = "read-models"


class LocalProjection:
    """The same projection code as the Kafka consumer, with notification ids in place of offsets."""

    def __init__(self, feed: EventFeed, db: ReadModelDatabase, batch_size: int = 5_000) -> None:
        self.feed = feed
        self.db = db
        self.batch_size = batch_size

    def catch_up(self) -> int:
        """Project every event not yet projected; returns how many were read."""
        total = 0
        while True:
            stored = self.db.offsets(LOCAL_CONSUMER, LOCAL_TOPIC).get(0)
            items = self.feed.page((stored or 1) - 1, self.batch_size)
            if not items:
                return total
            project(self.db, [item.record for item in items], consumer=LOCAL_CONSUMER, topic=LOCAL_TOPIC,
                    expected={0: stored}, next_offsets={0: items[-1].position + 1})
            total += len(items)
