"""Writers that make progress under contention: the retry of a command that met a version conflict.

Optimistic concurrency stays the rule (load, decide, save; a save of a stale aggregate fails on its version).
What changes is the retry (measured in README "Writers under contention", bench/contention.py):
- a retry without locks waits a capped exponential backoff with jitter (writers that collided do not collide
  again in step);
- on PostgreSQL, a command that met a conflict retries holding an exclusive advisory lock on each of the aggregates
  its failed save touched (hashed into BUCKETS per schema, taken in bucket order, so two retriers never deadlock),
  and every save takes the shared lock of the buckets it writes (in its transaction, before the table lock). A
  retrier holding its locks therefore reloads and saves with no other writer able to change those aggregates in
  between: its next attempt succeeds, and writers that never conflict pay one short statement per save. A store
  holding exclusive locks takes no shared ones, so a retrier never waits for another retrier's locks while holding
  its own (a wait PostgreSQL could not see as a deadlock: the two sessions of one process).
"""

from __future__ import annotations

import contextlib
import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.errors import ConcurrencyConflict

R = TypeVar("R")
BUCKETS = 64
"""Lock buckets per schema: a save takes at most this many shared locks (PostgreSQL's lock table is small)."""
BACKOFF_FIRST = 0.005
BACKOFF_CAP = 0.5
_TAKE = "SELECT pg_advisory_lock(%s, b) FROM unnest(%s::int[]) WITH ORDINALITY AS u(b, n) ORDER BY n"
_SHARE = ("SELECT pg_advisory_xact_lock_shared(%s, b) FROM unnest(%s::int[]) WITH ORDINALITY AS u(b, n) "
          "ORDER BY n")


def bucket(aggregate_id: UUID) -> int:
    return (aggregate_id.int >> 64) % BUCKETS


def buckets(aggregate_ids: Iterable[UUID]) -> list[int]:
    return sorted({bucket(aggregate_id) for aggregate_id in aggregate_ids})


class WriterLocks:
    """The advisory locks of one store on PostgreSQL (`datastore`: the eventsourcing library's PostgresDatastore)."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.space = zlib.crc32(datastore.schema.encode()) & 0x7FFFFFFF  # one key space per schema
        self.held: list[int] = []

    @contextlib.contextmanager
    def holding(self) -> Iterator[Callable[[Iterable[UUID]], None]]:
        """A block in which `take(ids)` locks those aggregates' buckets exclusively until the block ends (on a pooled
        connection got at the first `take`: a command that never conflicts uses none). In a block nested in one that
        holds locks already (a cycle run's batch retried inside the command's own retry), `take` does nothing."""
        with contextlib.ExitStack() as stack:
            conn: Any = None
            mine: list[int] = []

            def take(aggregate_ids: Iterable[UUID]) -> None:
                nonlocal conn
                wanted = buckets(aggregate_ids)
                if self.held or not wanted:
                    return  # more buckets later are not taken (out of order, they could deadlock): optimistic
                if conn is None:
                    conn = stack.enter_context(self.datastore.get_connection())
                conn.execute(_TAKE, (self.space, wanted))
                mine[:] = self.held = wanted

            try:
                yield take
            finally:
                if mine:
                    self.held = []
                    with contextlib.suppress(Exception):  # a broken connection dropped them anyway
                        conn.execute("SELECT pg_advisory_unlock_all()")

    def share(self, curs: Any, aggregate_ids: Iterable[UUID]) -> None:
        """In a save's transaction: wait until no retrier holds the buckets of these aggregates (none if this store
        holds some itself)."""
        if self.held:
            return
        wanted = buckets(aggregate_ids)
        if wanted:
            curs.execute(_SHARE, (self.space, wanted), prepare=True)


def retrying(store: Any, attempt: Callable[[], R], attempts: int, locks: WriterLocks | None, backoff: bool = True,
             sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> R:
    """Run a load-decide-save attempt; after a version conflict back off (or, on PostgreSQL, take the conflicting
    aggregates' locks), bring the cached aggregates up to date (`after_conflict`: caught up when the attempt put
    back what it changed, else dropped, `forget`) and retry. Raises ConcurrencyConflict after `attempts`."""
    rng = rng or random.Random()
    with locks.holding() if locks is not None else contextlib.nullcontext(None) as take, _offered(store, take):
        for n in range(attempts):
            try:
                return attempt()
            except IntegrityError:
                if take is not None:
                    take(store.saving)
                if backoff and n + 1 < attempts and not (locks is not None and locks.held):
                    sleep(min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** n) * rng.uniform(0.5, 1.0))
                # holding the locks, the next attempt is safe: waiting would only hold everyone else up
                getattr(store, "after_conflict", store.forget)()  # the cache caught up (or dropped) just before it
    raise ConcurrencyConflict(f"gave up after {attempts} attempts: other writers kept changing the same aggregates")


@contextlib.contextmanager
def _offered(store: Any, take: Callable[[Iterable[UUID]], None] | None) -> Iterator[None]:
    """`take` offered to the attempt as `store.take_locks` (None outside a retrying block, or without locks): a
    store lately contended takes a batch's locks before deciding (LedgerStore.catch_up)."""
    outer = getattr(store, "take_locks", None)
    if take is None or outer is not None:  # a nested block: the outer one's take stands
        yield
        return
    store.take_locks = take
    try:
        yield
    finally:
        store.take_locks = None
