"""Property: for random account histories (charges, credits, penalties, adjustments, late and on-time cycle runs,
off-cycle bills, payments by plan or allocated to a bill or a charge, reversals, refunds; effective moments out of
recording order), on SQLite and PostgreSQL:

* the as-of state at any T on the recorded basis equals the live state of a ledger that had only received the
  events recorded by T: the account, its bills and its payments replayed from those events alone;
* the identity holds at every T on both bases, no credit balance is ever negative, and no money sits on a bill
  or an entry not in force yet (the listed bills and entries add up to the totals);
* every explained figure's lines sum to the figure the state shows;
* once everything is in force, both bases agree; before the opening, both refuse;
* the query's fast path (the whole book from the account's book checkpoint, written after a random event, or from
  none, and the events after it) gives the very state and explanations the from-events path gives, at every
  sampled moment on both bases, and that checkpoint gone on with the later events is the events' own book.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger.aggregates import ids
from ledger.aggregates.entries import CHARGE, CREDIT, PENALTY
from ledger.errors import AccountNotYetOpen, LedgerError
from ledger.eventstore.store import project as replay
from ledger.queries import book_checkpoint
from ledger.queries.as_of import Figures, account_as_of, from_events_for, load, state
from ledger.queries.explain import FIGURES, explain, explain_figure
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    adjust,
    charge_cmd,
    define_spec,
    make_ledger,
    off_cycle,
    open_account,
    pay,
    refund,
    reverse,
    run_cycle,
)

D = Decimal
CENT = D("0.01")

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]
EXAMPLES = {"sqlite": 60, "postgres": 25}
MOMENTS = 14  # moments checked per history (event boundaries, just before them, and effective moments)
_serial = itertools.count()

hours = st.integers(min_value=0, max_value=72)
CHARGES = st.tuples(st.just("charge"), st.sampled_from([CHARGE, CHARGE, PENALTY, CREDIT]),
                    st.integers(min_value=0, max_value=5_000_000), st.integers(min_value=0, max_value=6), hours,
                    st.integers(min_value=0, max_value=20))
PAYMENTS = st.tuples(st.just("pay"), st.integers(min_value=1, max_value=20_000),
                     st.sampled_from(["plan", "bill", "charge"]), hours)
STEPS = st.one_of(  # charges, payments and month ends drawn more often: they give the others something to act on
    CHARGES, CHARGES, PAYMENTS, PAYMENTS,
    st.tuples(st.just("month_end"), hours), st.tuples(st.just("run_cycles")), st.tuples(st.just("run_cycles")),
    st.tuples(st.just("tick"), st.integers(min_value=1, max_value=240)),
    st.tuples(st.just("adjust"), st.integers(min_value=1, max_value=100)),
    st.tuples(st.just("off_cycle")),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), hours),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=100), hours),
)


_CHARGE_10 = ("charge", CHARGE, 1000, 2, 0, 0)
LATE_RUN_TAKES_LATER_CREDIT = [_CHARGE_10, ("month_end", 10), ("pay", 300, "plan", 0), ("run_cycles",), ("tick", 5)]
LATE_RUN_TAKES_A_LATER_PREPAYMENT = [_CHARGE_10, ("month_end", 10), ("pay", 300, "charge", 0), ("run_cycles",),
                                     ("tick", 5)]
BACKDATED_PAYMENT_TO_A_LATER_BILL = [_CHARGE_10, ("month_end", 30), ("run_cycles",), ("pay", 1000, "bill", 60),
                                     ("tick", 1)]
REFUND_BEFORE_ITS_CREDIT = [("tick", 100), ("pay", 800, "plan", 0), ("refund", 50, 72), _CHARGE_10, ("month_end", 8),
                            ("run_cycles",)]
BACKDATED_REVERSAL_OF_A_PREPAYMENT = [("tick", 30), _CHARGE_10, ("pay", 400, "charge", 0), ("month_end", 20),
                                      ("run_cycles",), ("tick", 10), ("reverse", 0, 72), ("tick", 2)]
# a charge prepaid in force 1 March, that prepayment reversed in force 1 April, then a late run records January's bill
# (in force 1 February) with nothing applied: while the prepayment is in force it counts on the bill, not as paid ahead
PREPAYMENT_REVERSED_BEFORE_A_LATE_BILL = [
    ("charge", CHARGE, 0, 0, 0, 0), ("charge", CHARGE, 0, 0, 0, 0), ("charge", CHARGE, 0, 0, 16, 0),
    ("charge", CHARGE, 34, 0, 0, 0), ("pay", 421, "plan", 0), ("month_end", 26), ("month_end", 35),
    ("pay", 421, "charge", 0), ("charge", CHARGE, 82987, 0, 58, 0), ("month_end", 0), ("reverse", 1, 0),
    ("month_end", 0), ("pay", 1, "plan", 0), ("run_cycles",)]


class History:
    """Plays random steps on one fresh account (its own specification, references and clock) of a shared ledger."""

    def __init__(self, ledger: Ledger, zone: str) -> None:
        n = next(_serial)
        self.ledger, self.ref, self.spec = ledger, f"ACC-{n}", f"spec-{n}"
        self.clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        ledger.clock = self.clock
        define_spec(ledger, self.spec)
        open_account(ledger, self.ref, "EUR", cycle_specification=self.spec, time_zone=zone)
        self.opened = self.clock()
        self.month = (2026, 1)
        self.unbilled_months: list[tuple[int, int]] = []  # months ended whose cycle has not run yet
        self.charges: list[str] = []
        self.payments: list[tuple[str, datetime]] = []
        self.counter = 0

    def next(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.ref}-{prefix}{self.counter}"

    def back(self, hours_back: int) -> datetime:
        return max(self.opened, self.clock() - timedelta(hours=hours_back))

    def play(self, step: tuple[Any, ...]) -> None:
        try:
            getattr(self, step[0])(*step[1:])
        except LedgerError:
            pass  # a refused command changes nothing: the history goes on

    def tick(self, hours_on: int) -> None:
        self.clock.advance(hours=hours_on)

    def charge(self, kind: str, units: int, places: int, hours_back: int, hours_ahead: int) -> None:
        amount = format(D(units).scaleb(-places), "f")
        when = self.back(hours_back) + timedelta(hours=hours_ahead)
        charge_id = self.next("c")
        self.ledger.execute(charge_cmd(self.ref, charge_id, amount, "EUR", when.isoformat(), kind=kind))
        self.charges.append(charge_id)

    def adjust(self, percent: int) -> None:
        if not self.charges:
            return
        net = account_of(self.ledger, self.ref).charge_net[self.charges[-1]]
        change = -(net * percent / 100).quantize(D("0.000001"))
        if change:
            adjust(self.ledger, self.ref, self.next("a"), self.charges[-1], format(change, "f"), self.clock().isoformat())

    def month_end(self, hours_into_next: int) -> None:
        """The month ends: the clock moves into the next month; its cycle runs later (`run_cycles`), so payments and
        charges can be recorded between a bill's date and its run."""
        self.unbilled_months.append(self.month)
        year, month = self.month
        self.month = (year + month // 12, month % 12 + 1)
        self.clock.set(max(self.clock(), datetime(*self.month, 1, tzinfo=UTC) + timedelta(hours=hours_into_next)))

    def run_cycles(self) -> None:
        """The cycles of the months that ended, oldest first (refused while a period is not over in the zone)."""
        while self.unbilled_months:
            year, month = self.unbilled_months[0]
            run_cycle(self.ledger, datetime(year, month, 1).date(), spec=self.spec, by="scheduler",
                      trigger_type="scheduler")
            self.unbilled_months.pop(0)

    def off_cycle(self) -> None:
        off_cycle(self.ledger, self.ref, self.next("req"))

    def pay(self, cents: int, plan: str, hours_back: int) -> None:
        account = account_of(self.ledger, self.ref)
        amount = D(cents) / 100
        allocations = None
        if plan == "bill" and account.open_bills:
            bill = next(iter(account.open_bills.values()))
            allocations = [{"target": "bill", "id": bill["bill_number"], "amount": str(min(amount, bill["remaining"]))}]
        elif plan == "charge":
            open_entries = [e for e in account.unbilled if account.entry_remaining(e) > D("0.01")]
            if open_entries:
                share = min(amount, account.entry_remaining(open_entries[0]).quantize(CENT, rounding=ROUND_DOWN))
                allocations = [{"target": "charge", "id": open_entries[0], "amount": str(share)}]
        when = self.back(hours_back)
        reference = self.next("p")
        pay(self.ledger, self.ref, reference, str(amount), "EUR", when.isoformat(), allocations=allocations)
        self.payments.append((reference, when))

    def reverse(self, which: int, hours_back: int) -> None:
        if not self.payments:
            return
        reference, paid_at = self.payments[which % len(self.payments)]
        reverse(self.ledger, reference, when=max(paid_at, self.back(hours_back)).isoformat())

    def refund(self, percent: int, hours_back: int) -> None:
        account = account_of(self.ledger, self.ref)
        amount = (account.credit_balance * percent / 100).quantize(CENT, rounding=ROUND_DOWN)
        if amount > 0:
            refund(self.ledger, self.ref, self.next("r"), str(amount), self.back(hours_back).isoformat())


def live(events: list[Any], until: datetime) -> Any:
    """The aggregate a ledger would hold had it only received the events recorded by `until`."""
    known = [e for e in events if e.timestamp <= until]
    return replay(None, known) if known else None


def moments(events: list[Any], book: Any) -> list[datetime]:
    """Every moment something changes on either basis, and the instant before each."""
    found = {e.timestamp for e in events} | {p.effective for p in book.postings}
    found |= {m - timedelta(microseconds=1) for m in found}
    return sorted(m for m in found if m >= book.opened_at)


def sample(chosen: list[datetime]) -> list[datetime]:
    step = max(1, len(chosen) // MOMENTS)
    return chosen[::step][:MOMENTS] + chosen[-1:]


def check_recorded_equals_live(view: Any, account: Any, bills: dict[str, list[Any]], payments: dict[str, list[Any]],
                               at: datetime) -> None:
    assert (view.balance, view.unbilled, view.receivable) == (account.balance, account.unbilled_total, account.receivable)
    assert (view.credit_balance, view.prepaid_balance, view.paid_ahead) == (
        account.credit_balance, account.prepaid_balance, account.unbilled_prepaid)
    assert view.status == account.status
    assert {e.entry_id: e.amount for e in view.unbilled_entries} == {k: v.tax_included for k, v in account.unbilled.items()}
    assert {e.entry_id: e.paid_ahead for e in view.unbilled_entries} == {
        k: sum(v.paid_by.values(), D(0)) for k, v in account.unbilled.items()}
    assert {b.bill_number for b in view.bills} == set(account.bills)
    for bill_view in view.bills:
        bill = live(bills[bill_view.bill_id], at)
        assert (bill_view.remaining, bill_view.state, bill_view.amount_due) == (
            bill.remaining_amount, bill.state, bill.amount_due)
        assert sum((a.amount for a in bill_view.applied), D(0)) == bill.allocated_amount
    known = {pid: live(history, at) for pid, history in payments.items()}
    assert {p.payment_id for p in view.payments} == {pid for pid, p in known.items() if p is not None}
    for payment_view in view.payments:
        payment = known[payment_view.payment_id]
        assert (payment_view.status, payment_view.amount, payment_view.to_balance) == (
            payment.status, payment.amount, payment.to_balance)
        assert [(a.target, a.amount) for a in payment_view.allocations] == [
            (a["target"], D(a["amount"])) for a in payment.allocations]


def checkpointed(ledger: Ledger, history: History, cut: float) -> int:
    """Store the account's book checkpoint after its event at `cut` of its history (0: none); its version."""
    store = ledger.store
    assert store.book_checkpoints is not None
    store.book_checkpoints.drop(ids.account_id(history.ref))
    last = store.version(ids.account_id(history.ref)) or 0
    version = round(last * cut)
    if version:
        assert book_checkpoint.write(store, history.ref, upto=version) == version
        assert book_checkpoint.difference(store, ids.account_id(history.ref)) is None
    return version


def check_fast_path(ledger: Ledger, ref: str, at: datetime) -> None:
    """At `at` on both bases: the query (its fast path) == the from-events path, state and explanations."""
    store = ledger.store
    for basis in ("recorded", "effective"):
        slow = from_events_for(store, ref, at, basis)
        f = Figures(slow.book, at, basis)
        fast = account_as_of(store, ledger.now, ref, at, basis)
        assert fast.model_dump_json() == state(slow, f).model_dump_json(), (basis, at)
        for figure in FIGURES:
            assert explain_figure(store, ledger.now, ref, figure, at, basis).model_dump_json() == explain(
                slow.book, f, figure).model_dump_json(), (basis, at, figure)


def check_history(ledger: Ledger, history: History, cut: float = 0) -> None:
    store, ref = ledger.store, history.ref
    checkpointed(ledger, history, cut)
    account_events = list(store.history(ids.account_id(ref)))
    loaded = load(store, ref)
    bills = {bill_id: list(store.history(UUID(bill_id))) for bill_id in loaded.book.bills}
    payments = {pid: events for pid, events in loaded.payments.items()}
    checked = moments(account_events + [e for es in bills.values() for e in es], loaded.book)
    for at in sample(checked):  # through the query itself: what the CLI and the API call
        view = account_as_of(store, ledger.now, ref, at, "recorded")
        check_recorded_equals_live(view, live(account_events, at), bills, payments, at)
        # the query's effective book answers up to its moment only (postings.project's in_force_by): the same state
        assert account_as_of(store, ledger.now, ref, at, "effective") == state(loaded, Figures(loaded.book, at, "effective"))
        for figure in ("balance", "credit-balance", "unbilled"):
            assert explain_figure(store, ledger.now, ref, figure, at, "effective") == explain(
                loaded.book, Figures(loaded.book, at, "effective"), figure)
        check_fast_path(ledger, ref, at)
    for at in checked:
        for basis in ("recorded", "effective"):
            f = Figures(loaded.book, at, basis)
            full = state(loaded, f)
            assert full.identity_holds and full.credit_balance >= 0, (basis, at)
            # no money sits on a bill or an entry not in force: the parts the state lists add up to its totals
            assert sum((b.remaining for b in full.bills), D(0)) == full.receivable, (basis, at)
            assert sum((e.amount for e in full.unbilled_entries), D(0)) == full.unbilled, (basis, at)
            assert sum((e.paid_ahead for e in full.unbilled_entries), D(0)) == full.paid_ahead, (basis, at)
            shown = {"balance": full.balance, "unbilled": full.unbilled, "paid-ahead": full.paid_ahead,
                     "receivable": full.receivable, "overdue": full.overdue, "credit-balance": full.credit_balance,
                     "prepaid-balance": full.prepaid_balance}
            for figure in FIGURES:
                explained = explain(loaded.book, f, figure)
                assert explained.amount == shown[figure] == sum((line.amount for line in explained.lines), D(0)), figure
            for bill in full.bills:
                explained = explain(loaded.book, f, bill.bill_number)
                assert explained.amount == bill.remaining == sum((line.amount for line in explained.lines), D(0))
    end = max([checked[-1], *(p.effective for p in loaded.book.postings)]) + timedelta(days=1)
    recorded, effective = (state(loaded, Figures(loaded.book, end, basis)) for basis in ("recorded", "effective"))
    assert recorded.model_dump(exclude={"basis"}) == effective.model_dump(exclude={"basis"})
    for basis in ("recorded", "effective"):
        with pytest.raises(AccountNotYetOpen):
            account_as_of(store, ledger.now, ref, history.opened - timedelta(microseconds=1), basis)


@pytest.fixture
def shared_ledger(make_settings: Callable[..., Settings]) -> Iterator[Ledger]:
    """One ledger for all the examples of a run (each example has its own account, specification and clock)."""
    ledger = make_ledger(make_settings(snapshot_interval=5))
    yield ledger
    ledger.close()


def test_recorded_as_of_is_the_live_ledger_of_the_events_recorded_by_then(shared_ledger: Ledger) -> None:
    """Random histories: recorded as-of == replayed live aggregates; identity, explanations and both bases agree."""
    examples = EXAMPLES[shared_ledger.settings.store]

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(zone=st.sampled_from(ZONES), steps=st.lists(STEPS, min_size=8, max_size=30),
           cut=st.sampled_from([0, 0.25, 0.5, 0.75, 1]) | st.floats(min_value=0, max_value=1))
    @example(zone="UTC", steps=LATE_RUN_TAKES_LATER_CREDIT, cut=0.5)
    @example(zone="UTC", steps=LATE_RUN_TAKES_A_LATER_PREPAYMENT, cut=0.5)
    @example(zone="Europe/Paris", steps=BACKDATED_PAYMENT_TO_A_LATER_BILL, cut=0.5)
    @example(zone="America/New_York", steps=REFUND_BEFORE_ITS_CREDIT, cut=0.5)
    @example(zone="Asia/Tokyo", steps=BACKDATED_REVERSAL_OF_A_PREPAYMENT, cut=0.5)
    @example(zone="UTC", steps=PREPAYMENT_REVERSED_BEFORE_A_LATE_BILL, cut=0.5)
    def run(zone: str, steps: list[tuple[Any, ...]], cut: float) -> None:
        history = History(shared_ledger, zone)
        for step in steps:
            history.play(step)
        check_history(shared_ledger, history, cut)

    run()
