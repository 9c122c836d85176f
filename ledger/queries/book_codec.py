"""A whole book and its projector's carried state as bytes: what a book checkpoint stores (`book_checkpoint.py`).

The book of an account's first N events (`postings.project` without `until` or `in_force_by`: a whole book answers
any moment on either basis) and what the projector keeps for the events after them (credit lots, where each
payment's money went, prepayments' moves on entries), so the projector goes on from event N + 1 exactly as if it
had walked the first N itself. msgspec JSON, typed both ways: a Decimal as its string (exponent and sign kept, never
a float), a moment as RFC 3339 with its own UTC offset (every moment the projector makes is UTC or a parsed
offset), postings as arrays decoded straight into `Posting` tuples at C speed. What several things share (a bill's
posting, an entry's, a payment's) is written once and referred to by its place in the postings, so the decoded
book shares them as the projected one does (`Figures` tells a bill's own posting by identity).

`CODE` names this code: a digest of the source of the projector, of this codec and of the calendar rules the
postings' moments follow. A checkpoint written by other code is never read (it costs a projection from events,
never a wrong answer). Encoding is deterministic: two books from the same events encode to the same bytes (what
`ledger verify` compares).
"""

from __future__ import annotations

import hashlib
import inspect
from datetime import datetime
from decimal import Decimal
from functools import partial
from itertools import repeat
from typing import Any

import msgspec

from ledger.aggregates import billing_calendar
from ledger.queries import postings
from ledger.queries.postings import (
    BALANCE,
    UNBILLED,
    Allocation,
    Bill,
    Book,
    EntryFacts,
    Payment,
    Posting,
    Refund,
    _Lot,
    _Projector,
)


def _code() -> str:
    """A digest of the code a checkpoint's content depends on ("" when its source cannot be read: then none is
    written or read)."""
    try:
        sources = [inspect.getsource(module) for module in (postings, billing_calendar, inspect.getmodule(_code))]  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""
    return "book-1-" + hashlib.sha256("\0".join(sources).encode()).hexdigest()[:20]


