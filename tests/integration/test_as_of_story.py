"""One scripted account history (README "Basis rules", the worked example), its state at every event boundary on
both bases with the figures worked out by hand, on SQLite and PostgreSQL.

The story (account ACME in Paris, EUR; all moments UTC):
  Oct  1 08:00  opened
  Oct  5 10:05  charge c1 10.00, effective Oct 5 10:00
  Oct 20 09:00  payment P0 3.00 (no bill yet: credit balance)
  Nov  2 06:00  October's cycle: bill ACME-00001 dated Nov 1 (in force from Oct 31 23:00, midnight in Paris),
                amount due 10.00, the 3.00 credit applied: 7.00 to pay
  Nov  2 09:00  charge c2 5.00 rated late, effective Oct 31 20:00 (still October in Paris): missed the bill
  Nov  6 10:00  payment P1 7.00, paid on Oct 31 12:00 (backdated): pays the bill
  Nov 12 08:00  P1 reversed, the bank's return date Nov 11 12:00: the bill reopens
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.errors import AccountNotYetOpen
from ledger.queries.as_of import account_as_of, history_as_of
from ledger.queries.explain import explain_figure
from ledger.queries.history import account_history
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account, pay, post_charge, reverse, run_cycle

D = Decimal

BILL = "ACME-00001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def moments() -> dict[str, datetime]:
    return {"opened": at("2026-10-01T08:00"), "c1": at("2026-10-05T10:05"), "P0": at("2026-10-20T09:00"),
            "bill": at("2026-11-02T06:00"), "c2": at("2026-11-02T09:00"), "P1": at("2026-11-06T10:00"),
            "reversal": at("2026-11-12T08:00")}


@pytest.fixture
def story(make_settings: Callable[..., Settings], moments: dict[str, datetime]) -> Iterator[Ledger]:
    clock = FakeClock(moments["opened"])
    ledger = make_ledger(make_settings(), clock)
    define_spec(ledger, payment_due_date_offset=14)
    open_account(ledger, "ACME", "EUR", time_zone="Europe/Paris")
    clock.set(moments["c1"])
    post_charge(ledger, "ACME", "c1", "10.00", "EUR", "2026-10-05T10:00:00Z")
    clock.set(moments["P0"])
    pay(ledger, "ACME", "P0", "3.00", "EUR", "2026-10-20T09:00:00Z")
    clock.set(moments["bill"])
    run_cycle(ledger, date(2026, 10, 1), by="alice")
    clock.set(moments["c2"])
    post_charge(ledger, "ACME", "c2", "5.00", "EUR", "2026-10-31T20:00:00Z")
    clock.set(moments["P1"])
    pay(ledger, "ACME", "P1", "7.00", "EUR", "2026-10-31T12:00:00Z")
    clock.set(moments["reversal"])
    reverse(ledger, "P1", when="2026-11-11T12:00:00Z")
    yield ledger
    ledger.close()


# (moment, balance, unbilled, receivable, credit balance, the bill's state or None when it did not exist)
RECORDED = [
    ("2026-10-01T08:00", "0", "0", "0", "0", None),
    ("2026-10-05T10:05", "10.00", "10.00", "0", "0", None),
    ("2026-10-20T09:00", "7.00", "10.00", "0", "3.00", None),
    ("2026-11-02T06:00", "7.00", "0", "7.00", "0", "partiallyPaid"),  # 10.00 due - 3.00 credit
    ("2026-11-02T09:00", "12.00", "5.00", "7.00", "0", "partiallyPaid"),
    ("2026-11-06T10:00", "5.00", "5.00", "0", "0", "settled"),
    ("2026-11-12T08:00", "12.00", "5.00", "7.00", "0", "partiallyPaid"),
]
EFFECTIVE = [
    ("2026-10-01T08:00", "0", "0", "0", "0", None),
    ("2026-10-05T10:00", "10.00", "10.00", "0", "0", None),
    ("2026-10-20T09:00", "7.00", "10.00", "0", "3.00", None),
    ("2026-10-31T12:00", "0", "10.00", "0", "10.00", None),  # P1 paid before its bill existed: credit meanwhile
    ("2026-10-31T20:00", "5.00", "15.00", "0", "10.00", None),  # c2, an October charge
    ("2026-10-31T23:00", "5.00", "5.00", "0", "0", "settled"),  # the bill: c1 off unbilled, 3.00 + 7.00 on it
    ("2026-11-02T06:00", "5.00", "5.00", "0", "0", "settled"),  # the run's moment: everything known is in force
    ("2026-11-11T12:00", "12.00", "5.00", "7.00", "0", "partiallyPaid"),  # P1 bounced: the bill reopens
    ("2026-11-12T08:00", "12.00", "5.00", "7.00", "0", "partiallyPaid"),
]


def _figures(ledger: Ledger, moment: datetime, basis: str) -> tuple[object, ...]:
    view = account_as_of(ledger.store, ledger.now, "ACME", moment, basis)
    assert view.identity_holds
    bill = next((b.state for b in view.bills if b.bill_number == BILL), None)
    return view.balance, view.unbilled, view.receivable, view.credit_balance, bill


@pytest.mark.parametrize("basis,expected", [("recorded", RECORDED), ("effective", EFFECTIVE)])
def test_state_at_every_event_boundary(story: Ledger, basis: str, expected: list[tuple[str, ...]]) -> None:
    """At each boundary (the moment itself and the instant before) the state is the hand-worked figures."""
    for n, (moment, *figures) in enumerate(expected):
        want = tuple(D(v) for v in figures[:4]) + (figures[4],)
        assert _figures(story, at(moment), basis) == want, (basis, moment)
        if n:
            before = tuple(D(v) for v in expected[n - 1][1:5]) + (expected[n - 1][5],)
            assert _figures(story, at(moment) - timedelta(microseconds=1), basis) == before, (basis, moment, "before")


README_TABLE = [  # README "Basis rules", the worked example: (moment, basis, balance, unbilled, receivable, credit, bill)
    ("2026-10-31T21:00", "recorded", "7.00", "10.00", "0", "3.00", None),
    ("2026-10-31T21:00", "effective", "5.00", "15.00", "0", "10.00", None),
    ("2026-11-02T06:00", "recorded", "7.00", "0", "7.00", "0", "partiallyPaid"),
    ("2026-11-02T06:00", "effective", "5.00", "5.00", "0", "0", "settled"),
    ("2026-11-10T00:00", "recorded", "5.00", "5.00", "0", "0", "settled"),
    ("2026-11-10T00:00", "effective", "5.00", "5.00", "0", "0", "settled"),
    ("2026-11-11T13:00", "recorded", "5.00", "5.00", "0", "0", "settled"),
    ("2026-11-11T13:00", "effective", "12.00", "5.00", "7.00", "0", "partiallyPaid"),
]


def test_the_readme_worked_example(story: Ledger) -> None:
    """The table of README "Basis rules" is what the ledger answers."""
    for moment, basis, *figures in README_TABLE:
        assert _figures(story, at(moment), basis) == (*(D(v) for v in figures[:4]), figures[4]), (moment, basis)


def test_the_bases_disagree_at_the_bill_run_and_both_are_right(story: Ledger) -> None:
    """At the run the ledger knew of 7.00 owed on the bill; what was in force was a settled bill and 5.00 unbilled."""
    run = at("2026-11-02T06:00")
    known = account_as_of(story.store, story.now, "ACME", run, "recorded")
    in_force = account_as_of(story.store, story.now, "ACME", run, "effective")
    assert (known.receivable, known.unbilled, [e.entry_id for e in known.unbilled_entries]) == (D("7.00"), 0, [])
    assert (in_force.receivable, in_force.unbilled, [e.entry_id for e in in_force.unbilled_entries]) == (0, D("5.00"), ["c2"])


def test_a_payment_before_its_bill_existed_is_pending_and_credit_until_the_bill_date(story: Ledger) -> None:
    """On 31 October at 18:00 (effective) P1's allocation waits: the bill is not in force until Paris midnight."""
    view = account_as_of(story.store, story.now, "ACME", at("2026-10-31T18:00"), "effective")
    p1 = next(p for p in view.payments if p.external_reference == "P1")
    assert [(a.target_id, a.state) for a in p1.allocations] == [(BILL, "pending")]
    assert view.bills == [] and view.credit_balance == D("10.00")


