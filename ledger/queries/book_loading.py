"""What an as-of query reads: an account's book (from its events, or from its book checkpoint and the events after
it) and the stored events of its bills, payments and cycles.

Two ways to the book, the same answers (tests/integration/test_as_of_property.py checks them equal at every sampled
moment on both bases):

- `load`: from the account's events alone (on the recorded basis those recorded by T; on the effective basis all
  of them, in a book that answers up to T only);
- `whole`: where the store keeps book checkpoints (`AggregateStore.book_checkpoints`, ledger/ports.py): the whole
  book from the account's latest checkpoint and the events after it (none, when it is up to date), which answers
  any moment on both bases. A checkpoint is used only when it was written by this code (`book_codec.CODE`) and
  the stored event at its version is still the one it was made from (same version, same recording moment);
  otherwise the book is projected from every event, as when there is none. Who writes them: this read, when it
  projected at least CHECKPOINT_AFTER events past the checkpoint it started from (or from none): a checkpoint of
  the book it just made, at the account's last version. Never of a book whose recording moments go backwards
  somewhere (`Book.out_of_order`: writers' clocks disagreed), for which the queries take the from-events path.
  So the first as-of of a long account pays the projection once and writes one; the next reads it and projects
  only what came after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.errors import AccountNotFound
from ledger.ports import AggregateStore, BookCheckpoints
from ledger.queries import book_codec
from ledger.queries.postings import Book, ChargeFacts, _Projector, project

CHECKPOINT_AFTER = 500
"""A read that projected this many events or more past its checkpoint (or from none) writes a new one."""


@dataclass
class Loaded:
    """One account's book and the stored events of its bills, payments and cycles."""

    book: Book
    bills: dict[str, list[Any]]
    payments: dict[str, list[Any]]
    cycles: dict[str, list[Any]]


LEAN: dict[type, Callable[..., Any]] = {BillingAccount.ChargeApplied: ChargeFacts}
"""The account events read as tuples of the fields the postings need (`AggregateStore.lean_history`)."""


def checkpoints_of(store: AggregateStore) -> BookCheckpoints | None:
    """The store's book checkpoints, None when it keeps none (or this code cannot name itself)."""
    table: BookCheckpoints | None = getattr(store, "book_checkpoints", None)
    return table if table is not None and book_codec.CODE else None


def load(store: AggregateStore, account_ref: str, until: datetime | None = None,
         in_force_by: datetime | None = None) -> Loaded:
    """Read every stored event of the account (those recorded by `until`, when given: the events a ledger had then,
    the first of them recorded after it ends them; a charge as its ChargeFacts) and of what it refers to.
    `in_force_by`: a book for the effective basis up to that moment only (`postings.project`)."""
    events: list[Any] = []
    append = events.append
    for event in store.lean_history(ids.account_id(account_ref), LEAN):
        if until is not None and events and event.timestamp > until:
            break  # the rest is not decoded
        append(event)
    if not events:
        raise AccountNotFound(f"billing account {account_ref!r} not found", account=account_ref)
    return _projected(store, events, None, in_force_by)


def whole(store: AggregateStore, checkpoints: BookCheckpoints, account_ref: str) -> Loaded:
    """The account's whole book from its latest usable checkpoint and the events after it (see the module)."""
    account_id = ids.account_id(account_ref)
    projector, events = restored(store, checkpoints, account_id)
    if projector is None and not events:
        raise AccountNotFound(f"billing account {account_ref!r} not found", account=account_ref)
    start = projector or _Projector({})
    loaded = _projected(store, events, start)
    kept(checkpoints, account_id, start, events, loaded)
    return loaded


def kept(checkpoints: BookCheckpoints, account_id: UUID, projector: _Projector, events: list[Any],
         loaded: Loaded) -> int | None:
    """Store `projector` (gone on with `events`) as the account's checkpoint when they are CHECKPOINT_AFTER or
    more and its recording moments never go backwards; the version stored, else None."""
    if len(events) < CHECKPOINT_AFTER or loaded.book.out_of_order:
        return None
    version: int = events[-1].originator_version
    return version if checkpoints.put(account_id, version, book_codec.CODE, book_codec.encode(projector, version)) else None


def restored(store: AggregateStore, checkpoints: BookCheckpoints, account_id: UUID) -> tuple[_Projector | None, list[Any]]:
    """(the projector of the account's latest usable checkpoint, or None; the account's events after it, or all)."""
    found = checkpoints.latest(account_id, book_codec.CODE)
    if found is not None:
        version, data = found
        try:
            at, projector = book_codec.decode(data)
        except book_codec.CheckpointRefused:
            at, projector = -1, None
        if projector is not None and at == version:
            events = list(store.lean_history(account_id, LEAN, after=version - 1))
            first = events[0] if events else None
            if (first is not None and first.originator_version == version
                    and first.timestamp == projector.book.last_recorded):
                return projector, events[1:]
    return None, list(store.lean_history(account_id, LEAN))


def _projected(store: AggregateStore, events: list[Any], start: _Projector | None,
               in_force_by: datetime | None = None) -> Loaded:
    """The book of `events` (`start` going on with them, when given), and the events of the bills, payments and cycles it names:
    one round trip where the store can; a bill's own creation event (its items: the bulk of its bytes) is not read,
    the account's BillIssued tells the rest."""
    payment_ids: list[Any] = []
    bill_ids: list[Any] = []
    cycle_ids: dict[Any, bool] = {}
    if start is not None:  # what the checkpoint's events named
        payment_ids += [UUID(pid) for pid in start.book.payments]
        bill_ids += [UUID(bid) for bid in start.book.bills]
        cycle_ids.update((UUID(b.cycle_id), True) for b in start.book.bills.values() if b.cycle_id)
    facts = ChargeFacts
    for event in events:
        if type(event) is facts:  # most of a long account's events
            continue
        name = type(event).__name__
        if name == "PaymentReceived":
            payment_ids.append(event.payment_id)
        elif name == "BillIssued":
            bill_ids.append(event.bill_id)
            if event.cycle_id:
                cycle_ids[event.cycle_id] = True
    found = store.histories([*payment_ids, *bill_ids, *cycle_ids], after=dict.fromkeys(bill_ids, 1))
    payments = {str(pid): found[pid] for pid in payment_ids}
    refs = {pid: history[0].external_reference for pid, history in payments.items() if history}
    book = project(events, refs, in_force_by=in_force_by, start=start)
    return Loaded(book, {str(b): found[b] for b in bill_ids}, payments, {str(c): found[c] for c in cycle_ids})
