"""The basis rules of the as-of state (README "Basis rules"), each on a few stored events written by the aggregates
themselves, and the explanation of a figure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.aggregates.entries import CREDIT
from ledger.errors import InvalidInput
from ledger.queries.explain import explain
from ledger.queries.postings import BALANCE, PAID_AHEAD, PREPAID, REMAINING, UNBILLED, balanced
from ledger.queries.postings import CREDIT as CREDIT_BALANCE
from tests.support.account_events import AccountScript, varied_after

D = Decimal


def figures(script: AccountScript, at: str, basis: str) -> dict[str, Decimal]:
    f = script.figures(at, basis)
    return {name: f.total(name) for name in (BALANCE, UNBILLED, PAID_AHEAD, REMAINING, CREDIT_BALANCE, PREPAID)}


def charged(time_zone: str = "UTC") -> AccountScript:
    script = AccountScript(time_zone=time_zone)
    script.charge("c1", "10.00", at="2026-10-05T10:00:00Z", recorded="2026-10-06T09:00:00Z")
    return script


def test_a_charge_counts_from_its_effective_moment_on_the_effective_basis_only() -> None:
    """Rated late: in force from its effective moment, known (recorded basis) only from its recording."""
    script = charged()
    assert figures(script, "2026-10-05T12:00:00Z", "effective")[UNBILLED] == D("10.00")
    assert figures(script, "2026-10-05T12:00:00Z", "recorded")[UNBILLED] == 0
    assert figures(script, "2026-10-06T09:00:00Z", "recorded")[BALANCE] == D("10.00")


def test_a_bill_counts_from_the_start_of_its_bill_date_in_the_account_time_zone() -> None:
    """A bill dated 1 November and recorded on the 3rd is in force from midnight in Paris (23:00Z on 31 October)."""
    script = charged("Europe/Paris")
    script.bill("2026-11-01", recorded="2026-11-03T06:00:00Z")
    before, after = figures(script, "2026-10-31T22:59:59Z", "effective"), figures(script, "2026-10-31T23:00:00Z", "effective")
    assert (before[UNBILLED], before[REMAINING]) == (D("10.00"), 0)
    assert (after[UNBILLED], after[REMAINING]) == (0, D("10.00"))
    assert figures(script, "2026-11-02T00:00:00Z", "recorded")[REMAINING] == 0


def test_a_bill_holding_an_entry_effective_later_that_day_counts_from_that_entry() -> None:
    """An off-cycle bill dated today that took a charge effective this afternoon is in force from the charge."""
    script = AccountScript()
    script.charge("late", "4.00", at="2026-11-01T15:00:00Z", recorded="2026-11-01T09:00:00Z")
    script.bill("2026-11-01", recorded="2026-11-01T10:00:00Z")
    assert figures(script, "2026-11-01T14:59:59Z", "effective")[REMAINING] == 0
    assert figures(script, "2026-11-01T15:00:00Z", "effective")[REMAINING] == D("4.00")


def test_a_backdated_payment_to_a_bill_not_yet_in_force_waits_as_credit_until_the_bill_date() -> None:
    """Paid on 30 October (recorded on 4 November) against the bill dated 1 November: credit balance until then."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.pay("P1", "10.00", at="2026-10-30T12:00:00Z", recorded="2026-11-04T09:00:00Z", bill=1)
    october = figures(script, "2026-10-31T00:00:00Z", "effective")
    assert (october[BALANCE], october[CREDIT_BALANCE], october[UNBILLED], october[REMAINING]) == (0, D("10.00"), D("10.00"), 0)
    november = figures(script, "2026-11-01T00:00:00Z", "effective")
    assert (november[CREDIT_BALANCE], november[REMAINING]) == (0, 0)
    assert figures(script, "2026-11-02T00:00:00Z", "recorded")[REMAINING] == D("10.00")


