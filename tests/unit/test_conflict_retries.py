"""The retry after a version conflict (ledger/eventstore/contention.py), with a scripted attempt: backoff with
jitter between attempts, the cached aggregates forgotten each time, and the give-up after the attempts."""

from __future__ import annotations

import random
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.errors import ConcurrencyConflict
from ledger.eventstore.contention import BACKOFF_CAP, BACKOFF_FIRST, BUCKETS, bucket, buckets, retrying


class Store:
    def __init__(self) -> None:
        self.forgotten = 0
        self.saving = [uuid4()]

    def forget(self) -> None:
        self.forgotten += 1


def conflicting(times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise IntegrityError("duplicate key value violates unique constraint")
        return "done"

    return calls, attempt


def test_a_conflicting_attempt_is_retried_after_a_growing_jittered_wait():
    """Three conflicts then success: three waits, each within [half, all] of 5 ms doubling, the cache dropped each time."""
    store, waits = Store(), []
    calls, attempt = conflicting(3)
    assert retrying(store, attempt, 10, None, sleep=waits.append, rng=random.Random(1)) == "done"
    assert len(calls) == 4 and store.forgotten == 3
    assert [BACKOFF_FIRST * 2 ** n / 2 <= w <= BACKOFF_FIRST * 2 ** n for n, w in enumerate(waits)] == [True] * 3


def test_the_waits_never_exceed_the_cap():
    """However many conflicts, no wait is longer than BACKOFF_CAP."""
    waits: list[float] = []
    _, attempt = conflicting(30)
    retrying(Store(), attempt, 31, None, sleep=waits.append)
    assert max(waits) <= BACKOFF_CAP and waits[-1] >= BACKOFF_CAP / 2


def test_plain_retries_do_not_wait():
    """The 'plain' strategy (backoff off) retries at once."""
    waits: list[float] = []
    _, attempt = conflicting(2)
    retrying(Store(), attempt, 5, None, backoff=False, sleep=waits.append)
    assert waits == []


def test_a_command_that_keeps_conflicting_gives_up_with_concurrency_conflict():
    """After the given attempts the command is refused with concurrency_conflict (and no wait after the last)."""
    waits: list[float] = []
    calls, attempt = conflicting(100)
    with pytest.raises(ConcurrencyConflict):
        retrying(Store(), attempt, 4, None, sleep=waits.append)
    assert len(calls) == 4 and len(waits) == 3


def test_lock_buckets_are_sorted_distinct_and_bounded():
    """Any ids map to sorted distinct buckets below BUCKETS, the same id always to the same one."""
    ids = [uuid4() for _ in range(500)]
    found = buckets(ids + ids)
    assert found == sorted(set(found)) and all(0 <= b < BUCKETS for b in found)
    assert [bucket(i) for i in ids] == [bucket(i) for i in ids]