class _Bill(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    bill_id: str
    bill_number: str
    run_type: str
    cycle_id: str | None
    bill_date: str
    payment_due_date: str
    amount_due: Decimal
    issued: int  # place in the postings


class _Payment(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    payment_id: str
    reference: str
    amount: Decimal
    received: int
    allocations: list[tuple[str, str, Decimal, int]]  # (target, target id, amount, posting)
    reversed_by: list[int]
    reversal_moments: tuple[datetime, datetime] | None
    reversal_reason: str


class _Refund(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    refund_id: str
    amount: Decimal
    method: str
    recorded: datetime
    effective: datetime
    postings: list[int]


class _Charges(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """A postpaid account's charge postings (most of a long book), by column: each moves its amount onto the balance
    and onto its own entry ((balance, "", a), (unbilled, ref, a)), so one amount and the ref make both moves."""

    versions: list[int]
    kinds: list[int]  # places in the checkpoint's strings
    refs: list[str]
    texts: list[int]
    recorded: list[datetime]
    effective: list[datetime]
    amounts: list[Decimal]


class _Checkpoint(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    code: str
    version: int  # the account version the book is at: its events 1..version
    account_ref: str
    currency: str
    rating_type: str
    time_zone: str
    opened_at: datetime | None
    opened: dict[str, Any]
    strings: list[str]  # the charges' kinds and texts (a few distinct ones, repeated thousands of times)
    charges: _Charges
    others: list[tuple[int, Posting]]  # every other posting, with its place in the book's postings
    entries: tuple[list[str], list[int]]  # (entry ids, their postings), in the book's order
    entry_facts: list[tuple[str, EntryFacts]]
    billed: tuple[list[str], list[int]]  # (entry ids, their bills' postings)
    bills: list[_Bill]
    payments: list[_Payment]
    refunds: list[_Refund]
    statuses: list[tuple[datetime, str, str]]
    last_recorded: datetime | None
    out_of_order: bool
    lots: list[tuple[Decimal, datetime, str | None, int]]  # (left, effective, owner, seq), in drawing order
    seq: int
    money_at: list[tuple[str, str, str, datetime]]  # (payment, target, id, moment)
    prepaid_moves: list[tuple[str, list[tuple[str, list[tuple[datetime, Decimal]]]]]]  # entry -> payment -> moves


CODE = _code()
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_Checkpoint)


class CheckpointRefused(ValueError):
    """Bytes that are not a checkpoint of this code (another code's, or damaged)."""


def encode(projector: _Projector, version: int) -> bytes:
    """The projector's whole book and carried state after the account's event `version`."""
    book = projector.book
    if book.in_force_by is not None or projector.horizon is not None:
        raise ValueError("only a whole book (no in_force_by) is a checkpoint")
    place = {id(posting): n for n, posting in enumerate(book.postings)}
    return _ENCODER.encode(_Checkpoint(
        CODE, version, book.account_ref, book.currency, book.rating_type, book.time_zone, book.opened_at, book.opened,
        *_columns(book.postings), _keyed(book.entries, place), list(book.entry_facts.items()), _keyed(book.billed, place),
        [_Bill(b.bill_id, b.bill_number, b.run_type, b.cycle_id, b.bill_date, b.payment_due_date, b.amount_due,
               place[id(b.issued)]) for b in book.bills.values()],
        [_Payment(p.payment_id, p.reference, p.amount, place[id(p.received)],
                  [(a.target, a.target_id, a.amount, place[id(a.posting)]) for a in p.allocations],
                  [place[id(r)] for r in p.reversed_by], p.reversal_moments, p.reversal_reason)
         for p in book.payments.values()],
        [_Refund(r.refund_id, r.amount, r.method, r.recorded, r.effective, [place[id(p)] for p in r.postings])
         for r in book.refunds],
        book.statuses, book.last_recorded, book.out_of_order,
        [(lot.left, lot.effective, lot.owner, lot.seq) for lot in projector.lots], projector.seq,
        [(*key, moment) for key, moment in projector.money_at.items()],
        [(entry, list(by_payment.items())) for entry, by_payment in projector.prepaid_moves.items()]))


def _charge_shaped(posting: Posting) -> bool:
    moves = posting.moves
    return (len(moves) == 2 and moves[0][0] == BALANCE and moves[0][1] == "" and moves[1][0] == UNBILLED
            and moves[1][1] == posting.ref and str(moves[0][2]) == str(moves[1][2]))


def _columns(book_postings: list[Posting]) -> tuple[list[str], _Charges, list[tuple[int, Posting]]]:
    """(strings, the charge-shaped postings by column, the others with their places)."""
    strings: dict[str, int] = {}
    charges = _Charges([], [], [], [], [], [], [])
    others = []
    for n, p in enumerate(book_postings):
        if not _charge_shaped(p):
            others.append((n, p))
            continue
        charges.versions.append(p.version)
        charges.kinds.append(strings.setdefault(p.kind, len(strings)))
        charges.refs.append(p.ref)
        charges.texts.append(strings.setdefault(p.text, len(strings)))
        charges.recorded.append(p.recorded)
        charges.effective.append(p.effective)
        charges.amounts.append(p.moves[0][2])
    return list(strings), charges, others


_POSTING = partial(tuple.__new__, Posting)  # Posting(*fields) from a tuple of them, at C speed


def _postings(c: _Checkpoint) -> list[Posting]:
    """The book's postings: the charges' rebuilt from their columns without a Python step per posting, the others
    put back in their places (in order of place, each lands where it was)."""
    ch, strings = c.charges, c.strings
    amounts = ch.amounts
    moves = zip(zip(repeat(BALANCE), repeat(""), amounts), zip(repeat(UNBILLED), ch.refs, amounts))
    at = list(map(_POSTING, zip(ch.versions, map(strings.__getitem__, ch.kinds), ch.refs,
                               map(strings.__getitem__, ch.texts), ch.recorded, ch.effective, moves)))
    for n, posting in c.others:
        at.insert(n, posting)
    return at


def _keyed(postings: dict[str, Posting], place: dict[int, int]) -> tuple[list[str], list[int]]:
    return list(postings), [place[id(p)] for p in postings.values()]


def decode(data: bytes) -> tuple[int, _Projector]:
    """(the account version, a projector holding the book and state `encode` was given) from `encode`'s bytes;
    raises CheckpointRefused for bytes of another code or damaged ones."""
    try:
        c = _DECODER.decode(data)
    except msgspec.DecodeError as error:
        raise CheckpointRefused(f"not a book checkpoint of this code: {error}") from None
    if not CODE or c.code != CODE:
        raise CheckpointRefused(f"a book checkpoint of other code ({c.code!r})")
    at = _postings(c)
    book = Book(c.account_ref, c.currency, c.rating_type, c.time_zone, c.opened_at, c.opened, at,
                dict(zip(c.entries[0], map(at.__getitem__, c.entries[1]))), dict(c.entry_facts),
                dict(zip(c.billed[0], map(at.__getitem__, c.billed[1]))),
                {b.bill_id: Bill(b.bill_id, b.bill_number, b.run_type, b.cycle_id, b.bill_date, b.payment_due_date,
                                 b.amount_due, at[b.issued]) for b in c.bills},
                {p.payment_id: Payment(p.payment_id, p.reference, p.amount, at[p.received],
                                       [Allocation(t, i, a, at[n]) for t, i, a, n in p.allocations],
                                       [at[n] for n in p.reversed_by], p.reversal_moments, p.reversal_reason)
                 for p in c.payments},
                [Refund(r.refund_id, r.amount, r.method, r.recorded, r.effective, [at[n] for n in r.postings])
                 for r in c.refunds],
                list(c.statuses), c.last_recorded, c.out_of_order)
    projector = _Projector({})
    projector.book = book
    projector.lots = [_Lot(left, effective, owner, seq) for left, effective, owner, seq in c.lots]
    projector.seq = c.seq
    projector.money_at = {(p, t, i): moment for p, t, i, moment in c.money_at}
    projector.prepaid_moves = {entry: {payment: list(moves) for payment, moves in by_payment}
                               for entry, by_payment in c.prepaid_moves}
    return c.version, projector
