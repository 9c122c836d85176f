"""CustomerBill aggregate (TMF678 CustomerBill): on-cycle and off-cycle bills, their states and payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.bill_composition import BillTotals
from ledger.aggregates.money import ZERO
from ledger.errors import AllocationRefused, InvalidBillTransition

D = Decimal
NEW, ON_HOLD, VALIDATED, SENT, PARTIALLY_PAID, SETTLED = "new", "onHold", "validated", "sent", "partiallyPaid", "settled"
ON_CYCLE, OFF_CYCLE = "onCycle", "offCycle"

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({ON_HOLD, VALIDATED}),
    ON_HOLD: frozenset({NEW, VALIDATED}),
    VALIDATED: frozenset({SENT, ON_HOLD}),
    SENT: frozenset({PARTIALLY_PAID, SETTLED}),
    PARTIALLY_PAID: frozenset({SETTLED, SENT}),
    SETTLED: frozenset({PARTIALLY_PAID, SENT}),
}
PAYMENT_STATES = (SENT, PARTIALLY_PAID, SETTLED)  # states in which payments move the state


class CustomerBill(LedgerAggregate):
    """One bill: the entries it contains, its totals and tax items, and the payments applied to it."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        account_id: UUID
        account_ref: str
        bill_number: str
        run_type: str
        off_cycle_reason: str | None
        cycle_id: UUID | None
        currency: str
        billing_period_start: str | None
        billing_period_end: str | None
        bill_date: str
        mailing_date: str | None
        payment_due_date: str
        items: list[dict[str, str]]
        tax_items: list[dict[str, str]]
        tax_excluded_amount: Decimal
        tax_included_amount: Decimal
        rounding_difference: Decimal
        amount_due: Decimal
        remaining_amount: Decimal
        applied_payments: list[dict[str, Any]]
        state: str

    class Issued(LedgerAggregate.Created):
        account_id: UUID
        account_ref: str
        bill_number: str
        run_type: str
        off_cycle_reason: str | None
        cycle_id: UUID | None
        currency: str
        billing_period_start: str | None
        billing_period_end: str | None
        bill_date: str
        mailing_date: str | None
        payment_due_date: str
        items: list[dict[str, str]]
        tax_items: list[dict[str, str]]
        tax_excluded_amount: str
        tax_included_amount: str
        rounding_difference: str
        amount_due: str

        def apply(self, b: CustomerBill) -> None:
            for name in ("account_id", "account_ref", "bill_number", "run_type", "off_cycle_reason", "cycle_id", "currency",
                         "billing_period_start", "billing_period_end", "bill_date", "mailing_date", "payment_due_date",
                         "items", "tax_items"):
                setattr(b, name, getattr(self, name))
            b.tax_excluded_amount = D(self.tax_excluded_amount)
            b.tax_included_amount = D(self.tax_included_amount)
            b.rounding_difference = D(self.rounding_difference)
            b.amount_due = D(self.amount_due)
            b.remaining_amount = max(b.amount_due, ZERO)
            b.applied_payments = []
            b.state = NEW

    @classmethod
    def issue(
        cls,
        now: datetime,
        *,
        id: UUID,
        account_id: UUID,
        account_ref: str,
        bill_number: str,
        run_type: str,
        off_cycle_reason: str | None,
        cycle_id: UUID | None,
        currency_code: str,
        billing_period: tuple[date, date] | None,
        bill_date: date,
        mailing_date: date | None,
        payment_due_date: date,
        totals: BillTotals,
    ) -> CustomerBill:
        if run_type == ON_CYCLE and cycle_id is None:
            raise InvalidBillTransition("an on-cycle bill must name the billing cycle that produced it")
        if payment_due_date < bill_date:
            raise InvalidBillTransition(f"payment due date {payment_due_date} is before bill date {bill_date}")
        return cls._create(
            cls.Issued,
            id=id,
            timestamp=now,
            account_id=account_id,
            account_ref=account_ref,
            bill_number=bill_number,
            run_type=run_type,
            off_cycle_reason=off_cycle_reason,
            cycle_id=cycle_id,
            currency=currency_code,
            billing_period_start=billing_period[0].isoformat() if billing_period else None,
            billing_period_end=billing_period[1].isoformat() if billing_period else None,
            bill_date=bill_date.isoformat(),
            mailing_date=mailing_date.isoformat() if mailing_date else None,
            payment_due_date=payment_due_date.isoformat(),
            items=totals.items,
            tax_items=totals.tax_items,
            tax_excluded_amount=str(totals.tax_excluded_amount),
            tax_included_amount=str(totals.tax_included_amount),
            rounding_difference=str(totals.rounding_difference),
            amount_due=str(totals.tax_included_amount),
        )

    # ---------------------------------------------------------------- queries

    @property
    def allocated_amount(self) -> Decimal:
        return sum((D(p["amount"]) for p in self.applied_payments), ZERO)

    def is_overdue(self, on: date) -> bool:
        """Past its payment due date with something still to pay."""
        return self.remaining_amount > 0 and on > date.fromisoformat(self.payment_due_date)

    def _payment_state(self, remaining: Decimal) -> str:
        if self.state not in PAYMENT_STATES:
            return self.state
        return self._paid_state(remaining)

    def _paid_state(self, remaining: Decimal) -> str:
        """The payment state of a sent bill with `remaining` left to pay."""
        if remaining == 0:
            return SETTLED
        return PARTIALLY_PAID if remaining < max(self.amount_due, ZERO) else SENT

    # ---------------------------------------------------------------- lifecycle

    class StateChanged(LedgerAggregate.Event):
        from_state: str
        to_state: str
        reason: str

        def apply(self, b: CustomerBill) -> None:
            b.state = self.to_state

    def _check_move(self, state: str, to_state: str) -> None:
        if to_state not in TRANSITIONS[state]:
            allowed = ", ".join(sorted(TRANSITIONS[state])) or "none"
            raise InvalidBillTransition(
                f"bill {self.bill_number} is {state}: cannot become {to_state} (allowed: {allowed})",
                bill=self.bill_number, state=state, requested=to_state,
            )

    def _move(self, now: datetime, to_state: str, reason: str) -> None:
        self._check_move(self.state, to_state)
        self._record(self.StateChanged, now, from_state=self.state, to_state=to_state, reason=reason)

    class StatesChanged(LedgerAggregate.Event):
        """Several life-cycle steps recorded at once (`validate_and_send`): each step holds what a StateChanged holds
        (from_state, to_state, reason), in order."""

        steps: list[dict[str, str]]

        def apply(self, b: CustomerBill) -> None:
            b.state = self.steps[-1]["to_state"]

    def validate_and_send(self, now: datetime, reason: str = "") -> None:
        """validate, then send (a bill already paid in full becomes settled, a part-paid one partiallyPaid), with
        their rules and steps, recorded as one StatesChanged event instead of a StateChanged per step (a bill run
        issuing and sending its bills: fewer events to write). Pinned to validate + send by
        tests/unit/test_customer_bill.py."""
        steps: list[dict[str, str]] = []
        state = self.state
        moves = [(VALIDATED, reason), (SENT, reason)]
        paid = self._paid_state(self.remaining_amount)
        if paid != SENT:
            moves.append((paid, "payments applied before the bill was sent"))
        for to_state, why in moves:
            self._check_move(state, to_state)
            steps.append({"from_state": state, "to_state": to_state, "reason": why})
            state = to_state
        self._record(self.StatesChanged, now, steps=steps)

    def put_on_hold(self, now: datetime, reason: str) -> None:
        self._move(now, ON_HOLD, reason)

    def release(self, now: datetime, reason: str) -> None:
        self._move(now, NEW, reason)

    def validate(self, now: datetime, reason: str = "") -> None:
        self._move(now, VALIDATED, reason)

    def send(self, now: datetime, reason: str = "") -> None:
        """Send a validated bill; a bill already paid in full becomes settled, a part-paid one partiallyPaid."""
        self._move(now, SENT, reason)
        paid_state = self._payment_state(self.remaining_amount)
        if paid_state != SENT:
            self._move(now, paid_state, "payments applied before the bill was sent")

    # ---------------------------------------------------------------- payments

    class PaymentApplied(LedgerAggregate.Event):
        payment_id: UUID | None
        source: str
        amount: str
        new_state: str

        def apply(self, b: CustomerBill) -> None:
            amount = D(self.amount)
            b.remaining_amount -= amount
            b.applied_payments.append(
                {"payment_id": str(self.payment_id) if self.payment_id else None, "source": self.source, "amount": self.amount}
            )
            b.state = self.new_state

    def apply_payment(self, now: datetime, *, payment_id: UUID | None, amount: Decimal, source: str = "payment") -> None:
        """Apply money (a payment, a prepayment of its charges, or credit balance) to this bill."""
        if amount <= 0:
            raise AllocationRefused("an allocation must be positive", bill=self.bill_number)
        if amount > self.remaining_amount:
            raise AllocationRefused(
                f"allocation {amount} exceeds bill {self.bill_number}'s remaining amount {self.remaining_amount}",
                bill=self.bill_number,
            )
        new_state = self._payment_state(self.remaining_amount - amount)
        self._record(self.PaymentApplied, now, payment_id=payment_id, source=source, amount=str(amount), new_state=new_state)

    class PaymentUndone(LedgerAggregate.Event):
        payment_id: UUID
        amount: str
        reason: str
        new_state: str

        def apply(self, b: CustomerBill) -> None:
            b.remaining_amount += D(self.amount)
            b.applied_payments.append({"payment_id": str(self.payment_id), "source": "reversal", "amount": f"-{self.amount}"})
            b.state = self.new_state

    def undo_payment(self, now: datetime, *, payment_id: UUID, amount: Decimal, reason: str) -> None:
        """A reversed payment (bounced check, chargeback) reopens the bill."""
        applied = sum(
            (D(p["amount"]) for p in self.applied_payments if p["payment_id"] == str(payment_id)), ZERO
        )
        if amount <= 0 or amount > applied:
            raise AllocationRefused(f"bill {self.bill_number} holds {applied} of payment {payment_id}, cannot undo {amount}")
        new_state = self._payment_state(self.remaining_amount + amount)
        self._record(self.PaymentUndone, now, payment_id=payment_id, amount=str(amount), reason=reason, new_state=new_state)

    def summary(self) -> dict[str, Any]:
        return {"bill_id": str(self.id), "bill_number": self.bill_number, "state": self.state,
                "amount_due": str(self.amount_due), "remaining_amount": str(self.remaining_amount)}