def test_credit_balance_a_bill_applies_stays_credit_until_the_bill_is_in_force() -> None:
    """An overpayment of 20 October applied by a bill dated 1 November is credit balance on 31 October."""
    script = charged()
    script.pay("P0", "3.00", at="2026-10-20T00:00:00Z", recorded="2026-10-20T00:00:00Z")
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    assert figures(script, "2026-10-31T12:00:00Z", "effective")[CREDIT_BALANCE] == D("3.00")
    after = figures(script, "2026-11-01T00:00:00Z", "effective")
    assert (after[CREDIT_BALANCE], after[REMAINING]) == (0, D("7.00"))


def test_credit_from_a_payment_after_the_bill_date_counts_from_the_payment() -> None:
    """A late bill run takes credit paid after its bill date: the bill is owed in full until that payment."""
    script = charged()
    script.pay("P0", "3.00", at="2026-11-03T00:00:00Z", recorded="2026-11-03T00:00:00Z")
    script.bill("2026-11-01", recorded="2026-11-05T06:00:00Z")
    between = figures(script, "2026-11-02T00:00:00Z", "effective")
    assert (between[REMAINING], between[CREDIT_BALANCE]) == (D("10.00"), 0)
    after = figures(script, "2026-11-03T00:00:00Z", "effective")
    assert (after[REMAINING], after[CREDIT_BALANCE]) == (D("7.00"), 0)


def test_a_reversal_after_the_moment_leaves_its_allocations_in_force() -> None:
    """A check paid on 5 November and bounced on the 12th paid the bill on the 10th, on both bases."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.pay("CHK", "10.00", at="2026-11-05T00:00:00Z", recorded="2026-11-05T00:00:00Z", bill=1)
    script.reverse("CHK", at="2026-11-12T00:00:00Z", recorded="2026-11-12T00:00:00Z")
    for basis in ("recorded", "effective"):
        assert figures(script, "2026-11-10T00:00:00Z", basis)[REMAINING] == 0
        assert figures(script, "2026-11-12T00:00:00Z", basis)[REMAINING] == D("10.00")


def test_a_backdated_reversal_reopens_the_bill_from_its_own_date_on_the_effective_basis() -> None:
    """Recorded on the 20th with the bank's return date of the 12th: reopened on the 15th, as far as was in force."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.pay("CHK", "10.00", at="2026-11-05T00:00:00Z", recorded="2026-11-05T00:00:00Z", bill=1)
    script.reverse("CHK", at="2026-11-12T00:00:00Z", recorded="2026-11-20T00:00:00Z")
    assert figures(script, "2026-11-15T00:00:00Z", "effective")[REMAINING] == D("10.00")
    assert figures(script, "2026-11-15T00:00:00Z", "recorded")[REMAINING] == 0


def test_a_refund_dated_before_the_credit_it_returns_counts_from_that_credit() -> None:
    """No figure shows money leaving before it arrived: the refund waits for the payment it refunds."""
    script = AccountScript()
    script.pay("P1", "8.00", at="2026-11-10T00:00:00Z", recorded="2026-11-10T00:00:00Z")
    script.refund("R1", "5.00", at="2026-11-08T00:00:00Z", recorded="2026-11-11T00:00:00Z")
    early = figures(script, "2026-11-09T00:00:00Z", "effective")
    assert (early[CREDIT_BALANCE], early[BALANCE]) == (0, 0)
    later = figures(script, "2026-11-10T00:00:00Z", "effective")
    assert (later[CREDIT_BALANCE], later[BALANCE]) == (D("3.00"), D("-3.00"))


def test_a_charge_prepayment_moves_onto_its_bill_from_the_later_of_the_two() -> None:
    """Prepaid on 20 October, billed on 1 November: paid ahead until the bill date, then on the bill."""
    script = charged()
    script.pay("PRE", "4.00", at="2026-10-20T00:00:00Z", recorded="2026-10-20T00:00:00Z", charge="c1")
    script.bill("2026-11-01", recorded="2026-11-02T06:00:00Z")
    october = figures(script, "2026-10-25T00:00:00Z", "effective")
    assert (october[PAID_AHEAD], october[REMAINING]) == (D("4.00"), 0)
    november = figures(script, "2026-11-01T00:00:00Z", "effective")
    assert (november[PAID_AHEAD], november[REMAINING]) == (0, D("6.00"))


