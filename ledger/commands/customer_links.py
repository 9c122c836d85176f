"""Linking billing accounts to their customers: one account (`LinkAccountToCustomer`), or many a transaction
(`LinkAccountsToCustomers`, what `ledger account link-customers FILE` runs), the migration path for accounts opened
before customers existed (while LEDGER_ACCOUNTS_NEED_CUSTOMER was off, an account could name any customer id).

The customer must exist and not be closed (an erased customer is closed). Linking an account to the customer it
already names is a no-op (a migration file can be run again). An account naming a customer that does not exist is
linked freely; one already belonging to an existing customer moves to another only with `relink` and a reason
(refused otherwise: moving an account between customers moves its bills' reporting too, a billing team does that on
purpose, never by a typo in a migration file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from pydantic import Field

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer import CLOSED, Customer
from ledger.commands.base import Command, Id, Text
from ledger.commands.bulk_import import Kind
from ledger.commands.line_import import BatchOutcome, Importer, ImportReport, Refusal, import_records, read_records
from ledger.commands.results import AccountCustomerLinked, BatchSaved, ItemRejection
from ledger.errors import AccountNotFound, CustomerClosed, CustomerNotFound, LedgerError
from ledger.ports import HandlerContext, Progress

MAX_ITEMS = 100_000


class LinkAccountToCustomer(Command[AccountCustomerLinked]):
    """Link a billing account to an existing customer; `relink` (with a reason) moves it from another one."""

    account_id: Id
    customer_id: Id
    relink: bool = False
    reason: Text = ""

    def log_ids(self) -> dict[str, str]:
        return {"account_id": self.account_id, "customer_id": self.customer_id}


class LinkAccountsToCustomers(Command[BatchSaved]):
    """Many links in one transaction: each refused link is reported (with its place), the others applied."""

    links: list[LinkAccountToCustomer] = Field(min_length=1, max_length=MAX_ITEMS)

    def log_ids(self) -> dict[str, str]:
        return {"links": str(len(self.links))}


def check_customer(customer: Customer | None, customer_ref: str) -> Customer:
    """The customer an account may be linked to: it exists and is not closed (nor erased)."""
    if customer is None:
        raise CustomerNotFound(f"customer {customer_ref!r} not found: create it before linking accounts to it",
                               customer=customer_ref)
    if customer.status == CLOSED or customer.erased:
        raise CustomerClosed(f"customer {customer_ref} is {'erased' if customer.erased else 'closed'}: "
                             "accounts cannot be linked to it", customer=customer_ref)
    return customer


def link(account: BillingAccount | None, cmd: LinkAccountToCustomer, customers: Mapping[UUID, Customer | None],
         ctx: HandlerContext) -> bool:
    """Apply one link to a loaded account (not saved); False when the account already names that customer."""
    if account is None:
        raise AccountNotFound(f"billing account {cmd.account_id!r} not found", account=cmd.account_id)
    check_customer(customers[ids.customer_id(cmd.customer_id)], cmd.customer_id)
    if account.customer_id == cmd.customer_id:
        return False
    current = customers.get(ids.customer_id(account.customer_id), None)
    return account.link_customer(ctx.now(), customer_id=cmd.customer_id, current_exists=current is not None,
                                 relink=cmd.relink, reason=cmd.reason)


def link_account(ctx: HandlerContext, cmd: LinkAccountToCustomer) -> AccountCustomerLinked:
    account = ctx.store.find(BillingAccount, ids.account_id(cmd.account_id))
    wanted = [ids.customer_id(cmd.customer_id)]
    if account is not None and account.customer_id != cmd.customer_id:
        wanted.append(ids.customer_id(account.customer_id))
    previous = account.customer_id if account is not None else ""
    changed = link(account, cmd, dict(ctx.store.load_many(Customer, wanted)), ctx)
    if changed:
        ctx.store.save(account)
    return AccountCustomerLinked(account_id=cmd.account_id, customer_id=cmd.customer_id,
                                 previous_customer_id=previous, changed=changed)


def link_accounts(ctx: HandlerContext, cmd: LinkAccountsToCustomers) -> BatchSaved:
    """The batch's accounts and customers (named and current ones) read at once; the changed accounts saved in one
    transaction. Two links of one account in a batch apply one after the other."""
    store = ctx.store
    accounts = dict(store.load_many(BillingAccount, list(dict.fromkeys(ids.account_id(x.account_id)
                                                                          for x in cmd.links))))
    refs = {x.customer_id for x in cmd.links} | {a.customer_id for a in accounts.values() if a is not None}
    customers = dict(store.load_many(Customer, [ids.customer_id(ref) for ref in sorted(refs)]))
    changed: dict[UUID, BillingAccount] = {}
    rejected: list[ItemRejection] = []
    applied = unchanged = 0
    for index, item in enumerate(cmd.links):
        account = accounts[ids.account_id(item.account_id)]
        try:
            if link(account, item, customers, ctx) and account is not None:  # link raised when it was None
                changed[account.id] = account
                applied += 1
            else:
                unchanged += 1
        except LedgerError as error:
            rejected.append(ItemRejection(key=item.account_id, error=error.code, message=error.message, index=index))
    if changed:
        store.save(*changed.values())
    return BatchSaved(created=applied, unchanged=unchanged, rejected=rejected)


# ---------------------------------------------------------------- from a file (the migration)

LINK_COLUMNS = {
    "account": "the billing account's id",
    "customer": "the customer's id (it must exist and not be closed)",
    "reason": "why (needed, with --relink, to move an account from another existing customer)",
}
_LINK_FIELDS = {"account_id": "account", "customer_id": "customer", "reason": "reason"}


def link_kind(relink: bool = False, reason: str = "") -> Kind:
    """Links as a kind of record: each line's columns become a LinkAccountToCustomer (`relink` for every line,
    `reason` for the lines that give none); batches run as LinkAccountsToCustomers."""

    def to_input(record: dict[str, Any]) -> dict[str, Any]:
        data = {field: record[column] for field, column in _LINK_FIELDS.items() if column in record}
        data.setdefault("reason", reason)
        return {**data, "relink": relink}

    return Kind("links", LINK_COLUMNS, to_input, _LINK_FIELDS, LinkAccountToCustomer,
                lambda items: LinkAccountsToCustomers.parse({"links": items}), ("account", "customer"))


def import_links(execute: Callable[[Command[Any]], Any], lines: Iterable[str], fmt: str, batch_size: int,
                 progress: Progress | None = None, *, relink: bool = False, reason: str = "") -> ImportReport:
    """Link the accounts of `lines` (jsonl or csv, columns LINK_COLUMNS) a batch a transaction through `execute`:
    each bad line reported with its number, the good ones applied; a re-run changes nothing (unchanged)."""
    kind = link_kind(relink, reason)

    def run(items: list[Command[Any]]) -> BatchOutcome:
        saved: BatchSaved = execute(kind.batch(items))
        return BatchOutcome(saved.created, saved.unchanged,
                            [Refusal(r.index, r.key, r.error, r.message) for r in saved.rejected])

    importer = Importer(parse=kind.parse, key=lambda record: record.get("account"), run=run, what="links")
    records = read_records(lines, fmt, kind.columns, "one link: account and customer")
    return import_records(importer, records, batch_size, progress, ImportReport(key_as="account"))
