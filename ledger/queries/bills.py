"""A bill as it stands now: its run, dates, items, tax items, totals and the payments applied to it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.commands.lookups import load_account, load_bill
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


def bill_view(store: AggregateStore, clock: Clock, account_ref: str, bill_number: str) -> BillView:
    account = load_account(store, account_ref)
    bill = load_bill(store, account, bill_number)
    today = clock().astimezone(ZoneInfo(account.time_zone)).date()
    code = bill.currency
    return BillView(
        bill_id=str(bill.id), bill_number=bill.bill_number, account_id=bill.account_ref, state=bill.state,
        run_type=bill.run_type, off_cycle_reason=bill.off_cycle_reason,
        cycle_id=str(bill.cycle_id) if bill.cycle_id else None,
        currency=bill.currency, billing_period_start=bill.billing_period_start,
        billing_period_end=bill.billing_period_end, bill_date=bill.bill_date, mailing_date=bill.mailing_date,
        payment_due_date=bill.payment_due_date, overdue=bill.is_overdue(today),
        tax_excluded_amount=at_minor_unit(bill.tax_excluded_amount, code),
        tax_included_amount=at_minor_unit(bill.tax_included_amount, code),
        rounding_difference=at_rated_scale(bill.rounding_difference), amount_due=at_minor_unit(bill.amount_due, code),
        remaining_amount=at_minor_unit(bill.remaining_amount, code), items=bill.items, tax_items=bill.tax_items,
        applied_payments=[{**p, "amount": str(at_minor_unit(Decimal(p["amount"]), code))} for p in bill.applied_payments],
    )