def test_allocations_reversed_after_the_moment_are_still_in_force(story: Ledger) -> None:
    """On 10 November P1 (bounced on the 11th) still pays the bill, on both bases."""
    for basis in ("recorded", "effective"):
        view = account_as_of(story.store, story.now, "ACME", at("2026-11-10T00:00"), basis)
        p1 = next(p for p in view.payments if p.external_reference == "P1")
        assert (p1.status, [a.state for a in p1.allocations]) == ("done", ["applied"])
    later = account_as_of(story.store, story.now, "ACME", at("2026-11-12T08:00"), "effective")
    p1 = next(p for p in later.payments if p.external_reference == "P1")
    assert (p1.status, p1.reversed_at, [a.state for a in p1.allocations]) == ("canceled", at("2026-11-11T12:00"), ["undone"])


def test_the_bill_names_its_cycle_and_who_triggered_it(story: Ledger) -> None:
    """The on-cycle bill carries its cycle's period and alice's trigger; overdue is judged in Paris on the day."""
    view = account_as_of(story.store, story.now, "ACME", at("2026-11-15T23:30"), "recorded")  # 16 Nov in Paris
    [bill] = view.bills
    assert bill.cycle is not None and (bill.cycle.period_start, [t.by for t in bill.cycle.triggers]) == ("2026-10-01", ["alice"])
    assert (view.local_date, bill.payment_due_date, bill.overdue, view.overdue) == (
        date(2026, 11, 16), "2026-11-15", True, D("7.00"))


