"""Verify: rebuild every aggregate from its events alone and compare with the current state, then check the books."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.aggregates.party_billing_cycle import PartyBillingCycle
from ledger.aggregates.money import ZERO

if TYPE_CHECKING:
    from ledger.service import Ledger

CREATED = {
    get_topic(BillingAccount.Opened): "accounts",
    get_topic(CustomerBill.Issued): "bills",
    get_topic(CustomerPayment.Received): "payments",
    get_topic(PartyBillingCycle.Triggered): "cycles",
    get_topic(BillingCycleSpecification.Defined): "specifications",
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


def all_ids(ledger: Ledger) -> dict[str, list[UUID]]:
    found: dict[str, list[UUID]] = {kind: [] for kind in CREATED.values()}
    start = 1
    while True:
        page = ledger.store.notifications(start=start, limit=10_000, topics=list(CREATED))
        for notification in page:
            found[CREATED[notification.topic]].append(notification.originator_id)
        if len(page) < 10_000:
            return found
        start = page[-1].id + 1


def _rebuilt(ledger: Ledger, aggregate_id: UUID) -> Any:
    aggregate = None
    for event in ledger.store.events.get(aggregate_id):
        aggregate = event.mutate(aggregate)
    return aggregate


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def verify(ledger: Ledger) -> VerifyReport:
    """Every aggregate: current state (snapshot + later events, or cache) == replay of all its events; plus the books."""
    ids = all_ids(ledger)
    total = sum(len(v) for v in ids.values())
    differences: list[str] = []
    loaded: dict[UUID, Any] = {}
    ledger.progress.start(total, "verify")
    done = 0
    for kind, aggregate_ids in ids.items():
        for aggregate_id in aggregate_ids:
            current = ledger.store.repository.get(aggregate_id)
            rebuilt = _rebuilt(ledger, aggregate_id)
            if _state(current) != _state(rebuilt):
                keys = sorted(k for k in _state(rebuilt) if _state(current).get(k) != _state(rebuilt).get(k))
                differences.append(f"{kind[:-1]} {aggregate_id}: current state differs from replay in {', '.join(keys)}")
            loaded[aggregate_id] = rebuilt
            done += 1
            if done % 500 == 0:
                ledger.progress.advance(500)
    ledger.progress.advance(done % 500)
    ledger.progress.finish()
    differences += _check_books(ids, loaded)
    return VerifyReport({k: len(v) for k, v in ids.items()}, differences)


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
            problems.append(f"account {account.account_ref}: balance {account.balance} != unbilled + receivable - credit - prepaid")
    return problems
