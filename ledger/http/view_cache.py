"""Read-side cache of built TMF bodies, per aggregate and version: an aggregate's state at a version never
changes, so its body is built once (kept as whatever the caller stores: the accounts keep the rendered JSON bytes,
which the garbage collector never traverses, unlike a dict of dicts).

Each read first asks the database for the aggregate's current version (one
select on the primary key's index), so a GET still sees every write made before it, by this worker or another
(read your writes); only when the stored version is the cached one is the cached body served. A body that also
depends on the day (overdue bills) is kept with the day it was built for and rebuilt on another day."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

Body = Any


class ViewCache:
    """aggregate id -> (version, day, body), at most `size` of them (least recently used dropped)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[UUID, tuple[int, date | None, Body]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID, version: int | None, day: Callable[[Body], date | None]) -> Body | None:
        """The body cached for this version (and the day `day` gives for it), else None."""
        if version is None or not self.size:
            return None
        with self._lock:
            found = self._entries.get(aggregate_id)
            if found is None or found[0] != version:
                return None
            self._entries.move_to_end(aggregate_id)
        return found[2] if found[1] == day(found[2]) else None

    def put(self, aggregate_id: UUID, version: int, on: date | None, body: Body) -> None:
        if not self.size:
            return
        with self._lock:
            current = self._entries.get(aggregate_id)
            if current is not None and current[0] > version:
                return  # a newer one was cached meanwhile
            self._entries[aggregate_id] = (version, on, body)
            self._entries.move_to_end(aggregate_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
