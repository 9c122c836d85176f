"""An account as it stood at any moment, on the recorded or the effective basis, and any figure of it explained.

Built from stored events alone (the account's, its bills', payments' and cycles'): the account's events become
postings (`ledger/queries/postings.py`); the state at T is the sum of the postings in force at T (a figure's
explanation, the postings that make it up, is `ledger/queries/explain.py`). The basis rules are in README
"Basis rules". Where the store keeps book checkpoints, the book comes from the account's checkpoint and the events
after it (`ledger/queries/book_loading.py`): the same postings, read faster.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.commands.base import Command, Id, Instant
from ledger.errors import AccountNotYetOpen, InvalidInput
from ledger.ports import AggregateStore, Clock
from ledger.queries.as_of_views import (
    AccountAsOf,
    AllocationAt,
    AppliedAt,
    BillAt,
    CycleAt,
    EntryAt,
    PaymentAt,
    RefundAt,
    TriggerAt,
)
from ledger.queries.book_loading import Loaded, checkpoints_of, load, whole
from ledger.queries.history import BASES, AccountHistory, account_history
from ledger.queries.postings import (
    BALANCE,
    CREDIT,
    PAID_AHEAD,
    PREPAID,
    REMAINING,
    UNBILLED,
    WEIGHT,
    ZERO,
    Book,
    EntryFacts,
    Posting,
    entry_amount,
)

_RATED = {BALANCE, UNBILLED, PREPAID}  # figures that sum unrounded charges: six places; the others: minor unit
_PAYMENT_STATES = ("sent", "partiallyPaid", "settled")


class AsOfQuery(Command):
    """The input of an as-of query (validated like a command, so errors read the same)."""

    account_id: Id
    as_of: Instant | None = None
    basis: Literal["recorded", "effective"] = "recorded"
    explain: Id | None = None


def valid(as_of: datetime, basis: str) -> None:
    """Refuse a basis that is not one and a naive moment."""
    if basis not in BASES:
        raise InvalidInput(f"basis must be one of {', '.join(BASES)}, not {basis!r}", basis=basis)
    if as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone offset (naive times are ambiguous)", as_of=as_of)


def loaded_for(store: AggregateStore, account_ref: str, as_of: datetime, basis: str) -> Loaded:
    """What a query at `as_of` on `basis` reads: where the store keeps book checkpoints, the whole book from the
    account's checkpoint and the events after it (`book_loading.whole`), else `from_events_for`; that too when
    the account's recording moments go backwards somewhere (two writers' clocks disagreed): what the ledger knew at
    T is then the events before the first one recorded after T, which only the from-events path answers."""
    checkpoints = checkpoints_of(store)
    if checkpoints is None:
        return from_events_for(store, account_ref, as_of, basis)
    valid(as_of, basis)
    loaded = whole(store, checkpoints, account_ref)
    if loaded.book.out_of_order:  # the whole book would take each posting recorded by T, the ledger knew a prefix
        return from_events_for(store, account_ref, as_of, basis)
    checked(loaded.book, as_of, basis)
    return loaded


def from_events_for(store: AggregateStore, account_ref: str, as_of: datetime, basis: str) -> Loaded:
    """What a query at `as_of` on `basis` reads from events alone: on the recorded basis the events recorded by
    then, on the effective basis all of them, in a book that answers up to that moment (`load`'s until and
    in_force_by)."""
    valid(as_of, basis)
    recorded = basis == "recorded"
    loaded = load(store, account_ref, as_of if recorded else None, None if recorded else as_of)
    checked(loaded.book, as_of, basis)
    return loaded


def checked(book: Book, as_of: datetime, basis: str) -> None:
    """Refuse a basis that is not one, a naive moment, and a moment before the account was opened."""
    valid(as_of, basis)
    if book.opened_at is None or as_of < book.opened_at:
        raise AccountNotYetOpen(
            f"billing account {book.account_ref} did not exist at {as_of.isoformat()}: it was opened at "
            f"{book.opened_at.isoformat() if book.opened_at else '?'}", account=book.account_ref,
            as_of=as_of.isoformat())


class Figures:
    """The postings in force at a moment on a basis, summed per figure (and per key: entry, bill)."""

    def __init__(self, book: Book, as_of: datetime, basis: str) -> None:
        if book.in_force_by is not None and (basis != "effective" or as_of > book.in_force_by):
            raise ValueError(f"a book for the effective basis up to {book.in_force_by.isoformat()} cannot answer "
                             f"{as_of.isoformat()} on the {basis} basis")
        self.book, self.as_of, self.basis = book, as_of, basis
        recorded = basis == "recorded"
        self.in_force = [p for p in book.postings if (p.recorded if recorded else p.effective) <= as_of]
        self.totals = totals = dict.fromkeys(WEIGHT, ZERO)
        self.on_bills: dict[str, list[Posting]] = defaultdict(list)  # the postings in force moving money on each bill
        remaining: dict[str, Decimal] = {}
        paid: dict[str, Decimal] = {}
        for posting in self.in_force:
            for figure, key, amount in posting.moves:
                totals[figure] += amount
                if figure == REMAINING:
                    remaining[key] = remaining.get(key, ZERO) + amount
                    self.on_bills[key].append(posting)
                elif figure == PAID_AHEAD:
                    paid[key] = paid.get(key, ZERO) + amount
        self._keyed = {REMAINING: remaining, PAID_AHEAD: paid}  # the others summed per key when explained
        self.local_date = as_of.astimezone(ZoneInfo(book.time_zone)).date()

    def keyed(self, figure: str) -> dict[str, Decimal]:
        """The figure per key ("" for the account-wide ones), from the postings in force."""
        sums = self._keyed.get(figure)
        if sums is None:
            sums = self._keyed[figure] = {}
            for posting in self.in_force:
                for fig, key, amount in posting.moves:
                    if fig == figure:
                        sums[key] = sums.get(key, ZERO) + amount
        return sums

    def on(self, posting: Posting | None) -> bool:
        return posting is not None and (posting.recorded if self.basis == "recorded" else posting.effective) <= self.as_of

    def total(self, figure: str) -> Decimal:
        return self.totals[figure]

    def of(self, figure: str, key: str) -> Decimal:
        return self.keyed(figure).get(key, ZERO)

    def overdue_bills(self) -> set[str]:
        return {bill_id for bill_id, bill in self.book.bills.items() if self.on(bill.issued)
                and self.of(REMAINING, bill_id) > 0 and self.local_date > date.fromisoformat(bill.payment_due_date)}

    def money(self, figure: str, amount: Decimal) -> Decimal:
        return at_rated_scale(amount) if figure in _RATED else at_minor_unit(amount, self.book.currency)


@contextmanager
def uncollected() -> Iterator[None]:
    """No garbage collection while building a book (then as the process had it).

    A long account's book is tens of thousands of small tuples that all stay alive until the answer is made and
    form no cycle: a collection on the way finds nothing to free, yet walks them all (one young-generation pass
    over 50,000 of them took 40-70 ms of an effective-basis as-of of 10,000 events, more than its projection).
    A decorator (what the function allocates is freed by reference counting when it returns, inside the pause:
    no collection is left due when it ends) or a `with` block. Collection comes back only where this pause turned
    it off: a nested pause leaves it off, and with concurrent queries the one that turned it off turns it back on
    (another still running may then see a collection: only slower, never collection left off)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@uncollected()
