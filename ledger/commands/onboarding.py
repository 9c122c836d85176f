"""Onboarding in bulk: customers, billing accounts and subscriptions created many at a time, one transaction a batch.

Each batch command holds the single commands (`CreateCustomer`, `OpenBillingAccount`, `CreateSubscription`) and
runs the rules of their handlers, shared with them (ledger/commands/{customers,accounts,subscriptions}.py), for every
item: an item whose key exists with the same content is unchanged, with other content it is refused
(IdempotencyConflict: a creation never overwrites), an item breaking a rule is refused; the others are created and
saved together, in one transaction. What the batch needs to read is read at once (the existing aggregates of the
batch's keys in one round trip on PostgreSQL, each specification or offering named once). Two items of one batch
with the same key behave as if they came one after the other: the second is unchanged or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from pydantic import Field

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer import Customer
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.subscription import Subscription
from ledger.commands.accounts import (
    OpenBillingAccount,
    check_same_account,
    customer_missing,
    new_account,
    specification_missing,
)
from ledger.commands.base import Command
from ledger.commands.catalogue import load_offering
from ledger.commands.customers import CreateCustomer, check_same_customer, index_new_customer, new_customer
from ledger.commands.results import BatchSaved, ItemRejection
from ledger.commands.subscriptions import CreateSubscription, check_same_subscription, new_subscription
from ledger.errors import AccountNotFound, LedgerError
from ledger.ports import HandlerContext

MAX_ITEMS = 100_000
A = TypeVar("A")
C = TypeVar("C", bound=Command[Any])


class CreateCustomers(Command[BatchSaved]):
    customers: list[CreateCustomer] = Field(min_length=1, max_length=MAX_ITEMS)

    def log_ids(self) -> dict[str, str]:
        return {"customers": str(len(self.customers))}


class OpenBillingAccounts(Command[BatchSaved]):
    accounts: list[OpenBillingAccount] = Field(min_length=1, max_length=MAX_ITEMS)

    def log_ids(self) -> dict[str, str]:
        return {"accounts": str(len(self.accounts))}


class CreateSubscriptions(Command[BatchSaved]):
    subscriptions: list[CreateSubscription] = Field(min_length=1, max_length=MAX_ITEMS)

    def log_ids(self) -> dict[str, str]:
        return {"subscriptions": str(len(self.subscriptions))}


def _create_all(ctx: HandlerContext, cls: type[A], items: Sequence[C], key: Callable[[C], str],
                aggregate_id: Callable[[str], UUID], same: Callable[[A, C], None],
                create: Callable[[C], A]) -> tuple[BatchSaved, list[tuple[A, C]]]:
    """Every item against what exists (loaded at once) and what earlier items of the batch created; the new
    aggregates saved in one transaction. `same` raises when an existing aggregate differs; `create` raises when a
    rule is broken."""
    keys = [aggregate_id(key(item)) for item in items]
    known: dict[UUID, Any] = dict(ctx.store.load_many(cls, list(dict.fromkeys(keys))))
    made: list[tuple[A, C]] = []
    rejected: list[ItemRejection] = []
    unchanged = 0
    for index, (item, item_id) in enumerate(zip(items, keys)):
        try:
            existing = known[item_id]
            if existing is not None:
                same(existing, item)
                unchanged += 1
                continue
            aggregate = create(item)
        except LedgerError as error:
            rejected.append(ItemRejection(key=key(item), error=error.code, message=error.message, index=index))
            continue
        known[item_id] = aggregate
        made.append((aggregate, item))
    if made:
        ctx.store.save(*(aggregate for aggregate, _ in made))
    return BatchSaved(created=len(made), unchanged=unchanged, rejected=rejected), made


def create_customers(ctx: HandlerContext, cmd: CreateCustomers) -> BatchSaved:
    """Personal fields sealed through the vault as one customer's are, and each new customer indexed for search."""
    now, vault = ctx.now(), ctx.personal
    result, made = _create_all(ctx, Customer, cmd.customers, lambda c: c.customer_id, ids.customer_id,
                               lambda existing, c: check_same_customer(vault, existing, c),
                               lambda c: new_customer(vault, now, c))
    for customer, item in made:
        index_new_customer(vault, customer, item)
    return result


def open_accounts(ctx: HandlerContext, cmd: OpenBillingAccounts) -> BatchSaved:
    """The batch's specifications (and, when the setting asks, customers) read once for all its accounts."""
    store = ctx.store
    specs = {name: store.find(BillingCycleSpecification, ids.cycle_spec_id(name)) is not None
             for name in {a.cycle_specification for a in cmd.accounts if a.cycle_specification}}
    customers: dict[UUID, Customer | None] | None = None
    if ctx.settings.accounts_need_customer:
        wanted = list(dict.fromkeys(ids.customer_id(a.customer_id) for a in cmd.accounts))
        customers = dict(store.load_many(Customer, wanted))
    now = ctx.now()

    def create(item: OpenBillingAccount) -> BillingAccount:
        if customers is not None and customers[ids.customer_id(item.customer_id)] is None:
            raise customer_missing(item)
        if item.cycle_specification and not specs[item.cycle_specification]:
            raise specification_missing(item)
        return new_account(now, item)

    return _create_all(ctx, BillingAccount, cmd.accounts, lambda a: a.account_id, ids.account_id,
                       check_same_account, create)[0]


def create_subscriptions(ctx: HandlerContext, cmd: CreateSubscriptions) -> BatchSaved:
    """The batch's accounts read at once, each offering loaded once."""
    store = ctx.store
    wanted = list(dict.fromkeys(ids.account_id(s.account_id) for s in cmd.subscriptions))
    accounts = store.load_many(BillingAccount, wanted)
    offerings: dict[str, ProductOffering | LedgerError] = {}  # each loaded once, a missing one too
    now = ctx.now()

    def offering(ref: str) -> ProductOffering:
        if ref not in offerings:
            try:
                offerings[ref] = load_offering(store, ref)
            except LedgerError as error:
                offerings[ref] = error
        found = offerings[ref]
        if isinstance(found, LedgerError):
            raise found
        return found

    def create(item: CreateSubscription) -> Subscription:
        account = accounts[ids.account_id(item.account_id)]
        if account is None:
            raise AccountNotFound(f"billing account {item.account_id!r} not found", account=item.account_id)
        return new_subscription(now, item, account, lambda: offering(item.offering_id))

    return _create_all(ctx, Subscription, cmd.subscriptions, lambda s: s.subscription_id, ids.subscription_id,
                       check_same_subscription, create)[0]
