"""Customers as entry points show them (TMF629 shape, snake_case): one customer, and search over the directory."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer import Customer
from ledger.aggregates.search_text import fold
from ledger.commands.customers import load_customer
from ledger.ports import AggregateStore, PersonalData
from ledger.queries.views import View

ERASED = "[erased]"


class CustomerView(View):
    customer_id: str
    party_type: str
    status: str
    status_reason: str
    erased: bool
    name: str
    contact_medium: list[dict[str, Any]]
    billing_address: dict[str, Any] | None
    preferences: dict[str, str]
    related_party: list[dict[str, str]]
    version: int


class CustomerPage(View):
    query: str
    total: int
    total_exact: bool  # False: more than the count cap match and `total` is a lower bound
    offset: int
    limit: int
    customers: list[CustomerView]


def view_of(customer: Customer, vault: PersonalData) -> CustomerView:
    """The customer with its personal fields opened, or read as erased once its key is gone."""
    opened = vault.open(customer.id, customer.personal) if customer.personal else None
    erased = opened is None
    opened = opened or {}
    address = opened.get("billing_address")
    return CustomerView(
        customer_id=customer.customer_ref, party_type=customer.party_type, status=customer.status,
        status_reason=customer.status_reason, erased=erased or customer.erased,
        name=opened.get("name", ERASED if erased else ""),
        contact_medium=json.loads(opened.get("contact_medium", "[]")),
        billing_address=json.loads(address) if address else None, preferences=dict(customer.preferences),
        related_party=list(customer.related_parties), version=customer.version,
    )


def customer_view(store: AggregateStore, vault: PersonalData, customer_ref: str) -> CustomerView:
    return view_of(load_customer(store, customer_ref), vault)


def search_customers(store: AggregateStore, vault: PersonalData, text: str, *, limit: int = 20,
                     offset: int = 0) -> CustomerPage:
    """Customers whose id, name, email or phone contains `text` (case and accents ignored; prefix matches first)."""
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    found = vault.search(text, limit, offset)
    return CustomerPage(query=text, total=found.total, total_exact=found.total_exact, offset=offset, limit=limit,
                        customers=_views(store, vault, found.ids))


def _views(store: AggregateStore, vault: PersonalData, found: list[UUID]) -> list[CustomerView]:
    customers = store.load_many(Customer, found)
    return [view_of(c, vault) for c in (customers[i] for i in found) if c is not None]


def accounts_without_customer(store: AggregateStore, accounts: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Of the (account, customer it names) pairs, those naming no customer the ledger has (accounts opened before
    customers existed): what the migration must still link before `LEDGER_ACCOUNTS_NEED_CUSTOMER` is turned on."""
    pairs = list(accounts)
    named = sorted({customer for _, customer in pairs})
    known: set[str] = set()
    for start in range(0, len(named), 1000):
        chunk = named[start:start + 1000]
        found = store.load_many(Customer, [ids.customer_id(ref) for ref in chunk])
        known.update(ref for ref in chunk if found[ids.customer_id(ref)] is not None)
    return [(account, customer) for account, customer in pairs if customer not in known]


def customer_exists(store: AggregateStore, customer_ref: str) -> bool:
    return store.find(Customer, ids.customer_id(customer_ref)) is not None


FILTERS = ("customer_id", "name", "email", "phone")
"""What a customer list may be filtered on (each: contains, case and accents ignored)."""


def find_customers(store: AggregateStore, vault: PersonalData, filters: Mapping[str, str | None], *, offset: int,
                   limit: int, within: Collection[str] | None = None) -> tuple[list[CustomerView], int, bool]:
    """A page of the customers whose given fields (FILTERS) each contain their text, how many match and whether
    that number is exact (False: more than the directory's count cap match, and it is a lower bound). The longest
    text is the search text (a whole id, email or phone of a customer: only the customers it equals), the others
    narrow it in the directory; in the directory's order (prefix matches first, then by name). `within`: only
    these customer ids. Erased customers are not in the directory, so never listed."""
    given = {k: v for k, v in filters.items() if v is not None and fold(v).strip()}
    text = max(given.values(), key=lambda v: len(fold(v).strip())) if given else ""
    found = vault.search(text, limit, offset, fields=given,
                         within=None if within is None else [ids.customer_id(c) for c in within])
    return _views(store, vault, found.ids), found.total, found.total_exact


def customers_of_accounts(store: AggregateStore, account_refs: Collection[str]) -> set[str]:
    """The customer ids the given billing accounts belong to (unknown accounts are left out)."""
    accounts = store.load_many(BillingAccount, [ids.account_id(a) for a in account_refs])
    return {a.customer_id for a in accounts.values() if a is not None}
