"""Book checkpoints' upkeep: write one at a version, check every stored one against the events, rebuild them all.

The as-of queries write their own (`book_loading.whole`, read-through); these are for `ledger verify` (a stored
checkpoint of this code, gone on with the events after it, must make the very book the events alone make: both
encoded to the same bytes), `ledger rebuild-checkpoints` (drop them all, write one per long account) and tests.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.ports import AggregateStore
from ledger.queries import book_codec, book_loading
from ledger.queries.book_loading import LEAN, _projected, checkpoints_of, restored
from ledger.queries.postings import _Projector


def from_events(store: AggregateStore, account_id: UUID, upto: int | None = None) -> tuple[_Projector, int]:
    """(the projector of the account's whole book from its events alone, up to version `upto` when given; the
    version it is at: 0 for an account with no events)."""
    events: list[Any] = []
    for event in store.lean_history(account_id, LEAN):
        if upto is not None and event.originator_version > upto:
            break
        events.append(event)
    projector = _Projector({})
    _projected(store, events, projector)
    return projector, events[-1].originator_version if events else 0


def write(store: AggregateStore, account_ref: str, upto: int | None = None) -> int | None:
    """Store the checkpoint of the account's events up to version `upto` (default: all); its version, or None when
    the store keeps none (or the account has no events, or their recording moments go backwards somewhere)."""
    checkpoints = checkpoints_of(store)
    account_id = ids.account_id(account_ref)
    if checkpoints is None:
        return None
    projector, version = from_events(store, account_id, upto)
    if not version or projector.book.out_of_order:
        return None
    if not checkpoints.put(account_id, version, book_codec.CODE, book_codec.encode(projector, version)):
        return None
    return version


def refresh(store: AggregateStore, account_id: UUID) -> int | None:
    """Bring the account's checkpoint up to its last event when CHECKPOINT_AFTER events or more came after it (or
    it has none and that many events): its usable checkpoint gone on with the events after it, as `whole` does.
    The version stored, else None (nothing to do, no checkpoints kept, recording moments going backwards)."""
    checkpoints = checkpoints_of(store)
    if checkpoints is None:
        return None
    projector, events = restored(store, checkpoints, account_id)
    if len(events) < book_loading.CHECKPOINT_AFTER:
        return None
    start = projector or _Projector({})
    return book_loading.kept(checkpoints, account_id, start, events, _projected(store, events, start))


def differences(store: AggregateStore) -> tuple[int, list[str]]:
    """(how many stored checkpoints of this code were checked, what differs): each, gone on with the events after
    it, against the book the events alone make. A checkpoint the queries would not use (its event at its version is
    no longer the one it was made from) is reported too: it costs speed, never a wrong answer, but should not be."""
    checkpoints = checkpoints_of(store)
    if checkpoints is None:
        return 0, []
    found, checked = [], 0
    for account_id, version, code in checkpoints.stored():
        if code != book_codec.CODE:
            continue  # another code's: never read
        checked += 1
        problem = difference(store, account_id)
        if problem:
            found.append(f"book checkpoint of account {account_id} at version {version}: {problem}")
    return checked, found


def difference(store: AggregateStore, account_id: UUID) -> str | None:
    """What is wrong with the account's stored checkpoint (None: nothing, or it has none)."""
    checkpoints = checkpoints_of(store)
    if checkpoints is None or checkpoints.latest(account_id, book_codec.CODE) is None:
        return None
    projector, events = restored(store, checkpoints, account_id)
    if projector is None:
        return "not usable (its event at that version is not the one it was made from)"
    _projected(store, events, projector)
    expected, last = from_events(store, account_id)
    if book_codec.encode(projector, last) != book_codec.encode(expected, last):
        return "its book, gone on with the events after it, differs from the book of the events alone"
    return None


def rebuild(store: AggregateStore, account_ids: list[UUID]) -> int:
    """Drop every stored checkpoint, then write one for each of the accounts with CHECKPOINT_AFTER events or more;
    how many were written."""
    checkpoints = checkpoints_of(store)
    if checkpoints is None:
        return 0
    checkpoints.drop()
    written = 0
    for account_id in account_ids:
        projector, version = from_events(store, account_id)
        if version >= book_loading.CHECKPOINT_AFTER and not projector.book.out_of_order:
            written += checkpoints.put(account_id, version, book_codec.CODE, book_codec.encode(projector, version))
    return written
