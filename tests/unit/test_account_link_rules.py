"""Linking billing accounts to customers: the account's rule, the command's checks, the migration file's lines."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.commands import CloseCustomer, EraseCustomer, LinkAccountsToCustomers, LinkAccountToCustomer
from ledger.commands.customer_links import import_links
from ledger.contracts.tmf_events import notifications
from ledger.errors import AccountNotFound, CustomerClosed, CustomerNotFound, CustomerRelinkRefused
from ledger.service import Ledger
from tests.support.accounts import new_account
from tests.support.ledger_factory import account_of, define_spec, make_ledger, memory_settings, open_account
from tests.support.master_data import create_customer
from tests.support.onboarding import MASTER_KEY

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)


@pytest.fixture
def ledger() -> Ledger:
    """Accounts A (naming OLD-A, a customer that never existed) and B; customers C1 and C2."""
    ledger = make_ledger(memory_settings(master_key=MASTER_KEY))
    define_spec(ledger)
    open_account(ledger, "A", "EUR", customer_id="OLD-A")
    open_account(ledger, "B", "EUR", customer_id="OLD-B")
    create_customer(ledger, "C1")
    create_customer(ledger, "C2")
    return ledger


def link(ledger: Ledger, account: str = "A", customer: str = "C1", **extra: Any) -> Any:
    return ledger.execute(LinkAccountToCustomer.parse({"account_id": account, "customer_id": customer, **extra}))


# ---------------------------------------------------------------- the account's rule


def test_linking_records_the_customer_and_the_one_named_before() -> None:
    """CustomerLinked carries the new and the previous customer; its apply sets the account's customer."""
    account = new_account(at=T0, customer_id="OLD")
    assert account.link_customer(T0, customer_id="NEW", current_exists=False, relink=False, reason="")
    (event,) = [e for e in account.collect_events() if type(e).__name__ == "CustomerLinked"]
    assert (event.customer_id, event.previous_customer_id, account.customer_id) == ("NEW", "OLD", "NEW")


def test_the_same_customer_again_records_nothing() -> None:
    """Linking an account to the customer it names is a no-op."""
    account = new_account(at=T0, customer_id="C1")
    account.collect_events()
    assert not account.link_customer(T0, customer_id="C1", current_exists=True, relink=False, reason="")
    assert account.collect_events() == []


def test_moving_from_an_existing_customer_needs_relink_and_a_reason() -> None:
    """Without relink, or with relink but no reason, the account stays with its customer."""
    account = new_account(at=T0, customer_id="C1")
    with pytest.raises(CustomerRelinkRefused, match="needs relink"):
        account.link_customer(T0, customer_id="C2", current_exists=True, relink=False, reason="merge")
    with pytest.raises(CustomerRelinkRefused, match="needs a reason"):
        account.link_customer(T0, customer_id="C2", current_exists=True, relink=True, reason=" ")
    assert account.customer_id == "C1"
    assert account.link_customer(T0, customer_id="C2", current_exists=True, relink=True, reason="merge")


def test_the_tmf_event_is_an_attribute_value_change_naming_the_customer() -> None:
    """The hub's notification: BillingAccountAttributeValueChangeEvent with relatedParty role customer."""
    account = new_account(at=T0, customer_id="OLD")
    account.link_customer(T0, customer_id="NEW", current_exists=False, relink=False, reason="")
    event = account.collect_events()[-1]
    (note,) = notifications(event, lambda _: account.account_ref, lambda _: "EUR")
    assert note["eventType"] == "BillingAccountAttributeValueChangeEvent"
    assert note["event"]["billingAccount"]["relatedParty"] == [
        {"id": "NEW", "role": "customer", "@referredType": "Customer"}]


# ---------------------------------------------------------------- the command


def test_an_account_opened_before_its_customer_is_linked(ledger: Ledger) -> None:
    """An account naming a customer that does not exist is linked without relink."""
    result = link(ledger)
    assert (result.changed, result.previous_customer_id, account_of(ledger, "A").customer_id) == (True, "OLD-A", "C1")


