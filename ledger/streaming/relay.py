"""The outbox relay: follows the notification log in order and publishes every event to the event topic.

Position is recorded (in the event store's database) only after the broker acknowledged the page, so a crash
re-sends at most one page: delivery is at least once, and each message carries a stable event id
(uuid5 of aggregate id and version) that consumers de-duplicate on. Commands never wait for the relay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import structlog

from ledger.contracts.codec import SchemaRegistry
from ledger.errors import PublishFailed
from ledger.ports import EventPublisher, OutboundMessage, PositionStore
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import DATABASES, KAFKA
from ledger.runtime.supervisor import RunPolicy, supervise
from ledger.streaming.event_feed import EventFeed, FeedItem

RELAY_NAME = "event-topic-relay"
DEFAULT_DEPENDENCIES = {"kafka": (PublishFailed,)}


def to_message(registry: SchemaRegistry, item: FeedItem) -> OutboundMessage:
    """Key by billing account (one account's whole history on one partition); cycle events by their own id."""
    record = item.record
    return tuple.__new__(OutboundMessage, (
        (record["billing_account_id"] or record["aggregate_id"]).encode(),  # key: the ids' canonical text
        registry.encode(item.schema, record),
        [("event_id", record["event_id"].encode()), _type_header(item.event_type),
         _fingerprint_header(registry, item.schema), ("notification_id", str(item.position).encode())],
    ))


@cache
def _type_header(event_type: str) -> tuple[str, bytes]:
    return ("event_type", event_type.encode())


@cache
def _fingerprint_header(registry: SchemaRegistry, schema: str) -> tuple[str, bytes]:
    return ("schema_fingerprint", registry.fingerprint(schema).hex().encode())


class OutboxRelay:
    def __init__(self, feed: EventFeed, registry: SchemaRegistry, publisher_factory: Callable[[], EventPublisher],
                 positions: PositionStore, batch_size: int = 2_000, name: str = RELAY_NAME) -> None:
        self.feed = feed
        self.registry = registry
        self.publisher_factory = publisher_factory
        self.publisher: EventPublisher | None = None
        self.positions = positions
        self.batch_size = batch_size
        self.name = name
        self.position = positions.get(name)
        self._lag_checked = 0.0
        self._reread_position = False
        self.log = structlog.get_logger("ledger.relay").bind(relay=name)

    def step(self) -> int:
        """Publish the next page; returns how many events went out (0: nothing new). Raises PublishFailed."""
        if self._reread_position:  # after a database failure: where the stored position says, in case it moved
            self.position = self.positions.get(self.name)
            self._reread_position = False
        items = self.feed.page(self.position, self.batch_size)
        if not items:
            return 0
        messages = [to_message(self.registry, item) for item in items]
        if self.publisher is None:
            self.publisher = self.publisher_factory()
        try:
            self.publisher.publish(messages)
        except PublishFailed:
            self._drop_publisher()
            raise
        self.positions.set(self.name, items[-1].position)
        self.position = items[-1].position
        return len(items)

    # ------------------------------------------------------------ as a supervised worker (ledger.runtime)

    idle_pause = 0.2

    def reset(self, dependency: str) -> None:
        """After a failed page: a new producer if the broker failed, a new positions connection if the database
        did; the page is read again from the recorded position (nothing of it was recorded)."""
        if dependency not in DATABASES:
            self._drop_publisher()
        if dependency != KAFKA:
            self.positions.reconnect()
            self._reread_position = True

    def report(self, metrics: ProcessMetrics) -> None:
        now = time.monotonic()
        if now - self._lag_checked >= 1.0:  # one query a second at most, however often pages go out
            self._lag_checked = now
            stored = self.feed.store.recorder.max_notification_id() or 0
            metrics.relay_lag.set(max(stored - self.position, 0))

    def run(self, stop: threading.Event, idle_seconds: float = 0.2, max_backoff: float = 10.0,
            on_step: Callable[[int], None] | None = None, **supervision: Any) -> None:
        """Publish until `stop` is set, riding out broker and database outages (ledger.runtime.supervisor)."""
        self.idle_pause = idle_seconds
        self.log.info("relay started", position=self.position)
        supervise("relay", lambda: self, supervision.pop("dependencies", DEFAULT_DEPENDENCIES), stop,
                  supervision.pop("policy", RunPolicy(backoff_first_seconds=idle_seconds, backoff_cap_seconds=max_backoff)),
                  on_step=on_step, **supervision)

    def catch_up(self) -> int:
        """Publish everything stored so far (for tests and one-shot runs); returns the count."""
        total = 0
        while sent := self.step():
            total += sent
        return total

    def _drop_publisher(self) -> None:
        if self.publisher is not None:
            try:
                self.publisher.close()
            except Exception:  # noqa: BLE001 - a broken producer may fail to close; a new one is made anyway
                pass
            self.publisher = None

    def close(self) -> None:
        self._drop_publisher()
        try:
            self.positions.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close
            pass
        self.log.info("relay stopped", position=self.position)


