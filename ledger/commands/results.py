"""Typed results of the command handlers: what each entry point shows (CLI text and JSON, later HTTP bodies).

Amounts are Decimals (JSON renders them as strings, never floats), each kind at one scale: a bill's and a
payment's figures and the credit balance at the currency's minor unit, figures that sum rated charges (a balance,
a prepaid balance) at six places (`at_minor_unit`, `at_rated_scale`). `to_dict()` is the plain form the CLI prints
with `--json` and the service logs from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from ledger.aggregates.money import at_minor_unit, at_rated_scale


class Result(BaseModel):
    """Base of every command result: immutable, plain values only."""

    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class SpecificationDefined(Result):
    specification: str
    created: bool


class AccountOpened(Result):
    account_id: str
    created: bool


class BillSummary(Result):
    """A bill as a command that touched it reports it."""

    bill_id: str
    bill_number: str
    state: str
    amount_due: Decimal
    remaining_amount: Decimal

    @classmethod
    def of(cls, bill: Any) -> BillSummary:
        return cls(bill_id=str(bill.id), bill_number=bill.bill_number, state=bill.state,
                   amount_due=at_minor_unit(bill.amount_due, bill.currency),
                   remaining_amount=at_minor_unit(bill.remaining_amount, bill.currency))


class AccountStatusChanged(Result):
    account_id: str
    status: str
    final_bill: BillSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class AccountTermsChanged(Result):
    account_id: str
    changed: bool
    credit_limit: Decimal
    payment_terms_days: int | None
    default_payment_method: dict[str, str] | None


class AccountCustomerLinked(Result):
    account_id: str
    customer_id: str
    previous_customer_id: str
    changed: bool


class ChargePosted(Result):
    account_id: str
    charge_id: str
    applied: bool
    balance: Decimal


class ChargeRejection(Result):
    """A charge of a batch that was refused (nothing of it was applied), with the ledger error's code."""

    charge_id: str
    error: str
    message: str
    index: int | None = None  # the charge's place in the batch (from 0): which of two with the same id it was


class ChargesPosted(Result):
    applied: int
    duplicates: int
    rejected: list[ChargeRejection]
    accounts: int


class ChargeAdjusted(Result):
    account_id: str
    adjustment_id: str
    applied: bool
    balance: Decimal


class OffCycleBillIssued(BillSummary):
    created: bool


class CycleRunReport(Result):
    """A billing cycle occurrence after a trigger: its dates, every trigger recorded, and what it billed."""

    cycle_id: str
    specification: str
    status: str
    period_start: str
    period_end: str
    bill_date: str
    triggers: list[dict[str, str]]
    accounts_billed: int
    accounts_skipped: int
    totals: dict[str, Decimal]
    already_completed: bool


class PaymentRecorded(Result):
    payment_id: str
    external_reference: str
    account_id: str
    amount: Decimal
    status: str
    allocations: list[dict[str, str]]
    to_balance: Decimal
    created: bool

    @classmethod
    def of(cls, payment: Any, created: bool) -> PaymentRecorded:
        return cls(**_payment_fields(payment), created=created)


class PaymentReversed(PaymentRecorded):
    reopened: list[BillSummary]

    @classmethod
    def of_reversal(cls, payment: Any, reopened: list[BillSummary]) -> PaymentReversed:
        return cls(**_payment_fields(payment), created=False, reopened=reopened)


def _payment_fields(payment: Any) -> dict[str, Any]:
    code = payment.currency
    allocations = [{**a, "amount": str(at_minor_unit(Decimal(a["amount"]), code))} for a in payment.allocations]
    return {"payment_id": str(payment.id), "external_reference": payment.external_reference,
            "account_id": payment.account_ref, "amount": at_minor_unit(payment.amount, code), "status": payment.status,
            "allocations": allocations, "to_balance": at_minor_unit(payment.to_balance, code)}


def account_money(account: Any, amount: Decimal, rated: bool) -> Decimal:
    """An account figure at its kind's scale: rated (six places) or the currency's minor unit."""
    return at_rated_scale(amount) if rated else at_minor_unit(amount, account.currency)


class CreditRefunded(Result):
    account_id: str
    refund_id: str
    applied: bool
    credit_balance: Decimal


class CustomerSaved(Result):
    customer_id: str
    status: str
    changed: bool


class CustomerErased(Result):
    customer_id: str
    erased: bool


class OfferingSaved(Result):
    offering_id: str
    changed: bool
    prices: list[str]


class OfferingLifecycleChanged(Result):
    offering_id: str
    from_status: str
    status: str
    sellable: bool
    changed: bool


class SubscriptionSaved(Result):
    subscription_id: str
    account_id: str
    offering_id: str
    quantity: int
    status: str
    start_date: str
    end_date: str | None
    changed: bool


class PaymentMethodSaved(Result):
    method_id: str
    owner_type: str
    owner_id: str
    type: str
    masked: dict[str, str]
    status: str
    changed: bool

    @classmethod
    def of(cls, method: Any, today: Any, changed: bool) -> PaymentMethodSaved:
        return cls(method_id=method.method_ref, owner_type=method.owner_type, owner_id=method.owner_ref,
                   type=method.method_type, masked=method.masked, status=method.status_on(today),
                   changed=changed)


class ItemRejection(Result):
    """An item of a batch that was refused (nothing of it applied): its key, the ledger error's code, its place."""

    key: str
    error: str
    message: str
    index: int  # the item's place in the batch (from 0)


class BatchSaved(Result):
    """What a batch of creations did: items created, items already there with the same content, items refused."""

    created: int
    unchanged: int
    rejected: list[ItemRejection]


class GroupSaved(Result):
    group_id: str
    name: str
    state: str
    discount_rate: Decimal
    changed: bool


class MembershipSaved(Result):
    """A customer's memberships of a group after a command (from, until: its last day or None), in order."""

    group_id: str
    customer_id: str
    memberships: list[dict[str, str | None]]
    changed: bool

    @classmethod
    def of(cls, group: Any, customer_ref: str, changed: bool) -> MembershipSaved:
        return cls(group_id=group.group_ref, customer_id=customer_ref, changed=changed,
                   memberships=[{"from": f.isoformat(), "until": u.isoformat() if u else None}
                                for _, f, u in group.memberships(customer_ref)])
