"""Typed views of an account as it stood at a moment, and of one figure explained by the events that make it up.

Amounts: figures that sum rated (unrounded) charges (balance, unbilled, entries, prepaid balance) at six places;
a bill's, a payment's and the credit balance's figures at the currency's minor unit.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ledger.queries.views import View


class EntryAt(View):
    """An entry no bill had taken (in force) at the moment."""

    entry_id: str
    kind: str
    charge_id: str
    amount: Decimal
    paid_ahead: Decimal
    effective_at: datetime
    recorded_at: datetime
    description: str


class AppliedAt(View):
    """Money on a bill at the moment: a payment, a charge prepayment, credit balance, or a reversal taking it back."""

    source: str  # payment, chargePrepayment, creditBalance, reversal
    payment: str | None  # the payment's external reference
    amount: Decimal  # negative: taken back by a reversal
    effective_at: datetime
    recorded_at: datetime


class TriggerAt(View):
    type: str
    by: str
    reason: str
    at: datetime
    early_run: bool


class CycleAt(View):
    cycle_id: str
    specification: str
    period_start: str
    period_end: str
    triggers: list[TriggerAt]


class BillAt(View):
    bill_number: str
    bill_id: str
    run_type: str
    cycle: CycleAt | None
    bill_date: str
    payment_due_date: str
    in_force_from: datetime  # on the effective basis: the start of its bill date (or its latest entry)
    recorded_at: datetime
    amount_due: Decimal
    remaining: Decimal
    state: str
    overdue: bool
    applied: list[AppliedAt]


class AllocationAt(View):
    target: str  # bill or charge
    target_id: str  # bill number or charge id
    amount: Decimal
    state: str  # applied, pending (its bill or charge was not in force yet: the money waits as credit), undone
    effective_at: datetime


class PaymentAt(View):
    external_reference: str
    payment_id: str
    amount: Decimal
    method: str
    payer_ref: str
    effective_at: datetime
    recorded_at: datetime
    status: str  # done, or canceled once its reversal is in force
    to_balance: Decimal
    allocations: list[AllocationAt]
    reversed_at: datetime | None
    reversal_reason: str | None


class RefundAt(View):
    refund_id: str
    amount: Decimal
    method: str
    effective_at: datetime
    recorded_at: datetime


class AccountAsOf(View):
    """The whole state of an account at `as_of` on `basis`, from its events alone."""

    account_id: str
    currency: str
    rating_type: str
    time_zone: str
    basis: str
    as_of: datetime
    local_date: date  # as_of in the account's time zone: the day overdue is judged on
    opened_at: datetime
    status: str
    balance: Decimal
    unbilled: Decimal
    unbilled_entries: list[EntryAt]
    paid_ahead: Decimal  # what payments had paid of the unbilled entries
    receivable: Decimal
    overdue: Decimal
    credit_balance: Decimal
    prepaid_balance: Decimal
    identity_holds: bool  # balance == unbilled - paid ahead + receivable - credit balance - prepaid balance
    bills: list[BillAt]
    payments: list[PaymentAt]
    refunds: list[RefundAt]


class ExplainLine(View):
    """One event's signed contribution to a figure."""

    kind: str
    ref: str
    description: str
    recorded_at: datetime
    effective_at: datetime
    amount: Decimal


class FigureExplained(View):
    """A figure at `as_of` on `basis` and the events that make it up: the lines sum exactly to `amount`.
    Items (entries, bills) whose movements cancel out by then are left out (`items_left_out` counts them)."""

    account_id: str
    currency: str
    basis: str
    as_of: datetime
    figure: str
    amount: Decimal
    lines: list[ExplainLine]
    items_left_out: int
