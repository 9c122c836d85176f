"""Customers as entry points show them (TMF629 shape, snake_case): one customer, and search over the directory."""

from __future__ import annotations

import json
from typing import Any

from ledger.aggregates import ids
from ledger.aggregates.customer import Customer
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
    found, total = vault.search(text, limit, offset)
    customers = store.load_many(Customer, found)
    views = [view_of(c, vault) for c in (customers[i] for i in found) if c is not None]
    return CustomerPage(query=text, total=total, offset=offset, limit=limit, customers=views)


def customer_exists(store: AggregateStore, customer_ref: str) -> bool:
    return store.find(Customer, ids.customer_id(customer_ref)) is not None
