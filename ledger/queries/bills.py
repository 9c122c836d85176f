"""A bill as it stands now: its run, dates, items, tax items, totals and the payments applied to it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.commands.lookups import load_account, load_bill
from ledger.errors import AccountNotFound, BillNotFound
from ledger.ports import AggregateStore, Clock
from ledger.queries.views import View


class BillView(View):
    bill_id: str
    bill_number: str
    account_id: str
    state: str
    run_type: str
    off_cycle_reason: str | None
    cycle_id: str | None
    cycle_specification: str | None  # an on-cycle bill's: its account's
    currency: str
    billing_period_start: str | None
    billing_period_end: str | None
    bill_date: str
    mailing_date: str | None
    payment_due_date: str
    overdue: bool
    tax_excluded_amount: Decimal
    tax_included_amount: Decimal
    rounding_difference: Decimal
    amount_due: Decimal
    remaining_amount: Decimal
    items: list[dict[str, Any]]
    tax_items: list[dict[str, Any]]
    applied_payments: list[dict[str, Any]]
    last_update: str


def bill_view(store: AggregateStore, clock: Clock, account_ref: str, bill_number: str) -> BillView:
    account = load_account(store, account_ref)
    return _view(load_bill(store, account, bill_number), account, clock)


def bill_view_by_id(store: AggregateStore, clock: Clock, bill_id: UUID) -> BillView:
    """A bill by its id (overdue judged in its account's time zone)."""
    bill = store.load(CustomerBill, bill_id, BillNotFound, f"bill {bill_id}")
    account = store.load(BillingAccount, bill.account_id, AccountNotFound, "billing account")
    return _view(bill, account, clock)


def on_demand_bill_view(store: AggregateStore, clock: Clock, account_ref: str, request_id: str) -> BillView:
    """The off-cycle bill issued on the customer's request `request_id`."""
    return bill_view_by_id(store, clock, ids.off_cycle_bill_id(ids.account_id(account_ref), request_id))


def _view(bill: CustomerBill, account: BillingAccount, clock: Clock) -> BillView:
    today = clock().astimezone(ZoneInfo(account.time_zone)).date()
    code = bill.currency
    return BillView(
        bill_id=str(bill.id), bill_number=bill.bill_number, account_id=bill.account_ref, state=bill.state,
        run_type=bill.run_type, off_cycle_reason=bill.off_cycle_reason,
        cycle_id=str(bill.cycle_id) if bill.cycle_id else None,
        cycle_specification=account.cycle_specification if bill.cycle_id else None,
        currency=bill.currency, billing_period_start=bill.billing_period_start,
        billing_period_end=bill.billing_period_end, bill_date=bill.bill_date, mailing_date=bill.mailing_date,
        payment_due_date=bill.payment_due_date, overdue=bill.is_overdue(today),
        tax_excluded_amount=at_minor_unit(bill.tax_excluded_amount, code),
        tax_included_amount=at_minor_unit(bill.tax_included_amount, code),
        rounding_difference=at_rated_scale(bill.rounding_difference), amount_due=at_minor_unit(bill.amount_due, code),
        remaining_amount=at_minor_unit(bill.remaining_amount, code), items=bill.items, tax_items=bill.tax_items,
        applied_payments=[{**p, "amount": str(at_minor_unit(Decimal(p["amount"]), code))} for p in bill.applied_payments],
        last_update=bill.modified_on.isoformat(),
    )