def test_linking_twice_is_a_no_op(ledger: Ledger) -> None:
    """The second link to the same customer changes nothing."""
    link(ledger)
    version = account_of(ledger, "A").version
    assert not link(ledger).changed and account_of(ledger, "A").version == version


def test_an_unknown_customer_is_refused(ledger: Ledger) -> None:
    """The customer must exist."""
    with pytest.raises(CustomerNotFound, match="create it before"):
        link(ledger, customer="NOPE")


def test_an_unknown_account_is_refused(ledger: Ledger) -> None:
    """The account must exist."""
    with pytest.raises(AccountNotFound):
        link(ledger, account="NOPE")


@pytest.mark.parametrize("command", [CloseCustomer, EraseCustomer])
def test_a_closed_or_erased_customer_is_refused(ledger: Ledger, command: Any) -> None:
    """A closed customer (an erased one is closed too) takes no account."""
    ledger.execute(command.parse({"customer_id": "C2"}))
    with pytest.raises(CustomerClosed):
        link(ledger, customer="C2")
    assert account_of(ledger, "A").customer_id == "OLD-A"


def test_moving_a_linked_account_needs_relink(ledger: Ledger) -> None:
    """An account of an existing customer moves to another only with relink and a reason."""
    link(ledger)
    with pytest.raises(CustomerRelinkRefused):
        link(ledger, customer="C2")
    assert link(ledger, customer="C2", relink=True, reason="merged").previous_customer_id == "C1"


def test_a_batch_applies_the_good_links_and_reports_the_others(ledger: Ledger) -> None:
    """LinkAccountsToCustomers: each refusal with its place, the good links saved."""
    items = [{"account_id": "A", "customer_id": "C1"}, {"account_id": "NOPE", "customer_id": "C1"},
             {"account_id": "B", "customer_id": "C2"}, {"account_id": "A", "customer_id": "C1"}]
    saved = ledger.execute(LinkAccountsToCustomers.parse({"links": items}))
    assert (saved.created, saved.unchanged) == (2, 1)
    assert [(r.index, r.error) for r in saved.rejected] == [(1, "account_not_found")]
    assert (account_of(ledger, "A").customer_id, account_of(ledger, "B").customer_id) == ("C1", "C2")


def test_the_migration_file_reports_bad_lines_by_number(ledger: Ledger) -> None:
    """CSV lines: unknown account, missing customer and a closed customer rejected with their line numbers."""
    ledger.execute(CloseCustomer.parse({"customer_id": "C2"}))
    text = "account,customer\nA,C1\nNOPE,C1\nB,\nB,C2\n"
    report = import_links(ledger.execute, io.StringIO(text, newline=""), "csv", 2)
    assert report.applied == 1
    assert [(r["line"], r["account"], r["error"]) for r in report.rejected] == [
        (3, "NOPE", "account_not_found"), (4, "B", "invalid_input"), (5, "B", "customer_closed")]
    assert "customer" in report.rejected[1]["message"]


def test_the_migration_file_run_again_changes_nothing(ledger: Ledger) -> None:
    """JSON lines applied, then the same file again: everything unchanged."""
    text = '{"account": "A", "customer": "C1"}\n{"account": "B", "customer": "C2", "reason": "migration"}\n'
    assert import_links(ledger.execute, io.StringIO(text), "jsonl", 10).applied == 2
    again = import_links(ledger.execute, io.StringIO(text), "jsonl", 10)
    assert (again.applied, again.unchanged, again.rejected) == (0, 2, [])


def test_the_account_history_shows_the_link(ledger: Ledger) -> None:
    """The audit trail has a line naming the new and the previous customer, moving no money."""
    from ledger.queries.history import account_history

    link(ledger)
    last = account_history(ledger.store, "A").to_dict()["lines"][-1]
    assert (last["kind"], Decimal(last["amount"])) == ("customerLinked", 0)
    assert "C1" in last["description"] and "OLD-A" in last["description"]
