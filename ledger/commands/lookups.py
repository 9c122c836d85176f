"""Loading aggregates by their business keys, shared by command handlers and queries."""

from __future__ import annotations

from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import CustomerBill
from ledger.errors import AccountNotFound, BillNotFound, CycleSpecificationNotFound
from ledger.ports import AggregateStore


def load_account(store: AggregateStore, account_ref: str) -> BillingAccount:
    return store.load(BillingAccount, ids.account_id(account_ref), AccountNotFound, f"billing account {account_ref!r}")


def load_bill(store: AggregateStore, account: BillingAccount, bill_number: str) -> CustomerBill:
    """A bill by its number on the account (numbers are per account)."""
    bill_id = account.bills.get(bill_number)
    if bill_id is None:
        raise BillNotFound(f"account {account.account_ref} has no bill {bill_number!r}", bill=bill_number)
    return store.load(CustomerBill, UUID(bill_id), BillNotFound, f"bill {bill_number}")


def load_specification(store: AggregateStore, name: str) -> BillingCycleSpecification:
    return store.load(BillingCycleSpecification, ids.cycle_spec_id(name), CycleSpecificationNotFound,
                      f"billing cycle specification {name!r}")