def test_an_explained_bill_lists_what_made_its_remaining_amount(story: Ledger) -> None:
    """The bill on the effective basis after the reversal: due 10.00, credit 3.00, P1 7.00, P1 back -7.00: 7.00."""
    explained = explain_figure(story.store, story.now, "ACME", BILL, at("2026-11-12T08:00"), "effective")
    assert [(line.kind, line.ref, line.amount) for line in explained.lines] == [
        ("bill", BILL, D("10.00")), ("credit applied", BILL, D("-3.00")), ("allocation", "P1", D("-7.00")),
        ("reversal", "P1", D("7.00"))]
    assert explained.amount == D("7.00")


def test_an_as_of_before_the_opening_says_the_account_did_not_exist(story: Ledger) -> None:
    """One microsecond before the opening, on either basis: AccountNotYetOpen, not a zero state."""
    for basis in ("recorded", "effective"):
        with pytest.raises(AccountNotYetOpen, match="did not exist"):
            account_as_of(story.store, story.now, "ACME", at("2026-10-01T08:00") - timedelta(microseconds=1), basis)


def test_the_effective_history_places_the_bill_at_its_bill_date(story: Ledger) -> None:
    """The history's effective basis puts the bill at Paris midnight of 1 November, after c2 of 31 October."""
    history = account_history(story.store, "ACME", None, "effective")
    kinds = [(line.kind, line.effective_at) for line in history.lines]
    assert kinds.index(("bill", at("2026-10-31T23:00"))) == kinds.index(("appliedBillingCharge", at("2026-10-31T20:00"))) + 1


def test_the_history_beside_an_as_of_state_is_the_history_read_on_its_own(story: Ledger) -> None:
    """history_as_of places bills by the as-of book's moments: its lines and state are account_history's own, at
    every event boundary, on both bases."""
    moments = [at(t) for t in ("2026-10-01T08:00", "2026-10-05T10:05", "2026-10-20T09:00", "2026-10-31T23:00",
                               "2026-11-02T06:00", "2026-11-02T09:00", "2026-11-06T10:00", "2026-11-12T08:00")]
    for moment in moments:
        for basis in ("recorded", "effective"):
            found, history = history_as_of(story.store, story.now, "ACME", moment, basis)
            assert history == account_history(story.store, "ACME", moment, basis), (moment, basis)
            assert found == account_as_of(story.store, story.now, "ACME", moment, basis)
