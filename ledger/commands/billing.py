"""Issuing a bill from an account's unbilled entries: shared by cycle runs, off-cycle bills and account close."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.aggregates.account_storage import BillRow
from ledger.aggregates.bill_composition import BillTotals, compose
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.entries import Entry


def issue_bill(
    now: datetime,
    account: BillingAccount,
    *,
    bill_id: UUID,
    run_type: str,
    cycle_id: UUID | None,
    off_cycle_reason: str | None,
    entries: list[Entry] | list[BillRow],
    period: tuple[date, date] | None,
    bill_date: date,
    mailing_date: date | None,
    payment_due_date: date,
    send: bool,
    totals: BillTotals | None = None,
) -> CustomerBill:
    """Put `entries` on a new bill; applies charge prepayments and credit balance; validates and sends it if asked.
    `totals`: the entries' composition when the caller made it (a bill run composes its rows: `compose_rows`)."""
    if totals is None:
        totals = compose(entries, account.currency)  # type: ignore[arg-type]  # rows come with their totals
    bill_number = account.next_bill_number()
    credit, prepaid = account.issue_bill(
        now, bill_id=bill_id, bill_number=bill_number, run_type=run_type, cycle_id=cycle_id, entries=entries,
        amount_due=totals.tax_included_amount, bill_date=bill_date.isoformat(),
        payment_due_date=payment_due_date.isoformat(),
    )
    bill = CustomerBill.issue(
        now, id=bill_id, account_id=account.id, account_ref=account.account_ref, bill_number=bill_number,
        run_type=run_type, off_cycle_reason=off_cycle_reason, cycle_id=cycle_id, currency_code=account.currency,
        billing_period=period, bill_date=bill_date, mailing_date=mailing_date, payment_due_date=payment_due_date,
        totals=totals,
    )
    for part in prepaid:
        bill.apply_payment(now, payment_id=UUID(part["payment_id"]), amount=Decimal(part["amount"]), source="chargePrepayment")
    if credit:
        bill.apply_payment(now, payment_id=None, amount=credit, source="creditBalance")
    if send:
        bill.validate_and_send(now, "issued by run")  # one event for the steps validate and send would record
    return bill


def due_date(account: BillingAccount, bill_date: date, spec_offset: int) -> date:
    """The account's own payment terms win over the cycle specification's offset."""
    days = account.payment_terms_days if account.payment_terms_days is not None else spec_offset
    return bill_date + timedelta(days=days)

