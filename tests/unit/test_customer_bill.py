"""Unit tests for the CustomerBill aggregate: TMF678 state transitions, payments, undo, overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.aggregates.bill_composition import compose
from ledger.aggregates.customer_bill import (
    NEW,
    OFF_CYCLE,
    ON_CYCLE,
    ON_HOLD,
    PARTIALLY_PAID,
    SENT,
    SETTLED,
    TRANSITIONS,
    VALIDATED,
    CustomerBill,
)
from ledger.errors import AllocationRefused, InvalidBillTransition
from tests.support.entries import entry

D = Decimal
T0 = datetime(2026, 11, 1, tzinfo=UTC)
ALL_STATES = sorted(TRANSITIONS)


def new_bill(*amounts: str, currency: str = "EUR", run_type: str = OFF_CYCLE, cycle_id: Any = None,
             bill_date: date = date(2026, 11, 1), due: date = date(2026, 11, 15)) -> CustomerBill:
    totals = compose([entry(f"e{i}", a) for i, a in enumerate(amounts or ("100",))], currency)
    return CustomerBill.issue(T0, id=uuid4(), account_id=uuid4(), account_ref="ACC-1", bill_number="ACC-1-00001",
                              run_type=run_type, off_cycle_reason=None, cycle_id=cycle_id, currency_code=currency,
                              billing_period=None, bill_date=bill_date, mailing_date=None, payment_due_date=due,
                              totals=totals)


def bill_in(state: str, *amounts: str) -> CustomerBill:
    """A bill driven through allowed transitions into `state`."""
    bill = new_bill(*amounts)
    path = {NEW: [], ON_HOLD: ["hold"], VALIDATED: ["validate"], SENT: ["validate", "send"],
            PARTIALLY_PAID: ["validate", "send", "part"], SETTLED: ["validate", "send", "all"]}[state]
    for step in path:
        if step == "hold":
            bill.put_on_hold(T0, "")
        elif step == "validate":
            bill.validate(T0)
        elif step == "send":
            bill.send(T0)
        elif step == "part":
            bill.apply_payment(T0, payment_id=uuid4(), amount=D(1))
        else:
            bill.apply_payment(T0, payment_id=uuid4(), amount=bill.remaining_amount)
    assert bill.state == state
    return bill


def move(bill: CustomerBill, to_state: str) -> None:
    bill._move(T0, to_state, "test")


# --- issue -----------------------------------------------------------------------------------


def test_new_bill_is_new_with_full_remaining() -> None:
    """A bill starts in state new with remaining == amount due."""
    bill = new_bill("10", "5.5")
    assert bill.state == NEW and bill.amount_due == D("15.50") and bill.remaining_amount == D("15.50")


def test_on_cycle_bill_must_name_its_cycle() -> None:
    """An on-cycle bill without a cycle id is refused."""
    with pytest.raises(InvalidBillTransition, match="billing cycle"):
        new_bill(run_type=ON_CYCLE, cycle_id=None)


def test_due_date_before_bill_date_is_refused() -> None:
    """The payment due date cannot precede the bill date."""
    with pytest.raises(InvalidBillTransition, match="before bill date"):
        new_bill(bill_date=date(2026, 11, 10), due=date(2026, 11, 9))


def test_net_credit_bill_has_nothing_to_pay() -> None:
    """A negative amount due leaves remaining at zero."""
    totals = compose([entry("c", "3"), entry("cr", "-5", kind="appliedBillingCredit")], "EUR")
    bill = CustomerBill.issue(T0, id=uuid4(), account_id=uuid4(), account_ref="A", bill_number="A-1", run_type=OFF_CYCLE,
                              off_cycle_reason=None, cycle_id=None, currency_code="EUR", billing_period=None,
                              bill_date=date(2026, 11, 1), mailing_date=None, payment_due_date=date(2026, 11, 1),
                              totals=totals)
    assert bill.amount_due == D("-2.00") and bill.remaining_amount == 0
    bill.validate(T0)
    bill.send(T0)
    assert bill.state == SETTLED


def test_bill_rounds_once_per_tax_item_and_shows_the_difference() -> None:
    """Three 10.004 + 2.0008 VAT entries bill 36.01, with rounding_difference -0.0044 shown on the bill."""
    totals = compose([entry(f"e{i}", "10.004", ("VAT", "20", "2.0008")) for i in range(3)], "EUR")
    bill = CustomerBill.issue(T0, id=uuid4(), account_id=uuid4(), account_ref="A", bill_number="A-1", run_type=OFF_CYCLE,
                              off_cycle_reason=None, cycle_id=None, currency_code="EUR", billing_period=None,
                              bill_date=date(2026, 11, 1), mailing_date=None, payment_due_date=date(2026, 11, 15),
                              totals=totals)
    assert (bill.amount_due, bill.tax_excluded_amount, bill.rounding_difference) == (D("36.01"), D("30.01"), D("-0.0044"))
    assert [t["tax_amount"] for t in bill.tax_items] == ["6.00"]


# --- transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize("from_state,to_state", [(f, t) for f in ALL_STATES for t in sorted(TRANSITIONS[f])])
def test_allowed_transitions(from_state: str, to_state: str) -> None:
    """Every transition listed in TRANSITIONS is accepted."""
    bill = bill_in(from_state)
    move(bill, to_state)
    assert bill.state == to_state


@pytest.mark.parametrize("from_state,to_state",
                         [(f, t) for f in ALL_STATES for t in ALL_STATES if t not in TRANSITIONS[f]])
def test_refused_transitions(from_state: str, to_state: str) -> None:
    """Every transition not listed in TRANSITIONS is refused and changes nothing."""
    bill = bill_in(from_state)
    version = bill.version
    with pytest.raises(InvalidBillTransition, match=f"cannot become {to_state}"):
        move(bill, to_state)
    assert bill.state == from_state and bill.version == version


def test_hold_and_release() -> None:
    """A new bill can be held and released back to new."""
    bill = new_bill()
    bill.put_on_hold(T0, "dispute")
    assert bill.state == ON_HOLD
    bill.release(T0, "resolved")
    assert bill.state == NEW


def test_cannot_send_an_unvalidated_bill() -> None:
    """A new bill must be validated before it is sent."""
    with pytest.raises(InvalidBillTransition):
        new_bill().send(T0)


def test_sending_a_fully_paid_bill_settles_it() -> None:
    """A bill paid before it was sent becomes settled on send."""
    bill = new_bill("10")
    bill.apply_payment(T0, payment_id=uuid4(), amount=D(10), source="chargePrepayment")
    assert bill.state == NEW
    bill.validate(T0)
    bill.send(T0)
    assert bill.state == SETTLED


def test_sending_a_part_paid_bill_makes_it_partially_paid() -> None:
    """A bill part-paid before it was sent becomes partiallyPaid on send."""
    bill = new_bill("10")
    bill.apply_payment(T0, payment_id=None, amount=D(3), source="creditBalance")
    bill.validate(T0)
    bill.send(T0)
    assert bill.state == PARTIALLY_PAID


def _steps(bill: CustomerBill) -> list[dict[str, str]]:
    """The bill's state steps since its issue, each StatesChanged step on its own."""
    found = []
    for event in bill.collect_events()[1:]:
        if isinstance(event, CustomerBill.StatesChanged):
            found += event.steps
        elif isinstance(event, CustomerBill.StateChanged):
            found.append({"from_state": event.from_state, "to_state": event.to_state, "reason": event.reason})
    return found


