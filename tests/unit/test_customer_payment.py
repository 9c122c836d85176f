"""Unit tests for the CustomerPayment aggregate: methods, allocation once, reversal once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from ledger.aggregates.customer_payment import CANCELED, DONE, METHODS, CustomerPayment
from ledger.errors import PaymentStateError
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    define_spec,
    make_ledger,
    max_notification_id,
    memory_settings,
    open_account,
    pay,
    post_charge,
    reverse,
    run_cycle,
)

D = Decimal
T0 = datetime(2026, 11, 5, tzinfo=UTC)


def new_payment(method: str = "bankCard", amount: str = "25.00") -> CustomerPayment:
    return CustomerPayment.receive(T0, id=uuid4(), account_id=uuid4(), account_ref="ACC-1", external_reference="P-1",
                                   amount=D(amount), currency_code="EUR", method=method, payer_ref="payer",
                                   payment_date=T0, fingerprint="f")


@pytest.mark.parametrize("method", METHODS)
def test_every_tmf676_method_is_accepted(method: str) -> None:
    """Each TMF676 payment method can be recorded."""
    payment = new_payment(method)
    assert (payment.method, payment.status, payment.amount) == (method, DONE, D("25.00"))


@pytest.mark.parametrize("method", ["bitcoin", "", "Cash"])
def test_unknown_method_is_refused(method: str) -> None:
    """Methods outside the TMF676 list are refused."""
    with pytest.raises(PaymentStateError, match="payment method"):
        new_payment(method)


def test_allocations_and_rest_are_recorded() -> None:
    """Each allocation is an event; the rest is credited to the balance with its kind."""
    payment = new_payment()
    payment.allocate(T0, [{"target": "bill", "id": uuid4(), "amount": D(20)}], D(5), kind="overpayment")
    assert [a["amount"] for a in payment.allocations] == ["20"] and payment.to_balance == D(5)


def test_payment_is_allocated_only_once() -> None:
    """A second allocation of the same payment is refused."""
    payment = new_payment()
    payment.allocate(T0, [], D(25), kind="prepayment")
    with pytest.raises(PaymentStateError, match="already allocated"):
        payment.allocate(T0, [], D(25), kind="prepayment")


def test_reversal_cancels_the_payment() -> None:
    """A reversed payment is canceled and records why."""
    payment = new_payment()
    payment.reverse(T0, reason="NSF", kind="bouncedCheck", undone=[{"target": "bill", "id": "b", "amount": "5", "bill": {}}])
    assert payment.status == CANCELED
    assert payment.reversal["kind"] == "bouncedCheck"
    assert payment.reversal["undone"] == [{"target": "bill", "id": "b", "amount": "5"}]


def test_double_reversal_is_refused() -> None:
    """A payment can only be reversed once."""
    payment = new_payment()
    payment.reverse(T0, reason="", kind="chargeback", undone=[])
    version = payment.version
    with pytest.raises(PaymentStateError, match="already reversed"):
        payment.reverse(T0, reason="", kind="chargeback", undone=[])
    assert payment.version == version


# --- reversal through a Ledger ---------------------------------------------------------------


def test_second_reversal_is_refused_even_after_the_prepaid_charge_was_billed() -> None:
    """Reversing a charge prepayment twice, with a billing run in between, is refused as already reversed."""
    clock = FakeClock(datetime(2026, 10, 1, tzinfo=UTC))
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger)
    open_account(ledger, "A", "EUR")
    clock.set(datetime(2026, 10, 6, tzinfo=UTC))
    post_charge(ledger, "A", "c1", "10", "EUR", "2026-10-05T00:00:00Z")
    pay(ledger, "A", "P1", "4", "EUR", "2026-10-06T00:00:00Z", allocations=[{"target": "charge", "id": "c1", "amount": "4"}])
    reverse(ledger, "P1")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-10-01")
    before = max_notification_id(ledger)
    with pytest.raises(PaymentStateError, match="already reversed"):
        reverse(ledger, "P1")
    assert max_notification_id(ledger) == before and account_of(ledger, "A").balance == D(10)
    ledger.close()
