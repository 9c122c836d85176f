"""Book checkpoints' codec (ledger/queries/book_codec.py): a decoded checkpoint is the book and projector state it was
made from, exactly (Decimals, moments and their offsets), and a projector restored midway goes on to the same book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.queries import book_codec
from ledger.queries.postings import BALANCE, REMAINING, UNBILLED, Posting, _Projector, project
from tests.support.account_events import AccountScript, varied_after


def varied() -> AccountScript:
    """Charges (one backdated), a prepayment, an overpayment, two bills, a refund before its credit, a reversal."""
    script = AccountScript(time_zone="Europe/Paris")
    script.charge("c1", "10.00", at="2026-10-05T10:00:00Z", recorded="2026-10-05T10:05:00Z", tax="2.00")
    return varied_after(script)


def refs_of(script: AccountScript) -> dict[str, str]:
    return {str(pid): ref for ref, (pid, _, _) in script.payments.items()}


def projected(events: list[Any], refs: dict[str, str], start: _Projector | None = None) -> _Projector:
    projector = start or _Projector({})
    project(events, refs, start=projector)
    return projector


def test_a_decoded_checkpoint_is_the_book_and_state_it_was_made_from() -> None:
    """decode(encode(p)) holds p's book and carried state, re-encodes to the same bytes, and shares postings as p."""
    script = varied()
    projector = projected(script.events, refs_of(script))
    data = book_codec.encode(projector, len(script.events))
    version, back = book_codec.decode(data)
    assert version == len(script.events)
    assert back.book == projector.book
    assert (back.lots, back.seq, back.money_at, back.prepaid_moves) == (
        projector.lots, projector.seq, projector.money_at, projector.prepaid_moves)
    assert book_codec.encode(back, version) == data
    places = {id(p) for p in back.book.postings}
    assert all(id(bill.issued) in places for bill in back.book.bills.values())
    assert all(id(p) in places for p in back.book.entries.values())


def test_a_projector_restored_after_any_event_goes_on_to_the_same_book() -> None:
    """Checkpointed after each event in turn, then given the rest: the very book of all the events (same bytes)."""
    script = varied()
    refs = refs_of(script)
    whole = book_codec.encode(projected(script.events, refs), len(script.events))
    for k in range(1, len(script.events)):
        _, restored = book_codec.decode(book_codec.encode(projected(script.events[:k], refs), k))
        assert book_codec.encode(projected(script.events[k:], refs, restored), len(script.events)) == whole, k


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1),
                       timezones=st.one_of(st.just(UTC), offsets))
amounts = st.decimals(allow_nan=False, allow_infinity=False)


@given(amount=amounts, recorded=moments, effective=moments, lot=amounts)
def test_decimals_and_moments_come_back_exact_with_their_offsets(amount: Decimal, recorded: datetime,
                                                                 effective: datetime, lot: Decimal) -> None:
    """A Decimal comes back with its digits, exponent and sign (never a float); a moment with its own UTC offset."""
    projector = _Projector({})
    posting = Posting(1, "appliedBillingCharge", "c1", "usage", recorded, effective,
                      ((BALANCE, "", amount), (UNBILLED, "c1", amount)))
    other = Posting(2, "bill", "B-1", "bill B-1", effective, recorded, ((UNBILLED, "c1", -amount), (REMAINING, "b1", lot)))
    projector.book.postings += [other, posting]  # a charge (by column) after another posting (whole)
    projector.book.entries["c1"] = posting
    projector.add_lot(abs(lot) + 1, effective, None)
    _, back = book_codec.decode(book_codec.encode(projector, 1))
    assert back.book.postings == [other, posting]
    got = back.book.postings[1]
    assert [str(m[2]) for m in got.moves] == [str(amount)] * 2
    assert [str(m[2]) for m in back.book.postings[0].moves] == [str(-amount), str(lot)]
    assert all(type(m[2]) is Decimal for p in back.book.postings for m in p.moves)
    assert (back.book.postings[0].recorded.isoformat(), back.book.postings[0].effective.isoformat()) == (
        effective.isoformat(), recorded.isoformat())
    for mine, theirs in ((got.recorded, recorded), (got.effective, effective), (back.lots[0].effective, effective)):
        assert mine.isoformat() == theirs.isoformat() and mine.utcoffset() == theirs.utcoffset()
    assert str(back.lots[0].left) == str(abs(lot) + 1)
    assert back.book.entries["c1"] is got


def test_a_checkpoint_of_other_code_or_damaged_is_refused() -> None:
    """Bytes of another code version, or not a checkpoint at all, raise CheckpointRefused (the caller projects)."""
    script = varied()
    data = book_codec.encode(projected(script.events, refs_of(script)), 3)
    with pytest.raises(book_codec.CheckpointRefused, match="other code"):
        book_codec.decode(data.replace(book_codec.CODE.encode(), b"book-0-old", 1))
    with pytest.raises(book_codec.CheckpointRefused):
        book_codec.decode(data[: len(data) // 2])


def test_only_a_whole_book_is_a_checkpoint() -> None:
    """A book for the effective basis up to a moment (project's in_force_by) cannot be encoded."""
    with pytest.raises(ValueError, match="whole book"):
        book_codec.encode(_Projector({}, datetime(2026, 1, 1, tzinfo=UTC)), 1)
