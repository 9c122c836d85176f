"""Verify: rebuild every aggregate from its events alone and compare with the current state, then check the books
(and the as-of queries' book checkpoints against the events)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer import Customer
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.aggregates.money import ZERO
from ledger.aggregates.party_billing_cycle import PartyBillingCycle
from ledger.aggregates.payment_method import PaymentMethod
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.subscription import Subscription
from ledger.ports import AggregateStore, Progress
from ledger.queries import book_checkpoint

CREATED: dict[type, str] = {
    BillingAccount.Opened: "accounts",
    CustomerBill.Issued: "bills",
    CustomerPayment.Received: "payments",
    PartyBillingCycle.Triggered: "cycles",
    BillingCycleSpecification.Defined: "specifications",
    Customer.Registered: "customers",
    ProductOffering.Defined: "offerings",
    Subscription.Subscribed: "subscriptions",
    PaymentMethod.Added: "payment_methods",
}


@dataclass(frozen=True)
class VerifyReport:
    checked: dict[str, int]
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "differences": self.differences}


def all_ids(store: AggregateStore) -> dict[str, list[UUID]]:
    """The id of every aggregate, by kind, in the order they were created."""
    found: dict[str, list[UUID]] = {kind: [] for kind in CREATED.values()}
    for event in store.created([get_topic(cls) for cls in CREATED]):
        found[CREATED[type(event)]].append(event.originator_id)
    return found


def _rebuilt(store: AggregateStore, aggregate_id: UUID) -> Any:
    aggregate = None
    for event in store.history(aggregate_id):
        aggregate = event.mutate(aggregate)
    return aggregate


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def verify(store: AggregateStore, progress: Progress) -> VerifyReport:
    """Every aggregate: current state (snapshot + later events, or cache) == replay of all its events; plus the books."""
    ids = all_ids(store)
    total = sum(len(v) for v in ids.values())
    differences: list[str] = []
    loaded: dict[UUID, Any] = {}
    progress.start(total, "verify")
    done = 0
    for kind, aggregate_ids in ids.items():
        for aggregate_id in aggregate_ids:
            current = store.find(object, aggregate_id)
            rebuilt = _rebuilt(store, aggregate_id)
            if _state(current) != _state(rebuilt):
                keys = sorted(k for k in _state(rebuilt) if _state(current).get(k) != _state(rebuilt).get(k))
                differences.append(f"{kind[:-1]} {aggregate_id}: current state differs from replay in {', '.join(keys)}")
            loaded[aggregate_id] = rebuilt
            done += 1
            if done % 500 == 0:
                progress.advance(500)
    progress.advance(done % 500)
    progress.finish()
    differences += _check_books(ids, loaded)
    checkpoints, wrong = book_checkpoint.differences(store)  # the as-of queries' cache of books: same as the events'
    return VerifyReport({k: len(v) for k, v in ids.items()} | {"book_checkpoints": checkpoints}, differences + wrong)


def _check_books(ids: dict[str, list[UUID]], loaded: dict[UUID, Any]) -> list[str]:
    """Cross-aggregate invariants: the balance identity, bills agree with accounts, each entry on one bill."""
    problems: list[str] = []
    on_bill: dict[str, str] = {}
    for bill_id in ids["bills"]:
        bill: CustomerBill = loaded[bill_id]
        applied = sum((Decimal(p["amount"]) for p in bill.applied_payments), ZERO)
        if bill.remaining_amount != max(bill.amount_due, ZERO) - applied:
            problems.append(f"bill {bill.bill_number}: remaining {bill.remaining_amount} != amount due - allocations")
        for item in bill.items:
            key = f"{bill.account_ref}:{item['entry_id']}"
            if key in on_bill:
                problems.append(f"entry {item['entry_id']} is on bills {on_bill[key]} and {bill.bill_number}")
            on_bill[key] = bill.bill_number
        account: BillingAccount = loaded[bill.account_id]
        listed = account.open_bills.get(str(bill_id), {}).get("remaining", ZERO)
        if listed != bill.remaining_amount:
            problems.append(f"bill {bill.bill_number}: account lists {listed} open, bill says {bill.remaining_amount}")
    for account_id in ids["accounts"]:
        account = loaded[account_id]
        if not account.identity_holds():
            problems.append(f"account {account.account_ref}: balance {account.balance} "
                            "!= unbilled + receivable - credit - prepaid")
    return problems
