"""Onboarding in bulk: records of each kind parsed from JSON lines or CSV, bad lines reported with their number and
reason while the good ones are applied, and a second run of the same file changing nothing."""

from __future__ import annotations

import json

import pytest

from ledger.aggregates import ids
from ledger.aggregates.customer import Customer
from ledger.commands.accounts import OpenBillingAccount
from ledger.commands.bulk_import import KINDS, import_lines
from ledger.commands.line_import import csv_rows, json_lines
from ledger.errors import InvalidInput, LedgerError
from ledger.queries.accounts import account_view
from ledger.queries.customers import customer_view, search_customers
from ledger.service import Ledger
from tests.support.ledger_factory import make_ledger, max_notification_id, memory_settings
from tests.support.onboarding import (
    account_record,
    as_csv,
    as_jsonl,
    customer_record,
    expected_lines,
    mixed_accounts,
    onboarding_world,
    subscription_record,
    write_records,
)


@pytest.fixture
def ledger() -> Ledger:
    ledger = make_ledger(memory_settings())
    onboarding_world(ledger)
    return ledger


def run(ledger: Ledger, kind: str, text: str, fmt: str = "jsonl", batch: int = 3) -> object:
    return import_lines(KINDS[kind], ledger.execute, text.splitlines(keepends=True), fmt, batch)


def test_an_account_row_becomes_the_open_account_command() -> None:
    """The documented columns map onto OpenBillingAccount's fields (payment_method as TYPE:ID)."""
    cmd = KINDS["accounts"].parse({"id": "A", "customer_id": "C", "currency": "EUR", "cycle_spec": "monthly",
                                   "payment_terms_days": "30", "payment_method": "directDebit:M-1", "name": "Shop"})
    assert isinstance(cmd, OpenBillingAccount)
    assert (cmd.account_id, cmd.cycle_specification, cmd.payment_terms_days, cmd.name) == ("A", "monthly", 30, "Shop")
    assert cmd.default_payment_method is not None and cmd.default_payment_method.id == "M-1"


def test_a_bad_value_is_reported_under_its_column_name() -> None:
    """A refused field is named by the column it came from (cycle_spec), not the command's field."""
    with pytest.raises(InvalidInput, match=r"^cycle_spec: a postpaid account needs"):
        KINDS["accounts"].parse({"id": "A", "customer_id": "C", "currency": "EUR"})


def test_an_unknown_key_of_a_json_line_is_refused() -> None:
    """A JSON line with a key that is no column of its kind is refused, naming the key."""
    with pytest.raises(InvalidInput, match="unknown column.*colour"):
        KINDS["subscriptions"].parse({**subscription_record(1), "colour": "red"})


def test_a_csv_header_with_an_unknown_column_refuses_the_whole_file() -> None:
    """An unknown header column stops the import before any row is read."""
    with pytest.raises(InvalidInput, match="CSV header.*unknown column.*colour"):
        list(csv_rows(["id,colour\n", "A,red\n"], KINDS["accounts"].columns))


def test_a_csv_row_with_the_wrong_number_of_cells_is_a_rejected_line() -> None:
    """A short row is reported on its own line; empty cells are left out of the record."""
    rows = list(csv_rows(["id,name,currency\n", "A,,EUR\n", "B\n"], KINDS["accounts"].columns))
    assert rows[0] == (2, {"id": "A", "currency": "EUR"})
    assert rows[1][0] == 3 and isinstance(rows[1][1], LedgerError)