@pytest.mark.parametrize("paid", ["0", "3", "10"])
@pytest.mark.parametrize("held", [False, True])
def test_validate_and_send_is_one_event_of_validate_and_sends_steps(paid: str, held: bool) -> None:
    """validate_and_send records as one StatesChanged the steps (and the state) validate then send record, for an
    unpaid, part-paid or paid bill, new or released from hold."""
    plain, folded = new_bill("10"), new_bill("10")
    for bill in (plain, folded):
        if held:
            bill.put_on_hold(T0, "check")
        if D(paid):
            bill.apply_payment(T0, payment_id=None, amount=D(paid), source="creditBalance")
        bill.collect_events()
    before = plain.version
    plain.validate(T0, "issued by run")
    plain.send(T0, "issued by run")
    folded.validate_and_send(T0, "issued by run")
    events = folded.collect_events()
    assert [type(e) for e in events] == [CustomerBill.StatesChanged] and folded.version == before + 1
    assert folded.state == plain.state and len(events[0].steps) == plain.version - before


def test_validate_and_send_gives_the_steps_of_validate_and_send() -> None:
    """The StatesChanged steps are the StateChanged events validate and send would record, in order."""
    plain, folded = new_bill("10"), new_bill("10")
    for bill in (plain, folded):
        bill.apply_payment(T0, payment_id=None, amount=D(10), source="creditBalance")
    plain.validate(T0, "r")
    plain.send(T0, "r")
    folded.validate_and_send(T0, "r")
    assert _steps(folded) == _steps(plain) and folded.state == SETTLED


