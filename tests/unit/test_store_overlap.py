"""The store's background work handles: rows read ahead are handed out once; a pending save finishes once."""

from __future__ import annotations

from concurrent.futures import Future
from uuid import uuid4

import pytest

from ledger.eventstore.overlap import PendingSave, ReadAhead


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _failed(error: Exception) -> Future:
    future: Future = Future()
    future.set_exception(error)
    return future


def test_a_pending_save_finishes_once() -> None:
    """wait() runs the finishing step the first time only."""
    finished: list[object] = []
    pending = PendingSave(_done([1, 2]), finished.append)
    pending.wait()
    pending.wait()
    assert finished == [[1, 2]]


def test_a_failed_pending_save_raises_on_every_wait_and_never_finishes() -> None:
    """The insert's error comes out of each wait(); the finishing step (cache, snapshots) never runs."""
    finished: list[object] = []
    pending = PendingSave(_failed(RuntimeError("conflict")), finished.append)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="conflict"):
            pending.wait()
    assert finished == []


def test_a_save_done_before_it_was_handed_out_waits_for_nothing() -> None:
    """PendingSave.done() is already finished."""
    PendingSave.done().wait()


def test_rows_read_ahead_cover_a_subset_of_their_ids() -> None:
    """Rows read for ids a, b serve a batch asking for b alone."""
    a, b = uuid4(), uuid4()
    assert ReadAhead([a, b], _done(([], []))).take([b]) == ([], [])


def test_aggregates_kept_from_rows_read_ahead_are_handed_out_once_and_only_all_together() -> None:
    """What a batch's first load built besides its own ids serves its next load once, and only when all are kept."""
    ahead, a, b, c = ReadAhead([], _done(([], []))), uuid4(), uuid4(), uuid4()
    ahead.keep({a: "sub a", b: None})
    assert ahead.kept([a, c]) is None
    assert ahead.kept([a, b]) == {a: "sub a", b: None}
    assert ahead.kept([a]) is None
