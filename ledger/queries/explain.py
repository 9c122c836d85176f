"""A figure of an account at a moment, on either basis, explained: the events that make it up, each with its signed
contribution, summing exactly to the figure (what an auditor asks first: where did this credit come from?)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from ledger.errors import InvalidInput
from ledger.ports import AggregateStore, Clock
from ledger.queries.as_of import Figures, loaded_for, uncollected
from ledger.queries.as_of_views import ExplainLine, FigureExplained
from ledger.queries.postings import BALANCE, CREDIT, PAID_AHEAD, PREPAID, REMAINING, UNBILLED, ZERO, Book, Posting, describe

FIGURES = {"balance": BALANCE, "unbilled": UNBILLED, "paid-ahead": PAID_AHEAD, "receivable": REMAINING,
           "overdue": REMAINING, "credit-balance": CREDIT, "prepaid-balance": PREPAID}
"""The figures `explain` knows (besides a bill number: that bill's remaining amount)."""


@uncollected()
def explain_figure(store: AggregateStore, clock: Clock, account_ref: str, figure: str, as_of: datetime | None = None,
                   basis: str = "recorded") -> FigureExplained:
    """The events that make up one figure at `as_of` (default: now), each with its signed contribution; `figure` is
    one of FIGURES or a bill number (that bill's remaining amount). The lines sum exactly to the figure."""
    moment = as_of or clock()
    loaded = loaded_for(store, account_ref, moment, basis)
    return explain(loaded.book, Figures(loaded.book, moment, basis), figure)


def explain(book: Book, f: Figures, figure: str) -> FigureExplained:
    name, keys, whole = _figure_keys(book, f, figure)
    sums = f.keyed(name)
    covered = {key for key in sums if keys is None or key in keys}
    kept = covered if whole else {key for key in covered if sums[key]}
    # one line per event, moment and kind of posting; a payment's receipt and its allocations make one line
    grouped: dict[tuple[int, datetime, str], list[Posting]] = defaultdict(list)
    for posting in f.in_force:
        if any(fig == name and key in kept for fig, key, _ in posting.moves):
            kind = "payment" if posting.kind == "allocation" else posting.kind
            grouped[posting.version, posting.effective, kind].append(posting)
    lines = []
    for postings in grouped.values():
        amount = sum((a for p in postings for fig, key, a in p.moves if fig == name and key in kept), ZERO)
        if not amount:
            continue
        first = postings[0]
        text = "; ".join(dict.fromkeys(describe(p) for p in postings))
        lines.append(ExplainLine(kind=first.kind, ref=first.ref, description=text,
                                 recorded_at=first.recorded, effective_at=first.effective, amount=f.money(name, amount)))
    lines.sort(key=lambda line: (line.effective_at if f.basis == "effective" else line.recorded_at, line.recorded_at))
    total = sum((f.of(name, key) for key in kept), ZERO)
    return FigureExplained(account_id=book.account_ref, currency=book.currency, basis=f.basis, as_of=f.as_of,
                           figure=figure, amount=f.money(name, total), lines=lines, items_left_out=len(covered - kept))


def _figure_keys(book: Book, f: Figures, figure: str) -> tuple[str, set[str] | None, bool]:
    """(the figure's bucket, the keys it covers (None: all), whether to show them even when they cancel out)."""
    if figure == "overdue":
        return REMAINING, f.overdue_bills(), False
    if figure in FIGURES:
        return FIGURES[figure], None, False
    for bill_id, bill in book.bills.items():
        if bill.bill_number == figure and f.on(bill.issued):
            return REMAINING, {bill_id}, True
    known = ", ".join(FIGURES)
    raise InvalidInput(f"cannot explain {figure!r}: the figures are {known}, or the number of a bill the account had "
                       f"at {f.as_of.isoformat()}", figure=figure)
