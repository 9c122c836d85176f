"""The demo's migration: its usage accounts were opened naming customers the ledger did not have; LinkAccountToCustomer
links each to the customer created for it, and every demo account ends with an existing customer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer import Customer
from ledger.cli.demo import ACCOUNTS, MIGRATION, SUBSCRIBER, run_demo
from ledger.commands.lookups import load_account
from ledger.queries.customers import accounts_without_customer
from ledger.service import Ledger
from tests.support.ledger_factory import make_ledger, memory_settings

DEMO_ACCOUNTS = [account["account_id"] for account in [*ACCOUNTS, SUBSCRIBER]]


@pytest.fixture(scope="module")
def played() -> Iterator[tuple[Ledger, dict[str, Any]]]:
    ledger = make_ledger(memory_settings())
    try:
        yield ledger, run_demo(ledger, io.StringIO())
    finally:
        ledger.close()


def test_every_demo_account_ends_with_an_existing_customer(played: tuple[Ledger, dict[str, Any]]) -> None:
    """Each of the five demo accounts names, at the end, a customer the ledger has (and none is left unlinked)."""
    ledger, _ = played
    named = [(ref, load_account(ledger.store, ref).customer_id) for ref in DEMO_ACCOUNTS]
    assert all(ledger.store.find(Customer, ids.customer_id(customer)) is not None for _, customer in named), named
    assert accounts_without_customer(ledger.store, named) == []


def test_the_usage_accounts_were_opened_naming_no_customer_and_linked_by_the_command(
        played: tuple[Ledger, dict[str, Any]]) -> None:
    """The four usage accounts each carry one CustomerLinked event, from their old-system number to their customer."""
    ledger, _ = played
    for account in ACCOUNTS:
        events = list(ledger.store.history(ids.account_id(account["account_id"])))
        linked = [e for e in events if isinstance(e, BillingAccount.CustomerLinked)]
        assert [(e.previous_customer_id, e.customer_id) for e in linked] == \
            [(account["customer_id"], MIGRATION[account["account_id"]][0])], account["account_id"]


def test_the_summary_lists_each_link_as_changed(played: tuple[Ledger, dict[str, Any]]) -> None:
    """The demo's summary has one changed link per usage account (the re-run that changes nothing is not in it)."""
    _, summary = played
    assert [(x["account_id"], x["customer_id"], x["changed"]) for x in summary["links"]] == \
        [(a["account_id"], MIGRATION[a["account_id"]][0], True) for a in ACCOUNTS]