def test_a_net_credit_bill_leaves_its_credit_as_credit_balance_from_its_bill_date() -> None:
    """A bill of a 12.00 credit and a 10.00 charge: 2.00 credit balance once the bill is in force, nothing to pay."""
    script = charged()
    script.charge("cr", "12.00", at="2026-10-06T00:00:00Z", recorded="2026-10-06T09:00:00Z", kind=CREDIT)
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    after = figures(script, "2026-11-01T00:00:00Z", "effective")
    assert (after[CREDIT_BALANCE], after[REMAINING], after[UNBILLED], after[BALANCE]) == (D("2.00"), 0, 0, D("-2.00"))


def test_a_prepaid_account_charges_draw_its_prepaid_balance_when_effective() -> None:
    """Top-up and usage of a prepaid account move its prepaid balance at their own effective moments."""
    script = AccountScript(rating_type="prepaid", credit_limit="5")
    script.pay("TOP", "20.00", at="2026-10-02T00:00:00Z", recorded="2026-10-02T00:00:00Z")
    script.charge("u1", "12.50", at="2026-10-03T00:00:00Z", recorded="2026-10-04T00:00:00Z")
    assert figures(script, "2026-10-03T12:00:00Z", "effective")[PREPAID] == D("7.50")
    assert figures(script, "2026-10-03T12:00:00Z", "recorded")[PREPAID] == D("20.00")


def test_every_posting_of_a_varied_history_is_balanced() -> None:
    """Each posting's movements sum to zero under the identity's weights (so any set of them keeps it)."""
    script = charged("America/New_York")
    script.adjust("a1", "c1", "-1.50", at="2026-10-07T00:00:00Z", recorded="2026-10-07T00:00:00Z")
    script.pay("PRE", "2.00", at="2026-10-08T00:00:00Z", recorded="2026-10-08T00:00:00Z", charge="c1")
    script.pay("OVER", "30.00", at="2026-10-09T00:00:00Z", recorded="2026-10-09T00:00:00Z")
    script.bill("2026-11-01", recorded="2026-11-01T12:00:00Z")
    script.charge("c2", "5.00", at="2026-11-02T00:00:00Z", recorded="2026-11-02T00:00:00Z")
    script.refund("R1", "0.50", at="2026-11-01T00:00:00Z", recorded="2026-11-02T12:00:00Z")
    script.reverse("OVER", at="2026-11-03T00:00:00Z", recorded="2026-11-03T00:00:00Z")
    book = script.book()
    assert len(book.postings) >= 10 and all(balanced(p) for p in book.postings)


# ---------------------------------------------------------------- explain


def test_explained_credit_balance_lists_each_event_once_and_sums_to_the_figure() -> None:
    """A payment's receipt and its allocation at one moment make one line: what it left as credit."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.pay("P1", "25.00", at="2026-11-05T00:00:00Z", recorded="2026-11-05T00:00:00Z", bill=1, allocate="10.00")
    script.refund("R1", "5.00", at="2026-11-06T00:00:00Z", recorded="2026-11-06T00:00:00Z")
    f = script.figures("2026-11-10T00:00:00Z", "effective")
    explained = explain(f.book, f, "credit-balance")
    assert [(line.ref, line.amount) for line in explained.lines] == [("P1", D("15.00")), ("R1", D("-5.00"))]
    assert explained.amount == D("10.00") == sum(line.amount for line in explained.lines)


def test_explained_unbilled_leaves_out_entries_already_billed() -> None:
    """Billed entries cancel out and are counted as left out; the lines are the entries still unbilled."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.charge("c2", "5.123456", at="2026-11-02T00:00:00Z", recorded="2026-11-02T00:00:00Z")
    f = script.figures("2026-11-03T00:00:00Z", "recorded")
    explained = explain(f.book, f, "unbilled")
    assert [(line.ref, line.amount) for line in explained.lines] == [("c2", D("5.123456"))]
    assert explained.items_left_out == 1


