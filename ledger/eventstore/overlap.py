"""Store work done on a background thread while the caller computes: a batch read ahead, a save written behind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

Rows = tuple[list[StoredEvent], list[tuple[int, int, str, bytes]]]  # latest snapshots; events after them by position


class ReadAhead:
    """The stored rows of a batch of aggregates (of any types: a batch's accounts and their subscriptions, say), being
    read in the background while the caller works on the batch before it. The rows are taken at most once: a batch
    retried after a version conflict reads afresh. The aggregates built from them but not wanted by the load that
    took them are kept for the batch's next load (`keep`, `kept`), each handed out once."""

    def __init__(self, aggregate_ids: list[UUID], rows: Future[Rows]) -> None:
        self.ids = aggregate_ids
        self._rows: Future[Rows] | None = rows
        self._kept: dict[UUID, Any] = {}

    def take(self, wanted: Sequence[UUID]) -> Rows | None:
        """The rows, when they cover every id in `wanted` and were not taken before; else None."""
        rows, self._rows = self._rows, None
        if rows is None or not set(wanted) <= set(self.ids):
            return None
        return rows.result()

    def keep(self, built: dict[UUID, Any]) -> None:
        """Keep aggregates built from the rows for a later load of the same batch."""
        self._kept.update(built)

    def kept(self, wanted: Sequence[UUID]) -> dict[UUID, Any] | None:
        """The kept aggregates of `wanted` (None for an id the rows had none of), when every one was kept; handed out
        once. None when some were not."""
        kept = self._kept
        if not wanted or any(aggregate_id not in kept for aggregate_id in wanted):
            return None
        return {aggregate_id: kept.pop(aggregate_id) for aggregate_id in wanted}


class PendingSave:
    """A save whose insert may still be running; `wait()` finishes it (once) or raises what the insert raised (every
    time it is called)."""

    def __init__(self, inserted: Future[Any], finish: Callable[[Any], None]) -> None:
        self._inserted = inserted
        self._finish: Callable[[Any], None] | None = finish

    @classmethod
    def done(cls) -> PendingSave:
        """A save that was done before it was handed out."""
        future: Future[Any] = Future()
        future.set_result(None)
        return cls(future, lambda _: None)

    def wait(self) -> None:
        result = self._inserted.result()
        finish, self._finish = self._finish, None
        if finish is not None:
            finish(result)
