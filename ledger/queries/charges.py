"""An account's rated charges (AppliedCustomerBillingRate) as replayed from its events: each with its amounts,
taxes, the net after adjustments, and the bill it went on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.aggregates import ids
from ledger.aggregates.billing_account import AppliedCharge, BillingAccount
from ledger.errors import AccountNotFound, ChargeNotFound
from ledger.ports import AggregateStore
from ledger.queries.views import View


class TaxView(View):
    tax_category: str
    tax_rate: Decimal
    tax_amount: Decimal


class ChargeView(View):
    account_id: str
    charge_id: str
    type: str
    currency: str
    date: str  # effective
    recorded_at: str
    description: str
    product_ref: str | None
    period_start: str | None
    period_end: str | None
    tax_excluded_amount: Decimal
    tax_included_amount: Decimal
    taxes: list[TaxView]
    net: Decimal  # signed, after adjustments
    bill_id: str | None
    bill_number: str | None


def account_charges(store: AggregateStore, account_ref: str) -> list[ChargeView]:
    """Every charge of the account, in the order it was applied."""
    events = list(store.history(ids.account_id(account_ref)))
    if not events or not isinstance(events[0], BillingAccount.Opened):
        raise AccountNotFound(f"billing account {account_ref!r} not found", account=account_ref)
    currency = events[0].currency
    charges: dict[str, dict[str, Any]] = {}
    for whole in events:
        for event in whole.applied() if isinstance(whole, BillingAccount.PlanChargesApplied) else (whole,):
            _take(event, account_ref, currency, charges)
    return [ChargeView(**fields) for fields in charges.values()]


def _take(event: Any, account_ref: str, currency: str, charges: dict[str, dict[str, Any]]) -> None:
    """What one account event (or one charge of a PlanChargesApplied) tells of the account's charges."""
    if isinstance(event, (BillingAccount.ChargeApplied, AppliedCharge)):
        sign = -1 if event.charge_type == "appliedBillingCredit" else 1
        charges[event.charge_id] = dict(
            account_id=account_ref, charge_id=event.charge_id, type=event.charge_type, currency=currency,
            date=event.effective_at, recorded_at=event.timestamp.isoformat(), description=event.description,
            product_ref=event.product_ref, period_start=event.period_start, period_end=event.period_end,
            tax_excluded_amount=Decimal(event.tax_excluded), tax_included_amount=Decimal(event.tax_included),
            taxes=[TaxView(tax_category=t["category"], tax_rate=Decimal(t["rate"]), tax_amount=Decimal(t["amount"]))
                   for t in event.taxes],
            net=sign * Decimal(event.tax_included), bill_id=None, bill_number=None)
    elif isinstance(event, BillingAccount.ChargeAdjusted) and event.charge_id in charges:
        charges[event.charge_id]["net"] += Decimal(event.tax_included)
    elif isinstance(event, BillingAccount.BillIssued):
        for entry_id in event.entry_ids:
            if entry_id in charges:
                charges[entry_id].update(bill_id=str(event.bill_id), bill_number=event.bill_number)


def charge_view(store: AggregateStore, account_ref: str, charge_id: str) -> ChargeView:
    for charge in account_charges(store, account_ref):
        if charge.charge_id == charge_id:
            return charge
    raise ChargeNotFound(f"account {account_ref} has no charge {charge_id!r}", account=account_ref, charge=charge_id)
