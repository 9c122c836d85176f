"""Commands on money received and returned: record a payment (with its allocation), reverse it, refund credit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CANCELED, CustomerPayment
from ledger.aggregates.fingerprints import digest
from ledger.aggregates.payment_plan import oldest_due_first
from ledger.commands.base import Command, Id, Instant, PositiveAmount, Text
from ledger.commands.lookups import load_account
from ledger.commands.results import BillSummary, CreditRefunded, PaymentRecorded, PaymentReversed, account_money
from ledger.commands.time_rules import within_horizon
from ledger.errors import (
    AccountNotFound,
    AllocationRefused,
    BillNotFound,
    CurrencyMismatch,
    EffectiveBeforePayment,
    IdempotencyConflict,
    PaymentNotFound,
    PaymentStateError,
)
from ledger.ports import HandlerContext

Method = Literal["cash", "check", "bankCard", "thirdParty", "accountBalance", "loyaltyBurn", "digitalWallet", "directDebit"]


class Allocation(Command):
    """Pay this much of a bill (by its number) or of an unbilled charge (by its charge id)."""

    target: Literal["bill", "charge"]
    id: Id
    amount: PositiveAmount


class RecordPayment(Command[PaymentRecorded]):
    """A received payment (TMF676). Without allocations it pays open bills oldest due first; the rest is credit."""

    account_id: Id
    external_reference: Id
    amount: PositiveAmount
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    method: Method
    payer_ref: Id
    date: Instant
    allocations: list[Allocation] | None = None


def _plan(account: BillingAccount, cmd: RecordPayment) -> list[dict[str, Any]]:
    if cmd.allocations is None:
        return [] if account.is_prepaid else oldest_due_first(account.open_bills, cmd.amount)
    plan = []
    for alloc in cmd.allocations:
        if alloc.target == "bill":
            bill_id = account.bills.get(alloc.id)
            if bill_id is None:
                raise AllocationRefused(f"account {account.account_ref} has no bill {alloc.id!r}", bill=alloc.id)
            plan.append({"target": "bill", "id": bill_id, "amount": alloc.amount})
        else:
            plan.append({"target": "charge", "id": alloc.id, "amount": alloc.amount})
    return plan


def record_payment(ctx: HandlerContext, cmd: RecordPayment) -> PaymentRecorded:
    payment_id = ids.payment_id(cmd.external_reference)
    fingerprint = digest(cmd.model_dump(mode="json"))
    existing = ctx.store.find(CustomerPayment, payment_id)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"payment {cmd.external_reference!r} was already recorded with other details", payment=cmd.external_reference
            )
        return PaymentRecorded.of(existing, created=False)
    account = load_account(ctx.store, cmd.account_id)
    if cmd.currency != account.currency:
        raise CurrencyMismatch(f"payment in {cmd.currency} for account {cmd.account_id} in {account.currency}",
                               expected=account.currency, got=cmd.currency)
    now = ctx.now()
    within_horizon(now, cmd.date, ctx.settings.effective_horizon, f"payment {cmd.external_reference}",
                   payment=cmd.external_reference)
    plan = _plan(account, cmd)
    had_open_bills = bool(account.open_bills)
    rest = account.receive_payment(now, payment_id=payment_id, amount=cmd.amount, allocations=plan, effective_at=cmd.date)
    payment = CustomerPayment.receive(
        now, id=payment_id, account_id=account.id, account_ref=account.account_ref,
        external_reference=cmd.external_reference, amount=cmd.amount, currency_code=cmd.currency, method=cmd.method,
        payer_ref=cmd.payer_ref, payment_date=cmd.date, fingerprint=fingerprint,
    )
    payment.allocate(now, plan, rest, kind="overpayment" if had_open_bills or plan else "prepayment")
    bills = []
    for alloc in plan:
        if alloc["target"] == "bill":
            bill = ctx.store.load(CustomerBill, UUID(alloc["id"]), BillNotFound, "bill")
            bill.apply_payment(now, payment_id=payment_id, amount=alloc["amount"])
            bills.append(bill)
    ctx.store.save(account, payment, *bills)
    return PaymentRecorded.of(payment, created=True)


class ReversePayment(Command[PaymentReversed]):
    """A bounced check or a chargeback, effective at `date`: the payment's allocations are undone and its bills reopen."""

    external_reference: Id
    kind: Literal["bouncedCheck", "chargeback", "other"]
    reason: Text = ""
    date: Instant = Field(description="when the reversal takes effect (the bank's return date, the chargeback's)")


def reverse_payment(ctx: HandlerContext, cmd: ReversePayment) -> PaymentReversed:
    payment = ctx.store.load(CustomerPayment, ids.payment_id(cmd.external_reference), PaymentNotFound,
                                f"payment {cmd.external_reference!r}")
    account = ctx.store.load(BillingAccount, payment.account_id, AccountNotFound, "billing account")
    now = ctx.now()
    if payment.status == CANCELED:
        raise PaymentStateError(f"payment {cmd.external_reference} was already reversed", payment=cmd.external_reference)
    within_horizon(now, cmd.date, ctx.settings.effective_horizon, f"reversal of payment {cmd.external_reference}",
                   payment=cmd.external_reference)
    if cmd.date < datetime.fromisoformat(payment.payment_date):
        raise EffectiveBeforePayment(
            f"reversal of payment {cmd.external_reference} is effective at {cmd.date.isoformat()}, before the payment "
            f"itself ({payment.payment_date})", payment=cmd.external_reference)
    targets = account.current_targets(payment.allocations)
    bills = {bill_id: ctx.store.load(CustomerBill, UUID(bill_id), BillNotFound, "bill")
             for target, bill_id in targets if target == "bill"}
    info = {k: {"bill_number": b.bill_number, "bill_date": b.bill_date, "payment_due_date": b.payment_due_date}
            for k, b in bills.items()}
    undone = account.reverse_payment(now, payment_id=payment.id, amount=payment.amount, allocations=payment.allocations,
                                     to_balance=payment.to_balance, bills=info, reason=cmd.reason,
                                     effective_at=cmd.date)
    payment.reverse(now, reason=cmd.reason, kind=cmd.kind, undone=undone)
    for undo in undone:
        if undo["target"] == "bill":
            bills[undo["id"]].undo_payment(now, payment_id=payment.id, amount=Decimal(undo["amount"]), reason=cmd.kind)
    ctx.store.save(account, payment, *bills.values())
    return PaymentReversed.of_reversal(payment, [BillSummary.of(b) for b in bills.values()])


class RefundCredit(Command[CreditRefunded]):
    """Return credit balance (an overpayment or prepayment) to the payer."""

    account_id: Id
    refund_id: Id
    amount: PositiveAmount
    method: Method
    reference: Text = ""
    date: Instant


def refund_credit(ctx: HandlerContext, cmd: RefundCredit) -> CreditRefunded:
    account = load_account(ctx.store, cmd.account_id)
    within_horizon(ctx.now(), cmd.date, ctx.settings.effective_horizon, f"refund {cmd.refund_id}", refund=cmd.refund_id)
    applied = account.refund_credit(ctx.now(), refund_id=cmd.refund_id, amount=cmd.amount, method=cmd.method,
                                    reference=cmd.reference, effective_at=cmd.date)
    if applied:
        ctx.store.save(account)
    balance = account.prepaid_balance if account.is_prepaid else account.credit_balance
    return CreditRefunded(account_id=cmd.account_id, refund_id=cmd.refund_id, applied=applied,
                          credit_balance=account_money(account, balance, rated=account.is_prepaid))

