"""Payments (with their allocations as they stand, and their reversal) and refunds (replayed from the account)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.errors import AccountNotFound, NotFound, PaymentNotFound
from ledger.ports import AggregateStore
from ledger.queries.views import View


class AllocationView(View):
    target: str  # bill or charge
    id: str  # the bill's id, or the charge's id
    bill_number: str | None
    amount: Decimal


class PaymentView(View):
    payment_id: str
    external_reference: str
    account_id: str
    amount: Decimal
    currency: str
    method: str
    payer_ref: str
    payment_date: str
    recorded_at: str
    status: str
    allocations: list[AllocationView]
    to_balance: Decimal
    reversal: dict[str, Any] | None


def payment_view(store: AggregateStore, payment_id: UUID) -> PaymentView:
    payment = store.load(CustomerPayment, payment_id, PaymentNotFound, f"payment {payment_id}")
    allocations = []
    for alloc in payment.allocations:
        number = None
        if alloc["target"] == "bill":
            bill = store.find(CustomerBill, UUID(alloc["id"]))
            number = bill.bill_number if bill else None
        allocations.append(AllocationView(target=alloc["target"], id=alloc["id"], bill_number=number,
                                          amount=Decimal(alloc["amount"])))
    return PaymentView(
        payment_id=str(payment.id), external_reference=payment.external_reference, account_id=payment.account_ref,
        amount=payment.amount, currency=payment.currency, method=payment.method, payer_ref=payment.payer_ref,
        payment_date=payment.payment_date, recorded_at=payment.created_on.isoformat(), status=payment.status,
        allocations=allocations, to_balance=payment.to_balance, reversal=payment.reversal)


def payment_by_reference(store: AggregateStore, external_reference: str) -> PaymentView:
    return payment_view(store, ids.payment_id(external_reference))


class RefundView(View):
    account_id: str
    refund_id: str
    amount: Decimal
    currency: str
    method: str
    reference: str
    date: str
    recorded_at: str


class RefundNotFound(NotFound):
    code = "refund_not_found"


def account_refunds(store: AggregateStore, account_ref: str) -> list[RefundView]:
    """Every refund of the account's credit balance, in order."""
    events = list(store.history(ids.account_id(account_ref)))
    if not events or not isinstance(events[0], BillingAccount.Opened):
        raise AccountNotFound(f"billing account {account_ref!r} not found", account=account_ref)
    currency = events[0].currency
    return [RefundView(account_id=account_ref, refund_id=e.refund_id, amount=Decimal(e.amount), currency=currency,
                       method=e.method, reference=e.reference, date=e.effective_at, recorded_at=e.timestamp.isoformat())
            for e in events if isinstance(e, BillingAccount.CreditRefunded)]


def refund_view(store: AggregateStore, account_ref: str, refund_id: str) -> RefundView:
    for refund in account_refunds(store, account_ref):
        if refund.refund_id == refund_id:
            return refund
    raise RefundNotFound(f"account {account_ref} has no refund {refund_id!r}", account=account_ref, refund=refund_id)
