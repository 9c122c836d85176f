"""An account's stored events turned into postings: balanced sets of signed movements between its figures.

The figures (buckets) an account's money sits in, and their weight in the balance identity:

    balance  (+1)   what the customer owes
    unbilled (-1)   per entry: an entry no bill has taken
    paid_ahead (+1) per entry: what payments already paid of it (a charge prepayment)
    remaining (-1)  per bill: what is left to pay on it
    credit (+1)     credit balance (a postpaid account's money nobody asked for yet)
    prepaid (+1)    prepaid balance (a prepaid account's funds)

balance == unbilled - paid_ahead + remaining - credit - prepaid. Every posting's movements sum to zero under
those weights, so any set of postings (all those in force at a moment, on either basis) keeps the identity.

Each posting carries its event's recording moment and the moment it is in force on the effective basis (the
basis rules, README "Basis rules"):

- a charge, adjustment, payment, refund or reversal counts from its own effective moment;
- a bill counts from the start of its bill date in the account's time zone (or from its latest entry, when an
  entry on it is effective later that day);
- money moved between figures by a later event counts from the later of the two moments: a payment's
  allocation from the later of the payment and its bill (or charge), a charge prepayment's move onto the bill
  from the later of the prepayment and the bill, the undoing of an allocation from the later of the reversal
  and the allocation;
- money drawn from the credit balance (by a bill, a refund, a reversal) counts from the later of the drawing
  event and the credit it draws: the credit balance is kept as lots (one per source: a payment's unallocated
  part, a prepayment a bill did not need, a net-credit bill), drawn oldest effective first (a reversal draws its
  own payment's lots first), so no figure shows money leaving before it arrived.

Only the stored events' fields are read (never an aggregate's state), so a change of the aggregates' internal
layout leaves this unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ledger.aggregates.billing_calendar import start_of_day

D = Decimal
ZERO = D(0)
BALANCE, UNBILLED, PAID_AHEAD, REMAINING, CREDIT, PREPAID = (
    "balance", "unbilled", "paid_ahead", "remaining", "credit", "prepaid")
WEIGHT = {BALANCE: 1, UNBILLED: -1, PAID_AHEAD: 1, REMAINING: -1, CREDIT: 1, PREPAID: 1}
Move = tuple[str, str, Decimal]
"""(figure, key, signed amount): the key is an entry id (unbilled, paid_ahead), a bill id (remaining), else ""."""

_CREDIT_TYPE = "appliedBillingCredit"
_new, _instant = tuple.__new__, datetime.fromisoformat
_CHARGE_KINDS = frozenset(("appliedBillingCharge", "appliedPenaltyCharge", _CREDIT_TYPE))


class Posting(NamedTuple):
    """A balanced set of movements from one stored account event (a tuple: a long account has thousands)."""

    version: int  # the account event's version: postings of one event share it
    kind: str  # charge, adjustment, bill, credit applied, prepayment applied, payment, allocation, ...
    ref: str  # the business reference: charge id, adjustment id, bill number, payment reference, refund id
    text: str
    recorded: datetime
    effective: datetime
    moves: tuple[Move, ...]

    def moment(self, basis: str) -> datetime:
        return self.recorded if basis == "recorded" else self.effective


class ChargeFacts(NamedTuple):
    """What the postings read of a ChargeApplied event (most of a long account's events): the store gives it
    without making the event (`AggregateStore.lean_history`), holding what the event holds."""

    originator_version: int
    timestamp: datetime
    charge_id: str
    charge_type: str
    tax_included: str
    effective_at: str
    description: str


class EntryFacts(NamedTuple):
    """What an entry is, besides its posting: a charge's facts are its posting's (kind, id, description)."""

    kind: str
    charge_id: str
    description: str


def entry_amount(posting: Posting) -> Decimal:
    """The signed amount the posting put on its entry (an entry's posting moves the balance, then the entry)."""
    moves = posting.moves
    return moves[-1][2] if moves else ZERO


@dataclass(slots=True)
class Bill:
    """A bill as the account's BillIssued event tells it."""

    bill_id: str
    bill_number: str
    run_type: str
    cycle_id: str | None
    bill_date: str
    payment_due_date: str
    amount_due: Decimal
    issued: Posting


@dataclass(slots=True)
class Allocation:
    target: str  # bill or charge
    target_id: str  # bill id or entry id
    amount: Decimal
    posting: Posting


@dataclass(slots=True)
class Payment:
    payment_id: str
    reference: str
    amount: Decimal
    received: Posting
    allocations: list[Allocation] = field(default_factory=list)
    reversed_by: list[Posting] = field(default_factory=list)
    reversal_moments: tuple[datetime, datetime] | None = None  # (recorded, effective) of its reversal
    reversal_reason: str = ""


@dataclass(slots=True)
class Refund:
    refund_id: str
    amount: Decimal
    method: str
    recorded: datetime
    effective: datetime  # its own (the credit it returns may count later: see the module's rules)
    postings: list[Posting]


@dataclass(slots=True)
class _Lot:
    """Credit balance from one source, drawn oldest effective first."""

    left: Decimal
    effective: datetime
    owner: str | None  # the payment whose money it is (None: a net-credit bill)
    seq: int


@dataclass
class Book:
    """Everything the events of one account say, as postings and the things they refer to."""

    account_ref: str = ""
    currency: str = ""
    rating_type: str = ""
    time_zone: str = "UTC"
    opened_at: datetime | None = None
    opened: dict[str, Any] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)
    entries: dict[str, Posting] = field(default_factory=dict)  # entry id -> the posting that made it
    entry_facts: dict[str, EntryFacts] = field(default_factory=dict)  # adjustments' and reversal debits'
    billed: dict[str, Posting] = field(default_factory=dict)  # entry id -> the bill's posting that took it
    bills: dict[str, Bill] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: list[Refund] = field(default_factory=list)
    statuses: list[tuple[datetime, str, str]] = field(default_factory=list)  # (recorded, status, reason)
    last_recorded: datetime | None = None
    out_of_order: bool = False  # an event was recorded before the one ahead of it (writers' clocks disagreed)
    in_force_by: datetime | None = None  # set: only right on the effective basis up to it (`project`'s in_force_by)


class _Projector:
    """Walks one account's events in order (their recording order), keeping what later events refer to."""

    def __init__(self, payment_refs: Mapping[str, str], horizon: datetime | None = None) -> None:
        self.book = Book(in_force_by=horizon)
        self.refs = payment_refs
        self.horizon = horizon  # see `project`'s in_force_by
        self.lots: list[_Lot] = []
        self.seq = 0
        self.money_at: dict[tuple[str, str, str], datetime] = {}  # (payment, target, id) -> when its money got there
        # entry -> payment -> its prepayment's moves on the entry (moment, signed amount): see `bill_issued`
        self.prepaid_moves: dict[str, dict[str, list[tuple[datetime, Decimal]]]] = {}

    # ------------------------------------------------------------ helpers

    def post(self, event: Any, kind: str, ref: str, text: str, effective: datetime, *moves: Move) -> Posting:
        if not all(m[2] for m in moves):
            moves = tuple(m for m in moves if m[2])
        posting = Posting(event.originator_version, kind, ref, text, event.timestamp, effective, moves)
        self.book.postings.append(posting)
        return posting

    def pay_ref(self, payment_id: str) -> str:
        return self.refs.get(payment_id, payment_id)

    def add_lot(self, amount: Decimal, effective: datetime, owner: str | None) -> None:
        if amount > 0:
            self.seq += 1
            self.lots.append(_Lot(amount, effective, owner, self.seq))

    def draw(self, amount: Decimal, owner: str | None = None) -> list[tuple[Decimal, datetime | None]]:
        """Take `amount` of credit balance: the owner's lots first, then the oldest effective; (piece, its lot's
        moment). The lots always hold the live credit balance; a shortfall (never seen) is drawn with no lot."""
        pieces: list[tuple[Decimal, datetime | None]] = []
        order = sorted(self.lots, key=lambda lot: (lot.owner != owner if owner else False, lot.effective, lot.seq))
        for lot in order:
            if amount <= 0:
                break
            piece = min(lot.left, amount)
            lot.left -= piece
            amount -= piece
            pieces.append((piece, lot.effective))
        self.lots = [lot for lot in self.lots if lot.left > 0]
        if amount > 0:
            pieces.append((amount, None))
        return pieces

    # ------------------------------------------------------------ events

    def opened(self, e: Any) -> None:
        book = self.book
        book.account_ref, book.currency, book.rating_type, book.time_zone = (
            e.account_ref, e.currency, e.rating_type, e.time_zone)
        book.opened_at = e.timestamp
        book.opened = {"customer_id": e.customer_id, "name": e.name, "cycle_specification": e.cycle_specification,
                       "payment_terms_days": e.payment_terms_days, "credit_limit": e.credit_limit}

    def charge_applied(self, e: Any) -> None:  # most of a long account's events: kept lean
        kind, charge_id, description = e.charge_type, e.charge_id, e.description
        if self.horizon is not None:  # see `project`'s in_force_by
            effective = _instant(e.effective_at)
            if effective > self.horizon:
                posting = self.post(e, kind, charge_id, description, effective)
                if self.book.rating_type != "prepaid":
                    self.book.entries[charge_id] = posting
                return
        signed = -D(e.tax_included) if kind == _CREDIT_TYPE else D(e.tax_included)
        text = description  # a charge's text is its description: `describe` adds its kind and id when shown
        if self.book.rating_type == "prepaid":
            moves: tuple[Move, ...] = ((BALANCE, "", signed), (PREPAID, "", -signed))
        else:
            moves = ((BALANCE, "", signed), (UNBILLED, charge_id, signed))
        posting = _new(Posting, (e.originator_version, kind, charge_id, text, e.timestamp,  # Posting(...) at C speed
                                 _instant(e.effective_at), moves if signed else ()))
        self.book.postings.append(posting)
        if moves[1][0] == UNBILLED:
            self.book.entries[charge_id] = posting

    def plan_charges_applied(self, e: Any) -> None:
        """Each charge of the event as its own ChargeApplied would post it (its postings share the event's version)."""
        for charge in e.applied():
            self.charge_applied(charge)

    def charge_facts(self, e: ChargeFacts) -> None:
        """`charge_applied` for a charge read lean: the same posting, its fields unpacked at C speed."""
        version, recorded, charge_id, kind, tax_included, effective_at, text = e
        signed = -D(tax_included) if kind == _CREDIT_TYPE else D(tax_included)
        book = self.book
        if book.rating_type == "prepaid":
            posting = _new(Posting, (version, kind, charge_id, text, recorded, _instant(effective_at),
                                     ((BALANCE, "", signed), (PREPAID, "", -signed)) if signed else ()))
            book.postings.append(posting)
            return
        posting = _new(Posting, (version, kind, charge_id, text, recorded, _instant(effective_at),
                                 ((BALANCE, "", signed), (UNBILLED, charge_id, signed)) if signed else ()))
        book.postings.append(posting)
        book.entries[charge_id] = posting

    def charge_adjusted(self, e: Any) -> None:
        signed = D(e.tax_included)
        effective = datetime.fromisoformat(e.effective_at)
        text = f"adjustment {e.adjustment_id} of charge {e.charge_id} ({e.reason})"
        if self.book.rating_type == "prepaid":
            self.post(e, "adjustment", e.adjustment_id, text, effective, (BALANCE, "", signed), (PREPAID, "", -signed))
            return
        self.book.entries[e.adjustment_id] = self.post(e, "adjustment", e.adjustment_id, text, effective,
                                                       (BALANCE, "", signed), (UNBILLED, e.adjustment_id, signed))
        self.book.entry_facts[e.adjustment_id] = EntryFacts("adjustment", e.charge_id, e.reason)

    def bill_issued(self, e: Any) -> None:
        bill_id, number = str(e.bill_id), e.bill_number
        book = self.book
        entries = [(entry_id, book.entries[entry_id]) for entry_id in e.entry_ids]
        starts = start_of_day(date.fromisoformat(e.bill_date), book.time_zone)
        effective = max([starts] + [created.effective for _, created in entries])
        amount_due = D(e.amount_due)
        text = f"bill {number} ({e.run_type}, bill date {e.bill_date}): {len(entries)} entries, amount due {e.amount_due}"
        if self.horizon is not None and effective > self.horizon:  # not in force by then: no figure reads its moves
            issued = self.post(e, "bill", number, text, effective)
        else:
            moves: list[Move] = [(BALANCE, "", D(e.rounding_difference))]
            moves += [(UNBILLED, entry_id, -entry_amount(created)) for entry_id, created in entries]
            moves.append((REMAINING, bill_id, amount_due) if amount_due > 0 else (CREDIT, "", -amount_due))
            issued = self.post(e, "bill", number, text, effective, *moves)
        book.billed.update(dict.fromkeys(e.entry_ids, issued))
        undone = {} if self.horizon is not None and effective > self.horizon else self.undone_prepayments(e)
        self.book.bills[bill_id] = Bill(bill_id, number, e.run_type, str(e.cycle_id) if e.cycle_id else None,
                                        e.bill_date, e.payment_due_date, amount_due, issued)
        credit = D(e.credit_applied)  # drawn from the credit balance there was before this bill
        for piece, since in self.draw(credit):
            self.post(e, "credit applied", number, f"bill {number}: credit balance applied",
                      max(effective, since or effective), (CREDIT, "", -piece), (REMAINING, bill_id, -piece))
        if amount_due < 0:
            self.add_lot(-amount_due, effective, None)
        for part in e.prepaid:
            payment_id, entry_id = part["payment_id"], part["entry_id"]
            applied, excess = D(part["amount"]), D(part.get("excess", "0"))
            moment = max(effective, self.money_at.get((payment_id, "charge", entry_id), effective))
            self.post(e, "prepayment applied", number,
                      f"bill {number}: payment {self.pay_ref(payment_id)}'s prepayment of {entry_id} applied"
                      + (" (what the bill did not need: to credit balance)" if excess else ""),
                      moment, (PAID_AHEAD, entry_id, -(applied + excess)), (REMAINING, bill_id, -applied),
                      (CREDIT, "", excess))
            self.add_lot(excess, moment, payment_id)
            key = (payment_id, "bill", bill_id)
            self.money_at[key] = max(moment, self.money_at.get(key, moment))
        for (payment_id, entry_id), steps in undone.items():
            ref = self.pay_ref(payment_id)
            for moment, value in steps:
                kind, what = ("prepayment applied", "in force on the bill") if value > 0 else ("reversal", "undone")
                self.post(e, kind, ref, f"bill {number}: payment {ref}'s prepayment of {entry_id} {what} "
                          "(reversed before the bill was recorded)", max(moment, effective),
                          (PAID_AHEAD, entry_id, -value), (REMAINING, bill_id, -value))

    def undone_prepayments(self, e: Any) -> dict[tuple[str, str], list[tuple[datetime, Decimal]]]:
        """The prepayments of the bill's entries that were reversed before the bill was recorded (so the bill applied
        none of them), with their moves. On the effective basis such a prepayment was in force on a charge already
        billed: while it was, it counts on the bill (as an applied prepayment would) and its reversal reopens the
        bill, rather than leaving money paid ahead on an entry that is no longer unbilled. The moves sum to zero, so
        nothing changes once both are in force, nor on the recorded basis (they are recorded with the bill)."""
        applied = {(part["payment_id"], part["entry_id"]) for part in e.prepaid}
        found = {}
        for entry_id in e.entry_ids:
            for payment_id, moves in self.prepaid_moves.pop(entry_id, {}).items():
                if (payment_id, entry_id) not in applied and sum((v for _, v in moves), ZERO) == 0:
                    found[payment_id, entry_id] = moves
        return found

    def payment_received(self, e: Any) -> None:
        payment_id, amount = str(e.payment_id), D(e.amount)
        effective = datetime.fromisoformat(e.effective_at)
        ref = self.pay_ref(payment_id)
        if self.book.rating_type == "prepaid":
            received = self.post(e, "payment", ref, f"payment {ref}: prepaid top-up", effective,
                                 (BALANCE, "", -amount), (PREPAID, "", D(e.to_balance)))
            self.book.payments[payment_id] = Payment(payment_id, ref, amount, received)
            return
        received = self.post(e, "payment", ref, f"payment {ref} received", effective,
                             (BALANCE, "", -amount), (CREDIT, "", amount))
        payment = self.book.payments[payment_id] = Payment(payment_id, ref, amount, received)
        for alloc in e.allocations:
            value, target, target_id = D(alloc["amount"]), alloc["target"], alloc["id"]
            if target == "bill":
                bill = self.book.bills[target_id]
                moment, figure, what = max(effective, bill.issued.effective), REMAINING, f"bill {bill.bill_number}"
            else:
                moment = max(effective, self.book.entries[target_id].effective)
                figure, what = PAID_AHEAD, f"charge {target_id}"
            posting = self.post(e, "allocation", ref, f"payment {ref} allocated to {what}", moment,
                                (CREDIT, "", -value), (figure, target_id, -value if target == "bill" else value))
            if target != "bill":
                self.prepaid_moves.setdefault(target_id, {}).setdefault(payment_id, []).append((moment, value))
            payment.allocations.append(Allocation(target, target_id, value, posting))
            self.money_at[(payment_id, target, target_id)] = moment
        self.add_lot(D(e.to_balance), effective, payment_id)

    def payment_reversed(self, e: Any) -> None:
        payment_id = str(e.payment_id)
        ref = self.pay_ref(payment_id)
        effective = datetime.fromisoformat(e.effective_at)
        payment = self.book.payments.get(payment_id)
        postings = []
        if self.book.rating_type == "prepaid":
            postings.append(self.post(e, "reversal", ref, f"reversal of payment {ref}: top-up taken back", effective,
                                      (BALANCE, "", D(e.amount)), (PREPAID, "", -D(e.balance_removed))))
        else:
            for undo in e.undone:
                value, target, target_id = D(undo["amount"]), undo["target"], undo["id"]
                moment = max(effective, self.money_at.get((payment_id, target, target_id), effective))
                if target == "bill":
                    number = self.book.bills[target_id].bill_number
                    postings.append(self.post(e, "reversal", ref, f"reversal of payment {ref}: bill {number} reopened",
                                              moment, (BALANCE, "", value), (REMAINING, target_id, value)))
                else:
                    postings.append(self.post(e, "reversal", ref,
                                              f"reversal of payment {ref}: prepayment of charge {target_id} undone",
                                              moment, (BALANCE, "", value), (PAID_AHEAD, target_id, -value)))
                    self.prepaid_moves.setdefault(target_id, {}).setdefault(payment_id, []).append((moment, -value))
            for piece, since in self.draw(D(e.balance_removed), owner=payment_id):
                postings.append(self.post(e, "reversal", ref, f"reversal of payment {ref}: credit balance taken back",
                                          max(effective, since or effective), (BALANCE, "", piece), (CREDIT, "", -piece)))
            debit = D(e.debit)
            if debit:
                entry_id = f"reversal:{payment_id}"
                posting = self.post(e, "reversal debit", ref,
                                    f"reversal of payment {ref}: credit already used, re-billed as a debit",
                                    effective, (BALANCE, "", debit), (UNBILLED, entry_id, debit))
                self.book.entries[entry_id] = posting
                self.book.entry_facts[entry_id] = EntryFacts("paymentReversalDebit", entry_id,
                                                             f"credit already used from reversed payment: {e.reason}")
                postings.append(posting)
        if payment is not None:
            payment.reversed_by = postings
            payment.reversal_moments = (e.timestamp, effective)
            payment.reversal_reason = e.reason

    def credit_refunded(self, e: Any) -> None:
        amount = D(e.amount)
        effective = datetime.fromisoformat(e.effective_at)
        text = f"refund {e.refund_id} by {e.method}" + (f" ({e.reference})" if e.reference else "")
        if self.book.rating_type == "prepaid":
            postings = [self.post(e, "refund", e.refund_id, text, effective, (BALANCE, "", amount), (PREPAID, "", -amount))]
        else:
            postings = [self.post(e, "refund", e.refund_id, text, max(effective, since or effective),
                                  (BALANCE, "", piece), (CREDIT, "", -piece)) for piece, since in self.draw(amount)]
        self.book.refunds.append(Refund(e.refund_id, amount, e.method, e.timestamp, effective, postings))

    def status_changed(self, e: Any) -> None:
        self.book.statuses.append((e.timestamp, e.status, e.reason))


_HANDLERS = {"Opened": _Projector.opened, "ChargeApplied": _Projector.charge_applied,
             "ChargeFacts": _Projector.charge_facts, "PlanChargesApplied": _Projector.plan_charges_applied,
             "ChargeAdjusted": _Projector.charge_adjusted, "BillIssued": _Projector.bill_issued,
             "PaymentReceived": _Projector.payment_received, "PaymentReversed": _Projector.payment_reversed,
             "CreditRefunded": _Projector.credit_refunded, "StatusChanged": _Projector.status_changed}


def project(events: Iterable[Any], payment_refs: Mapping[str, str] | None = None,
            until: datetime | None = None, in_force_by: datetime | None = None,
            start: _Projector | None = None) -> Book:
    """The book of one account from its stored events (in version order; a ChargeApplied event may come as its
    ChargeFacts). `payment_refs` names payments by their
    external reference (payment id -> reference); `until` stops at the first event recorded after it (enough
    for the recorded basis).

    `in_force_by` (the effective basis at that moment needs every event, whenever recorded): a charge or a bill
    in force only after it gets its posting without movements (no amount made), since no figure at a moment up
    to it can read them: a bill counts from no earlier than its latest entry, and an allocation to a charge from
    no earlier than the charge. The book says so (`Book.in_force_by`) and answers only such moments.

    `start`: a projector that already walked the account's first events (a book checkpoint's,
    `ledger/queries/book_codec.py`); `events` are then the ones after them, and it goes on from where it was."""
    if start is not None and (start.horizon is not None or in_force_by is not None):
        raise ValueError("only a whole book (no in_force_by) goes on from a checkpoint")
    projector, handlers = start or _Projector(payment_refs or {}, in_force_by), _HANDLERS
    if start is not None:
        projector.refs = payment_refs or {}
    book = projector.book
    postings, entries = book.postings, book.entries
    append, facts, new, instant, credit = postings.append, ChargeFacts, _new, _instant, _CREDIT_TYPE
    last = None
    latest = book.last_recorded  # the latest recording moment so far: an earlier one after it is out of order
    for event in events:
        if type(event) is facts:  # most of a long account's events: `charge_facts` inlined
            version, recorded, charge_id, kind, tax_included, effective_at, text = event
            if until is not None and recorded > until:
                break
            last = event
            if latest is None or recorded >= latest:
                latest = recorded
            else:
                book.out_of_order = True
            effective = instant(effective_at)
            if in_force_by is not None and effective > in_force_by:
                posting = new(Posting, (version, kind, charge_id, text, recorded, effective, ()))
                append(posting)
                if book.rating_type != "prepaid":
                    entries[charge_id] = posting
                continue
            signed = D(tax_included)
            if kind == credit:
                signed = -signed
            if book.rating_type == "prepaid":
                append(new(Posting, (version, kind, charge_id, text, recorded, effective,
                                     ((BALANCE, "", signed), (PREPAID, "", -signed)) if signed else ())))
                continue
            posting = new(Posting, (version, kind, charge_id, text, recorded, effective,
                                    ((BALANCE, "", signed), (UNBILLED, charge_id, signed)) if signed else ()))
            append(posting)
            entries[charge_id] = posting
            continue
        if until is not None and event.timestamp > until:
            break
        if latest is None or event.timestamp >= latest:
            latest = event.timestamp
        else:
            book.out_of_order = True
        handler = handlers.get(type(event).__name__)
        if handler is not None:
            handler(projector, event)
        last = event
    if last is not None:
        book.last_recorded = last.timestamp
    return book


def describe(posting: Posting) -> str:
    """A posting's text as an auditor reads it (a charge's is kept as its bare description until shown)."""
    if posting.kind in _CHARGE_KINDS:
        return f"{posting.kind} {posting.ref}" + (f" ({posting.text})" if posting.text else "")
    return posting.text


def balanced(posting: Posting) -> bool:
    """The posting keeps the identity: its movements sum to zero under the figures' weights."""
    return sum((WEIGHT[figure] * amount for figure, _, amount in posting.moves), ZERO) == 0