def test_unreadable_json_lines_are_reported_with_their_numbers() -> None:
    """Not JSON, or JSON that is not an object: each is a rejected line; blank lines are skipped."""
    records = list(json_lines(['{"id": "A"}\n', "\n", "{nope\n", "[1, 2]\n"]))
    assert [(n, isinstance(r, LedgerError)) for n, r in records] == [(1, False), (3, True), (4, True)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_lines_are_reported_while_the_good_ones_are_applied(ledger: Ledger, fmt: str) -> None:
    """Every bad line is named with its number and error code; the good accounts are open."""
    records, bad = mixed_accounts()
    report = run(ledger, "accounts", write_records(records, fmt), fmt)
    assert [(r["line"], r["error"]) for r in report.rejected] == expected_lines(fmt, bad)
    assert (report.applied, report.unchanged) == (5, 0)
    assert account_view(ledger.store, ledger.now, "ACC-8").to_dict()["time_zone"] == "Europe/Paris"


def test_running_the_same_file_again_changes_nothing(ledger: Ledger) -> None:
    """A second run stores no event: the accounts are unchanged, the bad lines rejected again."""
    records, bad = mixed_accounts()
    run(ledger, "accounts", as_jsonl(records))
    stored = max_notification_id(ledger)
    again = run(ledger, "accounts", as_jsonl(records))
    assert max_notification_id(ledger) == stored
    assert (again.applied, again.unchanged, len(again.rejected)) == (0, 5, len(bad))


def test_the_same_key_twice_in_one_batch_is_unchanged_the_second_time(ledger: Ledger) -> None:
    """Two identical records in one batch: one account opened, the second record unchanged."""
    report = run(ledger, "accounts", as_jsonl([account_record(1), account_record(1)]), batch=10)
    assert (report.applied, report.unchanged, report.rejected) == (1, 1, [])


def test_customers_personal_data_is_sealed_and_searchable(ledger: Ledger) -> None:
    """Imported customers' personal values are sealed in their events, open in their view, found by search."""
    report = run(ledger, "customers", as_csv([customer_record(1), customer_record(2, email="a@b.fr;c@d.fr")]), "csv")
    assert (report.applied, report.rejected) == (2, [])
    stored = b"".join(e.state for e in ledger.store.recorder.select_notifications(start=1, limit=100))
    assert b"Zola" not in stored and b"emile1" not in stored
    view = customer_view(ledger.store, ledger.personal, "CUST-2")
    assert [m.get("email_address") for m in view.contact_medium][:2] == ["a@b.fr", "c@d.fr"]
    assert view.billing_address is not None and view.billing_address["city"] == "Paris"
    assert [c.customer_id for c in search_customers(ledger.store, ledger.personal, "emile1@").customers] == [
        "CUST-1"]


def test_a_customer_with_other_personal_data_is_a_conflict(ledger: Ledger) -> None:
    """Re-importing a customer with another name is refused on its line; the stored one is kept."""
    run(ledger, "customers", as_jsonl([customer_record(1)]))
    report = run(ledger, "customers", as_jsonl([customer_record(1, name="Someone Else"), customer_record(1)]))
    assert [(r["line"], r["error"]) for r in report.rejected] == [(1, "idempotency_conflict")]
    assert report.unchanged == 1
    customer = ledger.store.find(Customer, ids.customer_id("CUST-1"))
    assert customer is not None and ledger.personal.open(customer.id, customer.personal)["name"] == "Émile Zola 1"


def test_subscriptions_follow_the_rules_of_one_subscription(ledger: Ledger) -> None:
    """An unknown account, an unknown offering and a start before the account opened are rejected lines."""
    run(ledger, "accounts", as_jsonl([account_record(n) for n in (1, 2, 3)]))
    records = [subscription_record(1), subscription_record(2, account="ACC-404"),
               subscription_record(3, offering="NOPE"), subscription_record(4, account="ACC-3", start="2026-09-01"),
               subscription_record(5, account="ACC-2", quantity="2")]
    report = run(ledger, "subscriptions", as_jsonl(records), batch=10)
    assert [(r["line"], r["error"]) for r in report.rejected] == [
        (2, "account_not_found"), (3, "offering_not_found"), (4, "rule_violation")]
    assert report.applied == 2


def test_the_summary_counts_every_line(ledger: Ledger) -> None:
    """lines = applied + unchanged + rejected, in the JSON form too."""
    records, bad = mixed_accounts()
    doc = run(ledger, "accounts", as_jsonl(records) + "{nope\n").to_dict()
    assert doc["lines"] == doc["applied"] + doc["unchanged"] + len(doc["rejected"]) == len(records) + 1
    assert json.loads(json.dumps(doc))["rejected"][-1]["line"] == len(records) + 1