def account_as_of(store: AggregateStore, clock: Clock, account_ref: str, as_of: datetime | None = None,
                  basis: str = "recorded") -> AccountAsOf:
    """The whole state of an account at `as_of` (default: now) on the recorded or the effective basis."""
    moment = as_of or clock()
    loaded = loaded_for(store, account_ref, moment, basis)
    return state(loaded, Figures(loaded.book, moment, basis))


@uncollected()
def history_as_of(store: AggregateStore, clock: Clock, account_ref: str, as_of: datetime | None = None,
                  basis: str = "recorded") -> tuple[AccountAsOf, AccountHistory]:
    """The account's whole state at `as_of` (default: now) and its history's lines up to then, on one basis: what
    `ledger history --as-of` and the API's history resource answer."""
    moment = as_of or clock()
    loaded = loaded_for(store, account_ref, moment, basis)
    found = state(loaded, Figures(loaded.book, moment, basis))
    # the bills the history can place: on the recorded basis those recorded by the moment (the history stops there
    # too), on the effective basis all of them (a book up to the moment keeps every bill's moment)
    moments = {bill_id: bill.issued.effective for bill_id, bill in loaded.book.bills.items()}
    return found, account_history(store, account_ref, moment, basis, moments)


def state(loaded: Loaded, f: Figures) -> AccountAsOf:
    book = loaded.book
    status = next((s for at, s, _ in reversed(book.statuses) if at <= f.as_of), "active")
    recorded, as_of, billed = f.basis == "recorded", f.as_of, book.billed
    entries = []
    for entry_id, created in book.entries.items():
        if (created.recorded if recorded else created.effective) > as_of:
            continue
        bill = billed.get(entry_id)
        if bill is not None and (bill.recorded if recorded else bill.effective) <= as_of:
            continue
        facts = book.entry_facts.get(entry_id) or EntryFacts(created.kind, entry_id, created.text)
        entries.append(EntryAt(entry_id=entry_id, kind=facts.kind, charge_id=facts.charge_id,
                               amount=f.money(UNBILLED, entry_amount(created)),
                               paid_ahead=f.money(PAID_AHEAD, f.of(PAID_AHEAD, entry_id)), effective_at=created.effective,
                               recorded_at=created.recorded, description=facts.description))
    overdue = f.overdue_bills()
    bills = [_bill(loaded, f, bill_id, bill_id in overdue) for bill_id, bill in book.bills.items() if f.on(bill.issued)]
    figures = {name: f.total(name) for name in (BALANCE, UNBILLED, PAID_AHEAD, REMAINING, CREDIT, PREPAID)}
    holds = figures[BALANCE] == (figures[UNBILLED] - figures[PAID_AHEAD] + figures[REMAINING] - figures[CREDIT]
                                 - figures[PREPAID])
    return AccountAsOf(
        account_id=book.account_ref, currency=book.currency, rating_type=book.rating_type, time_zone=book.time_zone,
        basis=f.basis, as_of=f.as_of, local_date=f.local_date, opened_at=book.opened_at, status=status,
        balance=f.money(BALANCE, figures[BALANCE]), unbilled=f.money(UNBILLED, figures[UNBILLED]),
        unbilled_entries=entries, paid_ahead=f.money(PAID_AHEAD, figures[PAID_AHEAD]),
        receivable=f.money(REMAINING, figures[REMAINING]),
        overdue=f.money(REMAINING, sum((f.of(REMAINING, b) for b in overdue), ZERO)),
        credit_balance=f.money(CREDIT, figures[CREDIT]), prepaid_balance=f.money(PREPAID, figures[PREPAID]),
        identity_holds=holds, bills=bills, payments=_payments(loaded, f), refunds=_refunds(book, f),
    )