def test_an_explained_settled_bill_shows_how_it_came_to_nothing() -> None:
    """A bill's explanation keeps its lines even when they cancel out: amount due, then the payment."""
    script = charged()
    script.bill("2026-11-01", recorded="2026-11-01T06:00:00Z")
    script.pay("P1", "10.00", at="2026-11-05T00:00:00Z", recorded="2026-11-05T00:00:00Z", bill=1)
    f = script.figures("2026-11-06T00:00:00Z", "recorded")
    explained = explain(f.book, f, "ACC-1-00001")
    assert [(line.kind, line.amount) for line in explained.lines] == [("bill", D("10.00")), ("allocation", D("-10.00"))]
    assert explained.amount == 0


def test_explaining_an_unknown_figure_is_invalid_input_naming_the_figures() -> None:
    """Neither a figure nor a bill the account had then: InvalidInput listing what can be explained."""
    script = charged()
    f = script.figures("2026-11-06T00:00:00Z", "recorded")
    with pytest.raises(InvalidInput, match="credit-balance"):
        explain(f.book, f, "ACC-1-00001")


# ---------------------------------------------------------------- a book for the effective basis up to a moment


def varied() -> AccountScript:
    script = charged("Europe/Paris")
    return varied_after(script)


def test_a_book_up_to_a_moment_gives_the_whole_books_effective_figures_then() -> None:
    """project(in_force_by=T) leaves out the movements of what is in force only after T: at T, and at every moment
    before it, the effective figures (totals and per entry and bill) are the whole book's."""
    from datetime import timedelta

    from ledger.aggregates.billing_account import BillingAccount
    from ledger.queries.as_of import Figures
    from ledger.queries.postings import WEIGHT, ChargeFacts, project

    script = varied()
    refs = {str(pid): ref for ref, (pid, _, _) in script.payments.items()}
    whole = project(script.events, refs)
    lean = [ChargeFacts(*(getattr(e, f) for f in ChargeFacts._fields)) if isinstance(e, BillingAccount.ChargeApplied)
            else e for e in script.events]
    moments = sorted({p.effective for p in whole.postings} | {p.effective - timedelta(microseconds=1) for p in whole.postings})
    assert len(moments) > 10
    for at in moments:
        book = project(script.events, refs, in_force_by=at)
        assert project(lean, refs, in_force_by=at) == book  # charges read lean (the query's way) alike
        assert len([p for p in book.postings if not p.moves]) >= len([p for p in whole.postings if not p.moves])
        for earlier in (m for m in moments if m <= at):
            mine, theirs = Figures(book, earlier, "effective"), Figures(whole, earlier, "effective")
            assert mine.totals == theirs.totals, (at, earlier)
            assert all(mine.keyed(figure) == theirs.keyed(figure) for figure in WEIGHT), (at, earlier)


def test_a_book_up_to_a_moment_refuses_a_later_moment_and_the_recorded_basis() -> None:
    """It cannot answer what it left out: a moment after its own, or the recorded basis (a programming error)."""
    from ledger.queries.as_of import Figures
    from ledger.queries.postings import project
    from tests.support.account_events import moment

    script = varied()
    book = project(script.events, in_force_by=moment("2026-11-01T00:00:00Z"))
    Figures(book, moment("2026-10-31T00:00:00Z"), "effective")
    with pytest.raises(ValueError, match="effective basis up to"):
        Figures(book, moment("2026-11-01T00:00:01Z"), "effective")
    with pytest.raises(ValueError, match="effective basis up to"):
        Figures(book, moment("2026-10-31T00:00:00Z"), "recorded")


def test_a_query_pauses_garbage_collection_and_restores_it_nested_or_not() -> None:
    """uncollected: off inside (however nested), back as it was after, also when collection was already off."""
    import gc

    from ledger.queries.as_of import uncollected

    assert gc.isenabled()
    with uncollected():
        assert not gc.isenabled()
        with uncollected():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with uncollected():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