def test_validate_and_send_refuses_what_validate_refuses() -> None:
    """A bill already sent cannot be validated and sent again: nothing is recorded."""
    bill = new_bill("10")
    bill.validate_and_send(T0)
    bill.collect_events()
    with pytest.raises(InvalidBillTransition):
        bill.validate_and_send(T0)
    assert bill.collect_events() == []


# --- payments --------------------------------------------------------------------------------


def test_payments_move_a_sent_bill_to_partially_paid_then_settled() -> None:
    """A sent bill becomes partiallyPaid, then settled when nothing remains."""
    bill = bill_in(SENT, "10")
    bill.apply_payment(T0, payment_id=uuid4(), amount=D(4))
    assert (bill.state, bill.remaining_amount) == (PARTIALLY_PAID, D(6))
    bill.apply_payment(T0, payment_id=uuid4(), amount=D(6))
    assert (bill.state, bill.remaining_amount) == (SETTLED, D(0))
    assert bill.allocated_amount == D(10)


@pytest.mark.parametrize("amount", ["0", "-1", "10.01"])
def test_bad_payment_amounts_are_refused(amount: str) -> None:
    """A payment must be positive and at most the remaining amount."""
    bill = bill_in(SENT, "10")
    with pytest.raises(AllocationRefused):
        bill.apply_payment(T0, payment_id=uuid4(), amount=D(amount))
    assert bill.remaining_amount == D(10)


def test_undo_reopens_a_settled_bill() -> None:
    """Undoing a payment moves a settled bill back to partiallyPaid or sent."""
    bill = bill_in(SENT, "10")
    p1, p2 = uuid4(), uuid4()
    bill.apply_payment(T0, payment_id=p1, amount=D(4))
    bill.apply_payment(T0, payment_id=p2, amount=D(6))
    bill.undo_payment(T0, payment_id=p2, amount=D(6), reason="bouncedCheck")
    assert (bill.state, bill.remaining_amount) == (PARTIALLY_PAID, D(6))
    bill.undo_payment(T0, payment_id=p1, amount=D(4), reason="chargeback")
    assert (bill.state, bill.remaining_amount) == (SENT, D(10))
    assert bill.allocated_amount == 0


def test_undo_more_than_the_payment_applied_is_refused() -> None:
    """Only what a payment put on the bill can be undone, once."""
    bill = bill_in(SENT, "10")
    pid = uuid4()
    bill.apply_payment(T0, payment_id=pid, amount=D(4))
    with pytest.raises(AllocationRefused):
        bill.undo_payment(T0, payment_id=pid, amount=D("4.01"), reason="")
    bill.undo_payment(T0, payment_id=pid, amount=D(4), reason="")
    with pytest.raises(AllocationRefused):
        bill.undo_payment(T0, payment_id=pid, amount=D(4), reason="")
    with pytest.raises(AllocationRefused):
        bill.undo_payment(T0, payment_id=uuid4(), amount=D(1), reason="")


def test_payment_on_unsent_bill_keeps_its_state() -> None:
    """Paying a new or held bill does not move its life-cycle state."""
    bill = new_bill("10")
    bill.apply_payment(T0, payment_id=uuid4(), amount=D(10))
    assert bill.state == NEW and bill.remaining_amount == 0


# --- overdue ---------------------------------------------------------------------------------


def test_overdue_only_after_due_date_with_something_to_pay() -> None:
    """A bill is overdue the day after its due date while money remains."""
    bill = bill_in(SENT, "10")
    assert not bill.is_overdue(date(2026, 11, 15))
    assert bill.is_overdue(date(2026, 11, 16))
    bill.apply_payment(T0, payment_id=uuid4(), amount=D(10))
    assert not bill.is_overdue(date(2026, 12, 31))


def test_summary_reports_state_and_amounts() -> None:
    """summary() gives the bill's id, number, state and amounts as text."""
    bill = bill_in(SENT, "10")
    assert bill.summary() == {"bill_id": str(bill.id), "bill_number": "ACC-1-00001", "state": SENT,
                              "amount_due": "10.00", "remaining_amount": "10.00"}