def _bill(loaded: Loaded, f: Figures, bill_id: str, overdue: bool) -> BillAt:
    bill = loaded.book.bills[bill_id]
    remaining = f.of(REMAINING, bill_id)
    applied = []
    for posting in f.on_bills.get(bill_id, []):
        if posting is bill.issued:
            continue
        amount = sum((a for fig, key, a in posting.moves if fig == REMAINING and key == bill_id), ZERO)
        if amount:
            source = {"credit applied": "creditBalance", "prepayment applied": "chargePrepayment",
                      "reversal": "reversal"}.get(posting.kind, "payment")
            applied.append(AppliedAt(source=source, payment=None if source == "creditBalance" else posting.ref,
                                     amount=f.money(REMAINING, -amount), effective_at=posting.effective,
                                     recorded_at=posting.recorded))
    return BillAt(
        bill_number=bill.bill_number, bill_id=bill_id, run_type=bill.run_type, cycle=_cycle(loaded, bill.cycle_id, bill.issued),
        bill_date=bill.bill_date, payment_due_date=bill.payment_due_date, in_force_from=bill.issued.effective,
        recorded_at=bill.issued.recorded, amount_due=f.money(REMAINING, bill.amount_due),
        remaining=f.money(REMAINING, remaining), state=_bill_state(loaded.bills.get(bill_id, []), f, bill, remaining),
        overdue=overdue, applied=applied,
    )


