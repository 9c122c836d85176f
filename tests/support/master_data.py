"""Building the master-data aggregates (customers, catalogue, subscriptions, payment methods, groups) directly,
without a store: every one of their event types, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.customer import CLOSED, Customer

MASTER_DATA_AGGREGATES: tuple[type, ...] = (Customer,)

SEALED = "v1.c2VhbGVkLXZhbHVlLW5vdC1pbi1jbGVhcg"  # what a sealed value looks like (never the clear text)


def new_customer(at: datetime, ref: str = "CUST-ACME") -> Customer:
    return Customer.register(at, id=ids.customer_id(ref), customer_ref=ref, party_type="organization",
                             status="approved", personal={"name": SEALED, "contact_medium": SEALED},
                             preferences={"language": "fr"}, related_parties=[{"id": "CUST-PARENT", "role": "parent"}])


def master_data_events(clock: Callable[[], datetime], account: Any) -> list[tuple[Any, UUID | None]]:
    """(event, its billing account id or None) of every master-data event type, each at its own moment."""
    customer = new_customer(clock())
    customer.update(clock(), personal={"billing_address": SEALED}, preferences={"bill_presentation_media": "email"},
                    related_parties=[])
    customer.change_status(clock(), CLOSED, "left")
    customer.erase(clock(), "request 42")
    return [(event, None) for event in customer.collect_events()]
