"""The book checkpoints' follower: keeps every long account's book checkpoint current as its events arrive.

An as-of query reads an account's book from its checkpoint and the events after it (ledger/queries/book_loading.py),
and writes a checkpoint itself when it had to project CHECKPOINT_AFTER events or more. Left to the queries, the
first auditor to ask about a long account (or to ask after 500 new events) pays the whole projection. This follower
reads the notification log in order (ids, versions and topics only: no event is decoded here), notes the last
version of each billing account in a page, and for an account at least CHECKPOINT_AFTER events past its stored
checkpoint (or with none) has `refresh` write a new one: the old checkpoint gone on with the events after it. So a
query never projects more than CHECKPOINT_AFTER - 1 events past a checkpoint, wherever the follower runs.

Its position is recorded (in the event store's database, as the relay's) after the page's checkpoints were written;
a crash re-reads at most one page, and a checkpoint written twice is the same checkpoint. A checkpoint is a cache: a
failed write is logged by the table and costs speed only, so it never stops the follower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.utils import resolve_topic

from ledger.aggregates.billing_account import BillingAccount
from ledger.ports import PositionStore
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import DATABASES

FOLLOWER_NAME = "book-checkpoints"


class BookFollower:
    """A supervised worker (ledger.runtime): one page of the notification log a step."""

    idle_pause = 1.0

    def __init__(self, store: Any, positions: PositionStore, refresh: Callable[[UUID], int | None],
                 stored_version: Callable[[UUID], int | None], every: int, batch_size: int = 5_000,
                 name: str = FOLLOWER_NAME) -> None:
        self.store = store
        self.positions = positions
        self.refresh = refresh
        self.stored_version = stored_version
        self.every = every
        self.batch_size = batch_size
        self.name = name
        self.position = positions.get(name)
        self.written = 0
        self._accounts: dict[str, bool] = {}  # topic -> whether it is a billing account's event
        self._reread_position = False
        self.log = structlog.get_logger("ledger.book_follower").bind(follower=name)

    def step(self) -> int:
        """Read the next page and refresh the checkpoints it calls for; how many events it read (0: none new)."""
        if self._reread_position:
            self.position = self.positions.get(self.name)
            self._reread_position = False
        notes = list(self.store.notifications(start=self.position + 1, limit=self.batch_size))
        if not notes:
            return 0
        heads: dict[UUID, int] = {}
        for note in notes:
            if self._is_account(note.topic):
                heads[note.originator_id] = note.originator_version
        for account_id, head in heads.items():
            if head - (self.stored_version(account_id) or 0) >= self.every and self.refresh(account_id) is not None:
                self.written += 1
        self.positions.set(self.name, notes[-1].id)
        self.position = notes[-1].id
        return len(notes)

    def _is_account(self, topic: str) -> bool:
        known = self._accounts.get(topic)
        if known is None:
            try:
                known = issubclass(resolve_topic(topic), BillingAccount.Event)
            except Exception:  # noqa: BLE001 - a topic this code cannot resolve is no account's it can project
                known = False
            self._accounts[topic] = known
        return known

    def catch_up(self) -> int:
        """Follow to the end of the log (one-shot runs and tests); events read."""
        total = 0
        while read := self.step():
            total += read
        return total

    def reset(self, dependency: str) -> None:
        if dependency in DATABASES:
            self.positions.reconnect()
            self._reread_position = True

    def report(self, metrics: ProcessMetrics) -> None:
        """Nothing only this worker knows is exported yet (its position is in the positions table)."""

    def close(self) -> None:
        try:
            self.positions.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close
            pass
        self.log.info("book follower stopped", position=self.position, checkpoints_written=self.written)