def _bill_state(events: list[Any], f: Figures, bill: Any, remaining: Decimal) -> str:
    """The bill's life-cycle state at the moment (its steps count from their recording; those recorded with the
    bill's issue count from the bill's own moment), then sent/partiallyPaid/settled from what remained. `events`:
    the bill's events after its creation."""
    issued_at = bill.issued.recorded  # the bill and the account's BillIssued are recorded together
    state = "new"
    for event in events:
        name = type(event).__name__
        if name != "StateChanged" and name != "StatesChanged":
            continue
        moment = event.timestamp if f.basis == "recorded" else (
            bill.issued.effective if event.timestamp == issued_at else max(event.timestamp, bill.issued.effective))
        if moment <= f.as_of:
            state = event.to_state if name == "StateChanged" else event.steps[-1]["to_state"]
    if state not in _PAYMENT_STATES:
        return state
    if remaining == 0:
        return "settled"
    return "partiallyPaid" if remaining < max(bill.amount_due, ZERO) else "sent"


def _cycle(loaded: Loaded, cycle_id: str | None, issued: Posting) -> CycleAt | None:
    """The bill's cycle and the triggers that led to the bill (a cycle counts from its trigger)."""
    events = loaded.cycles.get(cycle_id or "", [])
    if not events:
        return None
    first = events[0]
    triggers = [TriggerAt(type=e.trigger["type"], by=e.trigger["by"], reason=e.trigger["reason"], at=e.timestamp,
                          early_run=e.trigger.get("early_run") == "true")
                for e in events if type(e).__name__ in ("Triggered", "Resumed") and e.timestamp <= issued.recorded]
    return CycleAt(cycle_id=str(first.originator_id), specification=first.specification,
                   period_start=first.period_start, period_end=first.period_end, triggers=triggers)


def _payments(loaded: Loaded, f: Figures) -> list[PaymentAt]:
    book, found = loaded.book, []
    for payment_id, payment in book.payments.items():
        if not f.on(payment.received):
            continue
        facts = loaded.payments.get(payment_id, [])
        received = facts[0] if facts else None
        reversal = payment.reversal_moments
        reversed_now = reversal is not None and (reversal[0] if f.basis == "recorded" else reversal[1]) <= f.as_of
        allocations = []
        for alloc in payment.allocations:
            state = "undone" if reversed_now else ("applied" if f.on(alloc.posting) else "pending")
            target_id = book.bills[alloc.target_id].bill_number if alloc.target == "bill" else alloc.target_id
            allocations.append(AllocationAt(target=alloc.target, target_id=target_id,
                                            amount=f.money(REMAINING, alloc.amount), state=state,
                                            effective_at=alloc.posting.effective))
        to_balance = payment.amount - sum((a.amount for a in payment.allocations), ZERO)
        found.append(PaymentAt(
            external_reference=payment.reference, payment_id=payment_id, amount=f.money(REMAINING, payment.amount),
            method=received.method if received else "", payer_ref=received.payer_ref if received else "",
            effective_at=payment.received.effective, recorded_at=payment.received.recorded,
            status="canceled" if reversed_now else "done", to_balance=f.money(REMAINING, to_balance),
            allocations=allocations, reversed_at=reversal[1] if reversed_now and reversal else None,
            reversal_reason=payment.reversal_reason if reversed_now else None,
        ))
    return found


def _refunds(book: Book, f: Figures) -> list[RefundAt]:
    return [RefundAt(refund_id=r.refund_id, amount=f.money(REMAINING, r.amount), method=r.method,
                     effective_at=r.effective, recorded_at=r.recorded)
            for r in book.refunds if (r.recorded if f.basis == "recorded" else r.effective) <= f.as_of]
