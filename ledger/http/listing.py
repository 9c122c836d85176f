"""The list endpoints' selections: the read models choose which resources and in what order (filters, offset,
limit, the total); each resource itself is then read from the event store, as it stands now (so an item of a
list always equals its GET by id). Without Kafka the read models are brought up to date first (see
bootstrap.ApiParts.listing); with Kafka, `ledger project` keeps them current and a list may lag it a little."""

from __future__ import annotations

from typing import Any

from ledger.commands.api_keys import CUSTOMER
from ledger.http.auth import Caller
from ledger.http.services import ApiServices
from ledger.http.tmf import Page
from ledger.projections.listing import payment_method_refs, select
from ledger.projections.tables import (
    ACCOUNT_BALANCES,
    BILLS,
    OFFERING_PRICES,
    PAYMENTS,
    PRODUCT_OFFERINGS,
    SUBSCRIPTIONS,
    Table,
)


def _select(svc: ApiServices, caller: Caller | None, page: Page, table: Table, equal: dict[str, Any],
            ranges: dict[tuple[str, str], Any], order: list[str], column: str,
            more: list[str] | None = None) -> tuple[list[Any], int]:
    within = ("account_ref", caller.accounts or ()) if caller is not None and caller.role == CUSTOMER else None
    columns = [column, *(more or [])]
    with svc.parts.listing() as db:
        rows, total = select(db, table, equal=equal, ranges=ranges, within=within, order=order, offset=page.offset,
                             limit=page.limit, columns=columns)
    if more:
        return [tuple(str(row[c]) for c in columns) for row in rows], total
    return [str(row[column]) for row in rows], total


def list_offerings(svc: ApiServices, page: Page, equal: dict[str, Any]) -> tuple[list[str], int]:
    """Offering ids (the catalogue is public to every role), in the order they were created."""
    return _select(svc, None, page, PRODUCT_OFFERINGS, equal, {}, ["created_at", "offering_ref"], "offering_ref")


def list_prices(svc: ApiServices, page: Page, equal: dict[str, Any]) -> tuple[list[tuple[str, str]], int]:
    """(offering id, price id) of the prices, by offering id then price id."""
    return _select(svc, None, page, OFFERING_PRICES, equal, {}, ["offering_ref", "price_id"], "offering_ref",
                   ["price_id"])


def list_accounts(svc: ApiServices, caller: Caller, page: Page, equal: dict[str, Any]) -> tuple[list[str], int]:
    return _select(svc, caller, page, ACCOUNT_BALANCES, equal, {}, ["account_ref"], "account_ref")


def list_bills(svc: ApiServices, caller: Caller, page: Page, equal: dict[str, Any],
               ranges: dict[tuple[str, str], Any]) -> tuple[list[str], int]:
    return _select(svc, caller, page, BILLS, equal, ranges, ["bill_date", "account_ref", "bill_number"], "bill_id")


def list_payments(svc: ApiServices, caller: Caller, page: Page, equal: dict[str, Any],
                  ranges: dict[tuple[str, str], Any]) -> tuple[list[str], int]:
    return _select(svc, caller, page, PAYMENTS, equal, ranges, ["payment_date", "external_reference"], "payment_id")


def list_subscriptions(svc: ApiServices, caller: Caller, page: Page, equal: dict[str, Any]) -> tuple[list[str], int]:
    """Subscription ids (a customer: of its own accounts), in the order they were made."""
    return _select(svc, caller, page, SUBSCRIPTIONS, equal, {}, ["created_at", "subscription_ref"], "subscription_ref")


def list_payment_methods(svc: ApiServices, page: Page, owners: set[tuple[str, str]] | None, method_type: str | None,
                         status: str | None, today: str) -> tuple[list[str], int]:
    """Payment method ids in the order they were added: the rows of the given owners (None: all) and type, with
    their status today (an active one past its valid_to is expired), from the read models."""
    with svc.parts.listing() as db:
        return payment_method_refs(db, owners, method_type, status, today, page.offset, page.limit)
